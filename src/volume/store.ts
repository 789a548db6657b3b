// The volume store: <root>/volumes/<name>/{volume.json,_data}. A volume is created whole or not at
// all (built in a dot-named temp dir, then renamed into place under the store lock), removed by
// renaming it away first, and "in use" is read from the container records themselves, so there is
// no reference count that a crash could leave wrong.
import { randomBytes } from 'node:crypto';
import { chown, mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { TsbuildError, errnoCode } from '../errors.js';
import type { ContainerRecord } from '../container/types.js';
import { tempOwner } from '../store/leftovers.js';
import { processAlive, withLock } from '../store/lock.js';
import type { Stores } from '../store/root.js';
import { listNames, readJson, removeTree, tempName, writeJsonAtomic } from '../util/fs.js';
import { byCodeUnit } from '../util/order.js';

export interface VolumeRecord {
  name: string;
  driver: 'local';
  /** Host directory holding the data: volumes/<name>/_data. */
  mountpoint: string;
  labels: Record<string, string>;
  options: Record<string, string>;
  anonymous: boolean;
  created: string;
  /**
   * Set once a container has mounted the volume without nocopy: from then on the image's content
   * is never copied in again (docker's rule), even if the volume is emptied.
   */
  populated?: boolean;
}

export interface CreateVolumeOptions {
  labels?: Record<string, string>;
  anonymous?: boolean;
  /** Driver options (`--opt k=v`); the local driver supports o=uid=N,gid=N only. */
  options?: Record<string, string>;
}

export interface VolumeStore {
  /** ALREADY_EXISTS when the name is taken. */
  create(name?: string, options?: CreateVolumeOptions): Promise<VolumeRecord>;
  get(name: string): Promise<VolumeRecord | undefined>;
  list(): Promise<VolumeRecord[]>;
  /** IN_USE error when a container (any state) uses it, unless force. */
  remove(name: string, options?: { force?: boolean }): Promise<void>;
  prune(): Promise<string[]>;
}

export const VOLUME_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export function volumesDir(stores: Stores): string {
  return path.join(stores.layout.root, 'volumes');
}

export function volumePaths(stores: Stores, name: string): { dir: string; record: string; data: string; lock: string } {
  const dir = path.join(volumesDir(stores), name);
  return { dir, record: path.join(dir, 'volume.json'), data: path.join(dir, '_data'), lock: path.join(stores.layout.locks, `volume-${name}.lock`) };
}

const storeLock = (stores: Stores): string => path.join(stores.layout.locks, 'volumes.lock');

export function checkVolumeName(name: string): void {
  if (!VOLUME_NAME.test(name)) {
    throw new TsbuildError('INVALID_ARGUMENT', `invalid volume name "${name}": use letters, digits, "_", "." and "-", starting with a letter or digit`, { exitCode: 125 });
  }
}

export function noSuchVolume(name: string): TsbuildError {
  return new TsbuildError('NOT_FOUND', `no such volume ${name}`, { exitCode: 125 });
}

/** The error for removing a volume a container still uses (exit 125). */
export function volumeInUse(name: string, container: string): TsbuildError {
  return new TsbuildError('INVALID_ARGUMENT', `volume ${name} is in use by container ${container}`, {
    exitCode: 125,
    hint: 'remove the container first ("tsbuild rm"), or use -f when it is not running',
  });
}

export async function readVolume(stores: Stores, name: string): Promise<VolumeRecord | undefined> {
  if (!VOLUME_NAME.test(name)) return undefined;
  const p = volumePaths(stores, name);
  const record = await readJson<VolumeRecord>(p.record).catch((err: unknown) => {
    if (errnoCode(err) === 'ENOTDIR') return undefined;
    throw err;
  });
  // The mount point is where the root is now, not where it was when the record was written.
  return record && { ...record, mountpoint: p.data };
}

export async function writeVolume(stores: Stores, record: VolumeRecord): Promise<void> {
  await writeJsonAtomic(volumePaths(stores, record.name).record, record);
}

/** Every container record under the root (both kinds), for in-use checks. */
export async function containerRecords(stores: Stores): Promise<ContainerRecord[]> {
  const ids = listNames(stores.layout.containers);
  const records = await Promise.all(
    ids.map((id) => readJson<ContainerRecord>(path.join(stores.layout.containers, id, 'container.json')).catch(() => undefined)),
  );
  return records.filter((r): r is ContainerRecord => r !== undefined && typeof r.id === 'string');
}

/** The volume names a container's mounts refer to. Records without a config (foundation-era) have none. */
export function volumesOf(record: ContainerRecord): string[] {
  return (record.config?.mounts ?? []).filter((m) => m.type === 'volume' && m.source !== '').map((m) => m.source);
}

/** Volume name -> the containers that use it. */
export async function volumeUsers(stores: Stores): Promise<Map<string, ContainerRecord[]>> {
  const users = new Map<string, ContainerRecord[]>();
  for (const record of await containerRecords(stores)) {
    for (const name of new Set(volumesOf(record))) users.set(name, [...(users.get(name) ?? []), record]);
  }
  return users;
}

/**
 * Whether the container's process may still be using its mounts. The record's state is trusted
 * unless its monitor is gone (a record left "running" by a dead monitor is not running anything).
 */
export function mayBeRunning(record: ContainerRecord): boolean {
  if (record.state !== 'running') return false;
  return record.monitor === undefined || processAlive(record.monitor.pid);
}

function generatedName(): string {
  return randomBytes(32).toString('hex');
}

/** `--opt`: only what the local driver can honour without mounting anything. */
function parseDriverOptions(options: Record<string, string>): { uid?: number; gid?: number } {
  const out: { uid?: number; gid?: number } = {};
  for (const [key, value] of Object.entries(options)) {
    if (key !== 'o') {
      throw new TsbuildError('INVALID_ARGUMENT', `volume option "${key}" is not supported by the local driver (only o=uid=N,gid=N)`, { exitCode: 125 });
    }
    for (const part of value.split(',').filter((p) => p !== '')) {
      const m = /^(uid|gid)=(\d+)$/.exec(part);
      if (!m) throw new TsbuildError('INVALID_ARGUMENT', `volume mount option "${part}" is not supported (only uid=N and gid=N)`, { exitCode: 125 });
      out[m[1] as 'uid' | 'gid'] = Number(m[2]);
    }
  }
  return out;
}

/**
 * Creates the volume (under the store lock). `ifMissing` returns an existing one instead of failing
 * (creation on first use); `created` says whether this call made it.
 */
export async function createVolume(
  stores: Stores,
  name: string | undefined,
  options: CreateVolumeOptions & { ifMissing?: boolean } = {},
): Promise<{ record: VolumeRecord; created: boolean }> {
  if (name !== undefined) checkVolumeName(name);
  const driverOptions = parseDriverOptions(options.options ?? {});
  const dir = volumesDir(stores);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  return withLock(storeLock(stores), async () => {
    await removeStaleTemps(dir);
    const finalName = name ?? generatedName();
    const existing = await readVolume(stores, finalName);
    if (existing) {
      if (options.ifMissing) return { record: existing, created: false };
      throw new TsbuildError('ALREADY_EXISTS', `volume ${finalName} already exists`, { exitCode: 125 });
    }
    const p = volumePaths(stores, finalName);
    const record: VolumeRecord = {
      name: finalName,
      driver: 'local',
      mountpoint: p.data,
      labels: { ...(options.labels ?? {}) },
      options: { ...(options.options ?? {}) },
      anonymous: options.anonymous ?? false,
      created: new Date().toISOString(),
      populated: false,
    };
    // Built beside its final place and renamed in: a crash leaves only a dot-named temp dir.
    const tmp = tempName(dir);
    try {
      await mkdir(path.join(tmp, '_data'), { recursive: true, mode: 0o755 });
      await chown(path.join(tmp, '_data'), driverOptions.uid ?? 0, driverOptions.gid ?? 0);
      await writeJsonAtomic(path.join(tmp, 'volume.json'), record);
      // A leftover without volume.json (crash during a removal) must not block the name.
      await rm(p.dir, { recursive: true, force: true });
      await rename(tmp, p.dir);
    } catch (err) {
      await rm(tmp, { recursive: true, force: true });
      throw err;
    }
    return { record, created: true };
  });
}

/** Removes the volume's directory (renamed away first, so it vanishes at once); NOT_FOUND if missing. */
export async function deleteVolume(stores: Stores, name: string): Promise<void> {
  // removeTree's rm never follows symlinks, so links a container left in the volume cannot reach host files.
  if (!(await removeTree(volumePaths(stores, name).dir, volumesDir(stores)))) throw noSuchVolume(name);
}

/** Temp dirs of dead processes (a crash during create or remove). */
async function removeStaleTemps(dir: string): Promise<void> {
  for (const entry of listNames(dir)) {
    const owner = tempOwner(entry);
    if (owner !== undefined && !processAlive(owner)) await rm(path.join(dir, entry), { recursive: true, force: true });
  }
}

/**
 * Removes a volume unless a container uses it. With force, users that are not running do not
 * block (their next start recreates the volume empty); a running user always does.
 * `ignoreContainer` is for `rm -v`: the container being removed does not count.
 */
export async function removeVolume(stores: Stores, name: string, options: { force?: boolean; ignoreContainer?: string } = {}): Promise<void> {
  if (!(await readVolume(stores, name))) throw noSuchVolume(name);
  await withLock(storeLock(stores), async () => {
    const users = ((await volumeUsers(stores)).get(name) ?? []).filter((c) => c.id !== options.ignoreContainer);
    const blocking = options.force ? users.filter(mayBeRunning) : users;
    if (blocking.length > 0) throw volumeInUse(name, blocking[0]!.name);
    await deleteVolume(stores, name);
  });
}

export async function listVolumes(stores: Stores): Promise<VolumeRecord[]> {
  const names = listNames(volumesDir(stores)).filter((n) => VOLUME_NAME.test(n));
  const records = await Promise.all(names.map((n) => readVolume(stores, n)));
  return records.filter((r): r is VolumeRecord => r !== undefined).sort((a, b) => byCodeUnit(a.name, b.name));
}

export function createVolumeStore(stores: Stores): VolumeStore {
  return {
    async create(name, options) {
      return (await createVolume(stores, name, options)).record;
    },
    get: (name) => readVolume(stores, name),
    list: () => listVolumes(stores),
    remove: (name, options) => removeVolume(stores, name, options),
    async prune() {
      return withLock(storeLock(stores), async () => {
        const users = await volumeUsers(stores);
        const removed: string[] = [];
        for (const v of await listVolumes(stores)) {
          if (users.has(v.name)) continue;
          await deleteVolume(stores, v.name);
          removed.push(v.name);
        }
        return removed;
      });
    },
  };
}
