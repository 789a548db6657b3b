// What happens once a container is done for good (its monitor exited, or died): the rootfs is
// unmounted, the network torn down and peers' hosts files refreshed, the exit recorded, and --rm
// applied. Run by the monitor's exit command (`container cleanup ID`), by foreground `run` itself,
// and by settle.ts for a container whose monitor is gone. Idempotent: each part tolerates being
// done already.
import { rm } from 'node:fs/promises';
import type { Stores } from '../store/root.js';
import { readJson } from '../util/fs.js';
import type { ExitInfo, MonitorState } from './monitor.js';
import { containerPaths } from './paths.js';
import { mutateRecord, removeContainerDir } from './records.js';
import { runcDeleteForce } from './runc-control.js';
import { unmountRootfs } from './rootfs.js';
import type { ContainerRecord } from './types.js';

export interface CleanupOptions {
  /** Exit code when exit.json has none for the last run (the monitor was killed): 137. */
  fallbackExitCode?: number;
  /** Kill and delete the runc container first (its monitor is gone). */
  force?: boolean;
}

/** Releases what a stopped container held; returns the final record (undefined when --rm removed it). */
export async function cleanupContainer(stores: Stores, id: string, options: CleanupOptions = {}): Promise<ContainerRecord | undefined> {
  const paths = containerPaths(stores, id);
  let remove = false;
  let final: ContainerRecord | undefined;
  const record = await mutateRecord(stores, id, async (current) => {
    if (current.state !== 'running' && !current.network && !options.force) {
      remove = current.config.autoRemove && current.state === 'exited';
      return undefined;
    }
    if (options.force) await runcDeleteForce(stores, id);
    await releaseResources(stores, current);
    const [exit, monitor] = await Promise.all([
      readJson<ExitInfo>(paths.exit).catch(() => undefined),
      readJson<MonitorState>(paths.monitorState).catch(() => undefined),
    ]);
    // exit.json of an earlier run (before a restart) does not tell how the last one ended.
    const fresh = exit && (!monitor || Date.parse(exit.finishedAt) >= Date.parse(monitor.startedAt));
    remove = current.config.autoRemove;
    const next: ContainerRecord = {
      ...current,
      state: current.state === 'running' ? 'exited' : current.state,
      exitCode: fresh ? exit.exitCode : (options.fallbackExitCode ?? 137),
      finishedAt: fresh ? exit.finishedAt : new Date().toISOString(),
      restartCount: monitor?.restartCount ?? current.restartCount,
    };
    delete next.monitor;
    delete next.pid;
    delete next.network;
    delete next.ownerPid;
    final = next;
    // A --rm container is removed right below: no point in writing it first.
    return remove ? undefined : next;
  });
  if (record && remove) {
    // The monitor (or the forced clean-up above) has deleted the runc container already.
    await removeContainer(stores, final ?? record, { volumes: true, runcDeleted: true });
    return undefined;
  }
  return record;
}

/** Rootfs (unless `tsbuild mount` holds it), network namespace and attachments, peers' hosts files. */
export async function releaseResources(stores: Stores, record: ContainerRecord): Promise<void> {
  const errors: unknown[] = [];
  // The rootfs and the network are independent: released side by side (CNI DEL is the slow part).
  const rootfs = record.userMounted ? Promise.resolve() : unmountRootfs(stores, record).catch((err: unknown) => void errors.push(err));
  // The network manager's cache is the truth about attachments, also for a start killed before
  // the record learnt of them.
  const network = async (): Promise<void> => {
    if (record.config.network.mode !== 'bridge') return;
    const { createNetworkManager } = await import('../network/index.js');
    const manager = createNetworkManager(stores);
    await manager.tearDown(record).catch((err: unknown) => errors.push(err));
    const networks = record.network?.attachments.map((a) => a.network) ?? record.config.network.networks.map((n) => n.name);
    if (networks.length > 0) await manager.refreshHosts(networks).catch((err: unknown) => stores.logger.warn({ err }, 'cannot refresh hosts files'));
  };
  await Promise.all([rootfs, network()]);
  for (const err of errors) stores.logger.warn({ err, container: record.id }, 'cleanup incomplete');
  if (errors.length > 0) throw errors[0];
}

/** Deletes a stopped container: its runc state, rootfs, anonymous volumes (with `volumes`), and directory. */
export async function removeContainer(stores: Stores, record: ContainerRecord, options: { volumes: boolean; runcDeleted?: boolean }): Promise<void> {
  // From cleanupContainer everything is released already; from rm, a working container's rootfs
  // (or what a failed clean-up left) still is not.
  if (!options.runcDeleted) {
    await runcDeleteForce(stores, record.id);
    await unmountRootfs(stores, record);
    if (record.network) await releaseResources(stores, record).catch(() => undefined);
  }
  await removeContainerDir(stores, record.id);
  const anonymous = record.config.mounts.filter((m) => m.type === 'volume' && m.anonymous).map((m) => m.source);
  if (options.volumes && anonymous.length > 0) {
    const { createVolumeStore } = await import('../volume/index.js');
    const volumes = createVolumeStore(stores);
    for (const name of anonymous) {
      await volumes.remove(name).catch((err: unknown) => stores.logger.warn({ err, volume: name }, 'cannot remove anonymous volume'));
    }
  }
  await rm(containerPaths(stores, record.id).lock, { force: true });
}
