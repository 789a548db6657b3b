// `system check`: verifies a store after start-up recovery has run (openStores) and the containers
// have been settled. Every problem names the object it is about and carries the repair that
// removes it (repair.ts); nothing here changes the store. The rules follow what the writers
// promise: blobs are named by their content, an image's manifest, config and layer blobs exist
// (a missing snapshot is not a problem while its layer blob exists: it is unpacked on use), and
// nothing of a dead process is left (temp files, mount points, mounts, locks, runc state).
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { ContainerRecord } from '../container/types.js';
import { chainIds, isDigest, shortId, type ImageConfig, type Manifest } from '../oci/types.js';
import { fileDigest } from '../util/hashing-stream.js';
import { mountedTargets } from '../util/mounts.js';
import { buildContainerOwner, deadTempFiles, mountOwner, staleLocks, tempOwner } from './leftovers.js';
import { processAlive } from './lock.js';
import type { Stores } from './root.js';
import { listNames } from '../util/fs.js';
import { byCodeUnit } from '../util/order.js';

/** What repair.ts does about a problem. */
export type RepairAction =
  | { kind: 'remove-path'; path: string }
  | { kind: 'remove-image'; id: string; file: string }
  | { kind: 'unmount'; target: string; removeDir: boolean }
  | { kind: 'remove-lock'; path: string; pid: number }
  | { kind: 'delete-runc'; id: string }
  | { kind: 'remove-container'; dir: string }
  | { kind: 'untag'; id: string; name: string };

export interface Problem {
  /** One line: `<object>: <what is wrong>`. */
  line: string;
  repair: RepairAction;
  /** The repair loses user data (a container's changes): only with --force, as podman's. */
  needsForce?: boolean;
}

export interface CheckCounts {
  blobs: number;
  images: number;
  snapshots: number;
  containers: number;
  cacheEntries: number;
}

export interface CheckReport {
  problems: Problem[];
  counts: CheckCounts;
}

export interface CheckOptions {
  /** Skip hashing every blob (podman's --quick). */
  quick?: boolean;
}

const HEX64 = /^[a-f0-9]{64}$/;

const livesOn = (pid: number | undefined): boolean => pid !== undefined && processAlive(pid);

export async function checkStore(stores: Stores, options: CheckOptions = {}): Promise<CheckReport> {
  const problems: Problem[] = [];
  const rel = (p: string): string => path.relative(stores.layout.root, p);

  const blobs = await checkBlobs(stores, options.quick ?? false, problems, rel);
  const images = await checkImages(stores, blobs, problems, rel);
  const snapshots = await checkSnapshots(stores, problems, rel);
  const cacheEntries = await checkCache(stores, blobs, problems, rel);
  const containers = await checkContainers(stores, problems, rel);
  await checkLeftovers(stores, containers.records, problems, rel);
  await checkRunc(stores, containers.records, problems);

  return {
    problems,
    counts: { blobs: blobs.present.size, images, snapshots, containers: containers.records.size, cacheEntries },
  };
}

export function describeCounts(c: CheckCounts): string {
  return `${c.blobs} blobs, ${c.images} images, ${c.snapshots} snapshots, ${c.containers} containers, ${c.cacheEntries} cache entries`;
}

interface BlobState {
  present: Set<string>;
  corrupt: Set<string>;
}

async function checkBlobs(stores: Stores, quick: boolean, problems: Problem[], rel: (p: string) => string): Promise<BlobState> {
  const dir = path.join(stores.layout.root, 'blobs', 'sha256');
  const state: BlobState = { present: new Set(), corrupt: new Set() };
  for (const name of listNames(dir).sort()) {
    const file = path.join(dir, name);
    if (!HEX64.test(name)) {
      problems.push({ line: `${rel(file)}: not a blob (its name is not a sha256 digest)`, repair: { kind: 'remove-path', path: file } });
      continue;
    }
    const digest = `sha256:${name}`;
    state.present.add(digest);
    if (quick) continue;
    const actual = await fileDigest(file);
    if (actual !== digest) {
      state.corrupt.add(digest);
      problems.push({ line: `blob ${digest}: content digest is ${actual}`, repair: { kind: 'remove-path', path: file } });
    }
  }
  return state;
}

/** The JSON a blob holds, or why it cannot be had. */
async function blobJson<T>(stores: Stores, blobs: BlobState, digest: unknown): Promise<{ value: T } | { why: string }> {
  if (typeof digest !== 'string' || !isDigest(digest)) return { why: `${JSON.stringify(digest)} is not a digest` };
  if (!blobs.present.has(digest)) return { why: `${digest} missing` };
  if (blobs.corrupt.has(digest)) return { why: `${digest} is corrupt` };
  try {
    return { value: JSON.parse(await readFile(stores.content.blobPath(digest), 'utf8')) as T };
  } catch {
    return { why: `${digest} does not parse as JSON` };
  }
}

async function checkImages(stores: Stores, blobs: BlobState, problems: Problem[], rel: (p: string) => string): Promise<number> {
  const dir = path.join(stores.layout.root, 'records', 'images');
  let count = 0;
  const holders = new Map<string, { id: string; written: number }[]>();
  for (const name of listNames(dir).sort()) {
    if (tempOwner(name) !== undefined) continue; // a record being replaced; leftovers are checked below
    const file = path.join(dir, name);
    let record: { id?: unknown; names?: unknown; manifestDigest?: unknown };
    try {
      record = JSON.parse(await readFile(file, 'utf8')) as typeof record;
    } catch {
      problems.push({ line: `image record ${rel(file)}: does not parse as JSON`, repair: { kind: 'remove-path', path: file } });
      continue;
    }
    count++;
    const id = typeof record.id === 'string' ? record.id : '';
    const names = Array.isArray(record.names) ? record.names.filter((n): n is string => typeof n === 'string') : [];
    const label = `image ${names[0] ?? '<none>'} (${shortId(id) || name})`;
    const broken = (what: string): void => void problems.push({ line: `${label}: ${what}`, repair: { kind: 'remove-image', id, file } });
    if (!isDigest(id) || `${id.slice('sha256:'.length)}.json` !== name) {
      broken(`record ${rel(file)} holds ID ${JSON.stringify(record.id)}`);
      continue;
    }
    const manifest = await blobJson<Manifest>(stores, blobs, record.manifestDigest);
    if ('why' in manifest) {
      broken(`manifest ${manifest.why}`);
      continue;
    }
    const layers = Array.isArray(manifest.value.layers) ? manifest.value.layers : [];
    if (manifest.value.config?.digest !== id) {
      broken(`manifest ${String(record.manifestDigest)} names config ${String(manifest.value.config?.digest)}, not the image ID`);
      continue;
    }
    const config = await blobJson<ImageConfig>(stores, blobs, id);
    if ('why' in config) {
      broken(`config ${config.why}`);
      continue;
    }
    const diffIds = config.value.rootfs?.diff_ids ?? [];
    if (!Array.isArray(diffIds) || diffIds.length !== layers.length || !diffIds.every((d) => typeof d === 'string' && isDigest(d))) {
      broken(`manifest lists ${layers.length} layers but the config's diff_ids do not match them`);
      continue;
    }
    // The record written last is the one that was given the name last.
    const written = (await stat(file)).mtimeMs;
    for (const n of names) holders.set(n, [...(holders.get(n) ?? []), { id, written }]);
    const chain = chainIds(diffIds);
    for (const [i, diffId] of diffIds.entries()) {
      // The local layer blob is the one the manifest names: the uncompressed tar (named by diff ID)
      // or the compressed blob a pull kept. A missing snapshot is unpacked from it on use; a
      // missing or corrupt blob loses the layer (push, save, unpack).
      const blob = typeof layers[i]?.digest === 'string' ? layers[i].digest : diffId;
      const what = blob === diffId ? `layer ${diffId}` : `layer ${diffId} (blob ${blob})`;
      if (blobs.corrupt.has(blob)) broken(`${what} is corrupt`);
      else if (!blobs.present.has(blob)) broken(`${what} missing${(await stores.snapshots.has(chain[i]!)) ? ' (its snapshot is left, but it cannot be pushed or saved)' : ''}`);
    }
  }
  // A name belongs to one image; the one a tag or build gave it last keeps it.
  for (const [name, images] of [...holders].sort(([a], [b]) => byCodeUnit(a, b))) {
    if (images.length < 2) continue;
    const sorted = [...images].sort((a, b) => b.written - a.written);
    for (const other of sorted.slice(1)) {
      const line = `image name ${name}: held by ${shortId(other.id)} as well as by the later ${shortId(sorted[0]!.id)}`;
      problems.push({ line, repair: { kind: 'untag', id: other.id, name } });
    }
  }
  return count;
}

async function checkSnapshots(stores: Stores, problems: Problem[], rel: (p: string) => string): Promise<number> {
  let count = 0;
  for (const entry of await readdir(stores.snapshots.dir, { withFileTypes: true }).catch(() => [])) {
    const file = path.join(stores.snapshots.dir, entry.name);
    if (HEX64.test(entry.name) && entry.isDirectory()) {
      count++;
      continue;
    }
    // Snapshots are built in tmp/ and renamed in whole; anything else here was not made by tsbuild's
    // commit and may be half-made.
    problems.push({ line: `snapshot ${rel(file)}: not a committed snapshot (not named by a chain ID)`, repair: { kind: 'remove-path', path: file } });
  }
  return count;
}

async function checkCache(stores: Stores, blobs: BlobState, problems: Problem[], rel: (p: string) => string): Promise<number> {
  const dir = stores.layout.cacheSteps;
  let count = 0;
  for (const name of listNames(dir).sort()) {
    if (tempOwner(name) !== undefined) continue;
    const file = path.join(dir, name);
    let entry: { layer?: { diffId?: unknown }; created?: unknown };
    try {
      entry = JSON.parse(await readFile(file, 'utf8')) as typeof entry;
    } catch {
      problems.push({ line: `cache entry ${rel(file)}: does not parse as JSON`, repair: { kind: 'remove-path', path: file } });
      continue;
    }
    count++;
    const diffId = entry.layer?.diffId;
    if (entry.layer === undefined) continue;
    if (typeof diffId !== 'string' || !isDigest(diffId)) {
      problems.push({ line: `cache entry ${rel(file)}: layer ${JSON.stringify(diffId)} is not a digest`, repair: { kind: 'remove-path', path: file } });
    } else if (!blobs.present.has(diffId) || blobs.corrupt.has(diffId)) {
      problems.push({ line: `cache entry ${rel(file)}: layer ${diffId} ${blobs.corrupt.has(diffId) ? 'is corrupt' : 'missing'}`, repair: { kind: 'remove-path', path: file } });
    }
  }
  return count;
}

async function checkContainers(stores: Stores, problems: Problem[], rel: (p: string) => string): Promise<{ records: Map<string, ContainerRecord> }> {
  const records = new Map<string, ContainerRecord>();
  const imageIds = new Set((await stores.images.list()).map((i) => i.id));
  for (const id of listNames(stores.layout.containers).sort()) {
    const dir = path.join(stores.layout.containers, id);
    if (!HEX64.test(id)) {
      if (tempOwner(id) === undefined) problems.push({ line: `${rel(dir)}: not a container (not named by a container ID)`, repair: { kind: 'remove-container', dir } });
      continue;
    }
    let record: ContainerRecord;
    try {
      record = JSON.parse(await readFile(path.join(dir, 'container.json'), 'utf8')) as ContainerRecord;
    } catch (err) {
      const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
      // A live process writing the first record right now (its temp file sits beside it).
      if (missing && listNames(dir).some((n) => livesOn(tempOwner(n)))) continue;
      const why = missing ? 'has no record (container.json)' : 'record does not parse as JSON';
      problems.push({ line: `container ${id.slice(0, 12)}: ${why}`, repair: { kind: 'remove-container', dir } });
      continue;
    }
    if (record.id !== id) {
      problems.push({ line: `container ${id.slice(0, 12)}: record holds ID ${JSON.stringify(record.id)}`, repair: { kind: 'remove-container', dir } });
      continue;
    }
    records.set(id, record);
    // Its root filesystem is the image's layers under its upper dir: without the image it cannot
    // start again (a running one keeps its mounted layers until it stops).
    if (record.imageId !== '' && !imageIds.has(record.imageId) && record.state !== 'running') {
      problems.push({
        line: `container ${record.name} (${id.slice(0, 12)}): image ${shortId(record.imageId)} is not in the store`,
        repair: { kind: 'remove-container', dir },
        needsForce: true,
      });
    }
  }
  return { records };
}

/** Temp files, mount points, mounts and locks left by processes that no longer run. */
async function checkLeftovers(stores: Stores, containers: Map<string, ContainerRecord>, problems: Problem[], rel: (p: string) => string): Promise<void> {
  const { root, mounts, locks } = stores.layout;
  for (const leftover of await deadTempFiles(stores.layout)) {
    problems.push({ line: `temp file ${rel(leftover.path)}: left by dead process ${leftover.pid}`, repair: { kind: 'remove-path', path: leftover.path } });
  }
  // Everything in tmp/ is named by its owner's pid; what is not can never be cleaned up by recovery.
  for (const name of listNames(stores.layout.tmp).sort()) {
    if (tempOwner(name) !== undefined) continue;
    const file = path.join(stores.layout.tmp, name);
    problems.push({ line: `temp file ${rel(file)}: not named by its owner's pid`, repair: { kind: 'remove-path', path: file } });
  }
  const mounted = await mountedTargets();
  const reported = new Set<string>();
  for (const name of listNames(mounts).sort()) {
    const pid = mountOwner(name);
    if (pid === undefined || processAlive(pid)) continue;
    const target = path.join(mounts, name);
    reported.add(target);
    const isMounted = mounted.has(target);
    problems.push({
      line: `mount point ${rel(target)}: ${isMounted ? 'still mounted, ' : ''}left by dead process ${pid}`,
      repair: isMounted ? { kind: 'unmount', target, removeDir: true } : { kind: 'remove-path', path: target },
    });
  }
  // Mounts under the root that nothing owns any more: of a dead process (by the pid in a path
  // component), or the rootfs of a container that is gone or no longer running. A working
  // container's rootfs stays mounted between its commands (and is reused), so it is not stale.
  for (const target of [...mounted].filter((t) => t.startsWith(`${root}/`)).sort()) {
    if (reported.has(target)) continue;
    const parts = path.relative(root, target).split(path.sep);
    const deadOwner = parts.map((p, i) => (parts[0] === 'mounts' && i === 1 ? mountOwner(p) : tempOwner(p))).find((pid) => pid !== undefined && !processAlive(pid));
    let stale = deadOwner !== undefined ? `mounted by dead process ${deadOwner}` : undefined;
    if (stale === undefined && parts[0] === 'containers' && parts[2] === 'rootfs' && parts.length === 3) {
      const record = containers.get(parts[1]!);
      if (!record) stale = 'rootfs of a container that does not exist';
      else if (record.kind === 'container' && record.state !== 'running' && !record.userMounted) stale = `rootfs of container ${record.name}, which is ${record.state}`;
    }
    if (stale !== undefined) problems.push({ line: `mount ${rel(target)}: ${stale}`, repair: { kind: 'unmount', target, removeDir: false } });
  }
  for (const lock of await staleLocks(locks)) {
    problems.push({ line: `lock ${rel(lock.path)}: held by dead process ${lock.pid}`, repair: { kind: 'remove-lock', path: lock.path, pid: lock.pid } });
  }
}

/** runc state must belong to a live build or to a container record that is running. */
async function checkRunc(stores: Stores, containers: Map<string, ContainerRecord>, problems: Problem[]): Promise<void> {
  for (const id of listNames(stores.layout.runcState).sort()) {
    const build = buildContainerOwner(id);
    let stale: string | undefined;
    if (build !== undefined) {
      if (!processAlive(build)) stale = `build container of dead process ${build}`;
    } else if (HEX64.test(id)) {
      const record = containers.get(id);
      if (!record) stale = 'no container record';
      else if (record.state !== 'running') stale = `container ${record.name} is ${record.state}`;
    }
    if (stale !== undefined) problems.push({ line: `runc state ${id.slice(0, 21)}: ${stale}`, repair: { kind: 'delete-runc', id } });
  }
}
