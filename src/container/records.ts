// Container records: containers/<id>/container.json beside the container's upper dir, bundle, log
// and monitor files. Names are unique; a name is claimed under a lock so two `run --name x` cannot
// both win. Reads go through settle.ts, so a caller never sees a container "running" whose monitor
// is gone.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { TsbuildError } from '../errors.js';
import { withLock } from '../store/lock.js';
import type { Stores } from '../store/root.js';
import { listNames, readJson, removeTree, writeJsonAtomic, type AtomicWriteOptions } from '../util/fs.js';
import { containerPaths } from './paths.js';
import type { ContainerRecord } from './types.js';

export type { ContainerRecord } from './types.js';

export function containerDir(stores: Stores, id: string): string {
  return path.join(stores.layout.containers, id);
}

const ID = /^[a-f0-9]{64}$/;

/** Every record as stored, without settling (settle.ts uses it; callers want listContainers). */
export async function readAllRecords(stores: Stores): Promise<ContainerRecord[]> {
  const ids = listNames(stores.layout.containers);
  const records = await Promise.all(ids.filter((id) => ID.test(id)).map((id) => readRecord(stores, id)));
  return records.filter((r): r is ContainerRecord => r !== undefined);
}

export async function readRecord(stores: Stores, id: string): Promise<ContainerRecord | undefined> {
  return readJson<ContainerRecord>(containerPaths(stores, id).record).catch(() => undefined);
}

/** Every container (podman-style and working ones), settled. */
export async function listContainers(stores: Stores): Promise<ContainerRecord[]> {
  const { settleRecords } = await import('./settle.js');
  return settleRecords(stores, await readAllRecords(stores));
}

/** By exact name, exact ID, or a unique ID prefix (3+ characters); settled. */
export async function findContainer(stores: Stores, ref: string): Promise<ContainerRecord | undefined> {
  const found = matchRecord(await readAllRecords(stores), ref);
  if (!found) return undefined;
  const { settle } = await import('./settle.js');
  return settle(stores, found);
}

export function matchRecord(all: readonly ContainerRecord[], ref: string): ContainerRecord | undefined {
  const exact = all.find((c) => c.name === ref || c.id === ref);
  if (exact) return exact;
  if (ref.length < 3 || !/^[a-f0-9]+$/.test(ref)) return undefined;
  const prefixed = all.filter((c) => c.id.startsWith(ref));
  return prefixed.length === 1 ? prefixed[0] : undefined;
}

/** Like findContainer, but a missing container is the user's error (exit 125). */
export async function requireContainer(stores: Stores, ref: string): Promise<ContainerRecord> {
  const found = await findContainer(stores, ref);
  if (!found) throw new TsbuildError('NOT_FOUND', `no container with name or ID "${ref}" found`, { exitCode: 125 });
  return found;
}

/** Creates a record with a unique name (given or generated). */
export async function createContainerRecord(
  stores: Stores,
  fields: Omit<ContainerRecord, 'id' | 'name' | 'created' | 'state'> & { name?: string },
): Promise<ContainerRecord> {
  return withLock(path.join(stores.layout.locks, 'containers.lock'), async () => {
    const existing = await readAllRecords(stores);
    if (fields.name !== undefined) {
      if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(fields.name)) {
        throw new TsbuildError('INVALID_ARGUMENT', `invalid container name "${fields.name}": use letters, digits, "_", "." and "-"`, { exitCode: 125 });
      }
      const holder = existing.find((c) => c.name === fields.name);
      if (holder) {
        throw new TsbuildError('ALREADY_EXISTS', `the container name "${fields.name}" is already in use by ${holder.id.slice(0, 12)}`, {
          exitCode: 125,
          hint: `remove that container with "tsbuild rm ${fields.name}" or choose another name`,
        });
      }
    }
    const id = randomBytes(32).toString('hex');
    const taken = new Set(existing.map((c) => c.name));
    let name = fields.name ?? generateName();
    while (taken.has(name)) name = generateName();
    const record: ContainerRecord = { ...fields, id, name, created: new Date().toISOString(), state: 'created' };
    await writeJsonAtomic(containerPaths(stores, id).record, record, undefined, durability(record));
    return record;
  });
}

export async function updateContainerRecord(stores: Stores, record: ContainerRecord): Promise<void> {
  await writeJsonAtomic(containerPaths(stores, record.id).record, record, undefined, durability(record));
}

/**
 * A `run --rm` container's files are not fsynced: it is deleted when it exits, and after a crash
 * of the machine what it held (mounts, network namespace) is gone anyway; recovery removes what
 * is left of it. Renames still keep every write whole for readers.
 */
export function durability(record: ContainerRecord): AtomicWriteOptions {
  return { durable: !record.config.autoRemove };
}

/**
 * Read-modify-write of one record under its lock. `fn` gets the stored record (undefined when it
 * was removed meanwhile) and returns the new one, or undefined to leave it as it is.
 */
export async function mutateRecord(
  stores: Stores,
  id: string,
  fn: (record: ContainerRecord) => ContainerRecord | undefined | Promise<ContainerRecord | undefined>,
): Promise<ContainerRecord | undefined> {
  return withLock(containerPaths(stores, id).lock, async () => {
    const current = await readRecord(stores, id);
    if (!current) return undefined;
    const next = await fn(current);
    if (next === undefined) return current;
    await updateContainerRecord(stores, next);
    return next;
  });
}

/** Never half-deleted, even by a crash: the record would be gone and the rest left (see removeTree). */
export async function removeContainerDir(stores: Stores, id: string): Promise<void> {
  await removeTree(containerDir(stores, id), stores.layout.tmp, { bulky: ['upper'] });
}

const ADJECTIVES = ['brave', 'calm', 'eager', 'fond', 'keen', 'lucid', 'merry', 'nifty', 'quiet', 'sharp', 'tender', 'vivid'];
const NOUNS = ['curie', 'darwin', 'euler', 'gauss', 'hopper', 'knuth', 'lovelace', 'noether', 'pascal', 'ritchie', 'turing', 'wozniak'];

function generateName(): string {
  const pick = (list: string[]): string => list[randomBytes(1)[0]! % list.length]!;
  return `${pick(ADJECTIVES)}_${pick(NOUNS)}`;
}
