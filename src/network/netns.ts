// Network namespaces made with `ip netns add`: a bind mount at /run/netns/<name> that keeps the
// namespace alive without a process in it, so the CNI plugins can set it up before the container
// starts and tear it down after it has gone. /run is a tmpfs: after a reboot they are all gone.
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
 * Creates the namespace; returns its path. Its loopback is still down: loopbackUp, which the
 * caller runs alongside the CNI chain (and deletes the namespace when it fails).
 */
export async function createNetns(containerId: string): Promise<string> {
  const name = netnsName(containerId);
  // A leftover of a crashed start holds nothing we want; start afresh.
  if (await pathExists(netnsPath(containerId))) await deleteNetns(containerId);
  await ipCommand(['netns', 'add', name]);
  return netnsPath(containerId);
}

/** Brings the namespace's loopback up (runc does it only for namespaces it makes itself). */
export async function loopbackUp(containerId: string): Promise<void> {
  await ipCommand(['-n', netnsName(containerId), 'link', 'set', 'lo', 'up']);
}

/** Deletes the namespace; a missing one is fine. */
export async function deleteNetns(containerId: string): Promise<void> {
  if (!(await pathExists(netnsPath(containerId)))) return;
  await ipCommand(['netns', 'delete', netnsName(containerId)]);
}
