// Garbage collection ("sweep"): one pass, under the collector's lock (store/lease.ts), that first
// removes the records a prune asks for (unused image records, build cache entries, RUN cache
// mounts), then marks what is still referenced (store/references.ts) and deletes every blob and
// snapshot nothing references. Image prune, builder prune and system prune are this pass with
// different record choices; rmi leaves layers behind as build cache, and a pass reclaims them.
import { rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { readAllRecords } from '../container/records.js';
import { isTsbuildError } from '../errors.js';
import type { ImageRecord } from '../image/store.js';
import type { ImageConfig } from '../oci/types.js';
import { listNames, removeTree } from '../util/fs.js';
import { acquireGcLock, readLiveLeases, type LiveLeases } from './lease.js';
import { acquireLock } from './lock.js';
import {
  listBlobs,
  listCacheEntries,
  listSnapshots,
  markCache,
  markPinned,
  mountedSnapshots,
  treeSize,
  type CacheEntryInfo,
  type Marks,
} from './references.js';
import type { Stores } from './root.js';

/** An image prune filter (podman's --filter): until=, label=, label!=. */
export type ImageFilter = { kind: 'until'; before: number } | { kind: 'label'; key: string; value?: string; negate: boolean };

export interface CollectOptions {
  /** Remove image records no container (or running command) uses: the untagged ones, or all with `all`. */
  images?: { all: boolean; filters?: readonly ImageFilter[] };
  /**
   * The build cache: 'keep' keeps every entry (only entries whose layer is gone go); 'unused' keeps
   * only the entries that cost nothing (their layer belongs to an image anyway) and removes the RUN
   * cache mounts; 'all' removes it all; keepBytes keeps the most recently used within that many
   * bytes (and the entries that cost nothing).
   */
  cache: 'keep' | 'unused' | 'all' | { keepBytes: number };
}

export interface CollectResult {
  /** IDs of the image records removed. */
  images: string[];
  cacheEntries: number;
  cacheMounts: number;
  blobs: number;
  snapshots: number;
  /** Bytes freed: blobs, snapshots and cache mounts removed. */
  reclaimed: number;
  /** RUN cache mounts kept because another tsbuild process was running (one may be using them). */
  cacheMountsInUse: number;
}

export async function collectGarbage(stores: Stores, options: CollectOptions): Promise<CollectResult> {
  const lock = await acquireGcLock(stores.layout.root);
  try {
    return await collectLocked(stores, options);
  } finally {
    await lock.release();
  }
}

async function collectLocked(stores: Stores, options: CollectOptions): Promise<CollectResult> {
  const result: CollectResult = { images: [], cacheEntries: 0, cacheMounts: 0, blobs: 0, snapshots: 0, reclaimed: 0, cacheMountsInUse: 0 };
  const leases = await readLiveLeases(stores.layout.root);
  let images = await stores.images.list();
  if (options.images) {
    const removed = await removeUnusedImages(stores, images, leases, options.images);
    result.images = removed;
    images = images.filter((i) => !removed.includes(i.id));
  }
  const [blobs, snapshots, mounted] = await Promise.all([listBlobs(stores), listSnapshots(stores), mountedSnapshots()]);
  const pinned = await markPinned(stores, { images, leases, mounted });
  const sizes = createSizeCache(stores, blobs);

  // An entry whose layer blob is gone is a miss for every build (cache.ts): it is garbage.
  const entries = await listCacheEntries(stores);
  let keep = entries.filter((e) => !e.diffId || blobs.has(e.diffId));
  let mounts = await listCacheMounts(stores);
  if (options.cache === 'all') {
    keep = [];
    mounts = [];
  } else if (options.cache === 'unused') {
    keep = keep.filter((e) => !e.diffId || pinned.blobs.has(e.diffId));
    mounts = [];
  } else if (typeof options.cache === 'object') {
    ({ entries: keep, mounts } = await withinBudget(pinned, keep, mounts, snapshots, sizes, options.cache.keepBytes));
  }
  const doomedEntries = entries.filter((e) => !keep.includes(e));
  for (const e of doomedEntries) await rm(e.file, { force: true });
  result.cacheEntries = doomedEntries.length;
  if (options.cache !== 'keep') {
    const kept = new Set(mounts.map((m) => m.dir));
    for (const m of await listCacheMounts(stores)) {
      if (kept.has(m.dir)) continue;
      if (leases.otherOwners > 0) {
        // RUN --mount=type=cache,sharing=shared takes no lock, so a running build could be using
        // any of them; they go in a prune that runs while no other tsbuild process holds a lease.
        result.cacheMountsInUse += 1;
        continue;
      }
      const size = await treeSize(m.dir);
      if (await removeCacheMount(stores, m.dir)) {
        result.cacheMounts += 1;
        result.reclaimed += size;
      }
    }
  }

  const { marks } = markCache(pinned, keep, snapshots);
  for (const [digest, size] of blobs) {
    if (marks.blobs.has(digest)) continue;
    await stores.content.remove(digest);
    result.blobs += 1;
    result.reclaimed += size;
  }
  for (const chainId of snapshots) {
    if (marks.snapshots.has(chainId)) continue;
    result.reclaimed += await sizes.snapshot(chainId);
    await stores.snapshots.remove(chainId);
    result.snapshots += 1;
  }
  return result;
}

/**
 * rmi's removal of an image's own manifest and config blobs, under the collector's lock: only those
 * no image record refers to and no running command has leased (a build about to record an image
 * with the same config has, and would otherwise be left with a record whose config is gone).
 */
export async function removeBlobsIfUnreferenced(stores: Stores, digests: readonly string[]): Promise<void> {
  const lock = await acquireGcLock(stores.layout.root);
  try {
    const leases = await readLiveLeases(stores.layout.root);
    const used = new Set((await stores.images.list()).flatMap((i) => [i.id, i.manifestDigest]));
    for (const digest of digests) {
      if (!used.has(digest) && !leases.blobs.has(digest)) await stores.content.remove(digest);
    }
  } finally {
    await lock.release();
  }
}

/** Image records a prune removes: none a container uses or a running command leased; untagged only unless `all`. */
async function removeUnusedImages(
  stores: Stores,
  images: readonly ImageRecord[],
  leases: LiveLeases,
  options: NonNullable<CollectOptions['images']>,
): Promise<string[]> {
  const used = new Set((await readAllRecords(stores)).map((c) => c.imageId));
  const removed: string[] = [];
  for (const image of images) {
    if (used.has(image.id) || leases.blobs.has(image.id)) continue;
    if (!options.all && image.names.length > 0) continue;
    if (!(await matchesFilters(stores, image, options.filters ?? []))) continue;
    await stores.images.delete(image.id);
    removed.push(image.id);
  }
  return removed;
}

async function matchesFilters(stores: Stores, image: ImageRecord, filters: readonly ImageFilter[]): Promise<boolean> {
  let labels: Record<string, string> | undefined;
  for (const f of filters) {
    if (f.kind === 'until') {
      if (!(Date.parse(image.created) < f.before)) return false;
      continue;
    }
    labels ??= (await stores.content.readJson<ImageConfig>(image.id).catch(() => undefined))?.config?.Labels ?? {};
    const has = Object.hasOwn(labels, f.key) && (f.value === undefined || labels[f.key] === f.value);
    if (has === f.negate) return false;
  }
  return true;
}

export interface CacheMount {
  dir: string;
  lastUsed: number;
}

export async function listCacheMounts(stores: Stores): Promise<CacheMount[]> {
  const dir = stores.layout.runMounts;
  const out: CacheMount[] = [];
  for (const name of listNames(dir)) {
    // <sha256 of the id>; beside them lock files (<hex>.lock) and seeds being made (<hex>.tmp-<pid>-...).
    if (!/^[a-f0-9]{64}$/.test(name)) continue;
    const st = await stat(path.join(dir, name)).catch(() => undefined);
    if (st?.isDirectory()) out.push({ dir: path.join(dir, name), lastUsed: st.mtimeMs });
  }
  return out;
}

/** Removes a cache mount unless a sharing=locked/private user holds its lock right now. */
async function removeCacheMount(stores: Stores, dir: string): Promise<boolean> {
  let lock;
  try {
    lock = await acquireLock(`${dir}.lock`, 0);
  } catch (err) {
    if (isTsbuildError(err, 'LOCKED')) return false;
    throw err;
  }
  try {
    return await removeTree(dir, stores.layout.tmp);
  } finally {
    await lock.release();
  }
}

export interface SizeCache {
  blob(digest: string): number;
  snapshot(chainId: string): Promise<number>;
}

export function createSizeCache(stores: Stores, blobs: ReadonlyMap<string, number>): SizeCache {
  const snapshots = new Map<string, Promise<number>>();
  return {
    blob: (digest) => blobs.get(digest) ?? 0,
    snapshot(chainId) {
      let size = snapshots.get(chainId);
      if (!size) {
        size = treeSize(stores.snapshots.fsPath(chainId));
        snapshots.set(chainId, size);
      }
      return size;
    },
  };
}

/**
 * builder prune --keep-storage: the build cache (step entries with the layers only they keep, and
 * RUN cache mounts) is taken from the most recently used down while it fits in `budget` bytes; the
 * first item that does not fit and every costly item used before it go (BuildKit removes oldest
 * first until the rest fits). A layer shared by several entries is counted once, with the newest;
 * an entry whose layer an image keeps anyway costs nothing and stays.
 */
async function withinBudget(
  pinned: Marks,
  entries: readonly CacheEntryInfo[],
  mounts: readonly CacheMount[],
  snapshots: ReadonlySet<string>,
  sizes: SizeCache,
  budget: number,
): Promise<{ entries: CacheEntryInfo[]; mounts: CacheMount[] }> {
  const { cacheSnapshots } = markCache(pinned, entries, snapshots);
  const snapshotsOf = new Map<string, string[]>();
  for (const [chain, diffId] of cacheSnapshots) snapshotsOf.set(diffId, [...(snapshotsOf.get(diffId) ?? []), chain]);
  type Item = { entry: CacheEntryInfo } | { mount: CacheMount };
  const items: { item: Item; lastUsed: number }[] = [
    ...entries.map((e) => ({ item: { entry: e }, lastUsed: e.lastUsed })),
    ...mounts.map((m) => ({ item: { mount: m }, lastUsed: m.lastUsed })),
  ].sort((a, b) => b.lastUsed - a.lastUsed);
  const counted = new Set<string>();
  const kept: { entries: CacheEntryInfo[]; mounts: CacheMount[] } = { entries: [], mounts: [] };
  let total = 0;
  let full = false;
  for (const { item } of items) {
    let cost = 0;
    const claims: string[] = [];
    if ('mount' in item) {
      cost = await treeSize(item.mount.dir);
    } else if (item.entry.diffId) {
      const diffId = item.entry.diffId;
      if (!pinned.blobs.has(diffId) && !counted.has(diffId)) {
        cost += sizes.blob(diffId);
        claims.push(diffId);
      }
      for (const chain of snapshotsOf.get(diffId) ?? []) {
        if (counted.has(chain)) continue;
        cost += await sizes.snapshot(chain);
        claims.push(chain);
      }
    }
    if (cost > 0 && (full || total + cost > budget)) {
      full = true;
      continue;
    }
    total += cost;
    for (const c of claims) counted.add(c);
    if ('mount' in item) kept.mounts.push(item.mount);
    else kept.entries.push(item.entry);
  }
  return kept;
}
