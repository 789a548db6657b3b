// Removing a working container (`wc rm`, and the top-level `rm` for records of kind 'working'):
// its rootfs is unmounted (even when the user mounted it) and its directory removed. A command
// still running in it (`wc run` in another process) makes removal fail unless forced.
import { removeContainerDir } from '../container/records.js';
import { unmountRootfs } from '../container/rootfs.js';
import type { ContainerRecord } from '../container/types.js';
import { containerPaths } from '../container/paths.js';
import { TsbuildError } from '../errors.js';
import { withLock } from '../store/lock.js';
import type { Stores } from '../store/root.js';
import { runInProgress } from './records.js';

export interface RemoveWorkingOptions {
  /** Remove even while a `wc run` uses the container (its rootfs is detached lazily). */
  force?: boolean;
}

export async function removeWorkingContainer(stores: Stores, record: ContainerRecord, options: RemoveWorkingOptions = {}): Promise<void> {
  if (record.kind !== 'working') throw new TsbuildError('INVALID_ARGUMENT', `container "${record.name}" is not a working container`, { exitCode: 125 });
  await withLock(containerPaths(stores, record.id).lock, async () => {
    if (!options.force && (await runInProgress(stores, record.id))) {
      throw new TsbuildError('INVALID_ARGUMENT', `working container "${record.name}" is running a command ("wc run")`, { exitCode: 125, hint: 'wait for it to finish, or remove with --force' });
    }
    await unmountRootfs(stores, record);
    await removeContainerDir(stores, record.id);
  });
}
