import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { sortBytewise, walkTree } from '../../../src/archive/walk.js';
import { cleanupTempDirs, tempDir } from '../helpers-archive.js';

afterEach(cleanupTempDirs);

describe('sortBytewise', () => {
  it('orders names by their UTF-8 bytes, also where JavaScript string order differs', () => {
    // U+FF21 (EF BC A1) sorts before U+1F600 (F0 9F 98 80) in UTF-8, after it in UTF-16 code units.
    const names = ['\u{1F600}', '\uFF21', 'b', 'B', 'a'];
    const expected = [...names].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    expect(sortBytewise([...names])).toEqual(expected);
    expect(expected).toEqual(['B', 'a', 'b', '\uFF21', '\u{1F600}']);
    expect(sortBytewise(['b', 'a', 'B'])).toEqual(['B', 'a', 'b']);
  });
});

describe('walkTree', () => {
  it('lists parents before children, sorted at every level, leaving out excluded paths', async () => {
    const dir = tempDir();
    await mkdir(path.join(dir, 'b/c'), { recursive: true });
    await mkdir(path.join(dir, 'skip'));
    for (const f of ['b/c/z', 'b/a', 'a', 'skip/x']) await writeFile(path.join(dir, f), f);
    const entries = await walkTree(dir, new Set(['skip']));
    expect(entries.map((e) => e.rel)).toEqual(['a', 'b', 'b/a', 'b/c', 'b/c/z']);
    expect(entries[0]!.host).toBe(path.join(dir, 'a'));
  });

  it('walks a tree bigger than one run between yields to the event loop', async () => {
    const dir = tempDir();
    for (let i = 0; i < 2500; i++) await writeFile(path.join(dir, `f${i}`), '');
    expect(await walkTree(dir, new Set())).toHaveLength(2500);
  });
});
