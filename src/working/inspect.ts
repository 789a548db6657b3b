// `wc inspect` (buildah inspect) and `containers` (buildah containers): views of working
// containers shaped like buildah's, so scripts reading them carry over.
import { containerPaths } from '../container/paths.js';
import { isMounted } from '../util/mounts.js';
import type { Stores } from '../store/root.js';
import { readPendingHistory } from './config.js';
import { listAllContainers, readImageConfig, type AnyRecord } from './records.js';
import { byCodeUnit } from '../util/order.js';

export async function inspectWorking(stores: Stores, record: AnyRecord): Promise<Record<string, unknown>> {
  const config = await readImageConfig(stores, record);
  const rootfs = containerPaths(stores, record.id).rootfs;
  const image = record.imageId === '' ? undefined : await stores.images.find(record.imageId);
  const pending = await readPendingHistory(stores, record.id);
  return {
    Type: 'buildah 0.0.1',
    FromImage: record.image,
    FromImageID: record.imageId.replace(/^sha256:/, ''),
    FromImageDigest: image?.manifestDigest ?? '',
    Config: JSON.stringify(config),
    Container: record.name,
    ContainerID: record.id,
    MountPoint: (await isMounted(rootfs)) ? rootfs : '',
    Created: record.created,
    ImageCreatedBy: pending.createdBy ?? '',
    OCIv1: config,
    Docker: { ...config, container_config: config.config },
    History: config.history ?? [],
  };
}

export interface ContainerRow {
  id: string;
  builder: boolean;
  imageId: string;
  imageName: string;
  name: string;
  kind: 'working' | 'container';
  state: string;
}

/** Working containers (buildah containers); with `all`, run containers too. */
export async function listWorkingContainers(stores: Stores, all: boolean): Promise<ContainerRow[]> {
  const records = await listAllContainers(stores);
  return records
    .filter((r) => all || r.kind === 'working')
    .sort((a, b) => byCodeUnit(a.created, b.created))
    .map((r) => ({
      id: r.id,
      builder: r.kind === 'working',
      imageId: r.imageId.replace(/^sha256:/, ''),
      imageName: r.imageId === '' ? 'scratch' : r.image,
      name: r.name,
      kind: r.kind,
      state: r.state,
    }));
}
