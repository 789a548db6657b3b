import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { compileIgnoreRules, loadIgnoreRules, parseIgnoreFile } from '../../../src/build/context/index.js';
import { TempDirs } from './helpers.js';

const temp = new TempDirs();
afterEach(() => temp.cleanup());

const rules = (text: string) => compileIgnoreRules(parseIgnoreFile(text), '.dockerignore');

describe('ignore rules', () => {
  it('re-includes a file inside an excluded directory with !dir/keep', () => {
    const r = rules('dir\n!dir/keep\n');
    expect(r.ignores('dir')).toBe(true);
    expect(r.ignores('dir/other')).toBe(true);
    expect(r.ignores('dir/keep')).toBe(false);
    expect(r.ignores('dir/keep/nested')).toBe(false);
    expect(r.mayIncludeUnder('dir')).toBe(true);
    expect(r.mayIncludeUnder('elsewhere')).toBe(false);
  });

  it('lets the last matching pattern win, so a later exclude overrides an exception', () => {
    const r = rules('*.md\n!README.md\nREADME*\n');
    expect(r.ignores('CHANGES.md')).toBe(true);
    expect(r.ignores('README.md')).toBe(true);
    const r2 = rules('*.md\n!README.md\n');
    expect(r2.ignores('README.md')).toBe(false);
  });

  it('anchors patterns at the context root, unlike .gitignore; ** matches any depth', () => {
    const r = rules('*.log\n**/*.tmp\nbuild/**\n');
    expect(r.ignores('a.log')).toBe(true);
    expect(r.ignores('sub/a.log')).toBe(false);
    expect(r.ignores('a.tmp')).toBe(true);
    expect(r.ignores('x/y/z.tmp')).toBe(true);
    expect(r.ignores('build/out/bin')).toBe(true);
    expect(r.ignores('buildx')).toBe(false);
  });

  it('excludes everything below an excluded directory', () => {
    const r = rules('node_modules\n');
    expect(r.ignores('node_modules/a/b/c.js')).toBe(true);
    expect(r.ignores('src/node_modules')).toBe(false);
  });

  it('skips comments and blank lines, strips a leading slash and cleans patterns', () => {
    expect(parseIgnoreFile('\uFEFF# comment\n\n  /secret.txt  \n./a/../b/\n! keep\n #not-a-comment\n')).toEqual([
      'secret.txt',
      'b',
      '!keep',
      '#not-a-comment',
    ]);
    const r = rules('# comment\n/secret.txt\n');
    expect(r.ignores('secret.txt')).toBe(true);
    expect(r.ignores('# comment')).toBe(false);
  });

  it('supports ? and character classes per path component', () => {
    const r = rules('file?.txt\nlog[0-9]\n');
    expect(r.ignores('file1.txt')).toBe(true);
    expect(r.ignores('file/.txt')).toBe(false);
    expect(r.ignores('log7')).toBe(true);
    expect(r.ignores('logx')).toBe(false);
  });

  it('rejects a bare "!" pattern', () => {
    expect(() => rules('!\n')).toThrow(/illegal exclusion pattern/);
  });

  it('prefers .containerignore over .dockerignore', async () => {
    const ctx = await temp.make();
    await writeFile(path.join(ctx, '.containerignore'), 'a\n');
    await writeFile(path.join(ctx, '.dockerignore'), 'b\n');
    const r = await loadIgnoreRules(ctx);
    expect(r.file).toBe(path.join(ctx, '.containerignore'));
    expect(r.ignores('a')).toBe(true);
    expect(r.ignores('b')).toBe(false);
  });

  it('falls back to .dockerignore, and ignores nothing without any file', async () => {
    const ctx = await temp.make();
    expect((await loadIgnoreRules(ctx)).ignores('anything')).toBe(false);
    await writeFile(path.join(ctx, '.dockerignore'), 'b\n');
    expect((await loadIgnoreRules(ctx)).ignores('b')).toBe(true);
  });

  it('uses --ignorefile instead of the context files, and reports a missing one', async () => {
    const ctx = await temp.make();
    const elsewhere = await temp.make('ign');
    await writeFile(path.join(ctx, '.containerignore'), 'a\n');
    await mkdir(path.join(elsewhere, 'x'));
    await writeFile(path.join(elsewhere, 'x', 'my.ignore'), 'c\n');
    const r = await loadIgnoreRules(ctx, { ignorefile: path.join(elsewhere, 'x', 'my.ignore') });
    expect(r.ignores('a')).toBe(false);
    expect(r.ignores('c')).toBe(true);
    await expect(loadIgnoreRules(ctx, { ignorefile: path.join(elsewhere, 'missing') })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});
