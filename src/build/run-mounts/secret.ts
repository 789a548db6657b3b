// RUN --mount=type=secret: a value given with bud --secret, as a read-only file (mode 0400 by
// default) and/or an environment variable of this RUN. Secret files live on a tmpfs of the RUN's
// own, mounted where crash recovery unmounts leftovers, so a value never touches the disk (a RUN
// with an env secret has its runtime bundle there too: config.json holds the environment); it never
// reaches a layer, the history, the cache key, a log or an error either.
import { randomBytes } from 'node:crypto';
import { chmod, chown, mkdir, rmdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { TsbuildError } from '../../errors.js';
import * as sys from '../../sys/helper.js';
import { execFile } from '../../util/exec.js';
import type { RunMount } from './parse.js';
import { bindSpec, type MountEnv, type PreparedMount } from './types.js';

const secretDirs = new WeakMap<MountEnv, Promise<string>>();

export async function secretMount(m: RunMount, env: MountEnv, index: number): Promise<PreparedMount> {
  const value = env.flags.secrets.get(m.id);
  if (value === undefined) return { mounts: [] }; // optional and not given (required ones are checked up front)
  const prepared: PreparedMount = { mounts: [], env: m.env === undefined ? [] : [`${m.env}=${value.toString('utf8')}`] };
  // One tmpfs per RUN for everything that holds a value: the secret files, and, for an env secret,
  // the runtime bundle, whose config.json lists the RUN's environment.
  const dir = (): Promise<string> => {
    let made = secretDirs.get(env);
    if (!made) secretDirs.set(env, (made = secretsTmpfs(env)));
    return made;
  };
  if (m.env !== undefined) prepared.privateDir = await dir();
  if (m.target !== undefined) {
    const file = path.join(await dir(), String(index));
    await writeFile(file, value, { mode: 0o600 });
    await chown(file, m.uid, m.gid);
    await chmod(file, m.mode);
    prepared.mounts.push(bindSpec(file, m.target, true));
  }
  return prepared;
}

/** A tmpfs for this RUN's secret files (and maybe its bundle), big enough for every secret the build was given and a spec. */
async function secretsTmpfs(env: MountEnv): Promise<string> {
  const total = [...env.flags.secrets.values()].reduce((n, v) => n + v.length + 4096, 0);
  const dir = path.join(env.stores.layout.mounts, `${process.pid}-${randomBytes(6).toString('hex')}`);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  try {
    await execFile(['mount', '-t', 'tmpfs', '-o', `mode=0700,nosuid,nodev,noexec,size=${total + 1024 * 1024}`, 'tmpfs', dir]);
  } catch (err) {
    await rmdir(dir).catch(() => undefined);
    throw err;
  }
  env.defer(async () => {
    await sys.unmount(dir);
    await rmdir(dir);
  });
  return dir;
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
