// `mount` / `umount` (buildah's and podman's): the merged root filesystem of any container, mounted
// at containers/<id>/rootfs and left mounted (record.userMounted) until `umount`. A container that
// is running keeps its rootfs: `umount` then only drops the user's hold on it.
import { containerPaths } from '../container/paths.js';
import { unmountRootfs } from '../container/rootfs.js';
import { isMounted } from '../util/mounts.js';
import type { Stores } from '../store/root.js';
import { getContainer, listAllContainers, runInProgress, updateRecordFields, type AnyRecord } from './records.js';
import { mountContainer } from './rootfs.js';

export async function mountForUser(stores: Stores, ref: string): Promise<{ record: AnyRecord; path: string }> {
  const record = await getContainer(stores, ref);
  const rootfs = await mountContainer(stores, record);
  const updated = await updateRecordFields(stores, record.id, { userMounted: true });
  return { record: updated, path: rootfs };
}

/** Containers whose rootfs is mounted now, with the mount point. */
export async function listMounted(stores: Stores): Promise<Array<{ record: AnyRecord; path: string }>> {
  const out: Array<{ record: AnyRecord; path: string }> = [];
  for (const record of await listAllContainers(stores)) {
    const rootfs = containerPaths(stores, record.id).rootfs;
    if (await isMounted(rootfs)) out.push({ record, path: rootfs });
  }
  return out;
}

/** Whether something other than the user's mount uses the rootfs: the container runs, or a `wc run` does. */
export async function rootfsInUse(stores: Stores, record: AnyRecord): Promise<boolean> {
  return (record.kind === 'container' && record.state === 'running') || (await runInProgress(stores, record.id));
}

export async function unmountForUser(stores: Stores, ref: string): Promise<AnyRecord> {
  const record = await getContainer(stores, ref);
  const updated = await updateRecordFields(stores, record.id, { userMounted: false });
  if (!(await rootfsInUse(stores, updated))) await unmountRootfs(stores, updated);
  return updated;
}
