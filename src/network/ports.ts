// Published ports: choosing host ports for hostPort 0 and refusing ports already taken, before
// anything is set up. portmap's DNAT rules never bind a socket, so "taken" means any of: a socket
// bound on the host (we try to bind it), another container of this root that publishes it, or a
// CNI DNAT rule of any root (iptables-save) for it.
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { TsbuildError } from '../errors.js';
import type { ContainerRecord, PortMapping } from '../container/types.js';
import { execFile } from '../util/exec.js';

/** Binds hostIp:port (port 0: any free one) and releases it; returns the port, or undefined when taken. */
export async function tryBind(protocol: 'tcp' | 'udp', hostIp: string, port: number): Promise<number | undefined> {
  const host = hostIp === '' ? '0.0.0.0' : hostIp;
  if (protocol === 'udp') {
    const socket = createSocket('udp4');
    return new Promise((resolve) => {
      socket.once('error', () => {
        socket.close();
        resolve(undefined);
      });
      socket.bind(port, host, () => {
        const bound = socket.address().port;
        socket.close(() => resolve(bound));
      });
    });
  }
  const server = createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(undefined));
    server.listen({ port, host, exclusive: true }, () => {
      const address = server.address();
      const bound = typeof address === 'object' && address ? address.port : undefined;
      server.close(() => resolve(bound));
    });
  });
}

/** Host ports of CNI portmap DNAT rules on this machine ("tcp/8080"). */
export async function portmapRulePorts(): Promise<Set<string>> {
  const out = new Set<string>();
  const { stdout } = await execFile(['iptables-save', '-t', 'nat']).catch(() => ({ stdout: '' }));
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('-A CNI-DN-')) continue;
    const proto = /-p (tcp|udp)/.exec(line)?.[1];
    const port = /--dport (\d+)/.exec(line)?.[1];
    if (proto && port) out.add(`${proto}/${port}`);
  }
  return out;
}

/**
 * The container's port list with every host port fixed. Throws "port N is already in use" (exit
 * 125) for a taken one; nothing has been changed at that point.
 */
export async function resolvePorts(requested: readonly PortMapping[], others: readonly ContainerRecord[], selfId: string): Promise<PortMapping[]> {
  if (requested.length === 0) return [];
  const used = new Set<string>();
  for (const other of others) {
    if (other.id === selfId || other.state !== 'running') continue;
    for (const p of other.network?.ports ?? []) used.add(`${p.protocol}/${p.hostPort}`);
  }
  for (const key of await portmapRulePorts()) used.add(key);
  const out: PortMapping[] = [];
  for (const port of requested) {
    const key = (n: number): string => `${port.protocol}/${n}`;
    if (port.hostPort === 0) {
      let chosen: number | undefined;
      for (let attempt = 0; attempt < 20 && chosen === undefined; attempt++) {
        const candidate = await tryBind(port.protocol, port.hostIp, 0);
        if (candidate !== undefined && !used.has(key(candidate))) chosen = candidate;
      }
      if (chosen === undefined) throw new TsbuildError('RUNTIME', `no free host port for container port ${port.containerPort}/${port.protocol}`, { exitCode: 125 });
      used.add(key(chosen));
      out.push({ ...port, hostPort: chosen });
      continue;
    }
    if (used.has(key(port.hostPort)) || (await tryBind(port.protocol, port.hostIp, port.hostPort)) === undefined) {
      const where = port.hostIp ? ` on ${port.hostIp}` : '';
      throw new TsbuildError('RUNTIME', `port ${port.hostPort}${port.protocol === 'udp' ? '/udp' : ''} is already in use${where}`, {
        exitCode: 125,
        hint: 'publish another host port, or stop what listens on it',
      });
    }
    used.add(key(port.hostPort));
    out.push({ ...port });
  }
  return out;
}
