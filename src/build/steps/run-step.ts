// RUN: a fresh runc container on an overlay of the stage's snapshots with a new, empty upper dir.
// Afterwards the upper dir is the new layer. Mount points that runc had to create (because the image
// lacks /proc, /dev, /etc/hosts, ...) are removed first so they never end up in the layer.
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, rm, rmdir, unlink } from 'node:fs/promises';
import path from 'node:path';
import { TsbuildError } from '../../errors.js';
import { appendLayer, ensureSnapshots, lowerDirs, type LayerRef } from '../../image/image.js';
import { sha256Digest } from '../../oci/types.js';
import type { BuildCache } from '../cache.js';
import type { CommandForm } from '../../containerfile/index.js';
import { checkExecutable, generateSpec, resolveGroups, resolveUser, type ContainerResources, type ContainerRuntime, type SpecMount } from '../../runtime/index.js';
import { writeHostFiles, type HostFileOptions } from '../../container/host-files.js';
import { prepareWorkingDir } from '../../container/working-dir.js';
import { mountOverlay } from '../../snapshot/mount.js';
import type { Stores } from '../../store/root.js';
import { DEFAULT_SHELL, runEnvironment, type StageState } from '../stage-state.js';
import { commitLayerDir } from '../layer-commit.js';
import type { BuildNetwork } from '../session.js';
import { setUpRunNetwork, type RunNetwork } from './run-network.js';
import { pathExists, tempName } from '../../util/fs.js';

export interface RunStepContext {
  /** Undefined when the build does not use the cache (--no-cache, --layers=false). */
  cache: BuildCache | undefined;
  stores: Stores;
  runtime: ContainerRuntime;
  /** Part of the cache key as given; a tsbuild network gets a namespace of this RUN's own. */
  network: BuildNetwork;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  signal?: AbortSignal;
  /** "Containerfile:7", for messages. */
  where: string;
  text: string;
  /**
   * Mounts of this RUN only (RUN --mount, heredoc scripts, bud --volume): never part of the layer.
   * Mount points they need that the image lacks are created and removed again, like runc's own.
   */
  extraMounts?: SpecMount[];
  /**
   * Mounts resolved once the step's rootfs is mounted (RUN --mount, bud --volume: their targets
   * resolve inside it), with variables for the RUN's environment; released after the RUN.
   */
  prepareMounts?: (rootfs: string, scratch: string) => Promise<PreparedMounts>;
  /** bud --cap-add/--cap-drop; undefined: the default set. */
  capabilities?: string[];
  /** RUN --security=insecure. */
  privileged?: boolean;
  hostFiles?: HostFileOptions;
  /** bud --memory, --ulimit, --device, --group-add, ... */
  resources?: ContainerResources;
  /** bud --stdin: the RUN reads tsbuild's standard input. */
  stdin?: boolean;
  /** More of what decides the result, for the cache key (see run-mounts/index.ts); never secret values. */
  keyParts?: unknown;
}

export interface PreparedMounts {
  mounts: SpecMount[];
  env: string[];
  release(): Promise<void>;
  /** Where the bundle goes instead of the scratch dir: a tmpfs, when the spec carries a secret. */
  privateDir?: string;
}

/** Argv of a RUN/CMD/ENTRYPOINT command form under the stage's SHELL. */
export function commandArgs(command: CommandForm, shell: readonly string[] | undefined): string[] {
  return command.form === 'exec' ? command.args : [...(shell ?? DEFAULT_SHELL), command.command];
}

export interface RunStepResult {
  layers: LayerRef[];
  key: string;
  cached: boolean;
  created: string;
}

/**
 * RUN through the cache: the key covers the command under the stage's SHELL, the environment the
 * command sees (ENV and ARGs), the user, the working directory and the network.
 */
export async function cachedRunStep(ctx: RunStepContext, state: StageState, command: CommandForm): Promise<RunStepResult> {
  const c = state.config.config;
  const key = sha256Digest(
    JSON.stringify([
      state.key,
      'RUN',
      commandArgs(command, c.Shell),
      runEnvironment(state),
      c.User ?? '',
      c.WorkingDir ?? '',
      ctx.network,
      // Only when there is something: a plain RUN keeps the key it always had.
      ...(ctx.keyParts === undefined ? [] : [ctx.keyParts]),
    ]),
  );
  const hit = ctx.cache ? await ctx.cache.lookup(key) : undefined;
  if (hit?.layer) return { layers: appendLayer(state.layers, hit.layer.diffId, hit.layer.size), key, cached: true, created: hit.created };
  const layers = await runStep(ctx, state, command);
  const created = new Date().toISOString();
  const top = layers[layers.length - 1]!;
  await ctx.cache?.store(key, { layer: { diffId: top.diffId, size: top.size }, created });
  return { layers, key, cached: false, created };
}

/** Paths runc mounts over in every container (a RUN step, `wc run`); created in the rootfs when absent. */
export const RUNC_MOUNT_POINTS = ['proc', 'dev', 'sys', 'etc', 'etc/hosts', 'etc/resolv.conf', 'etc/hostname'];

/**
 * What runc may create in a rootfs for a container with these extra mount destinations: its own
 * mount points, and each destination with every parent (runc creates a missing one with its
 * missing parents), relative to the root.
 */
export function mountPointPaths(destinations: readonly string[]): string[] {
  const ancestors = destinations.flatMap((d) => d.split('/').filter(Boolean).map((_, i, parts) => parts.slice(0, i + 1).join('/')));
  return [...new Set([...RUNC_MOUNT_POINTS, ...ancestors])];
}

/** Those of mountPointPaths the rootfs lacks now: what to remove again after the run. */
export async function absentMountPoints(rootfs: string, destinations: readonly string[]): Promise<string[]> {
  const absent: string[] = [];
  for (const p of mountPointPaths(destinations)) if (!(await pathExists(path.join(rootfs, p), { follow: false }))) absent.push(p);
  return absent;
}

async function runStep(ctx: RunStepContext, state: StageState, command: CommandForm): Promise<LayerRef[]> {
  const { stores } = ctx;
  await ensureSnapshots(stores, state.layers);
  const upper = await stores.snapshots.prepare();
  let committed = false;
  const scratch = tempName(stores.layout.tmp, 'run');
  await mkdir(scratch);
  try {
    const mount = await mountOverlay({ lowers: lowerDirs(stores, state.layers), upper, mountsDir: stores.layout.mounts, volatile: true });
    let exitCode: number;
    let absent: string[] = [];
    let prepared: PreparedMounts | undefined;
    let network: RunNetwork | undefined;
    try {
      prepared = await ctx.prepareMounts?.(mount.target, scratch);
      const extraMounts = [...(ctx.extraMounts ?? []), ...(prepared?.mounts ?? [])];
      absent = await absentMountPoints(mount.target, extraMounts.map((m) => m.destination));
      const config = state.config.config;
      const env = withVariables(runEnvironment(state, { proxies: true }), prepared?.env ?? []);
      const args = commandArgs(command, config.Shell);
      const user = await resolveUser(mount.target, config.User).catch((err: unknown) => {
        throw new TsbuildError('STEP_FAILED', `${ctx.where}: ${(err as Error).message}`, { cause: err });
      });
      const groupAdd = await resolveGroups(mount.target, ctx.resources?.groupAdd ?? []).catch((err: unknown) => {
        throw new TsbuildError('STEP_FAILED', `${ctx.where}: --group-add: ${(err as Error).message}`, { cause: err });
      });
      user.additionalGids = [...new Set([...user.additionalGids, ...groupAdd])];
      // runc would create a missing cwd itself; creating it here keeps the symlink handling ours, and
      // runc gets the resolved path, so it follows no symlink of the rootfs to get there.
      const cwd = await prepareWorkingDir(mount.target, config.WorkingDir || '/').catch((err: unknown) => {
        throw new TsbuildError('STEP_FAILED', `${ctx.where}: ${(err as Error).message}`, { cause: err });
      });
      const hostname = randomBytes(6).toString('hex');
      const missing = await checkExecutable(mount.target, args[0] ?? '', env, cwd, extraMounts.map((m) => m.destination));
      if (missing) {
        throw new TsbuildError('STEP_FAILED', `${ctx.where}: ${ctx.text}: ${missing}`, { exitCode: 127 });
      }
      // Last before the container: nothing that can fail without running it holds a namespace.
      network = await setUpRunNetwork(stores, ctx.network, hostname);
      const spec = generateSpec({
        rootfs: mount.target,
        args,
        env,
        cwd,
        user,
        hostname,
        terminal: false,
        network: network.spec,
        mounts: [...(await writeHostFiles(scratch, hostname, runHostFiles(ctx.hostFiles, network))), ...extraMounts],
        capabilities: ctx.capabilities,
        privileged: ctx.privileged,
        resources: ctx.resources,
      });
      const id = `tsbuild-${process.pid}-${hostname}`;
      const bundle = path.join(prepared?.privateDir ?? scratch, 'bundle');
      await mkdir(bundle);
      exitCode = await ctx.runtime.run(id, bundle, spec, { stdin: ctx.stdin ? 'inherit' : 'ignore', stdout: ctx.stdout, stderr: ctx.stderr }, ctx.signal);
    } finally {
      try {
        // The namespace first: runc is gone by now (run() returns only after it exits or is killed).
        await network?.release();
      } finally {
        try {
          await prepared?.release();
        } finally {
          await mount.unmount();
        }
      }
    }
    if (exitCode !== 0) {
      throw new TsbuildError('STEP_FAILED', `${ctx.where}: RUN exited with status ${exitCode}: ${ctx.text}`, { exitCode });
    }
    await removeCreatedMountPoints(upper, absent);
    const layers = await commitLayerDir(stores, upper, state.layers, 'overlay-upper');
    committed = true;
    return layers;
  } finally {
    if (!committed) await stores.snapshots.discard(upper);
    await rm(scratch, { recursive: true, force: true });
  }
}

/**
 * On a tsbuild network the RUN resolves host.containers.internal to the gateway (this host), as
 * under podman; --no-hosts still keeps the image's file.
 */
function runHostFiles(options: HostFileOptions | undefined, network: RunNetwork): HostFileOptions | undefined {
  const a = network.attachment;
  if (!a) return options;
  const gateway = a.gateway ? [{ name: 'host.containers.internal', ip: a.gateway }] : [];
  return { ...options, addHosts: [...(options?.addHosts ?? []), ...gateway] };
}

/** The environment with `extra` NAME=value entries replacing same-named ones. */
function withVariables(env: string[], extra: readonly string[]): string[] {
  if (extra.length === 0) return env;
  const names = new Set(extra.map((e) => e.slice(0, e.indexOf('='))));
  return [...env.filter((e) => !names.has(e.slice(0, e.indexOf('=')))), ...extra];
}

/** Removes what runc created as mount points (empty files and dirs absent before the RUN), deepest first; also for `wc run`. */
export async function removeCreatedMountPoints(upper: string, absent: readonly string[]): Promise<void> {
  const deepestFirst = [...absent].sort((a, b) => b.split('/').length - a.split('/').length);
  for (const rel of deepestFirst) {
    const target = path.join(upper, rel);
    const st = await lstat(target).catch(() => undefined);
    // Tolerant: in a working container's live rootfs another process may have used it meanwhile.
    if (st?.isDirectory() && (await readdir(target)).length === 0) await rmdir(target).catch(() => undefined);
    else if (st?.isFile() && st.size === 0) await unlink(target).catch(() => undefined);
  }
}
