// Start-up recovery: everything a crashed tsbuild process can leave behind is named with its pid
// (temp files and dirs `.<kind>-<pid>-<rand>`, mount points `<pid>-<rand>`, lock files). Whatever
// belongs to a process that no longer runs is removed (store/leftovers.ts finds it), so a crash at
// any point leaves nothing visible for long.
import { rm, rmdir } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../log.js';
import * as sys from '../sys/helper.js';
import { execFile } from '../util/exec.js';
import { listNames, readJson } from '../util/fs.js';
import { mountedTargets } from '../util/mounts.js';
import { identityAlive } from '../util/process-identity.js';
import { buildContainerOwner, deadTempFiles, mountOwner, staleLocks } from './leftovers.js';
import { removeStaleLeases } from './lease.js';
import { processAlive, removeStaleLock } from './lock.js';
import type { RootLayout, Stores } from './root.js';

export async function recoverRoot(
  dirs: Pick<RootLayout, 'root' | 'tmp' | 'mounts' | 'locks' | 'runcState' | 'containers' | 'runMounts'>,
  logger: Logger,
): Promise<void> {
  // Containers first: their root filesystems are among the mounts removed below.
  await deleteOrphanContainers(dirs, logger);
  const mounted = await mountedTargets();
  for (const name of listNames(dirs.mounts)) {
    const owner = mountOwner(name);
    if (owner === undefined || processAlive(owner)) continue;
    const target = path.join(dirs.mounts, name);
    if (mounted.has(target)) {
      logger.info({ target }, 'unmounting leftover mount of a dead process');
      await sys.detachMount(target).catch((err: unknown) => logger.warn({ err, target }, 'cannot unmount leftover'));
    }
    await rmdir(target).catch(() => undefined);
  }
  for (const leftover of await deadTempFiles(dirs)) {
    logger.info({ path: leftover.path }, 'removing leftover temp file of a dead process');
    await rm(leftover.path, { recursive: true, force: true });
    await removeUnbornContainer(dirs.containers, leftover.path);
  }
  for (const lock of await staleLocks(dirs.locks)) {
    logger.info({ lock: lock.path }, 'removing lock file of a dead process');
    await removeStaleLock(lock.path, lock.pid);
  }
  await removeStaleLeases(dirs.root);
}

/**
 * A container dir whose record's first write died half-way holds nothing else: with the temp
 * file gone it is empty, and no other process can be creating it (IDs are random), so it goes too.
 */
async function removeUnbornContainer(containersDir: string, removed: string): Promise<void> {
  const dir = path.dirname(removed);
  if (path.dirname(dir) !== containersDir) return;
  await rmdir(dir).catch(() => undefined);
}

/**
 * The network of a bud RUN killed with its build (bud --network private|NAME) has no container
 * record; the network code recognises it by its owner's pid. Runs after recoverRoot, which has
 * deleted the RUN's container; the network code is loaded only when some attachment exists at all.
 */
export async function releaseOrphanedNetworks(stores: Stores): Promise<void> {
  if (listNames(path.join(stores.layout.root, 'networks', 'cache')).length === 0) return;
  const { releaseOrphanedAttachments } = await import('../network/index.js');
  await releaseOrphanedAttachments(stores);
}

/**
 * runc does not die with the tsbuild process that started it, so after a crash or SIGKILL its
 * container may still run. Build containers carry the owner's pid in their name. Containers of the
 * container manager live as long as their monitor (a detached one outlives every CLI), identified
 * by pid, /proc start time and boot id against pid reuse; a foreground one also dies with its CLI
 * (ownerPid). The record itself is settled (exit code, network, rootfs) by the container manager
 * when it is next read.
 */
async function deleteOrphanContainers(dirs: { runcState: string; containers: string }, logger: Logger): Promise<void> {
  for (const id of listNames(dirs.runcState)) {
    const owner = buildContainerOwner(id);
    const orphan = owner !== undefined ? !processAlive(owner) : await containerOrphaned(dirs.containers, id);
    if (!orphan) continue;
    logger.info({ container: id }, 'deleting a container left by a dead process');
    await execFile(['runc', '--root', dirs.runcState, 'delete', '--force', id]).catch((err: unknown) =>
      logger.warn({ err, container: id }, 'cannot delete leftover container'),
    );
  }
}

interface RecordProcesses {
  monitor?: { pid: number; startTime: number; bootId: string };
  ownerPid?: number;
}

async function containerOrphaned(containersDir: string, id: string): Promise<boolean> {
  if (!/^[a-f0-9]{64}$/.test(id)) return false;
  const record = await readJson<RecordProcesses>(path.join(containersDir, id, 'container.json')).catch(() => undefined);
  // No record (yet): a container being created right now, or one whose record is gone; leave it.
  if (!record) return false;
  if (record.ownerPid !== undefined && !processAlive(record.ownerPid)) return true;
  if (!record.monitor) return false;
  return !identityAlive(record.monitor);
}
