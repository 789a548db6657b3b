import { describe, expect, it } from 'vitest';
import { parseImageFilters, parseStorageSize } from '../../../src/cli/gc-flags.js';
import { chainIds, sha256Digest } from '../../../src/oci/types.js';
import { markCache, type CacheEntryInfo } from '../../../src/store/references.js';

const d = (s: string): string => sha256Digest(s);
const entry = (diffId?: string): CacheEntryInfo => ({ file: `/x/${diffId ?? 'none'}.json`, diffId, lastUsed: 0, fileSize: 1 });

describe('markCache', () => {
  const [base1, base2, cached, deeper] = [d('base1'), d('base2'), d('cached'), d('deeper')];
  const imageChain = chainIds([base1, base2]);
  const cacheChain = chainIds([base1, base2, cached, deeper]);

  it('keeps the snapshots that stack kept cache layers on kept chains, to any depth', () => {
    const onDisk = new Set([...cacheChain, chainIds([cached])[0]!, sha256Digest('unrelated')]);
    const pinned = { blobs: new Set([base1, base2]), snapshots: new Set(imageChain) };
    const { marks, cacheSnapshots } = markCache(pinned, [entry(cached), entry(deeper), entry()], onDisk);
    expect(marks.blobs).toEqual(new Set([base1, base2, cached, deeper]));
    // The image's chain, then cached and deeper on it, and cached alone as a first layer (COPY --link).
    expect(marks.snapshots).toEqual(new Set([...cacheChain, chainIds([cached])[0]!]));
    expect(cacheSnapshots.get(cacheChain[3]!)).toBe(deeper);
    expect(marks.snapshots.has(sha256Digest('unrelated'))).toBe(false);
  });

  it('drops a cache snapshot whose parent chain is not kept', () => {
    const pinned = { blobs: new Set<string>(), snapshots: new Set<string>() };
    const { marks } = markCache(pinned, [entry(deeper)], new Set(cacheChain));
    expect(marks.snapshots.size).toBe(0);
    expect(marks.blobs).toEqual(new Set([deeper]));
  });
});

describe('prune flags', () => {
  it('reads --keep-storage sizes in binary units, as docker does', () => {
    expect(parseStorageSize('0')).toBe(0);
    expect(parseStorageSize('512')).toBe(512);
    expect(parseStorageSize('10k')).toBe(10240);
    expect(parseStorageSize('1.5MB')).toBe(1.5 * 1024 * 1024);
    expect(parseStorageSize('2GiB')).toBe(2 * 1024 ** 3);
    expect(() => parseStorageSize('-1')).toThrow('invalid --keep-storage "-1"');
    expect(() => parseStorageSize('5 parsecs')).toThrow('invalid --keep-storage');
  });

  it('reads image prune filters: until as a duration, Unix time or date; label with and without value, negated', () => {
    const now = Date.parse('2026-01-02T00:00:00Z');
    expect(parseImageFilters(['until=24h'], now)).toEqual([{ kind: 'until', before: Date.parse('2026-01-01T00:00:00Z') }]);
    expect(parseImageFilters(['until=1700000000'], now)).toEqual([{ kind: 'until', before: 1700000000_000 }]);
    expect(parseImageFilters(['until=2025-06-01T00:00:00Z'], now)).toEqual([{ kind: 'until', before: Date.parse('2025-06-01T00:00:00Z') }]);
    expect(parseImageFilters(['label=a', 'label=b=c', 'label!=d=e'])).toEqual([
      { kind: 'label', key: 'a', value: undefined, negate: false },
      { kind: 'label', key: 'b', value: 'c', negate: false },
      { kind: 'label', key: 'd', value: 'e', negate: true },
    ]);
    expect(() => parseImageFilters(['until=soon'])).toThrow('invalid --filter "until=soon"');
    expect(() => parseImageFilters(['reference=x'])).toThrow('invalid --filter "reference=x"');
  });
});
