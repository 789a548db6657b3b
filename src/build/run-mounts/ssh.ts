// RUN --mount=type=ssh: forwards an ssh agent given with bud --ssh. The container gets a socket of
// its own (mode 0600, owner uid:gid as the mount says) served by this process, which relays each
// connection to the agent: the host socket's permissions and path stay the host's business.
import { chmod, chown } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { TsbuildError } from '../../errors.js';
import type { RunMount } from './parse.js';
import { bindSpec, type MountEnv, type PreparedMount } from './types.js';

/** sun_path holds 108 bytes with the terminating NUL. */
const MAX_SOCKET_PATH = 107;

export async function sshMount(m: RunMount, env: MountEnv, index: number): Promise<PreparedMount> {
  const agent = env.flags.ssh.get(m.id);
  if (agent === undefined) return { mounts: [] }; // optional and not given
  const socket = path.join(env.scratch, `ssh-${index}.sock`);
  if (Buffer.byteLength(socket) > MAX_SOCKET_PATH) {
    throw new TsbuildError('RUNTIME', `${env.where}: RUN --mount=type=ssh: the storage root path is too long for a socket (${socket})`);
  }
  const connections = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(agent);
    connections.add(client).add(upstream);
    const drop = (): void => {
      client.destroy();
      upstream.destroy();
      connections.delete(client);
      connections.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(socket, resolve));
  env.defer(async () => {
    for (const c of connections) c.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  await chown(socket, m.uid, m.gid);
  await chmod(socket, m.mode);
  return { mounts: [bindSpec(socket, m.target!, false)] };
}
