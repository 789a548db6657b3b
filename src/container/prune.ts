// `container prune`: removes every podman-style container that is not running (created or exited),
// through the same removal as `rm` (rootfs, network, anonymous volumes kept as rm would). Working
// containers (`tsbuild from`) are buildah's and are never pruned here, as podman leaves buildah's.
import type { Stores } from '../store/root.js';
import { listContainers } from './records.js';
import type { ContainerRecord } from './types.js';

export interface PruneResult {
  removed: string[];
  /** Containers that could not be removed, with the reason (the others are still removed). */
  failed: { id: string; error: Error }[];
}

export type RemoveFn = (stores: Stores, record: ContainerRecord) => Promise<void>;

/** Which records a prune takes: not running, kind 'container'. */
export function prunable(records: readonly ContainerRecord[]): ContainerRecord[] {
  return records.filter((r) => (r.kind ?? 'container') === 'container' && r.state !== 'running');
}

export async function pruneContainers(stores: Stores, remove: RemoveFn): Promise<PruneResult> {
  const candidates = prunable((await listContainers(stores)) as unknown as ContainerRecord[]);
  const result: PruneResult = { removed: [], failed: [] };
  for (const record of candidates) {
    try {
      await remove(stores, record);
      result.removed.push(record.id);
    } catch (err) {
      result.failed.push({ id: record.id, error: err as Error });
    }
  }
  return result;
}
