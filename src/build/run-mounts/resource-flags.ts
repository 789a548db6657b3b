// bud's resource and security flags for every RUN container, with buildah's and podman's names and
// formats: --memory/-m, --memory-swap, --cpu-shares, --cpu-period, --cpu-quota, --cpuset-cpus,
// --cpuset-mems, --shm-size, --ulimit, --device, --group-add, --cgroup-parent, --security-opt.
// Checked once per build, so a typo (or a device that is not there) fails before the first step.
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { TsbuildError } from '../../errors.js';
import { parseByteSize } from '../../util/size.js';
import { currentLimit, deviceNumbers, parseSecurityOpts, type ContainerResources } from '../../runtime/index.js';

export interface ResourceFlagArgs {
  memory?: string;
  memorySwap?: string;
  cpuShares?: number;
  cpuPeriod?: number;
  cpuQuota?: number;
  cpusetCpus?: string;
  cpusetMems?: string;
  shmSize?: string;
  ulimit?: readonly string[];
  device?: readonly string[];
  groupAdd?: readonly string[];
  cgroupParent?: string;
  securityOpt?: readonly string[];
}

const invalid = (msg: string, hint?: string): TsbuildError => new TsbuildError('INVALID_ARGUMENT', msg, { hint });

export async function parseResourceFlags(args: ResourceFlagArgs): Promise<ContainerResources | undefined> {
  const r: ContainerResources = {
    memory: mapDefined(args.memory, (v) => size(v, '--memory')),
    memorySwap: mapDefined(args.memorySwap, (v) => (v.trim() === '-1' ? -1 : size(v, '--memory-swap'))),
    cpuShares: whole(args.cpuShares, '--cpu-shares'),
    cpuPeriod: whole(args.cpuPeriod, '--cpu-period'),
    cpuQuota: args.cpuQuota === -1 ? -1 : whole(args.cpuQuota, '--cpu-quota'),
    cpusetCpus: cpuset(args.cpusetCpus, '--cpuset-cpus'),
    cpusetMems: cpuset(args.cpusetMems, '--cpuset-mems'),
    shmSize: mapDefined(args.shmSize, (v) => size(v, '--shm-size')),
    ulimits: (args.ulimit ?? []).map(parseUlimit),
    devices: await Promise.all((args.device ?? []).map(parseDevice)),
    groupAdd: (args.groupAdd ?? []).flatMap((g) => g.split(',')).filter((g) => g !== ''),
    cgroupParent: args.cgroupParent === '' ? undefined : args.cgroupParent,
    // A seccomp=FILE profile is read now, once for the whole build.
    security: await parseSecurityOpts(args.securityOpt ?? []),
  };
  if (r.memorySwap !== undefined && r.memorySwap !== -1) {
    if (r.memory === undefined) throw invalid('--memory-swap needs --memory: it is the limit of memory plus swap');
    if (r.memorySwap < r.memory) throw invalid('--memory-swap must be at least --memory (it is memory plus swap)');
  }
  if (r.groupAdd!.includes('keep-groups')) throw invalid('--group-add keep-groups: only for rootless crun; give groups by name or gid');
  if (r.cgroupParent !== undefined && r.cgroupParent.split('/').includes('..')) throw invalid(`--cgroup-parent "${r.cgroupParent}": must not contain ..`);
  const empty = Object.values(r).every((v) => v === undefined || (Array.isArray(v) && v.length === 0));
  return empty ? undefined : r;
}

function mapDefined<T, U>(v: T | undefined, f: (v: T) => U): U | undefined {
  return v === undefined ? undefined : f(v);
}

function size(value: string, flag: string): number {
  const bytes = parseByteSize(value);
  if (bytes === undefined) throw invalid(`${flag} "${value}": expected <number>[<unit>] with unit b, k, m or g`);
  if (bytes <= 0) throw invalid(`${flag} "${value}": must be more than 0`);
  return bytes;
}

function whole(value: number | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isSafeInteger(value) || value < 0) throw invalid(`${flag} ${value}: expected a whole number`);
  return value;
}

function cpuset(value: string | undefined, flag: string): string | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+(-\d+)?(,\d+(-\d+)?)*$/.test(value.trim())) throw invalid(`${flag} "${value}": expected a list such as 0-3 or 0,1`);
  return value.trim();
}

// The names --ulimit takes (Docker's) and the rows of /proc/self/limits they are.
const RLIMITS: Record<string, string> = {
  as: 'Max address space', core: 'Max core file size', cpu: 'Max cpu time', data: 'Max data size', fsize: 'Max file size',
  locks: 'Max file locks', memlock: 'Max locked memory', msgqueue: 'Max msgqueue size', nice: 'Max nice priority',
  nofile: 'Max open files', nproc: 'Max processes', rss: 'Max resident set', rtprio: 'Max realtime priority',
  rttime: 'Max realtime timeout', sigpending: 'Max pending signals', stack: 'Max stack size',
};

/** type=soft[:hard] (hard defaults to soft; -1 is unlimited), never above tsbuild's own hard limit. */
function parseUlimit(spec: string): NonNullable<ContainerResources['ulimits']>[number] {
  const m = /^([a-z]+)=(-1|\d+)(?::(-1|\d+))?$/.exec(spec.trim());
  if (!m || !(m[1]! in RLIMITS)) throw invalid(`--ulimit "${spec}": expected TYPE=SOFT[:HARD] with TYPE one of ${Object.keys(RLIMITS).join(', ')}`);
  const type = `RLIMIT_${m[1]!.toUpperCase()}`;
  const soft = Number(m[2]);
  const hard = Number(m[3] ?? m[2]);
  const ours = currentLimit(RLIMITS[m[1]!]!); // undefined: unlimited (or unreadable: runc will say)
  const unlimited = (n: number): boolean => n === -1;
  if (!unlimited(hard) && (unlimited(soft) || soft > hard)) throw invalid(`--ulimit "${spec}": the soft limit is above the hard limit`);
  if (ours !== undefined && (unlimited(hard) || hard > ours.hard)) {
    throw invalid(`--ulimit "${spec}": above tsbuild's own hard limit (${ours.hard})`, 'a limit can be lowered, not raised, without CAP_SYS_RESOURCE');
  }
  if (unlimited(soft)) return { type, unlimited: true };
  return { type, soft, hard: unlimited(hard) ? (ours?.hard ?? soft) : hard };
}

/** HOST[:CONTAINER][:PERMISSIONS], as podman: a character or block device, permissions of r, w, m (default rwm). */
async function parseDevice(spec: string): Promise<NonNullable<ContainerResources['devices']>[number]> {
  const parts = spec.split(':');
  let [host, target, access] = parts;
  if (parts.length === 2 && /^[rwm]+$/.test(target!)) [target, access] = [undefined, target];
  if (!host || parts.length > 3 || (access !== undefined && !/^[rwm]+$/.test(access))) {
    throw invalid(`--device "${spec}": expected HOST-DEVICE[:CONTAINER-PATH][:PERMISSIONS] with permissions of r, w and m`);
  }
  target ||= host;
  if (!path.posix.isAbsolute(target)) throw invalid(`--device "${spec}": the container path "${target}" is not absolute`);
  const st = await stat(host).catch(() => undefined);
  if (!st) throw invalid(`--device "${spec}": ${host} does not exist`);
  if (!st.isCharacterDevice() && !st.isBlockDevice()) throw invalid(`--device "${spec}": ${host} is not a device`);
  return {
    path: path.posix.normalize(target),
    type: st.isCharacterDevice() ? 'c' : 'b',
    ...deviceNumbers(st.rdev),
    fileMode: st.mode & 0o7777,
    uid: st.uid,
    gid: st.gid,
    access: access ?? 'rwm',
  };
}
