// The bud flags users bring from docker buildx, podman build and buildah that need no machinery of
// their own: accepted with the meaning they have there (--rm, --load, --progress, --isolation, ...),
// the platform parts (--os/--arch/--variant), and what happens after the build (--push,
// --metadata-file). Parsed and checked before the build starts, so a typo fails at once.
import { writeFile } from 'node:fs/promises';
import type { Argv } from 'yargs';
import { parseDuration } from '../containerfile/duration.js';
import { TsbuildError } from '../errors.js';
import type { ImageRecord } from '../image/store.js';
import { hostTargetPlatform } from '../build/platform.js';
import { hostPlatform } from '../oci/types.js';
import type { ResourceFlagArgs } from '../build/run-mounts/resource-flags.js';
import { SECURITY_OPT_HELP } from '../runtime/security-opt.js';
import type { RegistryFlags } from '../remote/connect.js';
import type { Stores } from '../store/root.js';

export interface CompatArgs {
  rm: boolean;
  'force-rm': boolean;
  load: boolean;
  'disable-compression': boolean;
  progress?: string;
  'skip-unused-stages': boolean;
  isolation?: string;
  stdin: boolean;
  push: boolean;
  'metadata-file'?: string;
  os?: string;
  arch?: string;
  variant?: string;
  'omit-history': boolean;
  'identity-label': boolean;
  'no-cache-filter': string[];
  retry?: number;
  'retry-delay'?: string;
}

const PROGRESS = ['auto', 'plain', 'tty', 'quiet', 'rawjson'];

export function compatOptions<T>(y: Argv<T>): Argv<T & CompatArgs> {
  return y
    .option('rm', { type: 'boolean', default: true, describe: 'remove RUN containers after the build (buildah); they are always removed, even with --rm=false' })
    .option('force-rm', { type: 'boolean', default: true, describe: 'remove RUN containers also after a failed build; always done' })
    .option('load', { type: 'boolean', default: false, describe: 'load the image into the local store (buildx); the image is always local' })
    .option('disable-compression', { alias: 'D', type: 'boolean', default: true, describe: 'do not compress layers (buildah); local layers are never compressed, push compresses them' })
    .option('progress', { type: 'string', describe: 'output style (buildx): auto, plain, tty and rawjson print the step lines; quiet is -q' })
    .option('skip-unused-stages', { type: 'boolean', default: true, describe: 'build only the stages the target needs (--skip-unused-stages=false: every stage up to the target, as buildah)' })
    .option('isolation', { type: 'string', describe: 'process isolation of RUN (buildah; default $BUILDAH_ISOLATION or oci): only oci (runc)' })
    .option('stdin', { type: 'boolean', default: false, describe: "give RUN steps tsbuild's standard input (buildah)" })
    .option('push', { type: 'boolean', default: false, describe: 'push every -t name after the build (buildx), with the registry flags' })
    .option('metadata-file', { type: 'string', describe: 'write build metadata as JSON (buildx): containerimage.digest, containerimage.config.digest, image.name' })
    .option('os', { type: 'string', describe: 'OS to build for (buildah); only the host\'s' })
    .option('arch', { type: 'string', describe: 'architecture to build for (buildah); only the host\'s' })
    .option('variant', { type: 'string', describe: 'architecture variant to build for (buildah); only the host\'s' })
    .option('omit-history', { type: 'boolean', default: false, describe: 'write no history into the image config (buildah)' })
    .option('identity-label', { type: 'boolean', default: true, describe: 'accepted for buildah; tsbuild adds no identity label (io.buildah.version) either way' })
    .option('no-cache-filter', { type: 'string', array: true, nargs: 1, default: [], describe: 'do not use cached steps for this stage, by name or index (buildx; repeatable, comma-separated)' })
    .option('retry', { type: 'number', describe: 'retries of a failed registry request in pulls and pushes (buildah; default 4)' })
    .option('retry-delay', { type: 'string', describe: 'delay between those retries (Go duration, e.g. 2s; default: backoff from 100ms to 2s)' }) as Argv<T & CompatArgs>;
}

export interface ResourceArgs {
  memory?: string;
  'memory-swap'?: string;
  'cpu-shares'?: number;
  'cpu-period'?: number;
  'cpu-quota'?: number;
  'cpuset-cpus'?: string;
  'cpuset-mems'?: string;
  'shm-size'?: string;
  ulimit: string[];
  device: string[];
  'group-add': string[];
  'cgroup-parent'?: string;
  'security-opt': string[];
}

/** Limits and security options of every RUN container (buildah's and podman's). */
export function resourceOptions<T>(y: Argv<T>): Argv<T & ResourceArgs> {
  return y
    .option('memory', { alias: 'm', type: 'string', describe: 'memory limit of RUN containers, <number>[b|k|m|g]' })
    .option('memory-swap', { type: 'string', describe: 'memory plus swap limit of RUN containers (-1: unlimited swap)' })
    .option('cpu-shares', { alias: 'c', type: 'number', describe: 'CPU shares (relative weight) of RUN containers' })
    .option('cpu-period', { type: 'number', describe: 'CPU CFS period of RUN containers, in microseconds' })
    .option('cpu-quota', { type: 'number', describe: 'CPU CFS quota of RUN containers, in microseconds per period' })
    .option('cpuset-cpus', { type: 'string', describe: 'CPUs RUN containers may use (0-3, 0,1)' })
    .option('cpuset-mems', { type: 'string', describe: 'memory nodes RUN containers may use (NUMA)' })
    .option('shm-size', { type: 'string', describe: 'size of /dev/shm in RUN containers (default 64m)' })
    .option('ulimit', { type: 'string', array: true, nargs: 1, default: [], describe: 'rlimit of RUN containers, TYPE=SOFT[:HARD] (e.g. nofile=1024:2048); at most tsbuild\'s own hard limit' })
    .option('device', { type: 'string', array: true, nargs: 1, default: [], describe: 'host device for RUN containers, HOST[:CONTAINER][:PERMISSIONS] (rwm)' })
    .option('group-add', { type: 'string', array: true, nargs: 1, default: [], describe: "supplementary group of RUN processes, by name (the image's /etc/group) or gid" })
    .option('cgroup-parent', { type: 'string', describe: "cgroup to put RUN containers under (default: tsbuild's own)" })
    .option('security-opt', { type: 'string', array: true, nargs: 1, default: [], describe: `security option of RUN containers (podman's): ${SECURITY_OPT_HELP}` }) as Argv<T & ResourceArgs>;
}

export function resourceFlagArgs(args: ResourceArgs): ResourceFlagArgs {
  return {
    memory: args.memory,
    memorySwap: args['memory-swap'],
    cpuShares: args['cpu-shares'],
    cpuPeriod: args['cpu-period'],
    cpuQuota: args['cpu-quota'],
    cpusetCpus: args['cpuset-cpus'],
    cpusetMems: args['cpuset-mems'],
    shmSize: args['shm-size'],
    ulimit: args.ulimit,
    device: args.device,
    groupAdd: args['group-add'],
    cgroupParent: args['cgroup-parent'],
    securityOpt: args['security-opt'],
  };
}

export interface CompatSettings {
  quiet: boolean;
  platform: string | undefined;
  allStages: boolean;
  stdin: boolean;
  omitHistory: boolean;
  noCacheFilter: string[];
  retry: Pick<RegistryFlags, 'retries' | 'retryDelayMs'>;
}

/** Checks the flags and says what they mean for the build; `quiet` and `platform` are bud's own -q and --platform. */
export function compatSettings(args: CompatArgs, own: { quiet: boolean; platform?: string; tags: readonly string[] }): CompatSettings {
  const invalid = (msg: string, hint?: string): TsbuildError => new TsbuildError('INVALID_ARGUMENT', msg, { hint });
  if (args.progress !== undefined && !PROGRESS.includes(args.progress)) throw invalid(`--progress "${args.progress}": expected ${PROGRESS.join(', ')}`);
  const isolation = args.isolation ?? process.env.BUILDAH_ISOLATION ?? 'oci';
  if (isolation !== 'oci' && isolation !== 'default') {
    throw invalid(`--isolation ${isolation}: only oci isolation (runc) is supported`, isolation === 'chroot' || isolation === 'rootless' ? 'leave out --isolation (or unset BUILDAH_ISOLATION)' : undefined);
  }
  if (args.push && own.tags.length === 0) throw invalid('--push needs an image name: give one with -t');
  const retry: CompatSettings['retry'] = {};
  if (args.retry !== undefined) {
    if (!Number.isInteger(args.retry) || args.retry < 0) throw invalid(`--retry ${args.retry}: expected a whole number of retries`);
    retry.retries = args.retry + 1; // the registry client counts attempts
  }
  if (args['retry-delay'] !== undefined) {
    const ns = parseDuration(args['retry-delay'].trim());
    if (ns === undefined || ns < 0) throw invalid(`--retry-delay "${args['retry-delay']}": expected a duration such as 500ms or 2s`);
    retry.retryDelayMs = ns / 1e6;
  }
  return {
    quiet: own.quiet || args.progress === 'quiet',
    platform: platformSpec(args, own.platform),
    allStages: !args['skip-unused-stages'],
    stdin: args.stdin,
    omitHistory: args['omit-history'],
    noCacheFilter: args['no-cache-filter'].flatMap((s) => s.split(',')).map((s) => s.trim()).filter((s) => s !== ''),
    retry,
  };
}

/**
 * --os/--arch/--variant replace those parts of --platform (default the host's), as buildah does;
 * the builder then refuses anything but the host's platform, naming the flags.
 */
function platformSpec(args: CompatArgs, platform: string | undefined): string | undefined {
  if (args.os === undefined && args.arch === undefined && args.variant === undefined) return platform;
  const host = hostPlatform();
  const [os, arch, variant] = (platform ?? `${host.os}/${host.architecture}`).split('/');
  const spec = [args.os ?? os, args.arch ?? arch, args.variant ?? variant].filter((p) => p !== undefined && p !== '').join('/');
  const given = (['os', 'arch', 'variant'] as const).filter((k) => args[k] !== undefined).map((k) => `--${k} ${args[k]}`);
  hostTargetPlatform(spec, given.join(' '));
  return spec;
}

/** After a successful build: --push to every name, then --metadata-file (with the pushed digest, as buildx). */
export async function afterBuild(
  args: CompatArgs,
  stores: Stores,
  image: ImageRecord,
  names: readonly string[],
  push: { flags: RegistryFlags; quiet: boolean; signal?: AbortSignal },
): Promise<void> {
  let digest = image.manifestDigest;
  if (args.push) {
    // push.js, not the index: a push needs none of pull's modules.
    const [{ pushImage }, { createProgress }] = await Promise.all([import('../remote/push.js'), import('../remote/progress.js')]);
    const progress = createProgress({ stream: process.stderr, quiet: push.quiet });
    try {
      for (const name of names) {
        digest = await pushImage(stores, name, undefined, { ...push.flags, progress, signal: push.signal, logger: stores.logger });
      }
    } finally {
      progress.close();
    }
  }
  const file = args['metadata-file'];
  if (file !== undefined) {
    const metadata = { 'containerimage.config.digest': image.id, 'containerimage.digest': digest, 'image.name': names.join(',') };
    await writeFile(file, `${JSON.stringify(metadata, null, 2)}\n`);
  }
}
