// `network connect` / `network disconnect` of a container: the record is re-read and saved under
// the container's lock (its lifecycle may be changing it at the same time); a running container is
// attached or detached at once (CNI ADD/DEL on its namespace, next free ethN), a stopped one only
// has its configuration changed for its next start. Peers' hosts files follow.
import { containerPaths } from '../container/paths.js';
import type { ContainerRecord } from '../container/types.js';
import { TsbuildError } from '../errors.js';
import { withLock } from '../store/lock.js';
import type { Stores } from '../store/root.js';
import { readJson, writeJsonAtomic } from '../util/fs.js';
import { pickContainer, readContainers, requestedNetworks } from './containers.js';
import type { NetworkManager } from './index.js';

async function lockedRecord<T>(stores: Stores, ref: string, fn: (record: ContainerRecord) => Promise<{ record: ContainerRecord; value: T }>): Promise<T> {
  const found = pickContainer(await readContainers(stores), ref);
  if (!found) throw new TsbuildError('NOT_FOUND', `container "${ref}" not found`);
  const paths = containerPaths(stores, found.id);
  return withLock(paths.lock, async () => {
    const current = await readJson<ContainerRecord>(paths.record);
    if (!current) throw new TsbuildError('NOT_FOUND', `container "${ref}" not found`);
    const { record, value } = await fn(current);
    await writeJsonAtomic(paths.record, record);
    return value;
  });
}

export async function connectContainer(stores: Stores, manager: NetworkManager, networkRef: string, containerRef: string, aliases: string[]): Promise<void> {
  const network = await manager.get(networkRef);
  const running = await lockedRecord(stores, containerRef, async (record) => {
    const state = await manager.connect(record, network.name, aliases);
    const networks = [...requestedNetworks(record), { name: network.name, aliases }];
    const updated: ContainerRecord = { ...record, config: { ...record.config, network: { ...record.config.network, networks } } };
    if (record.state === 'running' && record.network) updated.network = state;
    return { record: updated, value: record.state === 'running' };
  });
  if (running) await manager.refreshHosts([network.name]);
}

export async function disconnectContainer(stores: Stores, manager: NetworkManager, networkRef: string, containerRef: string): Promise<void> {
  const network = await manager.get(networkRef);
  let remaining: string[] = [];
  const running = await lockedRecord(stores, containerRef, async (record) => {
    const networks = requestedNetworks(record).filter((n) => n.name !== network.name);
    remaining = networks.map((n) => n.name);
    if (networks.length === 0 && record.config.network.mode === 'bridge') {
      throw new TsbuildError('INVALID_ARGUMENT', `network "${network.name}" is the only network of container ${record.name}`, {
        hint: 'connect it to another network first',
      });
    }
    const state = await manager.disconnect(record, network.name);
    const updated: ContainerRecord = { ...record, config: { ...record.config, network: { ...record.config.network, networks } } };
    if (record.state === 'running' && record.network) updated.network = state;
    return { record: updated, value: record.state === 'running' };
  });
  // The peers still list the container's old address, and it still lists them, until rewritten.
  if (running) await manager.refreshHosts([network.name, ...remaining]);
}
