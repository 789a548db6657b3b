import { execFileSync } from 'node:child_process';
import { readFile, readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { copySelection, destIsDirectory, detectArchive, selectSources, type CopyOptions, type SourceRoot } from '../../../src/build/context/index.js';
import { TempDirs, writeTree } from './helpers.js';

const temp = new TempDirs();
afterEach(() => temp.cleanup());

/** A context holding the same two-file tree archived as `name` with `tar` flags (e.g. -z). */
async function contextWithArchive(name: string, tarFlags: string[]): Promise<SourceRoot> {
  const ctx = await temp.make();
  const payload = await temp.make('payload');
  await writeTree(payload, { 'pkg/hello.txt': 'hello', 'pkg/bin/run': { content: '#!/bin/sh', mode: 0o755 } });
  execFileSync('tar', ['-c', ...tarFlags, '-f', path.join(ctx, name), '--owner=7', '--group=8', '-C', payload, 'pkg']);
  return { dir: ctx, kind: 'context' };
}

async function add(root: SourceRoot, sources: string[], dest: string, options: Partial<CopyOptions> = {}): Promise<string> {
  const layer = await temp.make('layer');
  const entries = await selectSources(root, sources, 'Containerfile:6');
  await copySelection(entries, root, layer, dest, destIsDirectory(dest, sources, entries), {
    what: 'Containerfile:6',
    extractArchives: true,
    ...options,
  });
  return layer;
}

describe('ADD archive extraction', () => {
  it('unpacks a plain tar, keeping the owners recorded in it', async () => {
    const root = await contextWithArchive('bundle.bin', []);
    const layer = await add(root, ['bundle.bin'], '/opt/');
    expect(await readdir(path.join(layer, 'opt'))).toEqual(['pkg']);
    expect(await readFile(path.join(layer, 'opt/pkg/hello.txt'), 'utf8')).toBe('hello');
    const st = await stat(path.join(layer, 'opt/pkg/bin/run'));
    expect([st.mode & 0o777, st.uid, st.gid]).toEqual([0o755, 7, 8]);
  });

  it('detects a gzip-compressed tar by content, whatever its name', async () => {
    const root = await contextWithArchive('data', ['-z']);
    expect(await detectArchive(path.join(root.dir, 'data'))).toBe('gzip');
    const layer = await add(root, ['data'], '/srv');
    expect(await readFile(path.join(layer, 'srv/pkg/hello.txt'), 'utf8')).toBe('hello');
  });

  it('unpacks bzip2 and xz tars through the system decompressors', async () => {
    for (const [flag, format] of [
      ['-j', 'bzip2'],
      ['-J', 'xz'],
    ] as const) {
      const root = await contextWithArchive('a.archive', [flag]);
      expect(await detectArchive(path.join(root.dir, 'a.archive'))).toBe(format);
      const layer = await add(root, ['a.archive'], '/x/');
      expect(await readFile(path.join(layer, 'x/pkg/hello.txt'), 'utf8')).toBe('hello');
    }
  });

  it('gives extracted files the --chown owner', async () => {
    const root = await contextWithArchive('t.tar.gz', ['-z']);
    const layer = await add(root, ['t.tar.gz'], '/o/', { chown: { uid: 1000, gid: 1000 } });
    const st = await stat(path.join(layer, 'o/pkg/hello.txt'));
    expect([st.uid, st.gid]).toEqual([1000, 1000]);
  });

  it('copies a file named .tar that is not a tar as it is', async () => {
    const ctx = await temp.make();
    await writeTree(ctx, { 'fake.tar': 'just text, not an archive' });
    const root: SourceRoot = { dir: ctx, kind: 'context' };
    expect(await detectArchive(path.join(ctx, 'fake.tar'))).toBeUndefined();
    const layer = await add(root, ['fake.tar'], '/d/');
    expect(await readFile(path.join(layer, 'd/fake.tar'), 'utf8')).toBe('just text, not an archive');
  });

  it('copies a gzipped file that is not a tar without decompressing it', async () => {
    const ctx = await temp.make();
    const gz = gzipSync(Buffer.from('plain notes\n'.repeat(100)));
    await writeFile(path.join(ctx, 'notes.txt.gz'), gz);
    const root: SourceRoot = { dir: ctx, kind: 'context' };
    const layer = await add(root, ['notes.txt.gz'], '/n/notes.txt.gz');
    expect((await readFile(path.join(layer, 'n/notes.txt.gz'))).equals(gz)).toBe(true);
  });

  it('copies a file with an xz signature but corrupt data as it is', async () => {
    const ctx = await temp.make();
    const bogus = Buffer.concat([Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]), Buffer.from('garbage'.repeat(100))]);
    await writeFile(path.join(ctx, 'x.tar.xz'), bogus);
    const root: SourceRoot = { dir: ctx, kind: 'context' };
    expect(await detectArchive(path.join(ctx, 'x.tar.xz'))).toBeUndefined();
    const layer = await add(root, ['x.tar.xz'], '/b/');
    expect((await readFile(path.join(layer, 'b/x.tar.xz'))).equals(bogus)).toBe(true);
  });

  it('leaves archives alone for COPY', async () => {
    const root = await contextWithArchive('bundle.tar', []);
    const layer = await add(root, ['bundle.tar'], '/c/', { extractArchives: false });
    expect(await readdir(path.join(layer, 'c'))).toEqual(['bundle.tar']);
  });
});
