// The bud flags that shape every RUN container, with buildah's (and docker buildx's) names and
// meaning: --volume, --cap-add/--cap-drop, --no-hosts, --add-host, --dns*, --secret, --ssh, --allow.
// Parsed once per build; files and sockets they name are checked here, so a typo fails the build
// before its first step. Secret values are read into memory here and go nowhere but RUN mounts.
import { readFile, stat } from 'node:fs/promises';
import { isIP } from 'node:net';
import path from 'node:path';
import { TsbuildError, errnoCode } from '../../errors.js';
import type { HostFileOptions } from '../../container/host-files.js';
import { capabilitySet, type ContainerResources } from '../../runtime/index.js';
import { parseResourceFlags, type ResourceFlagArgs } from './resource-flags.js';
import { startKeyAgent, type PrivateAgent } from './ssh-agent.js';

export interface VolumeFlag {
  source: string;
  target: string;
  readOnly: boolean;
  /** `:O`: an overlay over the host directory; writes are thrown away after each RUN. */
  overlay: boolean;
  /** Further mount options (nosuid, nodev, noexec, propagation). */
  options: string[];
}

export interface RunFlags {
  volumes: VolumeFlag[];
  /** Undefined: the default set. */
  capabilities: string[] | undefined;
  hostFiles: HostFileOptions;
  /** --secret: id -> value. */
  secrets: ReadonlyMap<string, Buffer>;
  /** --ssh: id -> agent socket path (a private agent's for key files). */
  ssh: ReadonlyMap<string, string>;
  /** --allow entitlements (security.insecure, network.host). */
  allow: ReadonlySet<string>;
  /** --memory, --ulimit, --device, ... (resource-flags.ts); undefined: none given. */
  resources?: ContainerResources;
}

export interface RunFlagArgs {
  volume?: readonly string[];
  capAdd?: readonly string[];
  capDrop?: readonly string[];
  noHosts?: boolean;
  addHost?: readonly string[];
  dns?: readonly string[];
  dnsSearch?: readonly string[];
  dnsOption?: readonly string[];
  secret?: readonly string[];
  ssh?: readonly string[];
  allow?: readonly string[];
  resources?: ResourceFlagArgs;
}

export const NO_RUN_FLAGS: RunFlags = {
  volumes: [],
  capabilities: undefined,
  hostFiles: {},
  secrets: new Map(),
  ssh: new Map(),
  allow: new Set(),
};

const ENTITLEMENTS = ['security.insecure', 'network.host'];

/** Dispose of the result when the build ends: it stops the ssh agents started for key files. */
export async function parseRunFlags(args: RunFlagArgs, env: NodeJS.ProcessEnv = process.env): Promise<RunFlags & AsyncDisposable> {
  const invalid = (msg: string): TsbuildError => new TsbuildError('INVALID_ARGUMENT', msg);
  if (args.noHosts && args.addHost?.length) throw invalid('--no-hosts and --add-host cannot be used together');
  const addHosts = (args.addHost ?? []).map((h) => {
    const sep = h.indexOf(':');
    const name = h.slice(0, sep);
    const ip = h.slice(sep + 1).replace(/^\[(.*)\]$/, '$1');
    if (sep <= 0 || isIP(ip) === 0) throw invalid(`--add-host "${h}": expected HOST:IP`);
    return { name, ip };
  });
  const dns = [...(args.dns ?? [])].flatMap((d) => d.split(',')).filter((d) => d !== '');
  for (const d of dns) {
    if (isIP(d) === 0 && !(d === 'none' && dns.length === 1)) throw invalid(`--dns "${d}": expected an IP address (or none)`);
  }
  const allow = new Set(args.allow ?? []);
  for (const a of allow) if (!ENTITLEMENTS.includes(a)) throw invalid(`--allow "${a}": expected ${ENTITLEMENTS.join(' or ')}`);
  return {
    volumes: await Promise.all((args.volume ?? []).map(parseVolume)),
    capabilities: mergeCapabilities(args.capAdd ?? [], args.capDrop ?? []),
    hostFiles: {
      noHosts: args.noHosts ?? false,
      addHosts,
      dns,
      dnsSearch: [...(args.dnsSearch ?? [])],
      dnsOptions: [...(args.dnsOption ?? [])],
    },
    secrets: await parseSecrets(args.secret ?? [], env),
    allow,
    resources: args.resources && (await parseResourceFlags(args.resources)),
    // Last: nothing may fail after a private agent has started.
    ...(await parseSsh(args.ssh ?? [], env).then(({ ssh, stop }) => ({ ssh, [Symbol.asyncDispose]: stop }))),
  };
}

const PROPAGATION = ['private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave'];
const PASSED_OPTIONS = ['nosuid', 'suid', 'nodev', 'dev', 'noexec', 'exec', ...PROPAGATION];

/** -v HOST:CTR[:OPTIONS], as buildah: ro/rw, O (overlay), z/Z (SELinux labels: nothing to do here), nosuid & co. */
async function parseVolume(spec: string): Promise<VolumeFlag> {
  const parts = spec.split(':');
  const invalid = (msg: string): TsbuildError => new TsbuildError('INVALID_ARGUMENT', `--volume "${spec}": ${msg}`);
  if (parts.length < 2 || parts.length > 3 || !parts[0] || !parts[1]) throw invalid('expected HOST-DIR:CONTAINER-DIR[:OPTIONS]');
  const source = path.resolve(parts[0]);
  const target = parts[1];
  if (!path.posix.isAbsolute(target)) throw invalid(`the container path "${target}" is not absolute`);
  if (path.posix.normalize(target) === '/') throw invalid('cannot mount over /');
  try {
    await stat(source);
  } catch (err) {
    throw invalid(`the host path ${source} does not exist (${errnoCode(err) ?? 'unreadable'})`);
  }
  const volume: VolumeFlag = { source, target: path.posix.normalize(target), readOnly: false, overlay: false, options: [] };
  for (const option of (parts[2] ?? '').split(',').filter((o) => o !== '')) {
    if (option === 'ro' || option === 'rw') volume.readOnly = option === 'ro';
    else if (option === 'O') volume.overlay = true;
    else if (option === 'z' || option === 'Z' || option === 'bind' || option === 'rbind') continue;
    else if (PASSED_OPTIONS.includes(option)) volume.options.push(option);
    else throw invalid(`unknown option "${option}" (expected ro, rw, O, z, Z, nosuid, nodev, noexec or a propagation)`);
  }
  if (volume.overlay && volume.readOnly) throw invalid('O and ro cannot be combined');
  return volume;
}

/**
 * buildah's (containers/common) MergeCapabilities: ALL in --cap-drop leaves only --cap-add; ALL in
 * --cap-add starts from every capability; a capability both added and dropped is an error.
 */
export function mergeCapabilities(add: readonly string[], drop: readonly string[]): string[] | undefined {
  return add.length === 0 && drop.length === 0 ? undefined : capabilitySet(add, drop);
}

/**
 * --secret id=ID[,type=file|env][,src=FILE|env=VAR], as docker buildx: src is a file, env a
 * variable; type=env makes src a variable name; neither takes the variable named ID. Messages name
 * the id and the file or variable, never the value.
 */
async function parseSecrets(specs: readonly string[], env: NodeJS.ProcessEnv): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const spec of specs) {
    const invalid = (msg: string): TsbuildError => new TsbuildError('INVALID_ARGUMENT', `--secret "${spec}": ${msg}`);
    let id: string | undefined;
    let type: string | undefined;
    let src: string | undefined;
    let envName: string | undefined;
    for (const field of spec.split(',')) {
      const eq = field.indexOf('=');
      const key = eq < 0 ? field : field.slice(0, eq);
      const value = eq < 0 ? '' : field.slice(eq + 1);
      if (key === 'id') id = value;
      else if (key === 'type') type = value;
      else if (key === 'src' || key === 'source') src = value;
      else if (key === 'env') envName = value;
      else throw invalid(`unknown key "${key}" (expected id, type, src or env)`);
    }
    if (type !== undefined && type !== 'file' && type !== 'env') throw invalid(`type must be file or env, not "${type}"`);
    if (type === 'env' && envName === undefined) [envName, src] = [src, undefined];
    id ??= src !== undefined ? path.basename(src) : envName;
    if (!id) throw invalid('needs an id');
    if (src === undefined && envName === undefined) envName = id;
    let value: Buffer;
    if (src !== undefined) {
      try {
        value = await readFile(src);
      } catch (err) {
        throw invalid(`cannot read ${src} (${errnoCode(err) ?? 'unreadable'})`);
      }
    } else {
      const v = env[envName!];
      if (v === undefined) throw invalid(`the environment variable ${envName} is not set`);
      value = Buffer.from(v);
    }
    out.set(id, value);
  }
  return out;
}

/**
 * --ssh default | ID=SOCKET | ID=KEY[,KEY...] | ID: agent sockets ($SSH_AUTH_SOCK when none is
 * named), or key files, which a private agent started here serves (stopped by `stop`).
 */
async function parseSsh(specs: readonly string[], env: NodeJS.ProcessEnv): Promise<{ ssh: Map<string, string>; stop: () => Promise<void> }> {
  const out = new Map<string, string>();
  const agents: PrivateAgent[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(agents.splice(0).map((a) => a.stop()));
  };
  try {
    for (const spec of specs) {
      const eq = spec.indexOf('=');
      const id = eq < 0 ? spec : spec.slice(0, eq);
      const paths = eq < 0 ? [env.SSH_AUTH_SOCK ?? ''] : spec.slice(eq + 1).split(',');
      if (!id) throw new TsbuildError('INVALID_ARGUMENT', `--ssh "${spec}": expected default, ID=SOCKET or ID=KEYFILE[,KEYFILE...]`);
      if (paths.some((p) => p === '')) throw new TsbuildError('INVALID_ARGUMENT', `--ssh ${spec}: no agent socket given and SSH_AUTH_SOCK is not set`);
      const stats = await Promise.all(paths.map((p) => stat(p).catch(() => undefined)));
      if (stats.every((st) => st?.isFile())) {
        const agent = await startKeyAgent(paths.map((p) => path.resolve(p)), `--ssh ${spec}`);
        agents.push(agent);
        out.set(id, agent.socket);
        continue;
      }
      const bad = paths.findIndex((_, i) => !stats[i]?.isSocket());
      if (paths.length > 1 || bad >= 0) {
        throw new TsbuildError('INVALID_ARGUMENT', `--ssh ${spec}: ${paths[Math.max(bad, 0)]} is not an agent socket${paths.length > 1 ? ' (give one socket, or key files only)' : ''}`);
      }
      out.set(id, path.resolve(paths[0]!));
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { ssh: out, stop };
}
