// Proves the warm-memo promise at the system-call boundary: with every digest memoised, a
// checksum opens and reads no file of the tree at all (only lstat/readdir touch it).
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';

const reads = vi.hoisted(() => ({ paths: [] as string[] }));

// Every way the module could read content: the callback API it hashes with and the promise API.
vi.mock('node:fs', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs')>();
  const open = ((p: string, ...rest: unknown[]) => {
    reads.paths.push(String(p));
    return (actual.open as (...args: unknown[]) => void)(p, ...rest);
  }) as typeof actual.open;
  const readFileSync = ((p: string, ...rest: unknown[]) => {
    reads.paths.push(String(p));
    return (actual.readFileSync as (...args: unknown[]) => unknown)(p, ...rest);
  }) as typeof actual.readFileSync;
  const openSync = ((p: string, ...rest: unknown[]) => {
    reads.paths.push(String(p));
    return (actual.openSync as (...args: unknown[]) => unknown)(p, ...rest);
  }) as typeof actual.openSync;
  return { ...actual, default: { ...actual, open, openSync, readFileSync }, open, openSync, readFileSync };
});

vi.mock('node:fs/promises', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs/promises')>();
  const open = ((p: string, ...rest: unknown[]) => {
    reads.paths.push(String(p));
    return (actual.open as (...args: unknown[]) => unknown)(p, ...rest);
  }) as typeof actual.open;
  const readFile = ((p: string, ...rest: unknown[]) => {
    reads.paths.push(String(p));
    return (actual.readFile as (...args: unknown[]) => unknown)(p, ...rest);
  }) as typeof actual.readFile;
  return { ...actual, default: { ...actual, open, readFile }, open, readFile };
});

const { checksumSelection, openFileDigestMemo, selectSources } = await import('../../../src/build/context/index.js');
const { TempDirs, writeTree } = await import('./helpers.js');

const temp = new TempDirs();
afterEach(() => temp.cleanup());

describe('checksumSelection with a warm memo', () => {
  it('opens no file of the tree', async () => {
    const dir = await temp.make();
    const spec: Record<string, string> = {};
    for (let i = 0; i < 50; i++) spec[`d${i % 5}/f${i}.txt`] = `content ${i}`;
    await writeTree(dir, spec);
    const root = { dir, kind: 'context' as const };
    const memo = await openFileDigestMemo(path.join(await temp.make('memo'), 'm.json'));
    const entries = await selectSources(root, ['.'], 'Containerfile:1');
    reads.paths.length = 0;
    const cold = await checksumSelection(entries, root, memo, { destIsDir: true });
    expect(reads.paths.filter((p) => p.startsWith(dir))).toHaveLength(50);

    reads.paths.length = 0;
    const warm = await checksumSelection(entries, root, memo, { destIsDir: true });
    expect(warm).toBe(cold);
    expect(reads.paths.filter((p) => p.startsWith(dir))).toEqual([]);
  });
});
