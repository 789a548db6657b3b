import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { chmod, lchown, link, lutimes, mkdir, readFile, symlink, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { applyTar, writeLayerTar } from '../../../src/archive/index.js';
import { cleanupTempDirs, getXattr, isRoot, layerOf, listTar, run, sha256, streamOf, tempDir } from '../helpers-archive.js';

const T = 1_650_000_000;

afterEach(cleanupTempDirs);

/** Builds the same small tree in `dir`, creating names in the given order, with fixed mtimes. */
async function buildTree(dir: string, order: 'forward' | 'reverse'): Promise<void> {
  const files = ['a.txt', 'b/c.txt', 'b/d/e.txt', 'z.txt', 'B.txt'];
  const list = order === 'forward' ? files : [...files].reverse();
  await mkdir(path.join(dir, 'b/d'), { recursive: true });
  for (const f of list) await writeFile(path.join(dir, f), `content of ${f}\n`);
  await symlink('a.txt', path.join(dir, 'link'));
  for (const f of files) await utimes(path.join(dir, f), T, T);
  await lutimes(path.join(dir, 'link'), T, T);
  for (const d of ['b/d', 'b', '.']) await utimes(path.join(dir, d), T, T);
}

describe('writeLayerTar', () => {
  it('produces the same bytes and digest for the same tree built twice in different orders', async () => {
    const one = tempDir();
    const two = tempDir();
    await buildTree(one, 'forward');
    await new Promise((r) => setTimeout(r, 20));
    await buildTree(two, 'reverse');
    const a = await layerOf(one, { mode: 'plain' });
    const b = await layerOf(two, { mode: 'plain' });
    expect(a.digest).toBe(b.digest);
    expect(a.tar.equals(b.tar)).toBe(true);
    expect(a.digest).toBe(sha256(a.tar));
    expect(a.size).toBe(a.tar.length);
  });

  it('lists parents before children, sorted bytewise, with relative names and dirs ending in "/"', async () => {
    const dir = tempDir();
    await buildTree(dir, 'forward');
    const names = (await listTar((await layerOf(dir, { mode: 'plain' })).tar)).map((e) => e.header.name);
    expect(names).toEqual(['B.txt', 'a.txt', 'b/', 'b/c.txt', 'b/d/', 'b/d/e.txt', 'link', 'z.txt']);
  });

  it.runIf(isRoot)('writes every file type with its mode, owner, link target and device numbers', async () => {
    const dir = tempDir();
    await writeFile(path.join(dir, 'file'), 'hello');
    await writeFile(path.join(dir, 'suid'), '#!/bin/sh\n');
    await chmod(path.join(dir, 'suid'), 0o4755);
    await mkdir(path.join(dir, 'sticky'));
    await chmod(path.join(dir, 'sticky'), 0o1777);
    await symlink('file', path.join(dir, 'sym'));
    await link(path.join(dir, 'file'), path.join(dir, 'hard'));
    run(['mknod', path.join(dir, 'fifo'), 'p']);
    run(['mknod', path.join(dir, 'null'), 'c', '1', '3']);
    run(['mknod', path.join(dir, 'loop'), 'b', '7', '300']);
    await writeFile(path.join(dir, 'owned'), 'x');
    await lchown(path.join(dir, 'owned'), 1000, 1001);
    await lchown(path.join(dir, 'sym'), 1000, 1001);

    const entries = await listTar((await layerOf(dir, { mode: 'plain' })).tar);
    const byName = new Map(entries.map((e) => [e.header.name, e]));
    expect([...byName.keys()]).toEqual(['fifo', 'file', 'hard', 'loop', 'null', 'owned', 'sticky/', 'suid', 'sym']);
    expect(byName.get('file')!.content.toString()).toBe('hello');
    expect(byName.get('file')!.header).toMatchObject({ type: 'file', size: 5, mode: 0o644, uid: 0, gid: 0, uname: '', gname: '' });
    // The first path in walk order carries the data; the later one links to it.
    expect(byName.get('hard')!.header).toMatchObject({ type: 'link', linkname: 'file', size: 0 });
    expect(byName.get('sym')!.header).toMatchObject({ type: 'symlink', linkname: 'file', uid: 1000, gid: 1001 });
    expect(byName.get('fifo')!.header.type).toBe('fifo');
    expect(byName.get('null')!.header).toMatchObject({ type: 'character-device', devmajor: 1, devminor: 3 });
    expect(byName.get('loop')!.header).toMatchObject({ type: 'block-device', devmajor: 7, devminor: 300 });
    expect(byName.get('suid')!.header.mode).toBe(0o4755);
    expect(byName.get('sticky/')!.header).toMatchObject({ type: 'directory', mode: 0o1777 });
    expect(byName.get('owned')!.header).toMatchObject({ uid: 1000, gid: 1001 });
  });

  it.runIf(isRoot)('stores security.capability as a PAX xattr that applyTar restores byte for byte', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'ping');
    await writeFile(file, 'binary');
    const cap = '0x0100000200200000000000000000000000000000';
    run(['setfattr', '-n', 'security.capability', '-v', cap, file]);
    run(['setfattr', '-n', 'user.note', '-v', 'hi there', file]);

    const { tar, digest } = await layerOf(dir, { mode: 'plain' });
    const raw = Buffer.from(cap.slice(2), 'hex');
    expect(tar.includes(Buffer.concat([Buffer.from('SCHILY.xattr.security.capability='), raw, Buffer.from('\n')]))).toBe(true);

    const out = tempDir();
    await applyTar(streamOf(tar), out, { whiteouts: 'none', what: 'test layer' });
    expect(getXattr(path.join(out, 'ping'), 'security.capability')).toBe(cap);
    expect(getXattr(path.join(out, 'ping'), 'user.note')).toBe(`0x${Buffer.from('hi there').toString('hex')}`);
    expect((await layerOf(out, { mode: 'plain' })).digest).toBe(digest);
  });

  it('keeps xattrs of files whose names have spaces, newlines, backslashes and "="', async () => {
    const dir = tempDir();
    const names = ['a b', 'new\nline', 'back\\slash', 'x=y', 'caf\u00e9'];
    for (const [i, name] of names.entries()) {
      await writeFile(path.join(dir, name), name);
      run(['setfattr', '-n', 'user.i', '-v', String(i), path.join(dir, name)]);
    }
    const { tar, digest } = await layerOf(dir, { mode: 'plain' });
    const out = tempDir();
    await applyTar(streamOf(tar), out, { whiteouts: 'none', what: 'test' });
    for (const [i, name] of names.entries()) {
      expect(getXattr(path.join(out, name), 'user.i')).toBe(`0x${Buffer.from(String(i)).toString('hex')}`);
    }
    expect((await layerOf(out, { mode: 'plain' })).digest).toBe(digest);
  });

  it.runIf(isRoot)('turns overlay whiteouts and opaque dirs into .wh. entries and hides overlay xattrs', async () => {
    const dir = tempDir();
    run(['mknod', path.join(dir, 'gone'), 'c', '0', '0']);
    // overlayfs may hardlink one whiteout inode in many places; each is still its own whiteout.
    await link(path.join(dir, 'gone'), path.join(dir, 'gone2'));
    await mkdir(path.join(dir, 'opq'));
    await writeFile(path.join(dir, 'opq/keep'), 'k');
    run(['setfattr', '-n', 'trusted.overlay.opaque', '-v', 'y', path.join(dir, 'opq')]);

    const upper = await listTar((await layerOf(dir, { mode: 'overlay-upper' })).tar);
    expect(upper.map((e) => e.header.name)).toEqual(['.wh.gone', '.wh.gone2', 'opq/', 'opq/.wh..wh..opq', 'opq/keep']);
    for (const name of ['.wh.gone', '.wh.gone2', 'opq/.wh..wh..opq']) {
      expect(upper.find((e) => e.header.name === name)!.header).toMatchObject({ type: 'file', size: 0, mode: 0, uid: 0, gid: 0 });
    }
    expect(upper.every((e) => !Object.keys(e.header.pax ?? {}).some((k) => k.includes('overlay')))).toBe(true);

    const plain = await listTar((await layerOf(dir, { mode: 'plain' })).tar);
    expect(plain.map((e) => e.header.name)).toEqual(['gone', 'gone2', 'opq/', 'opq/keep']);
    expect(plain[0]!.header).toMatchObject({ type: 'character-device', devmajor: 0, devminor: 0 });
    expect(plain[1]!.header).toMatchObject({ type: 'link', linkname: 'gone' });
    expect(plain.every((e) => !Object.keys(e.header.pax ?? {}).some((k) => k.includes('overlay')))).toBe(true);
  });

  it.runIf(isRoot)('refuses an upper dir whose entries point into lower layers (redirect_dir, metacopy)', async () => {
    const dir = tempDir();
    await mkdir(path.join(dir, 'moved'));
    run(['setfattr', '-n', 'trusted.overlay.redirect', '-v', '/old', path.join(dir, 'moved')]);
    await expect(layerOf(dir, { mode: 'overlay-upper' })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringMatching(/moved: it has trusted\.overlay\.redirect/),
    });
  });

  it('leaves out excluded paths and everything below them', async () => {
    const dir = tempDir();
    await mkdir(path.join(dir, 'dev/pts'), { recursive: true });
    await mkdir(path.join(dir, 'etc'));
    await writeFile(path.join(dir, 'etc/hosts'), 'h');
    await writeFile(path.join(dir, 'etc/passwd'), 'p');
    const names = (await listTar((await layerOf(dir, { mode: 'plain', exclude: new Set(['dev', 'etc/hosts']) })).tar)).map(
      (e) => e.header.name,
    );
    expect(names).toEqual(['etc/', 'etc/passwd']);
  });

  it('writes names and symlink targets longer than 100 bytes and reads them back', async () => {
    const dir = tempDir();
    const deep = ['d'.repeat(60), 'e'.repeat(60), 'f'.repeat(60)].join('/');
    await mkdir(path.join(dir, deep), { recursive: true });
    const longFile = `${deep}/${'x'.repeat(120)}.txt`;
    await writeFile(path.join(dir, longFile), 'deep');
    const target = `${'../'.repeat(3)}${'t'.repeat(150)}`;
    await symlink(target, path.join(dir, deep, 'sym'));
    await writeFile(path.join(dir, 'caf\u00e9'), 'accent');

    const { tar, digest } = await layerOf(dir, { mode: 'plain', xattrs: false });
    const entries = await listTar(tar);
    expect(entries.find((e) => e.header.name === longFile)!.content.toString()).toBe('deep');
    expect(entries.find((e) => e.header.name === `${deep}/sym`)!.header.linkname).toBe(target);
    expect(entries.some((e) => e.header.name === 'caf\u00e9')).toBe(true);

    const out = tempDir();
    await applyTar(streamOf(tar), out, { whiteouts: 'none', what: 'test' });
    expect(await readFile(path.join(out, longFile), 'utf8')).toBe('deep');
    expect((await layerOf(out, { mode: 'plain', xattrs: false })).digest).toBe(digest);
  });

  it('clamps mtimes to clampMtime and keeps older ones', async () => {
    const dir = tempDir();
    await writeFile(path.join(dir, 'new'), 'n');
    await writeFile(path.join(dir, 'old'), 'o');
    await utimes(path.join(dir, 'old'), 1000, 1000);
    const entries = await listTar((await layerOf(dir, { mode: 'plain', clampMtime: 5000 })).tar);
    expect(entries.map((e) => e.header.mtime!.getTime() / 1000)).toEqual([5000, 1000]);
  });

  it('streams a large file to a file unchanged and reports the digest of what it wrote', async () => {
    const dir = tempDir();
    const big = randomBytes(3 * 1024 * 1024 + 123);
    await writeFile(path.join(dir, 'big.bin'), big);
    for (let i = 0; i < 50; i++) await writeFile(path.join(dir, `small-${i}`), randomBytes(i * 100));
    const outFile = path.join(tempDir(), 'layer.tar');
    const result = await writeLayerTar(dir, createWriteStream(outFile), { mode: 'plain' });
    const tar = await readFile(outFile);
    expect(result).toEqual({ digest: sha256(tar), size: tar.length });
    const entries = await listTar(tar);
    expect(entries.find((e) => e.header.name === 'big.bin')!.content.equals(big)).toBe(true);
    expect(entries).toHaveLength(51);
  });
  it('keeps every byte of files around the 512 KiB small-file limit and across 1 MiB chunk boundaries', async () => {
    const dir = tempDir();
    const sizes = [0, 1, 511, 512, 513, 512 * 1024 - 1, 512 * 1024, 512 * 1024 + 1, 1024 * 1024 - 700, 1024 * 1024, 2 * 1024 * 1024 + 5];
    const contents = new Map<string, Buffer>();
    // Enough files of odd sizes to cross many chunk boundaries at every offset.
    for (let i = 0; i < 300; i++) sizes.push((i * 7919) % 20_000);
    for (const [i, size] of sizes.entries()) {
      const name = `f${String(i).padStart(3, '0')}`;
      contents.set(name, randomBytes(size));
      await writeFile(path.join(dir, name), contents.get(name)!);
    }
    const { tar, digest } = await layerOf(dir, { mode: 'plain' });
    expect(digest).toBe(sha256(tar));
    const entries = await listTar(tar);
    expect(entries.map((e) => e.header.name)).toEqual([...contents.keys()]);
    for (const e of entries) expect(e.content.equals(contents.get(e.header.name)!), e.header.name).toBe(true);
    // GNU tar reads it the same way (and checks every header).
    const tarFile = path.join(tempDir(), 'layer.tar');
    await writeFile(tarFile, tar);
    const out = tempDir();
    run(['tar', '-xf', tarFile, '-C', out]);
    for (const [name, content] of contents) expect((await readFile(path.join(out, name))).equals(content), name).toBe(true);
  });
});
