import { describe, expect, it } from 'vitest';
import { markStdinContext } from '../../../src/cli/argv.js';
import { isRemoteContext } from '../../../src/build/context-source.js';

describe('bud - (the context on stdin)', () => {
  it('turns a trailing lone - of bud into --stdin-context', () => {
    expect(markStdinContext(['bud', '-t', 'x', '-'])).toEqual(['bud', '-t', 'x', '--stdin-context']);
    expect(markStdinContext(['--root', '/r', 'build', '-'])).toEqual(['--root', '/r', 'build', '--stdin-context']);
  });

  it('leaves - alone as the value of -f or -o, and for other commands', () => {
    expect(markStdinContext(['bud', '-f', '-'])).toEqual(['bud', '-f', '-']);
    expect(markStdinContext(['bud', '--output', '-'])).toEqual(['bud', '--output', '-']);
    expect(markStdinContext(['load', '-'])).toEqual(['load', '-']);
  });
});

describe('isRemoteContext', () => {
  it('names git and http(s) URLs and -, not directories', () => {
    expect(isRemoteContext('https://example.com/repo.git#main:sub')).toBe(true);
    expect(isRemoteContext('git://example.com/repo')).toBe(true);
    expect(isRemoteContext('http://127.0.0.1:1/ctx.tar.gz')).toBe(true);
    expect(isRemoteContext('-')).toBe(true);
    expect(isRemoteContext('./ctx')).toBe(false);
    expect(isRemoteContext('/abs/dir')).toBe(false);
  });
});
