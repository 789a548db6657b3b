// Reachability ("mark") for garbage collection: which blobs and snapshots something still needs.
// The roots are the image records (manifest, config, layer blobs by diff ID and as the manifest
// names them, snapshots by chain ID of every prefix of the layer list), the build cache entries that are kept (their layer blob, and
// the snapshots that stack that layer on a chain that is itself kept), the live leases of running
// processes (store/lease.ts), and every snapshot that is an overlay lower dir of a mount right now
// (a running container, a mounted working container, a build's RUN step), which covers a container
// whose image record was removed while it ran. Everything else in blobs/ and snapshots/ is garbage.
import { lstat, readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { TsbuildError } from '../errors.js';
import type { ImageRecord } from '../image/store.js';
import { chainIds, nextChainId, sha256Digest, shortId, type ImageConfig, type Manifest } from '../oci/types.js';
import { lease, type LiveLeases } from './lease.js';
import type { Stores } from './root.js';
import { listNames, readJson } from '../util/fs.js';

const HEX = /^[a-f0-9]{64}$/;

export interface ImageRefs {
  /** Manifest, config and layer blob digests. */
  blobs: string[];
  /** Layer diff IDs in order. */
  diffIds: string[];
  /** The manifest's layer blob digests in order (a diff ID, or the compressed blob a pull kept); undefined where a damaged manifest has none. */
  layerBlobs: Array<string | undefined>;
  /** Chain IDs of every prefix of the layer list (the snapshots the image runs on). */
  chains: string[];
}

/** What an image record refers to, as far as its blobs can still be read (a damaged image refers to less). */
export async function imageRefs(stores: Stores, record: ImageRecord): Promise<ImageRefs> {
  const blobs = [record.manifestDigest, record.id];
  const manifest = await stores.content.readJson<Manifest>(record.manifestDigest).catch(() => undefined);
  const configDigest = manifest?.config?.digest ?? record.id;
  if (configDigest !== record.id) blobs.push(configDigest);
  const config = await stores.content.readJson<ImageConfig>(configDigest).catch(() => undefined);
  const diffIds = (config?.rootfs?.diff_ids ?? []).filter((d) => typeof d === 'string');
  // Kept in step with the layer list, so index i is layer i's blob.
  const layerBlobs = (manifest?.layers ?? []).map((l) => (typeof l?.digest === 'string' ? l.digest : undefined));
  blobs.push(...layerBlobs.filter((d) => d !== undefined), ...diffIds);
  return { blobs: [...new Set(blobs)], diffIds, layerBlobs, chains: chainIds(diffIds) };
}

/**
 * Leases an image a build or a command is about to use (its blobs and snapshots), then checks that
 * what cannot be made again is still there: the manifest, the config and, for each layer, its blob
 * or its snapshot. A collection that removed the image just before the lease makes this a clean
 * NOT_FOUND naming the image, not a failure deep inside a step.
 */
export async function leaseImage(stores: Stores, record: ImageRecord, what: string): Promise<void> {
  const refs = await imageRefs(stores, record);
  await lease(stores.layout.root, { blobs: refs.blobs, snapshots: refs.chains });
  const gone = (): TsbuildError =>
    new TsbuildError('NOT_FOUND', `${what} ${shortId(record.id)} was removed from local storage while in use`, {
      hint: 'a prune or rmi ran at the same time; run the command again',
    });
  if (!(await stores.content.has(record.manifestDigest)) || !(await stores.content.has(record.id))) throw gone();
  const again = await imageRefs(stores, record);
  if (again.diffIds.length !== refs.diffIds.length) throw gone();
  for (const [i, diffId] of refs.diffIds.entries()) {
    const kept = refs.layerBlobs[i];
    if (!(await stores.content.has(diffId)) && !(kept !== undefined && (await stores.content.has(kept))) && !(await stores.snapshots.has(refs.chains[i]!))) throw gone();
  }
}

/** Chain IDs of snapshots that are overlay lower dirs of some mount in this mount namespace. */
export async function mountedSnapshots(): Promise<Set<string>> {
  const text = await readFile('/proc/self/mounts', 'utf8').catch(() => '');
  const out = new Set<string>();
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    if (fields[2] !== 'overlay') continue;
    const lower = /(?:^|,)lowerdir=([^,]*)/.exec(fields[3] ?? '')?.[1];
    if (!lower) continue;
    // Lower dirs are often relative to the snapshots dir (snapshot/mount.ts); the basename names the snapshot.
    for (const dir of lower.split(/(?<!\\):/)) {
      const base = path.basename(dir.replace(/\\(\d{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))));
      if (HEX.test(base)) out.add(`sha256:${base}`);
    }
  }
  return out;
}

export interface CacheEntryInfo {
  /** The entry file, cache/steps/<key>.json. */
  file: string;
  diffId?: string;
  /** Last use (the file's mtime: written when made, touched on every hit). */
  lastUsed: number;
  fileSize: number;
}

export async function listCacheEntries(stores: Stores): Promise<CacheEntryInfo[]> {
  const dir = stores.layout.cacheSteps;
  const out: CacheEntryInfo[] = [];
  for (const name of listNames(dir)) {
    if (!name.endsWith('.json') || !HEX.test(name.slice(0, -5))) continue;
    const file = path.join(dir, name);
    const st = await stat(file).catch(() => undefined);
    if (!st) continue;
    const entry = await readJson<{ layer?: { diffId?: unknown } }>(file).catch(() => undefined);
    const diffId = typeof entry?.layer?.diffId === 'string' ? entry.layer.diffId : undefined;
    out.push({ file, diffId, lastUsed: st.mtimeMs, fileSize: st.size });
  }
  return out;
}

/** Every blob in the store with its size. */
export async function listBlobs(stores: Stores): Promise<Map<string, number>> {
  const dir = path.dirname(stores.content.blobPath(sha256Digest('')));
  const out = new Map<string, number>();
  for (const name of listNames(dir)) {
    if (!HEX.test(name)) continue;
    const st = await lstat(path.join(dir, name)).catch(() => undefined);
    if (st?.isFile()) out.set(`sha256:${name}`, st.size);
  }
  return out;
}

/** Every committed snapshot's chain ID. */
export async function listSnapshots(stores: Stores): Promise<Set<string>> {
  const names = listNames(stores.snapshots.dir);
  return new Set(names.filter((n) => HEX.test(n)).map((n) => `sha256:${n}`));
}

export interface Marks {
  blobs: Set<string>;
  snapshots: Set<string>;
}

export interface PinnedInput {
  images: readonly ImageRecord[];
  leases: LiveLeases;
  /** Snapshots that are overlay lower dirs of mounts right now (mountedSnapshots). */
  mounted: ReadonlySet<string>;
}

/** The pinned part: what images, leases and mounts keep, whatever happens to the build cache. */
export async function markPinned(stores: Stores, input: PinnedInput): Promise<Marks> {
  const marks: Marks = { blobs: new Set(input.leases.blobs), snapshots: new Set([...input.leases.snapshots, ...input.mounted]) };
  for (const image of input.images) {
    const refs = await imageRefs(stores, image);
    for (const b of refs.blobs) marks.blobs.add(b);
    for (const c of refs.chains) marks.snapshots.add(c);
  }
  return marks;
}

/**
 * Adds to `pinned` (a copy) what the kept cache entries keep: their layer blobs, and every existing
 * snapshot that stacks one of those layers on a kept chain (or on nothing). A cache entry does not
 * record its parent chain, so the chains are found forward from the kept ones, to a fixed point.
 * Returns, per snapshot found so, the diff ID of its top layer.
 */
export function markCache(pinned: Marks, entries: readonly CacheEntryInfo[], snapshots: ReadonlySet<string>): { marks: Marks; cacheSnapshots: Map<string, string> } {
  const marks: Marks = { blobs: new Set(pinned.blobs), snapshots: new Set(pinned.snapshots) };
  const diffIds = new Set(entries.flatMap((e) => (e.diffId ? [e.diffId] : [])));
  for (const d of diffIds) marks.blobs.add(d);
  const cacheSnapshots = new Map<string, string>();
  const queue: (string | undefined)[] = [undefined, ...marks.snapshots];
  while (queue.length > 0) {
    const parent = queue.pop();
    for (const d of diffIds) {
      const child = nextChainId(parent, d);
      if (!snapshots.has(child) || marks.snapshots.has(child)) continue;
      marks.snapshots.add(child);
      cacheSnapshots.set(child, d);
      queue.push(child);
    }
  }
  return { marks, cacheSnapshots };
}

/** Bytes a directory tree holds: every non-directory's size, a hard-linked file once. */
export async function treeSize(dir: string): Promise<number> {
  const seen = new Set<string>();
  let total = 0;
  const walk = async (p: string): Promise<void> => {
    const entries = await readdir(p, { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      const child = path.join(p, e.name);
      if (e.isDirectory()) {
        await walk(child);
        continue;
      }
      const st = await lstat(child).catch(() => undefined);
      if (!st) continue;
      const inode = `${st.dev}:${st.ino}`;
      if (st.nlink > 1) {
        if (seen.has(inode)) continue;
        seen.add(inode);
      }
      total += st.size;
    }
  };
  await walk(dir);
  return total;
}
