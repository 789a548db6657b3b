// Layers as a user sees them: what later RUNs delete is gone (whiteouts, opaque directories), file
// types, owners, modes and times survive a commit, both in the building root and after the layers
// went through a tar (save + load into a fresh root, and umoci's independent unpacking), and COPY
// layers are reproducible.
import { lstat, mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestRoot } from '../../helpers/tsbuild.js';
import { Contexts, budOk, host, inspectJson, mountsUnder, setupRoot, sh, teardownRoot, type TestRoot } from './helpers.js';

const LAYERS = [
  'FROM busybox-base',
  // Layer 1: things a later layer deletes or replaces.
  'RUN mkdir -p /del /opq/old/deep && echo gone > /del/file && echo kept > /del/kept && echo old > /opq/old/f && echo old-deep > /opq/old/deep/f && echo top-old > /opq/top && echo file > /swap && mkdir /dir2link && echo in-dir > /dir2link/f',
  // Layer 2: a deletion, a directory removed and re-created, a file turned into a directory and back.
  'RUN rm /del/file && rm -rf /opq && mkdir -p /opq/new && echo new > /opq/new/f && rm /swap && mkdir /swap && echo inside > /swap/f && rm -rf /dir2link && ln -s /swap /dir2link',
  // Layer 3: every file type and special bit.
  [
    'RUN mkdir /special && cd /special',
    'echo target > target && ln -s target symlink && ln -s /nowhere dangling',
    'echo data > hard1 && ln hard1 hard2',
    'mkfifo fifo',
    'echo suid > suid && chmod 4755 suid',
    'mkdir sticky && chmod 1777 sticky',
    'echo owned > owned && chown 1234:5678 owned && mkdir owned-dir && chown 1234:5678 owned-dir',
    "touch -d '2001-02-03 04:05:06' owned owned-dir",
  ].join(' && '),
  // RUN cannot mknod (no CAP_MKNOD, as in buildah): the device comes from a tar the host made.
  'ADD dev.tar /special/',
  // Layer 5: something on top, so the layers above are lower layers of the final image.
  'RUN echo later > /later.txt',
].join('\n');

// What the check script below prints for a correct image.
const EXPECTED = [
  'del-file-absent',
  'kept',
  'new',
  'new/f=new',
  '/swap directory',
  'inside',
  "'/dir2link' -> '/swap'",
  '/special/target 0:0 644 regular file',
  '/special/symlink 0:0 777 symbolic link',
  '/special/hard1 0:0 644 regular file 2',
  '/special/hard2 0:0 644 regular file 2',
  '/special/fifo 0:0 644 fifo',
  '/special/chardev 0:0 644 character special file',
  '/special/suid 0:0 4755 regular file',
  '/special/sticky 0:0 1777 directory',
  '/special/owned 1234:5678 644 regular file',
  '/special/owned-dir 1234:5678 755 directory',
  "'/special/symlink' -> 'target'",
  "'/special/dangling' -> '/nowhere'",
  'same-inode',
  'chardev 1,3',
  '981173106 981173106',
  'later',
].join('\n');

const CHECK = [
  'umask 022',
  'test -e /del/file || echo del-file-absent',
  'ls /del',
  'ls /opq',
  'cd /opq && find new -type f | while read f; do echo "$f=$(cat $f)"; done && cd /',
  "stat -c '%n %F' /swap",
  'cat /swap/f',
  "stat -c '%N' /dir2link",
  'cd /special',
  "stat -c '%n %u:%g %a %F' /special/target /special/symlink",
  "stat -c '%n %u:%g %a %F %h' /special/hard1 /special/hard2",
  "stat -c '%n %u:%g %a %F' /special/fifo /special/chardev /special/suid /special/sticky /special/owned /special/owned-dir",
  "stat -c '%N' /special/symlink /special/dangling",
  '[ "$(stat -c %i hard1)" = "$(stat -c %i hard2)" ] && echo same-inode',
  "echo chardev $(stat -c '%t,%T' chardev)",
  'echo $(stat -c %Y owned owned-dir)',
  'cat /later.txt',
].join('\n');

let t: TestRoot;
const contexts = new Contexts();
const temps: string[] = [];

beforeAll(async () => {
  t = await setupRoot();
  const ctx = await contexts.make({ Containerfile: LAYERS });
  const staging = await tempDir('tsbuild-dev-');
  host(['mknod', path.join(staging, 'chardev'), 'c', '1', '3']);
  host(['tar', '-cf', path.join(ctx, 'dev.tar'), '-C', staging, 'chardev']);
  await budOk(t, ctx, ['-q', '-t', 'layers']);
});

afterAll(async () => {
  await contexts.cleanup();
  await Promise.all(temps.map((d) => rm(d, { recursive: true, force: true })));
  await teardownRoot(t);
});

async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  temps.push(dir);
  return dir;
}

describe('whiteouts and file metadata', () => {
  it('removes deleted files, shows only the new content of a re-created directory, and keeps types, owners, modes and mtimes', async () => {
    expect((await sh(t, 'layers', CHECK)).trimEnd()).toBe(EXPECTED);
  });

  it('keeps all of that after the layers go through save and load into a fresh root', async () => {
    const dir = await tempDir('tsbuild-layers-');
    const archive = path.join(dir, 'layers.tar');
    await t.ok(['save', '--format', 'oci-archive', '-o', archive, 'layers']);
    const other = await createTestRoot();
    try {
      await other.ok(['load', '-i', archive]);
      expect((await other.ok(['run', '--rm', 'layers', 'sh', '-c', CHECK])).stdout.trimEnd()).toBe(EXPECTED);
      expect(await mountsUnder(other.root)).toEqual([]);
    } finally {
      await other.cleanup();
    }
  });

  it('writes layer tars that umoci unpacks to the same tree', async () => {
    const dir = await tempDir('tsbuild-layers-umoci-');
    const archive = path.join(dir, 'layers.tar');
    await t.ok(['save', '--format', 'oci-archive', '-o', archive, 'layers']);
    host(['skopeo', 'copy', '--quiet', `oci-archive:${archive}`, `oci:${path.join(dir, 'layout')}:layers`]);
    host(['umoci', 'unpack', '--image', `${path.join(dir, 'layout')}:layers`, path.join(dir, 'bundle')]);
    const rootfs = path.join(dir, 'bundle', 'rootfs');
    const at = (p: string): string => path.join(rootfs, p);

    await expect(lstat(at('del/file'))).rejects.toThrow(/ENOENT/);
    expect(await readdir(at('del'))).toEqual(['kept']);
    expect((await readdir(at('opq'))).sort()).toEqual(['new']);
    expect(await readFile(at('opq/new/f'), 'utf8')).toBe('new\n');
    expect((await lstat(at('swap'))).isDirectory()).toBe(true);
    expect((await lstat(at('dir2link'))).isSymbolicLink()).toBe(true);
    // No whiteout files leak into the tree.
    expect(host(['find', rootfs, '-name', '.wh.*'])).toBe('');

    const special = (name: string) => lstat(at(`special/${name}`));
    expect((await special('symlink')).isSymbolicLink()).toBe(true);
    expect((await special('hard1')).ino).toBe((await special('hard2')).ino);
    expect((await special('fifo')).isFIFO()).toBe(true);
    const chardev = await special('chardev');
    expect(chardev.isCharacterDevice()).toBe(true);
    expect(chardev.rdev).toBe((1 << 8) | 3);
    expect((await special('suid')).mode & 0o7777).toBe(0o4755);
    expect((await special('sticky')).mode & 0o7777).toBe(0o1777);
    const owned = await stat(at('special/owned'));
    expect([owned.uid, owned.gid, Math.floor(owned.mtimeMs / 1000)]).toEqual([1234, 5678, 981173106]);
  });
});

describe('reproducibility', () => {
  it('gives COPY layers identical diff IDs when the same Containerfile is built twice with --no-cache', async () => {
    const ctx = await contexts.make({
      Containerfile: [
        'FROM busybox-base',
        'COPY dir /copied-dir',
        'COPY file.txt /deep/new/parent/file.txt',
        'RUN echo run > /run.txt',
        'COPY --chown=1:1 --chmod=600 file.txt dir/a.txt /implicit/new/',
      ].join('\n'),
      'dir/a.txt': 'a\n',
      'dir/sub/b.txt': 'b\n',
      'file.txt': 'file\n',
    });
    const base = (await inspectJson<{ Layers: string[] }>(t, 'busybox-base', 'RootFS')).Layers.length;
    await budOk(t, ctx, ['-q', '--no-cache', '-t', 'det1']);
    // Let the clock move on, so any time that leaks into a layer would change it.
    await new Promise((r) => setTimeout(r, 1100));
    await budOk(t, ctx, ['-q', '--no-cache', '-t', 'det2']);
    const first = (await inspectJson<{ Layers: string[] }>(t, 'det1', 'RootFS')).Layers;
    const second = (await inspectJson<{ Layers: string[] }>(t, 'det2', 'RootFS')).Layers;
    expect(first).toHaveLength(base + 4);
    expect(second).toHaveLength(base + 4);
    for (const i of [base, base + 1, base + 3]) expect(second[i], `layer ${i}`).toBe(first[i]);
  });
});
