// Network namespaces as `ip netns add` makes them: a bind mount at /run/netns/<name> that keeps the
// namespace alive without a process in it, so the CNI plugins can set it up before the container
// starts and tear it down after it has gone. /run is a tmpfs: after a reboot they are all gone.
// The system helper (src/sys/) makes and removes them; `ip` is still what the bridges are made with.
import * as sys from '../sys/helper.js';
import { execFile } from '../util/exec.js';
import { pathExists } from '../util/fs.js';

export const NETNS_DIR = '/run/netns';

export function netnsName(containerId: string): string {
  return `tsbuild-${containerId.slice(0, 12)}`;
}

export function netnsPath(containerId: string): string {
  return `${NETNS_DIR}/${netnsName(containerId)}`;
}

export async function ipCommand(args: readonly string[]): Promise<string> {
  return (await execFile(['ip', ...args])).stdout;
}

/**
 * Creates the namespace with its loopback up (runc brings it up only in namespaces it makes
 * itself); returns its path.
 */
export async function createNetns(containerId: string): Promise<string> {
  // A leftover of a crashed start holds nothing we want; start afresh.
  if (await pathExists(netnsPath(containerId))) await deleteNetns(containerId);
  await sys.addNetns(NETNS_DIR, netnsName(containerId));
  return netnsPath(containerId);
}

/** Deletes the namespace; a missing one is fine. */
export async function deleteNetns(containerId: string): Promise<void> {
  if (!(await pathExists(netnsPath(containerId)))) return;
  await sys.deleteNetns(NETNS_DIR, netnsName(containerId));
}
