// `tsbuild run` in the foreground: an overlay of the image's snapshots with the container's own
// upper dir, a runtime spec from the image config and the flags, runc with stdio passed through (a
// real terminal when stdin is one), and the container's exit status as ours.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { TsbuildError } from '../errors.js';
import { ensureSnapshots, loadImage, lowerDirs } from '../image/image.js';
import type { ContainerRuntime } from '../runtime/index.js';
import { checkExecutable, generateSpec, resolveUser } from '../runtime/index.js';
import { mountOverlay } from '../snapshot/mount.js';
import type { Stores } from '../store/root.js';
import type { ImageRecord } from '../image/store.js';
import { DEFAULT_PATH } from '../oci/types.js';
import type { RegistryFlags } from '../remote/connect.js';
import type { PullPolicy } from '../remote/policy.js';
import type { Progress } from '../remote/types.js';
import { writeHostFiles } from './host-files.js';
import { prepareWorkingDir } from './working-dir.js';
import { containerDir, createContainerRecord, removeContainerDir, updateContainerRecord } from './records.js';

export interface RunOptions {
  image: string;
  command: string[];
  name?: string;
  env: string[];
  workdir?: string;
  user?: string;
  entrypoint?: string;
  network: 'host' | 'none';
  remove: boolean;
  signal?: AbortSignal;
  /** Pull policy for the image (podman's default: missing) and the registry flags for a pull. */
  pull?: { policy: PullPolicy; flags?: RegistryFlags; progress?: Progress };
}

export async function runContainer(stores: Stores, runtime: ContainerRuntime, options: RunOptions): Promise<number> {
  const record = await findRunImage(stores, options);
  const image = await loadImage(stores, record);
  const config = image.config.config;
  const args = containerArgs(config.Entrypoint, config.Cmd, options.entrypoint, options.command);
  if (args.length === 0) {
    throw new TsbuildError('INVALID_ARGUMENT', `no command specified: image "${options.image}" has no CMD or ENTRYPOINT`, { exitCode: 125 });
  }
  const env = mergeEnv(config.Env ?? [], options.env);
  const container = await createContainerRecord(stores, { name: options.name, image: options.image, imageId: record.id, command: args });
  const dir = containerDir(stores, container.id);
  try {
    await ensureSnapshots(stores, image.layers);
    const upper = path.join(dir, 'upper');
    await mkdir(upper, { recursive: true, mode: 0o755 });
    const mount = await mountOverlay({ lowers: lowerDirs(stores, image.layers), upper, mountsDir: stores.layout.mounts });
    try {
      const cwd = options.workdir ?? (config.WorkingDir || '/');
      const user = await resolveUser(mount.target, options.user ?? config.User).catch((err: unknown) => {
        throw new TsbuildError('INVALID_ARGUMENT', (err as Error).message, { exitCode: 125, cause: err });
      });
      await prepareWorkingDir(mount.target, cwd).catch((err: unknown) => {
        throw new TsbuildError('INVALID_ARGUMENT', (err as Error).message, { exitCode: 125, cause: err });
      });
      const missing = await checkExecutable(mount.target, args[0]!, env, cwd);
      if (missing) throw new TsbuildError('RUNTIME', `${missing}`, { exitCode: 127 });
      const terminal = Boolean(process.stdin.isTTY && process.stdout.isTTY);
      const spec = generateSpec({
        rootfs: mount.target,
        args,
        env: terminal && !env.some((e) => e.startsWith('TERM=')) ? [...env, 'TERM=xterm'] : env,
        cwd,
        user,
        hostname: container.id.slice(0, 12),
        terminal,
        network: options.network,
        mounts: await writeHostFiles(dir, container.id.slice(0, 12)),
      });
      await updateContainerRecord(stores, { ...container, state: 'running', ownerPid: process.pid, startedAt: new Date().toISOString() });
      await mkdir(path.join(dir, 'bundle'), { recursive: true });
      let exitCode: number | undefined;
      try {
        exitCode = await runtime.run(container.id, path.join(dir, 'bundle'), spec, { stdin: 'inherit', stdout: 'inherit', stderr: 'inherit' }, options.signal);
        return exitCode;
      } finally {
        // However the run ended (an interrupt kills the container), it is not running any more: a
        // record left "running" could never be removed. Killed on abort means SIGKILL's status;
        // any other failure is ours, podman's 125.
        exitCode ??= options.signal?.aborted ? 128 + 9 : 125;
        await updateContainerRecord(stores, { ...container, state: 'exited', exitCode, finishedAt: new Date().toISOString() });
      }
    } finally {
      await mount.unmount();
    }
  } finally {
    if (options.remove) await removeContainerDir(stores, container.id);
  }
}

/** The image to run: local, or pulled under the --pull policy (failures exit 125, podman's "tsbuild failed"). */
async function findRunImage(stores: Stores, options: RunOptions): Promise<ImageRecord> {
  const policy = options.pull?.policy ?? 'missing';
  if (policy === 'missing' || policy === 'never') {
    const local = await stores.images.find(options.image);
    if (local) return local;
    if (policy === 'never') {
      throw new TsbuildError('NOT_FOUND', `image "${options.image}" not found in local storage (--pull=never)`, { exitCode: 125 });
    }
  }
  // Loaded only when a registry may be needed: running local images stays quick to start.
  const { resolveImage } = await import('../remote/policy.js');
  return resolveImage(stores, options.image, {
    ...options.pull?.flags,
    policy,
    progress: options.pull?.progress,
    logger: stores.logger,
    signal: options.signal,
  });
}

/** Docker's rule: ENTRYPOINT + (run arguments, else CMD); --entrypoint replaces ENTRYPOINT and drops CMD. */
export function containerArgs(
  entrypoint: string[] | null | undefined,
  cmd: string[] | null | undefined,
  entrypointFlag: string | undefined,
  command: readonly string[],
): string[] {
  if (entrypointFlag !== undefined) {
    const ep = entrypointFlag.startsWith('[') ? (JSON.parse(entrypointFlag) as string[]) : entrypointFlag === '' ? [] : [entrypointFlag];
    return [...ep, ...command];
  }
  return [...(entrypoint ?? []), ...(command.length > 0 ? command : (cmd ?? []))];
}

export function mergeEnv(base: readonly string[], overrides: readonly string[]): string[] {
  const env = new Map<string, string>();
  for (const entry of [...base, ...overrides]) {
    const eq = entry.indexOf('=');
    if (eq < 0) {
      // -e NAME passes the variable from our environment, as docker/podman do.
      const value = process.env[entry];
      if (value !== undefined) env.set(entry, value);
    } else {
      env.set(entry.slice(0, eq), entry.slice(eq + 1));
    }
  }
  if (!env.has('PATH')) env.set('PATH', DEFAULT_PATH);
  return [...env].map(([k, v]) => `${k}=${v}`);
}
