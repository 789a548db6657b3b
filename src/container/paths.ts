// Where a container's files live: containers/<id>/ holds the record, the overlay upper dir, the
// rootfs mount point, the runc bundle, the generated /etc files, the log and the monitor's files.
import path from 'node:path';
import type { Stores } from '../store/root.js';

export interface ContainerPaths {
  dir: string;
  record: string;
  upper: string;
  /** Mount point of the merged root filesystem (mounted while running or `tsbuild mount`ed). */
  rootfs: string;
  bundle: string;
  /** json-file log: {"log":"...","stream":"stdout","time":"..."} lines; rotated to log.1 */
  log: string;
  /** Written by the monitor at each (re)start: {"monitorPid","containerPid","startedAt","restartCount"}. */
  monitorState: string;
  /** Written by the monitor at each exit: {"exitCode","finishedAt","oomKilled"?}. */
  exit: string;
  /** Present when the user stopped the container: the monitor must not restart it. */
  stopFlag: string;
  /** /etc/hosts, /etc/resolv.conf, /etc/hostname sources (written by host-files.ts). */
  hosts: string;
  resolvConf: string;
  hostname: string;
  lock: string;
}

export function containerPaths(stores: Stores, id: string): ContainerPaths {
  const dir = path.join(stores.layout.containers, id);
  return {
    dir,
    record: path.join(dir, 'container.json'),
    upper: path.join(dir, 'upper'),
    rootfs: path.join(dir, 'rootfs'),
    bundle: path.join(dir, 'bundle'),
    log: path.join(dir, 'ctr.log'),
    monitorState: path.join(dir, 'monitor.json'),
    exit: path.join(dir, 'exit.json'),
    stopFlag: path.join(dir, 'stop-requested'),
    hosts: path.join(dir, 'hosts'),
    resolvConf: path.join(dir, 'resolv.conf'),
    hostname: path.join(dir, 'hostname'),
    lock: path.join(stores.layout.locks, `container-${id}.lock`),
  };
}
