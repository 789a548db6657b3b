// Container records: containers/<id>/container.json beside the container's upper dir and bundle.
// Names are unique; a name is claimed under a lock so two `run --name x` cannot both win.
import { randomBytes } from 'node:crypto';
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { TsbuildError } from '../errors.js';
import { processAlive, withLock } from '../store/lock.js';
import type { Stores } from '../store/root.js';
import { readJson, writeJsonAtomic } from '../util/fs.js';

export interface ContainerRecord {
  id: string;
  name: string;
  image: string;
  imageId: string;
  command: string[];
  created: string;
  state: 'created' | 'running' | 'exited';
  exitCode?: number;
  startedAt?: string;
  finishedAt?: string;
  /** The tsbuild process that runs the container in the foreground, while it runs. */
  ownerPid?: number;
}

export function containerDir(stores: Stores, id: string): string {
  return path.join(stores.layout.containers, id);
}

const recordFile = (stores: Stores, id: string): string => path.join(containerDir(stores, id), 'container.json');

export async function listContainers(stores: Stores): Promise<ContainerRecord[]> {
  const ids = await readdir(stores.layout.containers).catch(() => [] as string[]);
  const records = await Promise.all(ids.filter((id) => /^[a-f0-9]{64}$/.test(id)).map((id) => readJson<ContainerRecord>(recordFile(stores, id))));
  return records.filter((r): r is ContainerRecord => r !== undefined).map(settleOrphan);
}

/**
 * A foreground container dies with the tsbuild process that runs it (runc is its child). If that
 * process was killed (SIGKILL, a crash), the record still says running: it has exited, status
 * unknown, which podman reports as 137 for a killed container.
 */
function settleOrphan(record: ContainerRecord): ContainerRecord {
  if (record.state !== 'running' || record.ownerPid === undefined || processAlive(record.ownerPid)) return record;
  return { ...record, state: 'exited', exitCode: record.exitCode ?? 137 };
}

export async function findContainer(stores: Stores, ref: string): Promise<ContainerRecord | undefined> {
  const all = await listContainers(stores);
  return all.find((c) => c.name === ref || c.id === ref) ?? (ref.length >= 3 ? onlyOne(all.filter((c) => c.id.startsWith(ref))) : undefined);
}

function onlyOne<T>(items: T[]): T | undefined {
  return items.length === 1 ? items[0] : undefined;
}

/** Creates a record with a unique name (given or generated). */
export async function createContainerRecord(
  stores: Stores,
  fields: Omit<ContainerRecord, 'id' | 'name' | 'created' | 'state'> & { name?: string },
): Promise<ContainerRecord> {
  return withLock(path.join(stores.layout.locks, 'containers.lock'), async () => {
    const existing = await listContainers(stores);
    if (fields.name !== undefined) {
      if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(fields.name)) {
        throw new TsbuildError('INVALID_ARGUMENT', `invalid container name "${fields.name}": use letters, digits, "_", "." and "-"`);
      }
      if (existing.some((c) => c.name === fields.name)) {
        throw new TsbuildError('ALREADY_EXISTS', `the container name "${fields.name}" is already in use`, {
          hint: 'remove that container with "tsbuild rm" or choose another name',
        });
      }
    }
    const id = randomBytes(32).toString('hex');
    const taken = new Set(existing.map((c) => c.name));
    let name = fields.name ?? generateName();
    while (taken.has(name)) name = generateName();
    const record: ContainerRecord = { ...fields, id, name, created: new Date().toISOString(), state: 'created' };
    await writeJsonAtomic(recordFile(stores, id), record);
    return record;
  });
}

export async function updateContainerRecord(stores: Stores, record: ContainerRecord): Promise<void> {
  await writeJsonAtomic(recordFile(stores, record.id), record);
}

export async function removeContainerDir(stores: Stores, id: string): Promise<void> {
  await rm(containerDir(stores, id), { recursive: true, force: true });
}

export function inspectContainer(record: ContainerRecord): Record<string, unknown> {
  return {
    Id: record.id,
    Name: record.name,
    Image: record.imageId.replace(/^sha256:/, ''),
    ImageName: record.image,
    Created: record.created,
    Path: record.command[0] ?? '',
    Args: record.command.slice(1),
    State: {
      Status: record.state,
      Running: record.state === 'running',
      ExitCode: record.exitCode ?? 0,
      StartedAt: record.startedAt ?? '',
      FinishedAt: record.finishedAt ?? '',
    },
  };
}

const ADJECTIVES = ['brave', 'calm', 'eager', 'fond', 'keen', 'lucid', 'merry', 'nifty', 'quiet', 'sharp', 'tender', 'vivid'];
const NOUNS = ['curie', 'darwin', 'euler', 'gauss', 'hopper', 'knuth', 'lovelace', 'noether', 'pascal', 'ritchie', 'turing', 'wozniak'];

function generateName(): string {
  const pick = (list: string[]): string => list[randomBytes(1)[0]! % list.length]!;
  return `${pick(ADJECTIVES)}_${pick(NOUNS)}`;
}
