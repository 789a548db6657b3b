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
  /** The FIFO that holds a start until the network is up (start-gate.ts); only while starting. */
  startGate: string;
  /** /etc/hosts, /etc/resolv.conf, /etc/hostname sources (written by host-files.ts). */
  hosts: string;
  resolvConf: string;
  hostname: string;
  lock: string;
}

export function containerPaths(stores: Stores, id: string): ContainerPaths {
  const dir = path.join(stores.layout.containers, id);
  // Plain concatenation below: dir is normalized and the names are fixed. A command computes these
  // paths dozens of times, and path.join of cold code cost a run --rm ~6 ms (CPU profile).
  const file = (name: string): string => `${dir}/${name}`;
  return {
    dir,
    record: file('container.json'),
    upper: file('upper'),
    rootfs: file('rootfs'),
    bundle: file('bundle'),
    log: file('ctr.log'),
    monitorState: file('monitor.json'),
    exit: file('exit.json'),
    stopFlag: file('stop-requested'),
    startGate: file('start-gate'),
    hosts: file('hosts'),
    resolvConf: file('resolv.conf'),
    hostname: file('hostname'),
    lock: path.join(stores.layout.locks, `container-${id}.lock`),
  };
}
