import { chmod, chown, link, lstat, lutimes, readFile, readlink, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  compileIgnoreRules,
  copySelection,
  destIsDirectory,
  parseChmod,
  parseIgnoreFile,
  selectSources,
  type CopyOptions,
  type SourceRoot,
} from '../../../src/build/context/index.js';
import { OLD_TIME, TempDirs, writeTree } from './helpers.js';

const temp = new TempDirs();
afterEach(() => temp.cleanup());

interface Fixture {
  root: SourceRoot;
  layer: string;
  copy(patterns: string[], dest: string, options?: Partial<CopyOptions>): Promise<void>;
}

async function fixture(spec: Parameters<typeof writeTree>[1], rootOptions: Partial<SourceRoot> = {}, ignore?: string): Promise<Fixture> {
  const dir = await temp.make();
  await writeTree(dir, spec);
  const layer = await temp.make('layer');
  const root: SourceRoot = {
    dir,
    kind: 'context',
    ...rootOptions,
    ...(ignore === undefined ? {} : { ignore: compileIgnoreRules(parseIgnoreFile(ignore), undefined) }),
  };
  return {
    root,
    layer,
    async copy(patterns, dest, options = {}) {
      const entries = await selectSources(root, patterns, 'Containerfile:4');
      await copySelection(entries, root, layer, dest, destIsDirectory(dest, patterns, entries), { what: 'Containerfile:4', ...options });
    },
  };
}

const text = (p: string) => readFile(p, 'utf8');

describe('copySelection', () => {
  it('copies a file to a file path, creating parents 0755 root:root', async () => {
    const f = await fixture({ 'app.conf': { content: 'conf', mode: 0o640 } });
    await f.copy(['app.conf'], '/etc/app/settings.conf');
    const target = path.join(f.layer, 'etc/app/settings.conf');
    expect(await text(target)).toBe('conf');
    expect((await stat(target)).mode & 0o7777).toBe(0o640);
    for (const dir of ['etc', 'etc/app']) {
      const st = await stat(path.join(f.layer, dir));
      expect([st.mode & 0o7777, st.uid, st.gid]).toEqual([0o755, 0, 0]);
    }
  });

  it('copies a file into a directory destination ending in /', async () => {
    const f = await fixture({ 'sub/a.txt': 'A' });
    await f.copy(['sub/a.txt'], '/dst/');
    expect(await readdir(path.join(f.layer, 'dst'))).toEqual(['a.txt']);
    expect(await text(path.join(f.layer, 'dst/a.txt'))).toBe('A');
  });

  it('copies the contents of a directory source, not the directory itself', async () => {
    const f = await fixture({ 'src/a': '1', 'src/deep/b': '2', 'src/.hidden': '3' });
    await f.copy(['src'], '/app');
    expect((await readdir(path.join(f.layer, 'app'))).sort()).toEqual(['.hidden', 'a', 'deep']);
    expect(await text(path.join(f.layer, 'app/deep/b'))).toBe('2');
  });

  it('copies wildcard matches into the destination directory', async () => {
    const f = await fixture({ 'a.txt': 'a', 'b.txt': 'b', 'c.md': 'c' });
    await f.copy(['*.txt'], '/out');
    expect((await readdir(path.join(f.layer, 'out'))).sort()).toEqual(['a.txt', 'b.txt']);
  });

  it('makes context files root-owned and applies --chown to files, directories and the destination', async () => {
    const f = await fixture({ 'd/x': 'x', 'y': 'y' });
    await f.copy(['y'], '/plain/');
    const plain = await stat(path.join(f.layer, 'plain/y'));
    expect([plain.uid, plain.gid]).toEqual([0, 0]);
    await f.copy(['d', 'y'], '/owned/', { chown: { uid: 1000, gid: 1001 } });
    for (const p of ['owned', 'owned/x', 'owned/y']) {
      const st = await stat(path.join(f.layer, p));
      expect([p, st.uid, st.gid]).toEqual([p, 1000, 1001]);
    }
    const parent = await stat(f.layer);
    expect(parent.uid).toBe(0);
  });

  it('applies --chmod to everything copied', async () => {
    const f = await fixture({ 'd/x': { content: 'x', mode: 0o600 } });
    await f.copy(['d'], '/m', { chmod: parseChmod('751', 'Containerfile:1') });
    expect((await stat(path.join(f.layer, 'm/x'))).mode & 0o7777).toBe(0o751);
    expect((await stat(path.join(f.layer, 'm'))).mode & 0o7777).toBe(0o751);
  });

  it('applies a symbolic --chmod per entry: X adds execute to directories and executables only', async () => {
    const f = await fixture({ 'd/plain': { content: 'p', mode: 0o600 }, 'd/tool': { content: 't', mode: 0o700 } });
    await f.copy(['d'], '/m', { chmod: parseChmod('u=rwX,go=rX', 'Containerfile:1') });
    expect((await stat(path.join(f.layer, 'm/plain'))).mode & 0o7777).toBe(0o644);
    expect((await stat(path.join(f.layer, 'm/tool'))).mode & 0o7777).toBe(0o755);
    expect((await stat(path.join(f.layer, 'm'))).mode & 0o7777).toBe(0o755);
  });

  it('preserves setuid bits and owners of COPY --from sources', async () => {
    const rootfs = await temp.make('rootfs');
    await writeTree(rootfs, { 'bin/tool': '#!' });
    // chown clears setuid, so the source gets its owner first.
    await chown(path.join(rootfs, 'bin/tool'), 42, 43);
    await chmod(path.join(rootfs, 'bin/tool'), 0o4755);
    const layer = await temp.make('layer');
    const root: SourceRoot = { dir: rootfs, kind: 'rootfs' };
    const entries = await selectSources(root, ['/bin/tool'], 'Containerfile:2');
    await copySelection(entries, root, layer, '/usr/bin/tool', false, { what: 'Containerfile:2' });
    const st = await stat(path.join(layer, 'usr/bin/tool'));
    expect([st.mode & 0o7777, st.uid, st.gid]).toEqual([0o4755, 42, 43]);
  });

  it('keeps symlinks inside a copied directory as symlinks', async () => {
    const f = await fixture({ 'd/target': 't', 'd/rel': { symlink: 'target' }, 'd/abs': { symlink: '/etc/passwd' } });
    await f.copy(['d'], '/x');
    expect((await lstat(path.join(f.layer, 'x/rel'))).isSymbolicLink()).toBe(true);
    expect(await readlink(path.join(f.layer, 'x/rel'))).toBe('target');
    expect(await readlink(path.join(f.layer, 'x/abs'))).toBe('/etc/passwd');
  });

  it('preserves mtimes of files, directories and symlinks', async () => {
    const f = await fixture({ 'd/sub/file': 'f', 'd/link': { symlink: 'sub/file' } });
    // Creating children moved the directories' mtimes; set them back.
    for (const p of ['d/link', 'd/sub', 'd']) await lutimes(path.join(f.root.dir, p), OLD_TIME, OLD_TIME);
    await f.copy(['d'], '/x');
    for (const p of ['x', 'x/sub', 'x/sub/file', 'x/link']) {
      expect([p, (await lstat(path.join(f.layer, p))).mtime.toISOString()]).toEqual([p, OLD_TIME.toISOString()]);
    }
  });

  it('copies a file re-included inside an excluded directory, and nothing else from it', async () => {
    const f = await fixture({ 'dir/keep': 'k', 'dir/drop': 'd', 'top': 't' }, {}, 'dir\n!dir/keep\n');
    await f.copy(['.'], '/app');
    expect((await readdir(path.join(f.layer, 'app'))).sort()).toEqual(['dir', 'top']);
    expect(await readdir(path.join(f.layer, 'app/dir'))).toEqual(['keep']);
  });

  it('lets a later source replace an earlier one at the same path', async () => {
    const f = await fixture({ 'one/f': 'first', 'two/f': { symlink: 'elsewhere' } });
    await f.copy(['one', 'two'], '/m/');
    expect(await readlink(path.join(f.layer, 'm/f'))).toBe('elsewhere');
  });

  it('turns hardlinks into independent copies', async () => {
    const f = await fixture({ 'd/a': 'same' });
    await link(path.join(f.root.dir, 'd/a'), path.join(f.root.dir, 'd/b'));
    await f.copy(['d'], '/h');
    const [a, b] = await Promise.all([stat(path.join(f.layer, 'h/a')), stat(path.join(f.layer, 'h/b'))]);
    expect(a.ino).not.toBe(b.ino);
    expect(await text(path.join(f.layer, 'h/b'))).toBe('same');
  });

  it('gives existing parent directories the metadata the image has for them', async () => {
    const f = await fixture({ 'a': 'a' });
    await f.copy(['a'], '/home/user/', {
      existingDir: async (p) => (p === '/home/user' ? { mode: 0o700, uid: 1000, gid: 1000 } : undefined),
    });
    const home = await stat(path.join(f.layer, 'home'));
    const user = await stat(path.join(f.layer, 'home/user'));
    expect([home.mode & 0o7777, home.uid]).toEqual([0o755, 0]);
    expect([user.mode & 0o7777, user.uid, user.gid]).toEqual([0o700, 1000, 1000]);
  });

  it('leaves an existing destination directory as the image has it when copying a directory into it', async () => {
    const f = await fixture({ 'src/a': 'a' });
    await chmod(path.join(f.root.dir, 'src'), 0o700);
    await f.copy(['src'], '/srv', { existingDir: async (p) => (p === '/srv' ? { mode: 0o750, uid: 5, gid: 6 } : undefined) });
    const st = await stat(path.join(f.layer, 'srv'));
    expect([st.mode & 0o7777, st.uid, st.gid]).toEqual([0o750, 5, 6]);
  });

  it('gives a new destination the mode of the copied directory', async () => {
    const f = await fixture({ 'src/a': 'a' });
    await chmod(path.join(f.root.dir, 'src'), 0o700);
    await f.copy(['src'], '/srv');
    expect((await stat(path.join(f.layer, 'srv'))).mode & 0o7777).toBe(0o700);
  });

  it('does not let a setgid layer directory hand its group to copied files', async () => {
    const f = await fixture({ 'a': 'a' });
    await chown(f.layer, 0, 50);
    await chmod(f.layer, 0o2755);
    await f.copy(['a'], '/d/');
    for (const p of ['d', 'd/a']) expect([p, (await stat(path.join(f.layer, p))).gid]).toEqual([p, 0]);
  });

  it('keeps a destination with .. inside the layer', async () => {
    const f = await fixture({ 'a': 'a' });
    await f.copy(['a'], '/../../../escaped');
    expect(await text(path.join(f.layer, 'escaped'))).toBe('a');
  });

  it('decides directory destinations the way Docker does', () => {
    const file = { rel: 'f', abs: '/f', stat: {} as never, isDirSource: false };
    const dir = { ...file, isDirSource: true };
    expect(destIsDirectory('/x', ['f'], [file])).toBe(false);
    expect(destIsDirectory('/x/', ['f'], [file])).toBe(true);
    expect(destIsDirectory('/x', ['f', 'g'], [file, file])).toBe(true);
    expect(destIsDirectory('/x', ['d'], [dir])).toBe(true);
    expect(destIsDirectory('/x', ['f*'], [file])).toBe(true);
  });
});

describe('COPY --parents and --exclude', () => {
  async function copyWith(spec: Parameters<typeof writeTree>[1], patterns: string[], dest: string, options: { parents?: boolean; exclude?: string[] }) {
    const f = await fixture(spec);
    const exclude = options.exclude ? compileIgnoreRules(options.exclude, 'Containerfile:4: --exclude') : undefined;
    const entries = await selectSources(f.root, patterns, 'Containerfile:4', { parents: options.parents, exclude });
    await copySelection(entries, f.root, f.layer, dest, true, { what: 'Containerfile:4' });
    return f.layer;
  }
  const tree = async (dir: string, rel = ''): Promise<string[]> => {
    const out: string[] = [];
    for (const name of (await readdir(path.join(dir, rel))).sort()) {
      const child = rel === '' ? name : `${rel}/${name}`;
      const st = await lstat(path.join(dir, child));
      out.push(st.isDirectory() ? `${child}/` : child);
      if (st.isDirectory()) out.push(...(await tree(dir, child)));
    }
    return out;
  };

  it('keeps each source path under the destination with --parents', async () => {
    const layer = await copyWith({ 'x/a.txt': 'xa', 'y/a.txt': 'ya', 'y/b.md': 'b' }, ['x/a.txt', 'y/*.txt'], '/p/', { parents: true });
    expect(await tree(layer)).toEqual(['p/', 'p/x/', 'p/x/a.txt', 'p/y/', 'p/y/a.txt']);
    expect(await text(path.join(layer, 'p/y/a.txt'))).toBe('ya');
  });

  it('keeps a directory source itself, not only its contents, with --parents', async () => {
    const layer = await copyWith({ 'src/lib/m.js': 'm' }, ['src/lib'], '/app/', { parents: true });
    expect(await tree(layer)).toEqual(['app/', 'app/src/', 'app/src/lib/', 'app/src/lib/m.js']);
  });

  it('keeps only the part after a /./ pivot with --parents', async () => {
    const layer = await copyWith({ 'build/out/bin/tool': 't', 'build/out/lib/x.so': 'x' }, ['./build/out/./bin/tool', 'build/./out/lib'], '/d/', { parents: true });
    expect(await tree(layer)).toEqual(['d/', 'd/bin/', 'd/bin/tool', 'd/out/', 'd/out/lib/', 'd/out/lib/x.so']);
  });

  it('gives --parents directories the mode of the source directory', async () => {
    const layer = await copyWith({ 'x/a': 'a', x: { dir: true, mode: 0o750 } }, ['x/a'], '/p/', { parents: true });
    expect((await stat(path.join(layer, 'p/x'))).mode & 0o7777).toBe(0o750);
  });

  it('leaves out files matching --exclude, inside directories and among wildcard matches', async () => {
    const layer = await copyWith(
      { 'home.txt': 'h', 'homework/a.txt': 'a', 'homework/b.go': 'b', 'homework/sub/c.txt': 'c', 'homer.md': 'm' },
      ['hom*'],
      '/d/',
      { exclude: ['*.txt', 'sub'] },
    );
    expect(await tree(layer)).toEqual(['d/', 'd/b.go', 'd/homer.md']);
  });

  it('matches --exclude with .dockerignore syntax (** and ! exceptions)', async () => {
    const layer = await copyWith({ 'a/x.log': '', 'a/b/y.log': '', 'a/b/keep.log': '', 'a/z.txt': '' }, ['a'], '/d/', { exclude: ['**/*.log', '!b/keep.log'] });
    expect(await tree(layer)).toEqual(['d/', 'd/b/', 'd/b/keep.log', 'd/z.txt']);
  });
});
