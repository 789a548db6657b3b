// RUN --mount=type=secret: a value given with bud --secret, as a read-only file (mode 0400 by
// default) and/or an environment variable of this RUN. The file lives in the RUN's scratch dir and
// goes with it; the value never reaches a layer, the history, the cache key, a log or an error.
import { chmod, chown, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { TsbuildError } from '../../errors.js';
import type { RunMount } from './parse.js';
import { bindSpec, type MountEnv, type PreparedMount } from './types.js';

export async function secretMount(m: RunMount, env: MountEnv, index: number): Promise<PreparedMount> {
  const value = env.flags.secrets.get(m.id);
  if (value === undefined) return { mounts: [] }; // optional and not given (required ones are checked up front)
  const prepared: PreparedMount = { mounts: [], env: m.env === undefined ? [] : [`${m.env}=${value.toString('utf8')}`] };
  if (m.target !== undefined) {
    const dir = path.join(env.scratch, 'secrets');
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const file = path.join(dir, String(index));
    await writeFile(file, value, { mode: 0o600 });
    await chown(file, m.uid, m.gid);
    await chmod(file, m.mode);
    prepared.mounts.push(bindSpec(file, m.target, true));
  }
  return prepared;
}

/** A required secret or ssh agent the build was not given: fail before any work, naming the id. */
export function checkRequired(m: RunMount, secrets: ReadonlyMap<string, unknown>, ssh: ReadonlyMap<string, unknown>, where: string): void {
  if (!m.required) return;
  if (m.type === 'secret' && !secrets.has(m.id)) {
    throw new TsbuildError('INVALID_ARGUMENT', `${where}: RUN --mount=type=secret: secret "${m.id}" is required but was not given`, {
      hint: `pass it with --secret id=${m.id},src=FILE (or env=VARIABLE)`,
    });
  }
  if (m.type === 'ssh' && !ssh.has(m.id)) {
    throw new TsbuildError('INVALID_ARGUMENT', `${where}: RUN --mount=type=ssh: ssh agent "${m.id}" is required but was not given`, {
      hint: m.id === 'default' ? 'pass your agent with --ssh default (uses $SSH_AUTH_SOCK)' : `pass it with --ssh ${m.id}=SOCKET`,
    });
  }
}
