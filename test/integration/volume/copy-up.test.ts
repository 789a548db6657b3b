// copyUp on its own (root needed for owners): what a volume receives from the image's directory.
import { execFileSync } from 'node:child_process';
import { chmod, chown, link, lstat, mkdir, mkdtemp, readFile, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { silentLogger } from '../../../src/log.js';
import { copyUp } from '../../../src/volume/copy-up.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-copyup-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

it('keeps owners, modes (set-id bits too), symlinks, hard links and xattrs', async () => {
  const src = path.join(dir, 'src');
  const dst = path.join(dir, 'dst');
  await mkdir(path.join(src, 'sub'), { recursive: true });
  await mkdir(dst);
  await writeFile(path.join(src, 'sub', 'tool'), 'bin');
  await chown(path.join(src, 'sub', 'tool'), 1000, 1000);
  await chmod(path.join(src, 'sub', 'tool'), 0o4755);
  await link(path.join(src, 'sub', 'tool'), path.join(src, 'hard'));
  await symlink('/etc/shadow', path.join(src, 'abs-link'));
  await chown(path.join(src, 'sub'), 7, 8);
  await chmod(path.join(src, 'sub'), 0o2750);
  execFileSync('setfattr', ['-n', 'user.origin', '-v', 'image', path.join(src, 'sub', 'tool')]);
  await chown(src, 1000, 1000);
  await chmod(src, 0o711);

  await copyUp(src, dst, silentLogger());

  const tool = await stat(path.join(dst, 'sub', 'tool'));
  expect([tool.uid, tool.gid, tool.mode & 0o7777]).toEqual([1000, 1000, 0o4755]);
  expect(await readFile(path.join(dst, 'sub', 'tool'), 'utf8')).toBe('bin');
  expect((await stat(path.join(dst, 'hard'))).ino).toBe(tool.ino);
  expect((await lstat(path.join(dst, 'abs-link'))).isSymbolicLink()).toBe(true);
  expect(await readlink(path.join(dst, 'abs-link'))).toBe('/etc/shadow');
  const sub = await stat(path.join(dst, 'sub'));
  expect([sub.uid, sub.gid, sub.mode & 0o7777]).toEqual([7, 8, 0o2750]);
  const root = await stat(dst);
  expect([root.uid, root.gid, root.mode & 0o7777]).toEqual([1000, 1000, 0o711]);
  const xattr = execFileSync('getfattr', ['--absolute-names', '--only-values', '-n', 'user.origin', path.join(dst, 'sub', 'tool')], { encoding: 'utf8' });
  expect(xattr).toBe('image');
});

it('keeps the volume root owner when asked (o=uid=,gid=)', async () => {
  const src = path.join(dir, 'src');
  const dst = path.join(dir, 'dst');
  await mkdir(src);
  await mkdir(dst);
  await chown(src, 1000, 1000);
  await chown(dst, 5, 5);
  await copyUp(src, dst, silentLogger(), { keepRootOwner: true });
  expect((await stat(dst)).uid).toBe(5);
});
