// `system df`: the space a root uses, by kind, in docker's and podman's terms. Blobs and snapshots
// an image refers to are Images (a layer several images share counted once); every other blob and
// snapshot (layers kept for the build cache, layers left by rmi) and the RUN cache mounts are Build
// Cache, all of it reclaimable by `builder prune` except what a running command holds. Containers
// are their writable upper dirs; volumes their data dirs.
import { readAllRecords } from '../container/records.js';
import { settleRecords } from '../container/settle.js';
import { containerPaths } from '../container/paths.js';
import type { ImageRecord } from '../image/store.js';
import { listVolumes, volumePaths, volumeUsers } from '../volume/store.js';
import { createSizeCache, listCacheMounts } from './gc.js';
import { readLiveLeases } from './lease.js';
import { imageRefs, listBlobs, listCacheEntries, listSnapshots, treeSize } from './references.js';
import type { Stores } from './root.js';

export interface UsageRow {
  type: 'Images' | 'Containers' | 'Local Volumes' | 'Build Cache';
  total: number;
  active: number;
  /** Bytes. */
  size: number;
  reclaimable: number;
}

export interface ImageUsage {
  id: string;
  names: string[];
  created: string;
  /** Bytes of everything the image refers to. */
  size: number;
  /** Bytes also referred to by another image. */
  shared: number;
  containers: number;
}

export interface DiskUsage {
  rows: UsageRow[];
  images: ImageUsage[];
  containers: { id: string; name: string; image: string; size: number; status: string }[];
  volumes: { name: string; links: number; size: number }[];
  buildCache: { id: string; kind: 'layer' | 'cache mount'; size: number; lastUsed: string; inUse: boolean }[];
}

export async function diskUsage(stores: Stores): Promise<DiskUsage> {
  const [images, records, blobs, snapshots, leases] = await Promise.all([
    stores.images.list(),
    readAllRecords(stores).then((r) => settleRecords(stores, r)),
    listBlobs(stores),
    listSnapshots(stores),
    readLiveLeases(stores.layout.root),
  ]);
  const sizes = createSizeCache(stores, blobs);

  // Items (blob digests and snapshot chain IDs) per image; a blob digest and a chain ID can be equal
  // (a first layer's chain ID is its diff ID), so they are kept apart by a prefix.
  const itemsOf = new Map<ImageRecord, Set<string>>();
  const users = new Map<string, number>();
  for (const image of images) {
    const refs = await imageRefs(stores, image);
    const items = new Set([...refs.blobs.filter((b) => blobs.has(b)).map((b) => `b:${b}`), ...refs.chains.filter((c) => snapshots.has(c)).map((c) => `s:${c}`)]);
    itemsOf.set(image, items);
    for (const i of items) users.set(i, (users.get(i) ?? 0) + 1);
  }
  const sizeOf = (key: string): Promise<number> => (key.startsWith('b:') ? Promise.resolve(sizes.blob(key.slice(2))) : sizes.snapshot(key.slice(2)));
  const containerCount = (image: ImageRecord): number => records.filter((r) => r.imageId === image.id).length;

  const imageUsage: ImageUsage[] = [];
  const usedItems = new Set<string>();
  const allImageItems = new Set<string>();
  for (const image of images) {
    let size = 0;
    let shared = 0;
    for (const key of itemsOf.get(image)!) {
      const bytes = await sizeOf(key);
      size += bytes;
      if ((users.get(key) ?? 0) > 1) shared += bytes;
      allImageItems.add(key);
      if (containerCount(image) > 0) usedItems.add(key);
    }
    imageUsage.push({ id: image.id, names: image.names, created: image.created, size, shared, containers: containerCount(image) });
  }
  let imagesSize = 0;
  let imagesReclaimable = 0;
  for (const key of allImageItems) {
    const bytes = await sizeOf(key);
    imagesSize += bytes;
    if (!usedItems.has(key)) imagesReclaimable += bytes;
  }

  const containers: DiskUsage['containers'] = [];
  let containersSize = 0;
  let containersReclaimable = 0;
  for (const r of records) {
    const size = await treeSize(containerPaths(stores, r.id).upper);
    const status = r.kind === 'working' ? 'working' : r.state;
    containers.push({ id: r.id, name: r.name, image: r.image, size, status });
    containersSize += size;
    // What container prune removes: containers (not working ones) that do not run.
    if (r.kind === 'container' && r.state !== 'running') containersReclaimable += size;
  }

  const volumeUse = await volumeUsers(stores);
  const volumes: DiskUsage['volumes'] = [];
  let volumesSize = 0;
  let volumesReclaimable = 0;
  for (const v of await listVolumes(stores)) {
    const size = await treeSize(volumePaths(stores, v.name).data);
    const links = volumeUse.get(v.name)?.length ?? 0;
    volumes.push({ name: v.name, links, size });
    volumesSize += size;
    if (links === 0) volumesReclaimable += size;
  }

  const imageBlobs = new Set([...allImageItems].filter((k) => k.startsWith('b:')).map((k) => k.slice(2)));
  const imageSnapshots = new Set([...allImageItems].filter((k) => k.startsWith('s:')).map((k) => k.slice(2)));
  let cacheSize = 0;
  let cacheHeld = 0;
  const buildCache: DiskUsage['buildCache'] = [];
  for (const digest of blobs.keys()) {
    if (imageBlobs.has(digest)) continue;
    const size = sizes.blob(digest);
    cacheSize += size;
    const inUse = leases.blobs.has(digest);
    if (inUse) cacheHeld += size;
    buildCache.push({ id: digest, kind: 'layer', size, lastUsed: '', inUse });
  }
  for (const chainId of snapshots) {
    if (imageSnapshots.has(chainId)) continue;
    const size = await sizes.snapshot(chainId);
    cacheSize += size;
    const inUse = leases.snapshots.has(chainId);
    if (inUse) cacheHeld += size;
    const layer = buildCache.find((b) => b.id === chainId && b.kind === 'layer');
    if (layer) layer.size += size;
    else buildCache.push({ id: chainId, kind: 'layer', size, lastUsed: '', inUse });
  }
  for (const m of await listCacheMounts(stores)) {
    const size = await treeSize(m.dir);
    cacheSize += size;
    buildCache.push({ id: `sha256:${m.dir.slice(-64)}`, kind: 'cache mount', size, lastUsed: new Date(m.lastUsed).toISOString(), inUse: false });
  }
  const entries = await listCacheEntries(stores);
  for (const b of buildCache) {
    const used = entries.filter((e) => e.diffId === b.id).map((e) => e.lastUsed);
    if (used.length > 0) b.lastUsed = new Date(Math.max(...used)).toISOString();
  }
  const mountCount = buildCache.filter((b) => b.kind === 'cache mount').length;

  return {
    rows: [
      { type: 'Images', total: images.length, active: imageUsage.filter((i) => i.containers > 0).length, size: imagesSize, reclaimable: imagesReclaimable },
      {
        type: 'Containers',
        total: records.length,
        active: records.filter((r) => r.kind === 'working' || r.state === 'running').length,
        size: containersSize,
        reclaimable: containersReclaimable,
      },
      { type: 'Local Volumes', total: volumes.length, active: volumes.filter((v) => v.links > 0).length, size: volumesSize, reclaimable: volumesReclaimable },
      {
        type: 'Build Cache',
        total: entries.length + mountCount,
        active: entries.filter((e) => e.diffId !== undefined && leases.blobs.has(e.diffId)).length,
        size: cacheSize,
        reclaimable: cacheSize - cacheHeld,
      },
    ],
    images: imageUsage,
    containers,
    volumes,
    buildCache,
  };
}
