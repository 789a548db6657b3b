import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { compileIgnoreRules, parseIgnoreFile, selectSources, type SourceRoot } from '../../../src/build/context/index.js';
import { TempDirs, writeTree } from './helpers.js';

const temp = new TempDirs();
afterEach(() => temp.cleanup());

async function contextWith(spec: Parameters<typeof writeTree>[1], ignore?: string): Promise<SourceRoot> {
  const base = await temp.make();
  const dir = path.join(base, 'ctx');
  await writeTree(dir, spec);
  return { dir, kind: 'context', ...(ignore === undefined ? {} : { ignore: compileIgnoreRules(parseIgnoreFile(ignore), '.dockerignore') }) };
}

const rels = async (root: SourceRoot, patterns: string[]) => (await selectSources(root, patterns, 'Containerfile:3')).map((e) => e.rel);

describe('selectSources', () => {
  it('expands *, ? and [...] per path component, sorted', async () => {
    const root = await contextWith({ 'b.txt': 'b', 'a.txt': 'a', 'c.md': 'c', 'sub/d.txt': 'd', 'x1': '', 'x2': '', 'xy': '' });
    expect(await rels(root, ['*.txt'])).toEqual(['a.txt', 'b.txt']);
    expect(await rels(root, ['x?'])).toEqual(['x1', 'x2', 'xy']);
    expect(await rels(root, ['x[0-9]'])).toEqual(['x1', 'x2']);
    expect(await rels(root, ['x[^0-9]'])).toEqual(['xy']);
    expect(await rels(root, ['*/*.txt'])).toEqual(['sub/d.txt']);
  });

  it('matches ** across any number of directories', async () => {
    const root = await contextWith({ 'a.go': '', 'p/b.go': '', 'p/q/c.go': '', 'p/q/c.txt': '' });
    expect(await rels(root, ['**/*.go'])).toEqual(['a.go', 'p/b.go', 'p/q/c.go']);
  });

  it('keeps argument order and marks directory sources', async () => {
    const root = await contextWith({ 'f': 'x', 'd/inner': 'y' });
    const entries = await selectSources(root, ['f', 'd', '.'], 'Containerfile:3');
    expect(entries.map((e) => [e.rel, e.isDirSource])).toEqual([
      ['f', false],
      ['d', true],
      ['', true],
    ]);
  });

  it('reports a source that does not exist', async () => {
    const root = await contextWith({ 'a': '' });
    await expect(selectSources(root, ['missing.txt'], 'Containerfile:7')).rejects.toMatchObject({
      code: 'NOT_FOUND',
      message: 'Containerfile:7: "missing.txt": no such file or directory in the build context',
    });
  });

  it('reports a wildcard that matches nothing when no other source matched', async () => {
    const root = await contextWith({ 'a': '' });
    await expect(selectSources(root, ['*.none'], 'Containerfile:7')).rejects.toMatchObject({
      code: 'NOT_FOUND',
      message: 'Containerfile:7: "*.none": no such file or directory in the build context',
    });
    // ...but tolerates it next to a source that exists (the optional-file idiom).
    expect(await rels(root, ['a', 'lock.jso[n]'])).toEqual(['a']);
  });

  it('reports an empty source list', async () => {
    const root = await contextWith({ 'a': '' });
    await expect(selectSources(root, [], 'Containerfile:2')).rejects.toMatchObject({
      code: 'NOT_FOUND',
      message: 'Containerfile:2: no source files were specified',
    });
  });

  it('rejects ../x as outside the build context', async () => {
    const root = await contextWith({ 'a': '' });
    await expect(selectSources(root, ['../x'], 'Containerfile:4')).rejects.toMatchObject({
      code: 'PATH_ESCAPE',
      message: 'Containerfile:4: "../x" is outside the build context',
    });
    await expect(selectSources(root, ['a/../../x'], 'Containerfile:4')).rejects.toMatchObject({ code: 'PATH_ESCAPE' });
  });

  it('follows a top-level symlink source within the context', async () => {
    const root = await contextWith({ 'real/file': 'data', 'link': { symlink: 'real' }, 'flink': { symlink: './real/file' } });
    const [dir, file] = await selectSources(root, ['link', 'flink'], 'Containerfile:3');
    expect(dir).toMatchObject({ rel: 'link', abs: path.join(root.dir, 'real'), isDirSource: true });
    expect(file).toMatchObject({ rel: 'flink', abs: path.join(root.dir, 'real', 'file'), isDirSource: false });
  });

  it('rejects a symlink source that points outside the context', async () => {
    const root = await contextWith({ 'out': { symlink: '../../etc' } });
    await expect(selectSources(root, ['out'], 'Containerfile:5')).rejects.toMatchObject({
      code: 'PATH_ESCAPE',
      message: 'Containerfile:5: "out" is outside the build context',
    });
  });

  it('does not see ignored files, by name or by wildcard', async () => {
    const root = await contextWith({ 'keep.txt': '', 'secret.txt': '', 'build/out': '', 'link': { symlink: 'secret.txt' } }, 'secret.txt\nbuild\n');
    expect(await rels(root, ['*.txt'])).toEqual(['keep.txt']);
    await expect(selectSources(root, ['secret.txt'], 'Containerfile:3')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(selectSources(root, ['build/out'], 'Containerfile:3')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    // A symlink does not smuggle an ignored file in.
    await expect(selectSources(root, ['link'], 'Containerfile:3')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('sees an excluded directory that holds a re-included file', async () => {
    const root = await contextWith({ 'dir/keep': '', 'dir/drop': '', 'other/x': '' }, 'dir\nother\n!dir/keep\n');
    expect(await rels(root, ['dir'])).toEqual(['dir']);
    expect(await rels(root, ['dir/keep'])).toEqual(['dir/keep']);
    await expect(selectSources(root, ['other'], 'Containerfile:3')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('clamps .. and resolves absolute symlinks inside a root filesystem (COPY --from)', async () => {
    const dir = await temp.make('rootfs');
    await writeTree(dir, { 'etc/os-release': 'x', 'usr/lib/os-release': 'y', 'etc/alias': { symlink: '/usr/lib/os-release' } });
    const root: SourceRoot = { dir, kind: 'rootfs' };
    const [a, b] = await selectSources(root, ['/../../etc/os-release', '/etc/alias'], 'Containerfile:9');
    expect(a).toMatchObject({ rel: 'etc/os-release', abs: path.join(dir, 'etc', 'os-release') });
    expect(b).toMatchObject({ rel: 'etc/alias', abs: path.join(dir, 'usr', 'lib', 'os-release') });
    await expect(selectSources(root, ['/nope'], 'Containerfile:9')).rejects.toMatchObject({
      message: 'Containerfile:9: "/nope": no such file or directory in the source filesystem',
    });
  });
});
