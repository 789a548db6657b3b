// `tsbuild create` (and the first half of `run`): the image is found (or pulled), its config applied
// the docker way (ENTRYPOINT/CMD, Env, WorkingDir, User, StopSignal, ExposedPorts, Volumes, Labels)
// under the flags, mounts resolved, and everything decided once goes into the record's config, so
// every later start (and restart) reads only the record.
import { TsbuildError } from '../errors.js';
import type { ImageRecord } from '../image/store.js';
import { loadImage } from '../image/image.js';
import type { RegistryFlags } from '../remote/connect.js';
import type { PullPolicy } from '../remote/policy.js';
import type { Progress } from '../remote/types.js';
import { capabilitySet } from '../runtime/spec.js';
import type { SecurityOptions } from '../runtime/security-opt.js';
import { leaseImage } from '../store/references.js';
import type { Stores } from '../store/root.js';
import { createContainerRecord, matchRecord, readAllRecords } from './records.js';
import type { ContainerConfig, ContainerRecord, MountSpec, NetworkRequest, RestartPolicy } from './types.js';
import { mergeEnv } from './env.js';

export interface CreateRequest {
  image: string;
  command: string[];
  name?: string;
  /** -e and --env-file entries in order (NAME alone passes ours). */
  env: string[];
  workdir?: string;
  user?: string;
  /** A string or a JSON array; '' clears the image's. */
  entrypoint?: string;
  hostname?: string;
  readOnly?: boolean;
  privileged?: boolean;
  capAdd?: string[];
  capDrop?: string[];
  /** --security-opt as given (for inspect), and parsed (a seccomp=FILE profile already read). */
  securityOpt?: string[];
  security?: SecurityOptions;
  init?: boolean;
  memory?: number;
  cpus?: number;
  pidsLimit?: number;
  restart?: RestartPolicy;
  autoRemove?: boolean;
  interactive?: boolean;
  terminal?: boolean;
  network?: NetworkRequest;
  mounts?: MountSpec[];
  labels?: Record<string, string>;
  stopSignal?: string;
  stopTimeout?: number;
  logMaxBytes?: number;
  /** progressStream: where pull progress goes (the progress display loads only when a pull happens). */
  pull?: { policy: PullPolicy; flags?: RegistryFlags; progress?: Progress; progressStream?: NodeJS.WritableStream };
  signal?: AbortSignal;
}

export function defaultNetwork(mode: NetworkRequest['mode'] = 'host'): NetworkRequest {
  return { mode, networks: [], ports: [], publishAll: false, dns: [], dnsSearch: [], dnsOptions: [], addHosts: [] };
}

export async function createContainer(stores: Stores, request: CreateRequest): Promise<ContainerRecord> {
  if (request.autoRemove && request.restart && request.restart.name !== 'no') {
    throw new TsbuildError('INVALID_ARGUMENT', 'the --restart and --rm options conflict', { exitCode: 125 });
  }
  const imageRecord = await findImage(stores, request);
  const image = await loadImage(stores, imageRecord);
  const ic = image.config.config ?? {};
  const args = containerArgs(ic.Entrypoint, ic.Cmd, request.entrypoint, request.command);
  if (args.length === 0) {
    throw new TsbuildError('INVALID_ARGUMENT', `no command specified: image "${request.image}" has no CMD or ENTRYPOINT`, { exitCode: 125 });
  }
  const entrypoint = request.entrypoint !== undefined ? parseEntrypoint(request.entrypoint) : (ic.Entrypoint ?? []);
  const cmd = request.command.length > 0 ? [...request.command] : request.entrypoint !== undefined ? [] : (ic.Cmd ?? []);
  // Checked now, so a typo fails `create`, not a later start.
  const capAdd = request.capAdd ?? [];
  const capDrop = request.capDrop ?? [];
  try {
    capabilitySet(capAdd, capDrop);
  } catch (err) {
    throw new TsbuildError('INVALID_ARGUMENT', (err as Error).message, { exitCode: 125, cause: err });
  }
  // podman's default: the default bridge network.
  const network = request.network ?? { ...defaultNetwork('bridge'), networks: [{ name: 'tsbuild', aliases: [] }] };
  const exposedPorts = Object.keys((ic as { ExposedPorts?: Record<string, unknown> }).ExposedPorts ?? {});
  await checkNetwork(stores, network);

  const imageVolumes = Object.keys((ic as { Volumes?: Record<string, unknown> }).Volumes ?? {});
  const requestedMounts = request.mounts ?? [];
  let mounts: MountSpec[] = [];
  if (requestedMounts.length > 0 || imageVolumes.length > 0) {
    // Loaded only when there is something to mount: a plain `run` stays quick to start.
    const { resolveMounts } = await import('../volume/index.js');
    mounts = await resolveMounts(stores, requestedMounts, imageVolumes);
  }

  const config: ContainerConfig = {
    args,
    entrypoint,
    cmd,
    env: mergeEnv(ic.Env ?? [], request.env),
    cwd: request.workdir ?? (ic.WorkingDir || '/'),
    user: request.user ?? ic.User ?? '',
    hostname: request.hostname ?? '',
    terminal: request.terminal ?? false,
    interactive: request.interactive ?? false,
    readOnly: request.readOnly ?? false,
    privileged: request.privileged ?? false,
    capAdd,
    capDrop,
    ...(request.securityOpt?.length ? { securityOpt: [...request.securityOpt] } : {}),
    ...(request.security ? { security: request.security } : {}),
    init: request.init ?? false,
    memory: request.memory,
    cpus: request.cpus,
    pidsLimit: request.pidsLimit,
    restart: request.restart ?? { name: 'no', maximumRetryCount: 0 },
    autoRemove: request.autoRemove ?? false,
    stopSignal: request.stopSignal ?? normalizeSignal((ic as { StopSignal?: string }).StopSignal ?? 'SIGTERM'),
    stopTimeout: request.stopTimeout ?? 10,
    labels: { ...((ic as { Labels?: Record<string, string> }).Labels ?? {}), ...(request.labels ?? {}) },
    network,
    mounts,
    exposedPorts,
    ...(request.logMaxBytes === undefined ? {} : { logMaxBytes: request.logMaxBytes }),
  };
  if (!config.cwd.startsWith('/')) {
    throw new TsbuildError('INVALID_ARGUMENT', `working directory "${config.cwd}" is not an absolute path`, { exitCode: 125 });
  }
  // Until the record exists nothing else keeps the image from a concurrent image prune (store/lease.ts).
  await leaseImage(stores, imageRecord, `image "${request.image}"`);
  return createContainerRecord(stores, { kind: 'container', image: request.image, imageId: imageRecord.id, config, name: request.name });
}

/** Network names and a container:ID target exist (the network manager creates the default one). */
async function checkNetwork(stores: Stores, network: NetworkRequest): Promise<void> {
  if (network.mode === 'container') {
    const target = matchRecord(await readAllRecords(stores), network.container ?? '');
    if (!target) throw new TsbuildError('NOT_FOUND', `no container with name or ID "${network.container}" found (--network container:)`, { exitCode: 125 });
    network.container = target.id;
    return;
  }
  if (network.mode !== 'bridge') return;
  if (network.networks.length === 0) network.networks.push({ name: 'tsbuild', aliases: [] });
  const { createNetworkManager } = await import('../network/index.js');
  const manager = createNetworkManager(stores);
  for (const n of network.networks) {
    const record = await manager.get(n.name);
    n.name = record.name;
  }
}

/** The image to run: local, or pulled under the --pull policy (failures exit 125, podman's "tsbuild failed"). */
export async function findImage(stores: Stores, request: Pick<CreateRequest, 'image' | 'pull' | 'signal'>): Promise<ImageRecord> {
  const policy = request.pull?.policy ?? 'missing';
  if (policy === 'missing' || policy === 'never') {
    const local = await stores.images.find(request.image);
    if (local) return local;
    if (policy === 'never') {
      throw new TsbuildError('NOT_FOUND', `image "${request.image}" not found in local storage (--pull=never)`, { exitCode: 125 });
    }
  }
  // Loaded only when a registry may be needed: running local images stays quick to start.
  const { resolveImage } = await import('../remote/policy.js');
  let progress = request.pull?.progress;
  if (!progress && request.pull?.progressStream) progress = (await import('../remote/progress.js')).createProgress({ stream: request.pull.progressStream });
  try {
    return await resolveImage(stores, request.image, {
      ...request.pull?.flags,
      policy,
      progress,
      logger: stores.logger,
      signal: request.signal,
    });
  } catch (err) {
    if (err instanceof TsbuildError && err.exitCode === undefined) {
      throw new TsbuildError(err.code, err.message, { exitCode: 125, hint: err.hint, cause: err.cause });
    }
    throw err;
  }
}

function parseEntrypoint(flag: string): string[] {
  if (flag.startsWith('[')) {
    try {
      const parsed = JSON.parse(flag) as unknown;
      if (Array.isArray(parsed) && parsed.every((p) => typeof p === 'string')) return parsed;
    } catch {
      // Not JSON: taken as one word below.
    }
  }
  return flag === '' ? [] : [flag];
}

/** Docker's rule: ENTRYPOINT + (run arguments, else CMD); --entrypoint replaces ENTRYPOINT and drops CMD. */
export function containerArgs(
  entrypoint: string[] | null | undefined,
  cmd: string[] | null | undefined,
  entrypointFlag: string | undefined,
  command: readonly string[],
): string[] {
  if (entrypointFlag !== undefined) return [...parseEntrypoint(entrypointFlag), ...command];
  return [...(entrypoint ?? []), ...(command.length > 0 ? command : (cmd ?? []))];
}


const SIGNALS = [
  'HUP', 'INT', 'QUIT', 'ILL', 'TRAP', 'ABRT', 'BUS', 'FPE', 'KILL', 'USR1', 'SEGV', 'USR2', 'PIPE', 'ALRM', 'TERM', 'STKFLT',
  'CHLD', 'CONT', 'STOP', 'TSTP', 'TTIN', 'TTOU', 'URG', 'XCPU', 'XFSZ', 'VTALRM', 'PROF', 'WINCH', 'IO', 'PWR', 'SYS',
];

/** SIGTERM, TERM, term or 15 → SIGTERM; RTMIN+n kept as given. INVALID_ARGUMENT otherwise. */
export function normalizeSignal(value: string): string {
  const v = value.trim().toUpperCase();
  if (/^\d+$/.test(v)) {
    const n = Number(v);
    if (n >= 1 && n <= SIGNALS.length) return `SIG${SIGNALS[n - 1]}`;
    if (n > SIGNALS.length && n <= 64) return String(n);
  }
  const name = v.startsWith('SIG') ? v.slice(3) : v;
  if (SIGNALS.includes(name) || /^RTM(IN|AX)([+-]\d+)?$/.test(name)) return `SIG${name}`;
  throw new TsbuildError('INVALID_ARGUMENT', `invalid signal "${value}"`, { exitCode: 125 });
}
