// `container prune`: removes every podman-style container that is not running (created or exited),
// through the same removal as `rm` (rootfs, network, record; volumes are kept, as podman does).
// Working containers (`tsbuild from`) are buildah's and are never pruned here, as podman leaves
// buildah's alone.
import { treeSize } from '../store/references.js';
import type { Stores } from '../store/root.js';
import { containerPaths } from './paths.js';
import { listContainers } from './records.js';
import { removeContainerRecord } from './remove.js';
import type { ContainerRecord } from './types.js';

export interface PruneResult {
  removed: string[];
  /** Bytes of the removed containers' writable layers (upper dirs). */
  reclaimed: number;
  /** Containers that could not be removed, with the reason (the others are still removed). */
  failed: { id: string; name: string; error: Error }[];
}

/** Which records a prune takes: not running, kind 'container'. */
export function prunable(records: readonly ContainerRecord[]): ContainerRecord[] {
  return records.filter((r) => r.kind === 'container' && r.state !== 'running');
}

export async function pruneContainers(stores: Stores): Promise<PruneResult> {
  const result: PruneResult = { removed: [], reclaimed: 0, failed: [] };
  for (const record of prunable(await listContainers(stores))) {
    try {
      const size = await treeSize(containerPaths(stores, record.id).upper);
      // Without force: one started since the listing is running now and is refused, not killed.
      await removeContainerRecord(stores, record);
      result.removed.push(record.id);
      result.reclaimed += size;
    } catch (err) {
      result.failed.push({ id: record.id, name: record.name, error: err as Error });
    }
  }
  return result;
}
