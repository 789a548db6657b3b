import { chmod, chown, readFile, rename, stat, symlink, unlink, utimes, writeFile } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  checksumSelection,
  compileIgnoreRules,
  openFileDigestMemo,
  parseIgnoreFile,
  selectSources,
  type ChecksumStats,
  type FileDigestMemo,
  type SourceRoot,
} from '../../../src/build/context/index.js';
import { settledBefore } from '../../../src/build/context/checksum.js';
import { OLD_TIME, TempDirs, writeTree } from './helpers.js';

const temp = new TempDirs();
afterEach(() => temp.cleanup());

const TREE = { 'app/main.js': 'console.log(1)\n', 'app/lib/util.js': 'export {}\n', 'app/link': { symlink: 'main.js' }, 'README': 'hi' };

async function setup(ignore?: string): Promise<SourceRoot> {
  const dir = await temp.make();
  await writeTree(dir, TREE);
  return { dir, kind: 'context', ...(ignore === undefined ? {} : { ignore: compileIgnoreRules(parseIgnoreFile(ignore), undefined) }) };
}

const newStats = (): ChecksumStats => ({ files: 0, memoHits: 0, filesHashed: 0, bytesHashed: 0 });

async function sum(root: SourceRoot, patterns = ['app', 'README'], memo?: FileDigestMemo, stats?: ChecksumStats): Promise<string> {
  const entries = await selectSources(root, patterns, 'Containerfile:1');
  return checksumSelection(entries, root, memo, { destIsDir: true }, stats);
}

describe('checksumSelection', () => {
  it('is a sha256 digest that ignores mtimes', async () => {
    const root = await setup();
    const before = await sum(root);
    expect(before).toMatch(/^sha256:[0-9a-f]{64}$/);
    await utimes(path.join(root.dir, 'app/main.js'), new Date(), new Date());
    await utimes(path.join(root.dir, 'app/lib'), new Date(), new Date());
    expect(await sum(root)).toBe(before);
  });

  it('changes with content, mode, setuid bits, owner, symlink target and names', async () => {
    const root = await setup();
    let previous = await sum(root);
    const expectChanged = async (): Promise<void> => {
      const next = await sum(root);
      expect(next).not.toBe(previous);
      previous = next;
    };
    await writeFile(path.join(root.dir, 'app/main.js'), 'console.log(2)\n'); // same size, new content
    await expectChanged();
    await chmod(path.join(root.dir, 'app/main.js'), 0o755);
    await expectChanged();
    await chmod(path.join(root.dir, 'app/main.js'), 0o4755);
    await expectChanged();
    await chown(path.join(root.dir, 'app/lib/util.js'), 1234, 5678);
    await expectChanged();
    await chmod(path.join(root.dir, 'app/lib'), 0o700);
    await expectChanged();
    const link = path.join(root.dir, 'app/link');
    await unlink(link);
    await symlink('lib/util.js', link);
    await expectChanged();
    await rename(path.join(root.dir, 'README'), path.join(root.dir, 'app/README'));
    expect(await sum(root, ['app'])).not.toBe(previous);
  });

  it('does not change when an ignored file changes', async () => {
    const root = await setup('app/lib\n');
    const before = await sum(root);
    await writeFile(path.join(root.dir, 'app/lib/util.js'), 'changed, but invisible');
    expect(await sum(root)).toBe(before);
  });

  it('depends on where a file source lands (basename vs. the destination itself)', async () => {
    const root = await setup();
    const entries = await selectSources(root, ['README'], 'Containerfile:1');
    const asDir = await checksumSelection(entries, root, undefined, { destIsDir: true });
    const asFile = await checksumSelection(entries, root, undefined, { destIsDir: false });
    expect(asDir).not.toBe(asFile);
  });

  it('reads no file content with a warm memo, and survives a reopen', async () => {
    const root = await setup();
    const memoFile = path.join(await temp.make('memo'), 'digests.json');
    const memo = await openFileDigestMemo(memoFile);
    const cold = newStats();
    const first = await sum(root, undefined, memo, cold);
    expect(cold).toMatchObject({ files: 3, memoHits: 0, filesHashed: 3 });
    await memo.save();

    const reopened = await openFileDigestMemo(memoFile);
    const warm = newStats();
    expect(await sum(root, undefined, reopened, warm)).toBe(first);
    expect(warm).toEqual({ files: 3, memoHits: 3, filesHashed: 0, bytesHashed: 0 });
  });

  it('re-hashes a file whose content changed even when size and mtime are restored', async () => {
    const root = await setup();
    const memo = await openFileDigestMemo(path.join(await temp.make('memo'), 'digests.json'));
    const first = await sum(root, undefined, memo);
    const file = path.join(root.dir, 'app/main.js');
    await writeFile(file, 'console.log(9)\n');
    await utimes(file, OLD_TIME, OLD_TIME); // ctime still moves
    const stats = newStats();
    expect(await sum(root, undefined, memo, stats)).not.toBe(first);
    expect(stats.filesHashed).toBe(1);
    expect(stats.memoHits).toBe(2);
  });

  it('does not remember digests of files modified moments ago', async () => {
    const root = await setup();
    await writeFile(path.join(root.dir, 'README'), 'fresh');
    // A time ahead of the clock (as a copy from a machine whose clock runs ahead gives), so the file
    // stays "moments ago" however slowly the test runs.
    const soon = (Date.now() + 5000.5) / 1000;
    await utimes(path.join(root.dir, 'README'), soon, soon);
    const memo = await openFileDigestMemo(path.join(await temp.make('memo'), 'digests.json'));
    await sum(root, ['README'], memo);
    const stats = newStats();
    await sum(root, ['README'], memo, stats);
    expect(stats.filesHashed).toBe(1);
  });

  it('remembers a digest once the file is older than its filesystem can blur: 100 ms with sub-second times, 2 s otherwise', () => {
    const now = 1_800_000_000_000;
    const st = (mtimeAgo: number) => ({ mtimeMs: now - mtimeAgo }) as Stats;
    expect(settledBefore(st(500.25), now)).toBe(true);
    expect(settledBefore(st(50.25), now)).toBe(false);
    // A whole-second mtime may come from a coarse (FAT, some NFS) filesystem.
    expect(settledBefore(st(1000), now)).toBe(false);
    expect(settledBefore(st(3000), now)).toBe(true);
  });

  it('starts empty from a corrupt or missing memo file and writes it atomically', async () => {
    const dir = await temp.make('memo');
    const memoFile = path.join(dir, 'digests.json');
    await writeFile(memoFile, '{"version":1,"entries":{"/x": [1, ');
    const root = await setup();
    const memo = await openFileDigestMemo(memoFile);
    const stats = newStats();
    await sum(root, undefined, memo, stats);
    expect(stats.memoHits).toBe(0);
    await memo.save();
    const saved = JSON.parse(await readFile(memoFile, 'utf8')) as { entries: Record<string, unknown> };
    expect(Object.keys(saved.entries)).toHaveLength(3);
    expect((await stat(memoFile)).isFile()).toBe(true);
    const missing = await openFileDigestMemo(path.join(dir, 'nope', 'digests.json'));
    expect(missing.lookup(path.join(root.dir, 'README'), await stat(path.join(root.dir, 'README')))).toBeUndefined();
  });
});
