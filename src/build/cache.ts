// The build cache index: a step's cache key -> the layer it produced. Entries are small JSON records
// (cache/steps/<key>.json); an entry whose layer blob has gone (pruned) is treated as a miss, and so
// is one older than --cache-ttl. With --cache-from a local miss is looked up in the registry (see
// remote-cache.ts) and a hit there becomes a local entry; with --cache-to every entry the build
// uses or makes is pushed there too.
import { utimes } from 'node:fs/promises';
import path from 'node:path';
import type { ContentStore } from '../content/store.js';
import { digestHex } from '../oci/types.js';
import { lease } from '../store/lease.js';
import type { RootLayout, Stores } from '../store/root.js';
import { readJson, writeJsonAtomic } from '../util/fs.js';
import type { RemoteCache } from './remote-cache.js';
import type { BuildOptions } from './session.js';

export interface CacheEntry {
  /** The layer the step produced; absent for a step that changed no file (WORKDIR of an existing dir). */
  layer?: { diffId: string; size: number };
  created: string;
}

export interface BuildCache {
  lookup(key: string): Promise<CacheEntry | undefined>;
  store(key: string, entry: CacheEntry): Promise<void>;
  /** Waits for pushes to --cache-to and closes registry connections; call once, after the build, failed or not. */
  close?(): Promise<void>;
}

export interface BuildCacheOptions {
  /** Where the entries live (layout.cacheSteps) and whose leases hold their layers (layout.root). */
  layout: Pick<RootLayout, 'root' | 'cacheSteps'>;
  content: ContentStore;
  /** Entries created longer ago than this are misses (--cache-ttl). */
  ttlMs?: number;
  /** The registry side (--cache-from/--cache-to), loaded when first needed. */
  remote?: () => Promise<RemoteCache>;
  /** Step output, for buildah's "--> Cache pulled from remote" line. */
  log?: (line: string) => void;
}

export function createBuildCache(options: BuildCacheOptions): BuildCache {
  const entryPath = (key: string): string => path.join(options.layout.cacheSteps, `${digestHex(key)}.json`);
  const fresh = (created: string): boolean => options.ttlMs === undefined || Date.now() - Date.parse(created) <= options.ttlMs;
  let remote: Promise<RemoteCache> | undefined;
  const remoteCache = (): Promise<RemoteCache> | undefined => (options.remote ? (remote ??= options.remote()) : undefined);
  const storeLocal = (key: string, entry: CacheEntry): Promise<void> => writeJsonAtomic(entryPath(key), entry);

  return {
    async lookup(key) {
      const entry = await readJson<CacheEntry>(entryPath(key)).catch(() => undefined);
      // The layer is leased before it is looked for (store/lease.ts).
      if (entry?.layer) await lease(options.layout.root, { blobs: [entry.layer.diffId] });
      if (entry && fresh(entry.created) && (!entry.layer || (await options.content.has(entry.layer.diffId)))) {
        // The entry's mtime is its last use: builder prune --keep-storage keeps the most recent.
        const now = new Date();
        await utimes(entryPath(key), now, now).catch(() => undefined);
        // A local hit the cache repository may lack (it was built before --cache-to was given).
        (await remoteCache())?.push(key, entry, { ifAbsent: true });
        return entry;
      }
      const found = await (await remoteCache())?.fetch(key, fresh);
      if (!found) return undefined;
      options.log?.(`--> Cache pulled from remote ${found.repository}:${digestHex(key)}`);
      await storeLocal(key, found.entry);
      (await remoteCache())?.push(key, found.entry, { ifAbsent: true, skip: found.repository });
      return found.entry;
    },
    async store(key, entry) {
      await storeLocal(key, entry);
      (await remoteCache())?.push(key, entry);
    },
    async close() {
      await (remote ? (await remote).close() : undefined);
    },
  };
}

/**
 * The cache of one build: none with --no-cache or --layers=false (where buildah ignores
 * --cache-from/--cache-to as well, so a warning says so), or --cache-ttl=0 (buildah: the same as
 * --no-cache).
 */
export function openBuildCache(stores: Stores, options: BuildOptions): BuildCache | undefined {
  const from = options.cacheFrom ?? [];
  const to = options.cacheTo ?? [];
  if (!options.layers || options.cacheTtlMs === 0) {
    if (from.length + to.length > 0) options.stderr.write('[Warning] --cache-from and --cache-to are ignored when the build cache is off\n');
    return undefined;
  }
  const remote =
    from.length + to.length > 0
      ? async (): Promise<RemoteCache> => {
          const { createRemoteCache } = await import('./remote-cache.js');
          return createRemoteCache(stores, {
            from,
            to,
            flags: options.pull?.flags,
            signal: options.signal,
            warn: (message) => options.stderr.write(`${message}\n`),
          });
        }
      : undefined;
  const log = (line: string): void => {
    if (!options.quiet) options.stdout.write(`${line}\n`);
  };
  return createBuildCache({ layout: stores.layout, content: stores.content, ttlMs: options.cacheTtlMs, remote, log });
}
