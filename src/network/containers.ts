// Read-only views of container records that the network manager needs: who uses a network, who is
// running on it (for hosts files), whose namespace `--network container:ID` joins. The lifecycle
// owns the records; this module never writes one except through saveContainerNetwork (connect).
import path from 'node:path';
import { containerPaths } from '../container/paths.js';
import type { ContainerRecord } from '../container/types.js';
import type { Stores } from '../store/root.js';
import { listNames, readJson } from '../util/fs.js';

export async function readContainers(stores: Stores): Promise<ContainerRecord[]> {
  const ids = listNames(stores.layout.containers);
  const records = await Promise.all(
    ids.filter((id) => /^[a-f0-9]{64}$/.test(id)).map((id) => readJson<ContainerRecord>(containerPaths(stores, id).record).catch(() => undefined)),
  );
  return records.filter((r): r is ContainerRecord => r !== undefined && typeof r.id === 'string');
}

/** By exact name, exact ID or unique ID prefix (3+ characters). */
export function pickContainer(all: readonly ContainerRecord[], ref: string): ContainerRecord | undefined {
  const exact = all.find((c) => c.name === ref || c.id === ref);
  if (exact) return exact;
  const matches = ref.length >= 3 ? all.filter((c) => c.id.startsWith(ref)) : [];
  return matches.length === 1 ? matches[0] : undefined;
}

/** Networks a container is configured for (bridge mode: the default when none is named). */
export function requestedNetworks(record: ContainerRecord): { name: string; aliases: string[] }[] {
  const request = record.config?.network;
  if (!request || request.mode !== 'bridge') return [];
  return request.networks.length > 0 ? request.networks : [{ name: 'tsbuild', aliases: [] }];
}

/** Whether the container refers to the network, by its configuration or by a live attachment. */
export function usesNetwork(record: ContainerRecord, network: string): boolean {
  if (record.network?.attachments.some((a) => a.network === network)) return true;
  const request = record.config?.network;
  return request?.mode === 'bridge' && request.networks.some((n) => n.name === network);
}

export function isRunningOnNetworks(record: ContainerRecord): boolean {
  return record.state === 'running' && (record.network?.attachments.length ?? 0) > 0;
}

export const id12 = (id: string): string => id.slice(0, 12);

export function hostsPath(stores: Stores, id: string): string {
  return containerPaths(stores, id).hosts;
}

export function containerDir(stores: Stores, id: string): string {
  return path.dirname(containerPaths(stores, id).record);
}
