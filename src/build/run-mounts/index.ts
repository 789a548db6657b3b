// The RUN container of one RUN instruction, from its flags (--mount, --network, --security) and the
// build's RUN flags (bud --volume, --cap-add, ...): what the step's cache key must cover, and the
// mounts, once the step's rootfs is mounted. Each mount type has its own module; this one parses,
// resolves `from` sources, orders the mounts and releases them after the RUN.
import path from 'node:path';
import { TsbuildError } from '../../errors.js';
import type { PreparedMounts } from '../steps/run-step.js';
import type { RunInstruction } from '../../containerfile/model.js';
import { resolveInRoot } from '../../util/resolve-in-root.js';
import { resolveFromSource } from '../named-context.js';
import type { BuildNetwork, BuildSession } from '../session.js';
import { runEnvironment, type StageState } from '../stage-state.js';
import { bindIdentity, bindMount, overlayOver } from './bind.js';
import { NO_RUN_FLAGS, type RunFlags } from './bud-flags.js';
import { cacheMount } from './cache-mount.js';
import { parseRunMounts, type RunMount } from './parse.js';
import { checkRequired, secretMount } from './secret.js';
import { sshMount } from './ssh.js';
import { tmpfsMount } from './tmpfs.js';
import { bindSpec, type MountEnv, type MountSource, type PreparedMount } from './types.js';

export { parseRunFlags, NO_RUN_FLAGS, type RunFlags, type RunFlagArgs } from './bud-flags.js';

export interface RunContainer {
  network: BuildNetwork;
  privileged: boolean;
  capabilities: string[] | undefined;
  hostFiles: RunFlags['hostFiles'];
  resources: RunFlags['resources'];
  /**
   * What else decides the RUN's result, for its cache key; undefined for a plain RUN, so its key
   * stays what it was. It covers every mount's spec (secret and ssh ids and targets, never values),
   * the content of bind sources (context checksum, stage key, image ID) but not of cache mounts
   * (as BuildKit: a cache is an accelerator, not an input), and the bud flags that change what the
   * command can do or see: volumes (by path: buildah does not hash them either), capabilities,
   * hosts and DNS (BuildKit keys extra hosts too). --allow is not a key part: it only permits.
   */
  keyParts: unknown;
  prepareMounts: ((rootfs: string, scratch: string) => Promise<PreparedMounts>) | undefined;
}

export async function runContainer(
  session: BuildSession,
  state: StageState,
  instruction: RunInstruction,
  expand: (raw: string) => string,
  where: string,
): Promise<RunContainer> {
  const flags = session.options.runFlags ?? NO_RUN_FLAGS;
  const { network, privileged, mountValues } = instructionFlags(instruction, session.options.network, flags, expand, where);
  const mounts = parseRunMounts(mountValues, expand, state.config.config.WorkingDir || '/', where);
  for (const m of mounts) checkRequired(m, flags.secrets, flags.ssh, where);
  // Bind mounts read their `from` (default: the context); cache mounts only when seeded from one.
  const sources = await Promise.all(
    mounts.map((m) => (m.type === 'bind' || (m.type === 'cache' && m.from !== undefined) ? mountSource(session, m.from, where) : undefined)),
  );
  const content = (m: RunMount, source: MountSource | undefined): Promise<string> | string | undefined =>
    source === undefined ? undefined : source.kind === 'layers' ? source.identity : bindIdentity(m, source, where);
  const resources = resourceKey(flags.resources);
  const plain = mounts.length === 0 && !privileged && flags.volumes.length === 0 && flags.capabilities === undefined && !hasHostFileFlags(flags) && !resources;
  const keyParts = plain
    ? undefined
    : {
        mounts: await Promise.all(mounts.map(async (m, i) => ({ ...m, content: await content(m, sources[i]) }))),
        privileged,
        volumes: flags.volumes,
        capabilities: flags.capabilities,
        hostFiles: flags.hostFiles,
        ...(resources && { resources }),
      };
  const ownSshAuthSock = runEnvironment(state).some((e) => e.startsWith('SSH_AUTH_SOCK='));
  const run: RunMounts = { session, flags, mounts, sources, ownSshAuthSock, where };
  return {
    network,
    privileged,
    capabilities: flags.capabilities,
    hostFiles: flags.hostFiles,
    resources: flags.resources,
    keyParts,
    prepareMounts: mounts.length > 0 || flags.volumes.length > 0 ? (rootfs, scratch) => prepareMounts(run, rootfs, scratch) : undefined,
  };
}

/** RUN's own flags: --network, --security (insecure only with --allow security.insecure), the --mount values. */
function instructionFlags(instruction: RunInstruction, buildNetwork: BuildNetwork, flags: RunFlags, expand: (raw: string) => string, where: string) {
  let network: BuildNetwork = buildNetwork;
  let privileged = false;
  const mountValues: string[] = [];
  for (const flag of instruction.flags) {
    if (flag.name === 'mount') {
      if (flag.value === undefined || flag.value === '') throw new TsbuildError('INVALID_ARGUMENT', `${where}: RUN --mount needs a value`);
      mountValues.push(flag.value);
      continue;
    }
    const value = flag.value === undefined ? undefined : expand(flag.value);
    if (flag.name === 'network') {
      if (value === 'none' || value === 'host') network = value;
      else if (value !== 'default') throw new TsbuildError('INVALID_ARGUMENT', `${where}: RUN --network=${value ?? ''}: expected default, none or host`);
    } else if (flag.name === 'security') {
      if (value === 'insecure') {
        if (!flags.allow.has('security.insecure')) {
          throw new TsbuildError('INVALID_ARGUMENT', `${where}: RUN --security=insecure needs the security.insecure entitlement`, {
            hint: 'build with --allow security.insecure to let this RUN run with every privilege',
          });
        }
        privileged = true;
      } else if (value !== 'sandbox') {
        throw new TsbuildError('INVALID_ARGUMENT', `${where}: RUN --security=${value ?? ''}: expected sandbox or insecure`);
      }
    } else {
      throw new TsbuildError('INVALID_ARGUMENT', `${where}: RUN --${flag.name} is not a RUN option (expected --mount, --network or --security)`);
    }
  }
  return { network, privileged, mountValues };
}

/**
 * The resource flags that change what a RUN can produce: rlimits (`ulimit -n` is visible), devices
 * and extra groups (what it may read and write). Memory, CPU, /dev/shm size and the cgroup parent
 * only decide whether and how fast it succeeds, and a failed step is never cached, so they are left
 * out and a rebuild with other limits reuses the cache.
 */
function resourceKey(r: RunFlags['resources']): object | undefined {
  if (!r || (!r.ulimits?.length && !r.devices?.length && !r.groupAdd?.length)) return undefined;
  return { ulimits: r.ulimits, devices: r.devices?.map((d) => [d.path, d.type, d.major, d.minor, d.access]), groupAdd: r.groupAdd };
}

function hasHostFileFlags(flags: RunFlags): boolean {
  const h = flags.hostFiles;
  return !!(h.noHosts || h.addHosts?.length || h.dns?.length || h.dnsSearch?.length || h.dnsOptions?.length);
}

/** A bind or cache mount's `from=`, resolved as COPY --from is; none: the build context. */
export async function mountSource(session: BuildSession, ref: string | undefined, where: string): Promise<MountSource> {
  if (ref === undefined) return { kind: 'context', dir: session.options.contextDir, ignore: session.ignore, memo: session.memo };
  const source = await resolveFromSource(session, ref, where, 'RUN --mount from');
  return source.kind === 'dir' ? { kind: 'context', dir: source.dir, ignore: source.ignore, memo: session.memo } : source;
}

/** What one RUN's mounts need once its rootfs is mounted. */
interface RunMounts {
  session: BuildSession;
  flags: RunFlags;
  mounts: readonly RunMount[];
  sources: readonly (MountSource | undefined)[];
  /** The stage sets SSH_AUTH_SOCK itself: leave it alone. */
  ownSshAuthSock: boolean;
  where: string;
}

async function prepareMounts({ session, flags, mounts, sources, ownSshAuthSock, where }: RunMounts, rootfs: string, scratch: string): Promise<PreparedMounts> {
  const cleanups: (() => Promise<void>)[] = [];
  const release = async (): Promise<void> => {
    // Every cleanup runs even when one fails; the first failure is reported.
    let first: unknown;
    for (const cleanup of cleanups.reverse()) await cleanup().catch((err: unknown) => (first ??= err));
    cleanups.length = 0;
    if (first !== undefined) throw first;
  };
  const env: MountEnv = { stores: session.stores, flags, where, scratch, defer: (c) => cleanups.push(c) };
  try {
    const prepared: PreparedMount[] = [];
    for (const [i, v] of flags.volumes.entries()) {
      const source = v.overlay ? await overlayOver([v.source], path.join(scratch, `volume-${i}`), env) : v.source;
      prepared.push({ mounts: [bindSpec(source, v.target, v.readOnly, v.options)] });
    }
    for (const [i, m] of mounts.entries()) {
      if (m.type === 'bind') prepared.push(await bindMount(m, sources[i]!, env, i));
      else if (m.type === 'cache') prepared.push(await cacheMount(m, sources[i], env, i));
      else if (m.type === 'tmpfs') prepared.push(tmpfsMount(m));
      else if (m.type === 'secret') prepared.push(await secretMount(m, env, i));
      else prepared.push(await sshMount(m, env, i));
    }
    const specMounts = prepared.flatMap((p) => p.mounts);
    // Targets resolve inside the rootfs as the container would see them (a symlink an earlier RUN
    // made cannot point a mount outside it), and parents mount before children.
    for (const mount of specMounts) {
      mount.destination = path.posix.join('/', path.relative(rootfs, await resolveInRoot(rootfs, mount.destination, { onEscape: 'clamp' })));
    }
    specMounts.sort((a, b) => depth(a.destination) - depth(b.destination));
    const extraEnv = prepared.flatMap((p) => p.env ?? []);
    const sshTarget = mounts.find((m) => m.type === 'ssh' && flags.ssh.has(m.id))?.target;
    // As BuildKit: SSH_AUTH_SOCK points at the first agent unless the stage sets it itself.
    if (sshTarget !== undefined && !ownSshAuthSock) extraEnv.push(`SSH_AUTH_SOCK=${sshTarget}`);
    return { mounts: specMounts, env: extraEnv, release, privateDir: prepared.find((p) => p.privateDir !== undefined)?.privateDir };
  } catch (err) {
    await release().catch(() => undefined);
    throw err;
  }
}

function depth(p: string): number {
  return p.split('/').filter(Boolean).length;
}
