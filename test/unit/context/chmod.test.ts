import { describe, expect, it } from 'vitest';
import { parseChmod } from '../../../src/build/context/index.js';

const apply = (spec: string, mode: number, isDir = false): number => parseChmod(spec, 'Containerfile:3').apply(mode, isDir);

describe('--chmod', () => {
  it('takes octal modes as they are, whatever the entry had', () => {
    expect(apply('755', 0o600)).toBe(0o755);
    expect(apply('0644', 0o777, true)).toBe(0o644);
    expect(apply('4755', 0o600)).toBe(0o4755);
  });

  it('adds and removes bits for the classes named', () => {
    expect(apply('u+x', 0o644)).toBe(0o744);
    expect(apply('go-w', 0o666)).toBe(0o644);
    expect(apply('a-w', 0o775)).toBe(0o555);
  });

  it('applies a clause without a class to all of them, without a umask', () => {
    expect(apply('+x', 0o644)).toBe(0o755);
    expect(apply('-r', 0o644)).toBe(0o200);
  });

  it('sets exactly the listed bits with =', () => {
    expect(apply('u=rw,go=r', 0o777)).toBe(0o644);
    expect(apply('o=', 0o757)).toBe(0o750);
  });

  it('gives X to directories and to files already executable by someone', () => {
    expect(apply('u=rwX,go=rX', 0o600)).toBe(0o644);
    expect(apply('u=rwX,go=rX', 0o700)).toBe(0o755);
    expect(apply('u=rwX,go=rX', 0o600, true)).toBe(0o755);
    expect(apply('go=rX', 0o610)).toBe(0o655);
  });

  it('copies one class to others (g=u)', () => {
    expect(apply('g=u', 0o740)).toBe(0o770);
    expect(apply('go=u-w', 0o700)).toBe(0o755);
  });

  it('sets setuid, setgid and sticky bits only for the classes they belong to', () => {
    expect(apply('u+s', 0o755)).toBe(0o4755);
    expect(apply('g+s', 0o755)).toBe(0o2755);
    expect(apply('+t', 0o777, true)).toBe(0o1777);
    expect(apply('u+t', 0o755)).toBe(0o755);
  });

  it('applies comma-separated clauses in order', () => {
    expect(apply('a=r,u+w', 0o000)).toBe(0o644);
    expect(apply('u+r-w', 0o600)).toBe(0o400);
  });

  it('rejects what is neither octal nor symbolic, naming the instruction', () => {
    for (const bad of ['', '9', '77777', 'u+q', 'x+r', 'u+x,', '0o755', 'rwx']) {
      expect(() => parseChmod(bad, 'Containerfile:3')).toThrowError(/^Containerfile:3: invalid --chmod/);
    }
  });
});
