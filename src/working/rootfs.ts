// Mounting a container's root filesystem for working-container commands. Containers of images go
// through container/rootfs.ts; a working container `from scratch` has no image, so its rootfs is its
// upper dir over an empty lower, at the same fixed place (containers/<id>/rootfs).
import { mkdir } from 'node:fs/promises';
import { mountRootfs } from '../container/rootfs.js';
import { isMounted } from '../util/mounts.js';
import { containerPaths } from '../container/paths.js';
import type { ContainerRecord } from '../container/types.js';
import { TsbuildError } from '../errors.js';
import { loadImage, type LayerRef } from '../image/image.js';
import type { ImageConfig } from '../oci/types.js';
import { mountOverlay } from '../snapshot/mount.js';
import type { Stores } from '../store/root.js';

/** Working containers `from scratch` have no image; their imageId is ''. */
export function isScratch(record: ContainerRecord): boolean {
  return record.imageId === '';
}

export async function mountContainer(stores: Stores, record: ContainerRecord): Promise<string> {
  const paths = containerPaths(stores, record.id);
  await mkdir(paths.upper, { recursive: true, mode: 0o755 });
  if (!isScratch(record)) return mountRootfs(stores, record);
  if (await isMounted(paths.rootfs)) return paths.rootfs;
  await mountOverlay({ lowers: [], upper: paths.upper, mountsDir: stores.layout.mounts, target: paths.rootfs });
  return paths.rootfs;
}

/** The layers and config of the image a container was made from (none for scratch). */
export async function containerBase(stores: Stores, record: ContainerRecord): Promise<{ layers: LayerRef[]; config?: ImageConfig }> {
  if (isScratch(record)) return { layers: [] };
  const imageRecord = await stores.images.find(record.imageId);
  if (!imageRecord) {
    throw new TsbuildError('NOT_FOUND', `image ${record.imageId} of container "${record.name}" is not in local storage`, { exitCode: 125 });
  }
  const image = await loadImage(stores, imageRecord);
  return { layers: image.layers, config: image.config };
}
