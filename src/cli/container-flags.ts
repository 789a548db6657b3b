// The flags of `create` and `run`, with podman's names and formats: declared here, parsed into the
// CreateRequest the container manager takes. Every bad value fails with one line naming the flag and
// the value (exit 125), before anything is created.
import { readFile } from 'node:fs/promises';
import type { Argv } from 'yargs';
import { TsbuildError } from '../errors.js';
import { parseByteSize } from '../util/size.js';
import type { CreateRequest } from '../container/create.js';
import type { NetworkRequest, PortMapping, RestartPolicy } from '../container/types.js';
import type { PullPolicy } from '../remote/policy.js';
import { registryFlags, registryOptions, type RegistryArgs } from './registry-flags.js';
import type { GlobalArgs } from './global.js';
import { SECURITY_OPT_HELP, parseSecurityOpts } from '../runtime/security-opt.js';

export interface ContainerArgs extends GlobalArgs, RegistryArgs {
  image: string;
  command: string[];
  name?: string;
  env: string[];
  'env-file': string[];
  workdir?: string;
  user?: string;
  entrypoint?: string;
  hostname?: string;
  'read-only': boolean;
  'cap-add': string[];
  'cap-drop': string[];
  privileged: boolean;
  'security-opt': string[];
  init: boolean;
  memory?: string;
  cpus?: string;
  'pids-limit'?: number;
  restart: string;
  rm: boolean;
  interactive: boolean;
  tty: boolean;
  network?: string;
  'network-alias': string[];
  publish: string[];
  'publish-all': boolean;
  dns: string[];
  'dns-search': string[];
  'dns-option': string[];
  'add-host': string[];
  volume: string[];
  mount: string[];
  tmpfs: string[];
  label: string[];
  'stop-signal'?: string;
  'stop-timeout'?: number;
  'log-opt': string[];
  pull: string;
}

/** Options that take a separate value (main.ts needs them to find the image in `run ... IMAGE CMD`). */
export const CONTAINER_VALUE_OPTIONS = [
  '--name', '-e', '--env', '--env-file', '-w', '--workdir', '-u', '--user', '--entrypoint', '--hostname', '--cap-add', '--cap-drop', '--security-opt',
  '-m', '--memory', '--cpus', '--pids-limit', '--restart', '--network', '--net', '--network-alias', '-p', '--publish', '--dns',
  '--dns-search', '--dns-option', '--add-host', '-v', '--volume', '--mount', '--tmpfs', '-l', '--label', '--stop-signal', '--stop-timeout', '--log-opt',
];

const list = { type: 'string', array: true, nargs: 1, default: [] } as const;

export function containerOptions<T>(y: Argv<T>): Argv<T & ContainerArgs> {
  return registryOptions(y)
    .parserConfiguration({ 'populate--': true })
    .positional('image', { type: 'string', demandOption: true, describe: 'image name or ID' })
    .positional('command', { type: 'string', array: true, nargs: 1, default: [], describe: 'command and arguments (default: the image CMD)' })
    .option('name', { type: 'string', describe: 'name the container' })
    .option('env', { ...list, alias: 'e', describe: 'set an environment variable, KEY=VALUE (KEY alone passes ours)' })
    .option('env-file', { ...list, describe: 'read KEY=VALUE lines from a file' })
    .option('workdir', { alias: 'w', type: 'string', describe: 'working directory inside the container' })
    .option('user', { alias: 'u', type: 'string', describe: 'user[:group] to run as (name or ID)' })
    .option('entrypoint', { type: 'string', describe: 'override the image ENTRYPOINT (a string or a JSON array)' })
    .option('hostname', { type: 'string', describe: 'container host name (default: the short ID)' })
    .option('read-only', { type: 'boolean', default: false, describe: 'mount the root filesystem read-only' })
    .option('cap-add', { ...list, describe: 'add a capability (ALL: every one)' })
    .option('cap-drop', { ...list, describe: 'drop a capability (ALL: every one)' })
    .option('privileged', { type: 'boolean', default: false, describe: 'every capability, the host devices, no seccomp filter, no masked paths' })
    .option('security-opt', { ...list, describe: `security option (podman's): ${SECURITY_OPT_HELP}` })
    .option('init', { type: 'boolean', default: false, describe: 'run a tiny init (tini) as pid 1 that reaps zombies and forwards signals' })
    .option('memory', { alias: 'm', type: 'string', describe: 'memory limit: <number>[b|k|m|g]' })
    .option('cpus', { type: 'string', describe: 'CPU limit, a number of CPUs (1.5)' })
    .option('pids-limit', { type: 'number', describe: 'limit the number of processes (0 or -1: unlimited)' })
    .option('restart', { type: 'string', default: 'no', describe: 'restart policy: no, on-failure[:N], always, unless-stopped' })
    .option('rm', { type: 'boolean', default: false, describe: 'remove the container when it exits' })
    .option('interactive', { alias: 'i', type: 'boolean', default: false, describe: 'keep stdin open' })
    .option('tty', { alias: 't', type: 'boolean', default: false, describe: 'allocate a terminal' })
    .option('network', { alias: 'net', type: 'string', describe: 'bridge (default: the tsbuild network), NAME[,NAME], host, none, container:ID' })
    .option('network-alias', { ...list, describe: 'another name of the container on its networks' })
    .option('publish', { ...list, alias: 'p', describe: 'publish a port: [ip:][hostPort:]containerPort[/tcp|udp]' })
    .option('publish-all', { alias: 'P', type: 'boolean', default: false, describe: 'publish every EXPOSEd port to a free host port' })
    .option('dns', { ...list, describe: 'nameserver (none: keep the image\'s resolv.conf)' })
    .option('dns-search', { ...list, describe: 'DNS search domain' })
    .option('dns-option', { ...list, describe: 'resolver option' })
    .option('add-host', { ...list, describe: 'add HOST:IP to /etc/hosts' })
    .option('volume', { ...list, alias: 'v', describe: 'mount a volume or host path: [SOURCE:]DEST[:ro,z]' })
    .option('mount', { ...list, describe: 'type=bind|volume|tmpfs,source=...,target=...[,readonly]' })
    .option('tmpfs', { ...list, describe: 'mount a tmpfs: DEST[:size=...,mode=...]' })
    .option('label', { ...list, alias: 'l', describe: 'set a label, KEY=VALUE' })
    .option('stop-signal', { type: 'string', describe: 'signal that stops the container (default: the image STOPSIGNAL or SIGTERM)' })
    .option('stop-timeout', { type: 'number', describe: 'seconds to wait after the stop signal before SIGKILL (default 10)' })
    .option('log-opt', { ...list, describe: 'log option: max-size=SIZE (rotate the log beyond it, e.g. 10m; default 10m)' })
    .option('pull', { type: 'string', default: 'missing', describe: 'pull the image: always, missing (default), never, or newer' }) as Argv<T & ContainerArgs>;
}

/** The container's command as yargs hands it over after argv.ts's separateContainerCommand: the words before `--` and after. */
export function containerCommandWords(args: { command: readonly unknown[] }): string[] {
  return [...args.command, ...((args as { '--'?: unknown[] })['--'] ?? [])].map(String);
}

/** The parsed arguments as a create request (files read, values checked). */
export async function containerRequest(args: ContainerArgs): Promise<CreateRequest> {
  const { normalizeSignal } = await import('../container/create.js');
  const env: string[] = [];
  for (const file of args['env-file']) env.push(...(await readEnvFile(file)));
  env.push(...args.env);
  const network = parseNetwork(args.network, args['network-alias']);
  network.ports = args.publish.flatMap(parsePublish);
  network.publishAll = args['publish-all'];
  if ((network.ports.length > 0 || network.publishAll) && network.mode !== 'bridge') {
    throw invalid(`-p/--publish needs a bridge network, not --network ${args.network}`);
  }
  network.dns = args.dns;
  network.dnsSearch = args['dns-search'];
  network.dnsOptions = args['dns-option'];
  network.addHosts = args['add-host'].map(parseAddHost);
  let mounts: CreateRequest['mounts'] = [];
  if (args.volume.length + args.mount.length + args.tmpfs.length > 0) {
    const { parseMountFlags } = await import('../volume/index.js');
    try {
      mounts = parseMountFlags({ volume: args.volume, mount: args.mount, tmpfs: args.tmpfs });
    } catch (err) {
      throw rethrow(err);
    }
  }
  const policy = pullPolicy(args.pull);
  const signal = args['stop-signal'];
  const stopTimeout = args['stop-timeout'];
  if (stopTimeout !== undefined && (!Number.isInteger(stopTimeout) || stopTimeout < 0)) throw invalid(`invalid --stop-timeout ${stopTimeout}: expected whole seconds`);
  const logMaxBytes = parseLogOptions(args['log-opt']);
  const pids = args['pids-limit'];
  const security = await parseSecurityOpts(args['security-opt']).catch((err: unknown) => {
    throw rethrow(err);
  });
  if (pids !== undefined && !Number.isInteger(pids)) throw invalid(`invalid --pids-limit ${pids}: expected a whole number`);
  return {
    image: args.image,
    command: containerCommandWords(args),
    name: args.name,
    env,
    workdir: args.workdir,
    user: args.user,
    entrypoint: args.entrypoint,
    hostname: args.hostname,
    readOnly: args['read-only'],
    privileged: args.privileged,
    capAdd: args['cap-add'],
    capDrop: args['cap-drop'],
    securityOpt: args['security-opt'],
    security,
    init: args.init,
    memory: args.memory === undefined ? undefined : parseMemory(args.memory),
    cpus: args.cpus === undefined ? undefined : parseCpus(args.cpus),
    pidsLimit: pids === undefined || pids <= 0 ? undefined : pids,
    restart: parseRestart(args.restart),
    autoRemove: args.rm,
    interactive: args.interactive,
    terminal: args.tty,
    network,
    mounts,
    labels: parseLabels(args.label),
    stopSignal: signal === undefined ? undefined : normalizeSignal(signal),
    stopTimeout,
    logMaxBytes,
    pull: { policy, flags: registryFlags(args), progressStream: process.stderr },
  };
}

/**
 * `--pull` as parsePullPolicy reads it (remote/policy.ts), repeated here because that module loads
 * the registry client, which a local `run` never needs.
 */
export function pullPolicy(value: string): PullPolicy {
  const v = value.toLowerCase();
  if (v === '' || v === 'true') return 'always';
  if (v === 'false') return 'missing';
  if (v === 'always' || v === 'missing' || v === 'never' || v === 'newer') return v;
  throw invalid(`--pull=${value}: expected always, missing, never or newer`);
}

function invalid(message: string): TsbuildError {
  return new TsbuildError('INVALID_ARGUMENT', message, { exitCode: 125 });
}

function rethrow(err: unknown): unknown {
  if (err instanceof TsbuildError && err.exitCode === undefined) return new TsbuildError(err.code, err.message, { exitCode: 125, hint: err.hint });
  return err;
}

/** --log-opt KEY=VALUE: max-size (podman's and docker's json-file option); others are refused. */
export function parseLogOptions(values: readonly string[]): number | undefined {
  let maxSize: number | undefined;
  for (const value of values) {
    const [key, size] = [value.slice(0, value.indexOf('=')), value.slice(value.indexOf('=') + 1)];
    if (key !== 'max-size') throw invalid(`--log-opt "${value}" is not supported: only max-size=SIZE`);
    maxSize = parseByteSize(size);
    if (maxSize === undefined) throw invalid(`invalid --log-opt "${value}": expected max-size=<number>[<unit>] with unit b, k, m or g`);
    if (maxSize < 1024) throw invalid(`invalid --log-opt "${value}": the smallest max-size is 1k`);
  }
  return maxSize;
}

/** --memory: <number>[<unit>] with unit b, k, m, g (also kb, mb, ...), binary multiples; at least 6 MiB (docker's minimum). */
export function parseMemory(value: string): number {
  const bytes = parseByteSize(value);
  if (bytes === undefined) throw invalid(`invalid --memory "${value}": expected <number>[<unit>] with unit b, k, m or g`);
  if (bytes < 6 * 1024 * 1024) throw invalid(`invalid --memory "${value}": the minimum memory limit is 6m`);
  return bytes;
}

export function parseCpus(value: string): number {
  const n = Number(value);
  if (!/^\d*\.?\d+$/.test(value.trim()) || !(n > 0)) throw invalid(`invalid --cpus "${value}": expected a positive number of CPUs`);
  return n;
}

export function parseRestart(value: string): RestartPolicy {
  const m = /^(no|always|unless-stopped|on-failure)(?::(\d+))?$/.exec(value.trim());
  if (!m || (m[2] !== undefined && m[1] !== 'on-failure')) {
    throw invalid(`invalid --restart "${value}": expected no, on-failure[:N], always or unless-stopped`);
  }
  return { name: m[1] as RestartPolicy['name'], maximumRetryCount: m[2] === undefined ? 0 : Number(m[2]) };
}

/** -p [ip:][hostPort:]containerPort[/proto]; hostPort '' or missing: a free port at start. */
export function parsePublish(value: string): PortMapping[] {
  const bad = (why: string): TsbuildError => invalid(`invalid -p "${value}": ${why}`);
  let spec = value.trim();
  let protocol: 'tcp' | 'udp' = 'tcp';
  const slash = spec.lastIndexOf('/');
  if (slash >= 0) {
    const proto = spec.slice(slash + 1).toLowerCase();
    if (proto !== 'tcp' && proto !== 'udp') throw bad(`unknown protocol "${proto}" (tcp or udp)`);
    protocol = proto;
    spec = spec.slice(0, slash);
  }
  let hostIp = '';
  // [v6]:host:container
  const v6 = /^\[([0-9a-fA-F:.]+)\]:(.*)$/.exec(spec);
  if (v6) {
    hostIp = v6[1]!;
    spec = v6[2]!;
  }
  const parts = spec.split(':');
  if (parts.length > 3 || (v6 && parts.length > 2)) throw bad('expected [ip:][hostPort:]containerPort[/proto]');
  if (parts.length === 3) hostIp = parts.shift()!;
  const containerPart = parts.pop()!;
  const hostPart = parts.pop() ?? '';
  if (hostIp !== '' && !/^(\d{1,3}\.){3}\d{1,3}$/.test(hostIp) && !v6) throw bad(`"${hostIp}" is not an IP address`);
  const port = (text: string, what: string, optional: boolean): number => {
    if (text === '' && optional) return 0;
    if (text.includes('-')) throw bad('port ranges are not supported');
    const n = Number(text);
    if (!/^\d+$/.test(text) || n < 1 || n > 65535) throw bad(`${what} "${text}" is not a port number (1-65535)`);
    return n;
  };
  return [{ hostIp, hostPort: port(hostPart, 'host port', true), containerPort: port(containerPart, 'container port', false), protocol }];
}

/**
 * --network; podman's default: bridge (the default network), so a container is isolated from the
 * host's network unless asked (`host`). `private` is podman's other name for it.
 */
export function parseNetwork(value: string | undefined, aliases: readonly string[]): NetworkRequest {
  const base: NetworkRequest = { mode: 'host', networks: [], ports: [], publishAll: false, dns: [], dnsSearch: [], dnsOptions: [], addHosts: [] };
  const v = value === undefined || value === 'private' ? 'bridge' : value;
  if (v === 'host' || v === 'none') {
    if (aliases.length > 0) throw invalid(`--network-alias needs a bridge network, not --network ${v}`);
    return { ...base, mode: v };
  }
  if (v.startsWith('container:')) {
    const container = v.slice('container:'.length);
    if (container === '') throw invalid('--network container: needs a container name or ID');
    return { ...base, mode: 'container', container };
  }
  if (v === '' || v.startsWith('ns:') || v === 'slirp4netns' || v === 'pasta') {
    throw invalid(`--network "${v}" is not supported: use bridge, a network name, host, none or container:ID`);
  }
  // bridge = the default network; NAME[,NAME...] user networks (the first is eth0).
  const names = v.split(',').map((n) => (n === 'bridge' ? 'tsbuild' : n.trim()));
  if (names.some((n) => !/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(n))) throw invalid(`invalid --network "${v}"`);
  return { ...base, mode: 'bridge', networks: names.map((name) => ({ name, aliases: [...aliases] })) };
}

/** --add-host NAME:IP (or NAME=IP); IPv6 addresses keep their colons. */
export function parseAddHost(value: string): { name: string; ip: string } {
  const sep = value.includes('=') ? value.indexOf('=') : value.indexOf(':');
  const name = sep < 0 ? '' : value.slice(0, sep);
  const ip = sep < 0 ? '' : value.slice(sep + 1).replace(/^\[(.*)\]$/, '$1');
  if (!name || !ip || !/^[0-9a-fA-F:.]+$/.test(ip)) throw invalid(`invalid --add-host "${value}": expected HOST:IP`);
  return { name, ip };
}

export function parseLabels(values: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values) {
    const eq = v.indexOf('=');
    const key = eq < 0 ? v : v.slice(0, eq);
    if (key === '') throw invalid(`invalid --label "${v}": expected KEY=VALUE`);
    out[key] = eq < 0 ? '' : v.slice(eq + 1);
  }
  return out;
}

/** docker's env-file format: KEY=VALUE or KEY lines; # comments and blank lines skipped. */
export async function readEnvFile(file: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new TsbuildError('NOT_FOUND', `cannot read --env-file ${file}: ${(err as Error).message}`, { exitCode: 125 });
  }
  return parseEnvFile(text, file);
}

export function parseEnvFile(text: string, file = 'env file'): string[] {
  const out: string[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.replace(/^\s+/, '');
    if (line === '' || line.startsWith('#')) return;
    const key = line.split('=')[0]!;
    if (/\s/.test(key) || key === '') throw invalid(`${file}:${i + 1}: invalid variable name "${key}"`);
    out.push(line);
  });
  return out;
}
