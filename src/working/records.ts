// The working container's files and records. A working container (buildah's `from`) is a
// ContainerRecord of kind 'working' whose `config` mirrors the OCI image config being edited; that
// image config itself (Env, Cmd, Labels, history, ...) lives beside it in image-config.json, because
// `commit` needs all of it and a ContainerConfig cannot hold history or author. Record access goes
// through container/records.ts (the lifecycle owner's API), so both kinds share names and lookups.
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { TsbuildError } from '../errors.js';
import * as records from '../container/records.js';
import { containerPaths } from '../container/paths.js';
import type { ContainerConfig, ContainerRecord } from '../container/types.js';
import type { ImageConfig } from '../oci/types.js';
import { processAlive, withLock } from '../store/lock.js';
import type { Stores } from '../store/root.js';
import { listNames, readJson, writeJsonAtomic } from '../util/fs.js';

/** A container of either kind (kept as a name of its own: working/ code reads both kinds). */
export type AnyRecord = ContainerRecord;

export function imageConfigPath(stores: Stores, id: string): string {
  return path.join(containerPaths(stores, id).dir, 'image-config.json');
}

export async function findAnyContainer(stores: Stores, ref: string): Promise<AnyRecord | undefined> {
  return records.findContainer(stores, ref);
}

/** A container of either kind, or exit 125 naming it. */
export async function getContainer(stores: Stores, ref: string): Promise<AnyRecord> {
  const found = await findAnyContainer(stores, ref);
  if (!found) throw new TsbuildError('NOT_FOUND', `container "${ref}" not found`, { exitCode: 125 });
  return found;
}

/** A working container (from `from`), or exit 125 naming it. */
export async function getWorkingContainer(stores: Stores, ref: string): Promise<AnyRecord> {
  const found = await getContainer(stores, ref);
  if (found.kind !== 'working') {
    throw new TsbuildError('INVALID_ARGUMENT', `container "${ref}" is not a working container (made by "tsbuild from")`, { exitCode: 125 });
  }
  return found;
}

export async function listAllContainers(stores: Stores): Promise<AnyRecord[]> {
  return records.listContainers(stores);
}

/** Creates the record of a new working container under a free name: `name`, else `<base>-working-container[-N]`. */
export async function createWorkingRecord(
  stores: Stores,
  fields: { name?: string; baseName: string; image: string; imageId: string; config: ContainerConfig },
): Promise<ContainerRecord> {
  for (let attempt = 0; ; attempt++) {
    const taken = new Set((await listAllContainers(stores)).map((c) => c.name));
    const name = fields.name ?? freeName(fields.baseName, taken);
    try {
      return await records.createContainerRecord(stores, { name, kind: 'working', image: fields.image, imageId: fields.imageId, config: fields.config });
    } catch (err) {
      // Another `from` took the generated name meanwhile: take the next one.
      if (fields.name === undefined && (err as TsbuildError).code === 'ALREADY_EXISTS' && attempt < 20) continue;
      throw err instanceof TsbuildError ? new TsbuildError(err.code, err.message, { hint: err.hint, cause: err, exitCode: 125 }) : err;
    }
  }
}

/** buildah's naming: the image's base name (no registry, path or tag) + "-working-container", then -1, -2, ... */
export function workingContainerName(image: string): string {
  if (image === 'scratch' || image === '') return 'working-container';
  const noDigest = image.split('@')[0]!;
  const last = noDigest.split('/').pop()!;
  const colon = last.indexOf(':');
  const base = colon < 0 ? last : last.slice(0, colon);
  return `${base}-working-container`;
}

function freeName(base: string, taken: ReadonlySet<string>): string {
  if (!taken.has(base)) return base;
  for (let n = 1; ; n++) if (!taken.has(`${base}-${n}`)) return `${base}-${n}`;
}

export async function readImageConfig(stores: Stores, record: ContainerRecord): Promise<ImageConfig> {
  const config = await readJson<ImageConfig>(imageConfigPath(stores, record.id));
  if (!config) throw new TsbuildError('NOT_FOUND', `working container "${record.name}" has no image config (${imageConfigPath(stores, record.id)})`, { exitCode: 125 });
  return config;
}

/**
 * Read-modify-write of a working container's image config (and the record's mirror of it) under
 * the container's lock, so two `config` calls at once both land.
 */
export async function editWorkingContainer(stores: Stores, ref: string, edit: (config: ImageConfig, record: AnyRecord) => void | Promise<void>): Promise<AnyRecord> {
  const first = await getWorkingContainer(stores, ref);
  return withLock(containerPaths(stores, first.id).lock, async () => {
    const record = await getWorkingContainer(stores, first.id);
    const config = await readImageConfig(stores, record);
    await edit(config, record);
    await writeJsonAtomic(imageConfigPath(stores, record.id), config);
    const updated = { ...record, config: mirrorImageConfig(record.config, config) };
    await records.updateContainerRecord(stores, updated);
    return updated;
  });
}

/** Updates a record's fields under its lock (userMounted and the like). */
export async function updateRecordFields(stores: Stores, id: string, fields: Partial<ContainerRecord>): Promise<AnyRecord> {
  const updated = await records.mutateRecord(stores, id, (record) => ({ ...record, ...fields }));
  if (!updated) throw new TsbuildError('NOT_FOUND', `container ${id.slice(0, 12)} was removed meanwhile`, { exitCode: 125 });
  return updated;
}

/** The parts of a ContainerConfig that come from the image config, as `start` would use them. */
export function mirrorImageConfig(base: ContainerConfig, image: ImageConfig): ContainerConfig {
  const c = image.config;
  const entrypoint = c.Entrypoint ?? [];
  const cmd = c.Cmd ?? [];
  return {
    ...base,
    args: [...entrypoint, ...cmd],
    entrypoint,
    cmd,
    env: c.Env ?? [],
    cwd: c.WorkingDir || '/',
    user: c.User ?? '',
    labels: c.Labels ?? {},
    stopSignal: c.StopSignal ?? 'SIGTERM',
    exposedPorts: Object.keys(c.ExposedPorts ?? {}),
  };
}

// `wc run` in progress: one marker file per running tsbuild process, so `umount` and the end of a
// concurrent run know the rootfs is still in use. A marker whose process died is stale.
const RUN_MARKER = /^wc-run\.(\d+)$/;

export async function markRun(stores: Stores, id: string): Promise<() => Promise<void>> {
  const file = path.join(containerPaths(stores, id).dir, `wc-run.${process.pid}`);
  await writeFile(file, '');
  return () => rm(file, { force: true });
}

/** Whether another live process runs a command in the container (ours excluded). */
export async function runInProgress(stores: Stores, id: string): Promise<boolean> {
  const names = listNames(containerPaths(stores, id).dir);
  return names.some((n) => {
    const pid = Number(RUN_MARKER.exec(n)?.[1]);
    return pid > 0 && pid !== process.pid && processAlive(pid);
  });
}
