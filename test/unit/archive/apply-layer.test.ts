import { lstatSync, readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { chmod, lchown, link, lutimes, mkdir, symlink, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { applyTar, writeLayerTar } from '../../../src/archive/index.js';
import { cleanupTempDirs, craftTar, getXattr, isRoot, layerOf, run, streamOf, tempDir } from '../helpers-archive.js';

afterEach(cleanupTempDirs);

const me = { preserveOwners: false, owner: { uid: process.getuid!(), gid: process.getgid!() } };

describe('applyTar', () => {
  it.runIf(isRoot)('turns whiteouts into char 0/0 devices and opaque markers into trusted.overlay.opaque in overlay mode', async () => {
    const root = tempDir();
    const tar = await craftTar([
      { name: 'etc', type: 'directory' },
      { name: 'etc/.wh.passwd', content: '' },
      { name: 'opq', type: 'directory' },
      { name: 'opq/.wh..wh..opq', content: '' },
      { name: 'opq/kept', content: 'k' },
      // An archive must not be able to steer overlayfs with its own trusted.overlay.* xattrs.
      { name: 'sneaky', type: 'directory', pax: { 'SCHILY.xattr.trusted.overlay.opaque': 'y' } },
    ]);
    const result = await applyTar(streamOf(tar), root, { whiteouts: 'overlay', what: 'layer x' });
    expect(result.entries).toBe(6);
    const wh = lstatSync(path.join(root, 'etc/passwd'));
    expect(wh.isCharacterDevice()).toBe(true);
    expect(wh.rdev).toBe(0);
    expect(readdirSync(path.join(root, 'etc'))).toEqual(['passwd']);
    expect(readdirSync(root).sort()).toEqual(['etc', 'opq', 'sneaky']);
    expect(getXattr(path.join(root, 'opq'), 'trusted.overlay.opaque')).toBe('0x79');
    expect(readdirSync(path.join(root, 'opq'))).toEqual(['kept']);
    expect(getXattr(path.join(root, 'sneaky'), 'trusted.overlay.opaque')).toBeUndefined();
  });

  it("keeps .wh. names as ordinary files in 'none' mode", async () => {
    const root = tempDir();
    const tar = await craftTar([
      { name: '.wh.gone', content: 'not a whiteout' },
      { name: 'd/.wh..wh..opq', content: '' },
    ]);
    await applyTar(streamOf(tar), root, { whiteouts: 'none', what: 'archive a.tar', ...me });
    expect(readFileSync(path.join(root, '.wh.gone'), 'utf8')).toBe('not a whiteout');
    expect(lstatSync(path.join(root, 'd/.wh..wh..opq')).isFile()).toBe(true);
  });

  it('replaces a directory with a file and a file with a directory, and keeps a directory re-declared', async () => {
    const root = tempDir();
    const tar = await craftTar([
      { name: 'a', type: 'directory' },
      { name: 'a/inner', content: 'gone soon' },
      { name: 'b', content: 'file first' },
      { name: 'c', type: 'directory', mode: 0o755 },
      { name: 'c/keep', content: 'kept' },
      { name: 'a', content: 'now a file' },
      { name: 'b', type: 'directory' },
      { name: 'b/x', content: 'x' },
      { name: 'c', type: 'directory', mode: 0o700 },
    ]);
    await applyTar(streamOf(tar), root, { whiteouts: 'overlay', what: 'layer x', ...me });
    expect(readFileSync(path.join(root, 'a'), 'utf8')).toBe('now a file');
    expect(readFileSync(path.join(root, 'b/x'), 'utf8')).toBe('x');
    expect(readFileSync(path.join(root, 'c/keep'), 'utf8')).toBe('kept');
    expect(statSync(path.join(root, 'c')).mode & 0o7777).toBe(0o700);
  });

  it('lets the last of duplicate entries win', async () => {
    const root = tempDir();
    const tar = await craftTar([
      { name: 'f', content: 'first', mode: 0o600 },
      { name: 'f', content: 'second', mode: 0o640 },
      { name: 'l', type: 'symlink', linkname: 'one' },
      { name: 'l', type: 'symlink', linkname: 'two' },
    ]);
    await applyTar(streamOf(tar), root, { whiteouts: 'none', what: 'layer x', ...me });
    expect(readFileSync(path.join(root, 'f'), 'utf8')).toBe('second');
    expect(statSync(path.join(root, 'f')).mode & 0o7777).toBe(0o640);
    expect(readlinkSync(path.join(root, 'l'))).toBe('two');
  });

  it('creates missing parent directories and sets mtimes, directory mtimes after their children', async () => {
    const root = tempDir();
    const tar = await craftTar([
      { name: 'x/y', type: 'directory', mtime: new Date(2_000_000) },
      { name: 'x/y/f', content: 'f', mtime: new Date(3_000_000) },
      { name: 'x/y/s', type: 'symlink', linkname: 'f', mtime: new Date(4_000_000) },
    ]);
    await applyTar(streamOf(tar), root, { whiteouts: 'overlay', what: 'layer x', ...me });
    expect(statSync(path.join(root, 'x/y')).mtimeMs).toBe(2_000_000);
    expect(statSync(path.join(root, 'x/y/f')).mtimeMs).toBe(3_000_000);
    expect(lstatSync(path.join(root, 'x/y/s')).mtimeMs).toBe(4_000_000);
    expect(statSync(path.join(root, 'x')).isDirectory()).toBe(true);
  });

  it.runIf(isRoot)('keeps owners, setuid bits and devices, or gives everything to one owner when asked', async () => {
    const tar = await craftTar([
      { name: 'suid', content: '#!', mode: 0o4755, uid: 1000, gid: 1001 },
      { name: 'tmp', type: 'directory', mode: 0o1777, uid: 5, gid: 6 },
      { name: 'null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 },
      { name: 'fifo', type: 'fifo', mode: 0o600, uid: 7, gid: 8 },
      { name: 'hard', type: 'link', linkname: 'suid' },
    ]);
    const kept = tempDir();
    await applyTar(streamOf(tar), kept, { whiteouts: 'overlay', what: 'layer x' });
    const suid = statSync(path.join(kept, 'suid'));
    expect([suid.mode & 0o7777, suid.uid, suid.gid, suid.nlink]).toEqual([0o4755, 1000, 1001, 2]);
    expect(statSync(path.join(kept, 'hard')).ino).toBe(suid.ino);
    const tmp = statSync(path.join(kept, 'tmp'));
    expect([tmp.mode & 0o7777, tmp.uid, tmp.gid]).toEqual([0o1777, 5, 6]);
    const dev = lstatSync(path.join(kept, 'null'));
    expect([dev.isCharacterDevice(), dev.rdev, dev.mode & 0o7777]).toEqual([true, 0x103, 0o666]);
    expect(lstatSync(path.join(kept, 'fifo')).isFIFO()).toBe(true);

    const given = tempDir();
    await applyTar(streamOf(tar), given, { whiteouts: 'none', what: 'archive a.tar', preserveOwners: false, owner: { uid: 33, gid: 44 } });
    for (const name of ['suid', 'tmp', 'fifo']) {
      const st = lstatSync(path.join(given, name));
      expect([st.uid, st.gid]).toEqual([33, 44]);
    }
    expect(statSync(path.join(given, 'suid')).mode & 0o7777).toBe(0o4755);
  });

  it('reads GNU tar archives with long names', async () => {
    const src = tempDir();
    const long = `${'d'.repeat(90)}/${'f'.repeat(120)}`;
    await mkdir(path.join(src, 'd'.repeat(90)));
    await writeFile(path.join(src, long), 'gnu');
    const tarFile = path.join(tempDir(), 'gnu.tar');
    run(['tar', '--format=gnu', '-C', src, '-cf', tarFile, '.']);
    const root = tempDir();
    const { createReadStream } = await import('node:fs');
    await applyTar(createReadStream(tarFile), root, { whiteouts: 'none', what: `archive ${tarFile}`, ...me });
    expect(readFileSync(path.join(root, long), 'utf8')).toBe('gnu');
  });

  it('rejects input that is not a tar archive, naming what it was', async () => {
    const root = tempDir();
    const junk = Buffer.alloc(1024, 0x41);
    await expect(applyTar(streamOf(junk), root, { whiteouts: 'none', what: 'archive /ctx/a.tar', ...me })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: 'archive /ctx/a.tar is not a valid tar archive (bad header checksum)',
    });
  });

  it('streams a file larger than memory chunks from a slow source', async () => {
    const root = tempDir();
    const size = 8 * 1024 * 1024 + 7;
    const tar = await craftTar([{ name: 'big', content: Buffer.alloc(size, 0x61) }]);
    const input = new PassThrough({ highWaterMark: 16 * 1024 });
    const feeding = (async () => {
      for (let off = 0; off < tar.length; off += 100_000) {
        if (!input.write(tar.subarray(off, off + 100_000))) await new Promise((r) => input.once('drain', r));
      }
      input.end();
    })();
    await applyTar(input, root, { whiteouts: 'none', what: 'layer x', ...me });
    await feeding;
    expect(statSync(path.join(root, 'big')).size).toBe(size);
  });
});

describe('writeLayerTar and applyTar together', () => {
  it.runIf(isRoot)('write -> apply -> write gives the same digest for an overlay upper dir', async () => {
    const upper = tempDir();
    const T = 1_700_000_000;
    await mkdir(path.join(upper, 'etc/ssl'), { recursive: true });
    await writeFile(path.join(upper, 'etc/hosts'), '127.0.0.1 localhost\n');
    await writeFile(path.join(upper, 'etc/ssl/cert.pem'), 'PEM');
    await link(path.join(upper, 'etc/hosts'), path.join(upper, 'etc/hosts.bak'));
    await symlink('/etc/hosts', path.join(upper, 'hosts-link'));
    await writeFile(path.join(upper, 'ping'), 'ELF');
    await chmod(path.join(upper, 'ping'), 0o4755);
    run(['setfattr', '-n', 'security.capability', '-v', '0x0100000200200000000000000000000000000000', path.join(upper, 'ping')]);
    await lchown(path.join(upper, 'etc/ssl/cert.pem'), 1000, 1001);
    run(['mknod', path.join(upper, 'removed'), 'c', '0', '0']);
    run(['mknod', path.join(upper, 'zero'), 'c', '1', '5']);
    run(['mknod', path.join(upper, 'pipe'), 'p']);
    await mkdir(path.join(upper, 'var/cache'), { recursive: true });
    await chmod(path.join(upper, 'var/cache'), 0o1777);
    run(['setfattr', '-n', 'trusted.overlay.opaque', '-v', 'y', path.join(upper, 'var/cache')]);
    for (const p of ['etc/hosts', 'etc/ssl/cert.pem', 'ping', 'removed', 'zero', 'pipe']) await utimes(path.join(upper, p), T, T);
    await lutimes(path.join(upper, 'hosts-link'), T, T);
    for (const d of ['etc/ssl', 'etc', 'var/cache', 'var']) await utimes(path.join(upper, d), T, T);

    const first = await layerOf(upper, { mode: 'overlay-upper' });
    const snapshot = tempDir();
    await applyTar(streamOf(first.tar), snapshot, { whiteouts: 'overlay', what: `layer ${first.digest}` });
    const second = await layerOf(snapshot, { mode: 'overlay-upper' });
    expect(second.digest).toBe(first.digest);

    // And once more through a stream that is not in memory.
    const third = new PassThrough();
    const again = tempDir();
    const applied = applyTar(third, again, { whiteouts: 'overlay', what: 'layer again' });
    await writeLayerTar(snapshot, third, { mode: 'overlay-upper' });
    await applied;
    expect((await layerOf(again, { mode: 'overlay-upper' })).digest).toBe(first.digest);
  });
});
