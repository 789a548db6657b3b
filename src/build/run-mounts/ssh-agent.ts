// bud --ssh ID=KEYFILE[,KEYFILE...] (buildx takes key files as well as agent sockets): a private
// ssh-agent for this build, holding just those keys, that RUN --mount=type=ssh forwards like any
// other agent. Debian's openssh-client runs it in the foreground (-D) as our child, on a socket in a
// private 0700 temp dir, so stopping it is a kill of that child and the removal of that dir.
import { spawn } from 'node:child_process';
import { lstat, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { TsbuildError, errnoCode } from '../../errors.js';
import { execFile } from '../../util/exec.js';

export interface PrivateAgent {
  socket: string;
  stop(): Promise<void>;
}

const START_TIMEOUT_MS = 5000;

export async function startKeyAgent(keys: readonly string[], flag: string): Promise<PrivateAgent> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-agent-'));
  const socket = path.join(dir, 'agent.sock');
  const env = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' };
  const child = spawn('ssh-agent', ['-D', '-a', socket], { stdio: 'ignore', env });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()).once('error', () => resolve()));
  let spawnError: Error | undefined;
  child.once('error', (err) => (spawnError = err));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (!(await lstat(socket).then((s) => s.isSocket(), () => false))) {
      if (spawnError) {
        const missing = errnoCode(spawnError) === 'ENOENT';
        throw new TsbuildError('RUNTIME', `${flag}: cannot start ssh-agent: ${missing ? 'it is not installed' : spawnError.message}`, {
          ...(missing ? { hint: 'install openssh-client' } : {}),
        });
      }
      if (child.exitCode !== null || Date.now() > deadline) throw new TsbuildError('RUNTIME', `${flag}: ssh-agent did not start`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    try {
      // No terminal and no askpass: a key with a passphrase fails instead of prompting.
      await execFile(['ssh-add', '-q', ...keys], { env: { ...env, SSH_AUTH_SOCK: socket, SSH_ASKPASS_REQUIRE: 'never' }, input: '' });
    } catch (err) {
      const detail = (err as Error).message.split('\n').filter((l) => l.trim() !== '').pop() ?? '';
      throw new TsbuildError('INVALID_ARGUMENT', `${flag}: cannot load the key into an ssh agent: ${detail}`, { hint: 'key files must be private keys without a passphrase; otherwise load them into your agent and pass its socket' });
    }
    return { socket, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
