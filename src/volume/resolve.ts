// What `create` does with the requested mounts: named volumes created on first use, anonymous ones
// (-v /path, --mount type=volume without source, image VOLUME paths nothing else covers) given
// generated names, and bind sources checked. And the reverse for `rm -v`.
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { TsbuildError, errnoCode } from '../errors.js';
import type { ContainerRecord, MountSpec } from '../container/types.js';
import type { Stores } from '../store/root.js';
import { createVolume, deleteVolume, removeVolume, volumeUsers } from './store.js';

export async function resolveMounts(stores: Stores, requested: readonly MountSpec[], imageVolumes: readonly string[]): Promise<MountSpec[]> {
  const made: string[] = [];
  try {
    const out: MountSpec[] = [];
    for (const m of requested) {
      if (m.type === 'bind') {
        await checkBindSource(m.source);
        out.push({ ...m, options: [...m.options] });
      } else if (m.type === 'volume') {
        const anonymous = m.source === '';
        const { record, created } = await createVolume(stores, anonymous ? undefined : m.source, { anonymous, ifMissing: true });
        if (created) made.push(record.name);
        out.push({ ...m, source: record.name, options: [...m.options], ...(anonymous ? { anonymous: true } : {}) });
      } else {
        out.push({ ...m, source: '', options: [...m.options] });
      }
    }
    const covered = new Set(out.map((m) => m.target));
    for (const raw of imageVolumes) {
      if (!path.posix.isAbsolute(raw)) continue;
      const target = path.posix.normalize(raw).replace(/(.)\/+$/, '$1');
      if (target === '/' || covered.has(target)) continue;
      covered.add(target);
      const { record } = await createVolume(stores, undefined, { anonymous: true });
      made.push(record.name);
      out.push({ type: 'volume', source: record.name, target, readonly: false, options: [], anonymous: true });
    }
    return out;
  } catch (err) {
    // A failed create leaves nothing behind, volumes made on its behalf included.
    for (const name of made) await deleteVolume(stores, name).catch(() => undefined);
    throw err;
  }
}

export async function checkBindSource(source: string): Promise<void> {
  try {
    await stat(source);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') {
      throw new TsbuildError('NOT_FOUND', `bind source path does not exist: ${source}`, { exitCode: 125 });
    }
    throw err;
  }
}

/**
 * `rm -v`: removes the record's anonymous volumes that no other container uses; returns their
 * names. Call it after the container is stopped (before or after its record is deleted).
 */
export async function removeAnonymousVolumes(stores: Stores, record: ContainerRecord): Promise<string[]> {
  const mine = (record.config?.mounts ?? []).filter((m) => m.type === 'volume' && m.anonymous && m.source !== '');
  if (mine.length === 0) return [];
  const users = await volumeUsers(stores);
  const removed: string[] = [];
  for (const m of mine) {
    if ((users.get(m.source) ?? []).some((c) => c.id !== record.id)) continue;
    try {
      await removeVolume(stores, m.source, { ignoreContainer: record.id });
      removed.push(m.source);
    } catch (err) {
      if (!(err instanceof TsbuildError && err.code === 'NOT_FOUND')) throw err;
    }
  }
  return removed;
}
