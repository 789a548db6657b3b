// A container's root filesystem: the image's snapshots under the container's own upper dir, mounted
// at containers/<id>/rootfs. The mount outlives the process that made it (a detached container's
// CLI exits at once), so it is found again through /proc/self/mounts rather than held in memory.
import { TsbuildError } from '../errors.js';
import { ensureSnapshots, loadImage, lowerDirs } from '../image/image.js';
import { mountOverlay, overlayWorkDir, removeMountDirs } from '../snapshot/mount.js';
import type { Stores } from '../store/root.js';
import * as sys from '../sys/helper.js';
import { isMounted } from '../util/mounts.js';
import { containerPaths } from './paths.js';
import type { ContainerRecord } from './types.js';

/** Mounts the container's rootfs unless it is mounted already; returns the mount point. */
export async function mountRootfs(stores: Stores, record: ContainerRecord): Promise<string> {
  const paths = containerPaths(stores, record.id);
  if (await isMounted(paths.rootfs)) return paths.rootfs;
  const imageRecord = await stores.images.find(record.imageId);
  if (!imageRecord) throw new TsbuildError('NOT_FOUND', `image ${record.imageId} of container "${record.name}" is not in local storage`, { exitCode: 125 });
  const image = await loadImage(stores, imageRecord);
  await ensureSnapshots(stores, image.layers);
  // --rm: the rootfs goes with the container, so its unmount need not sync the file system (mount.ts).
  await mountOverlay({ lowers: lowerDirs(stores, image.layers), upper: paths.upper, mountsDir: stores.layout.mounts, target: paths.rootfs, volatile: record.config.autoRemove });
  return paths.rootfs;
}

/** Unmounts the rootfs if mounted (lazily when busy); a rootfs that is not mounted is fine. */
export async function unmountRootfs(stores: Stores, record: ContainerRecord): Promise<void> {
  const paths = containerPaths(stores, record.id);
  if (await isMounted(paths.rootfs)) {
    await sys.unmount(paths.rootfs);
  }
  removeMountDirs(paths.rootfs, overlayWorkDir(paths.upper));
}
