// /etc/hosts of containers on bridge networks: their own name, and every peer's name, aliases and
// short ID on each network they share, kept current as peers come and go. The file is bind-mounted
// into the container, so it is rewritten in place (same inode), never replaced by a rename.
import { open } from 'node:fs/promises';
import type { ContainerRecord } from '../container/types.js';
import { errnoCode } from '../errors.js';
import type { Stores } from '../store/root.js';
import { hostsPath, id12, isRunningOnNetworks } from './containers.js';

/** The hosts file of `self` (whose attachments are `self.network`), with `others` as candidate peers. */
export function renderHosts(self: ContainerRecord, others: readonly ContainerRecord[]): string {
  const lines = ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback'];
  const hostname = self.config.hostname || id12(self.id);
  const own = self.network?.attachments ?? [];
  const ownNames = unique([hostname, self.name]);
  if (own.length > 0) for (const a of own) lines.push(`${a.ip}\t${ownNames.join(' ')}`);
  else lines.push(`127.0.1.1\t${ownNames.join(' ')}`);
  const myNetworks = new Set(own.map((a) => a.network));
  for (const peer of others) {
    if (peer.id === self.id || !isRunningOnNetworks(peer)) continue;
    for (const a of peer.network!.attachments) {
      if (!myNetworks.has(a.network)) continue;
      const hostnameOfPeer = peer.config.hostname && peer.config.hostname !== peer.name ? [peer.config.hostname] : [];
      lines.push(`${a.ip}\t${unique([peer.name, ...a.aliases, ...hostnameOfPeer, id12(peer.id)]).join(' ')}`);
    }
  }
  for (const h of self.config.network.addHosts) lines.push(`${h.ip}\t${h.name}`);
  return `${lines.join('\n')}\n`;
}

function unique(items: readonly string[]): string[] {
  return [...new Set(items.filter((i) => i !== ''))];
}

/**
 * Writes the content into the existing file: write at offset 0, then cut to length (no moment
 * where a reader inside the container sees an empty file). A missing file is created.
 */
export async function writeInPlace(file: string, content: string): Promise<void> {
  let handle;
  try {
    handle = await open(file, 'r+');
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw err;
    handle = await open(file, 'w', 0o644);
  }
  try {
    const data = Buffer.from(content);
    await handle.write(data, 0, data.length, 0);
    await handle.truncate(data.length);
  } finally {
    await handle.close();
  }
}

/** Rewrites the hosts file of every running container attached to one of `networks`. */
export async function refreshHostsOf(stores: Stores, all: readonly ContainerRecord[], networks: readonly string[]): Promise<void> {
  const wanted = new Set(networks);
  for (const record of all) {
    if (!isRunningOnNetworks(record)) continue;
    if (!record.network!.attachments.some((a) => wanted.has(a.network))) continue;
    try {
      await writeInPlace(hostsPath(stores, record.id), renderHosts(record, all));
    } catch (err) {
      // A container being removed right now: its directory is going away; nothing to keep current.
      if (errnoCode(err) !== 'ENOENT') throw err;
    }
  }
}
