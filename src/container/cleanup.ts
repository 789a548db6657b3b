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
    return next;
  });
  if (record && remove) {
    await removeContainer(stores, record, { volumes: true });
    return undefined;
  }
  return record;
}

/** Rootfs (unless `tsbuild mount` holds it), network namespace and attachments, peers' hosts files. */
export async function releaseResources(stores: Stores, record: ContainerRecord): Promise<void> {
  const errors: unknown[] = [];
  if (!record.userMounted) await unmountRootfs(stores, record).catch((err: unknown) => errors.push(err));
  if (record.network && (record.network.namespace !== '' || record.network.attachments.length > 0) && record.config.network.mode === 'bridge') {
    const { createNetworkManager } = await import('../network/index.js');
    const manager = createNetworkManager(stores);
    await manager.tearDown(record).catch((err: unknown) => errors.push(err));
    const networks = record.network.attachments.map((a) => a.network);
    if (networks.length > 0) await manager.refreshHosts(networks).catch((err: unknown) => stores.logger.warn({ err }, 'cannot refresh hosts files'));
  }
  for (const err of errors) stores.logger.warn({ err, container: record.id }, 'cleanup incomplete');
  if (errors.length > 0) throw errors[0];
}

/** Deletes a stopped container: its runc state, rootfs, anonymous volumes (with `volumes`), and directory. */
export async function removeContainer(stores: Stores, record: ContainerRecord, options: { volumes: boolean }): Promise<void> {
  await runcDeleteForce(stores, record.id);
  await unmountRootfs(stores, record);
  if (record.network) await releaseResources(stores, record).catch(() => undefined);
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
