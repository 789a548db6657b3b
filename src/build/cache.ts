// The build cache index: a step's cache key -> the layer it produced. Entries are small JSON records
// (cache/steps/<key>.json); an entry whose layer blob has gone (pruned) is treated as a miss.
import path from 'node:path';
import type { ContentStore } from '../content/store.js';
import { digestHex } from '../oci/types.js';
import { readJson, writeJsonAtomic } from '../util/fs.js';

export interface CacheEntry {
  /** The layer the step produced; absent for a step that changed no file (WORKDIR of an existing dir). */
  layer?: { diffId: string; size: number };
  created: string;
}

export interface BuildCache {
  lookup(key: string): Promise<CacheEntry | undefined>;
  store(key: string, entry: CacheEntry): Promise<void>;
}

export function createBuildCache(options: { cacheDir: string; content: ContentStore }): BuildCache {
  const entryPath = (key: string): string => path.join(options.cacheDir, 'steps', `${digestHex(key)}.json`);
  return {
    async lookup(key) {
      const entry = await readJson<CacheEntry>(entryPath(key)).catch(() => undefined);
      if (!entry || (entry.layer && !(await options.content.has(entry.layer.diffId)))) return undefined;
      return entry;
    },
    async store(key, entry) {
      await writeJsonAtomic(entryPath(key), entry);
    },
  };
}
