// OCI runtime-spec generation: turns what a RUN step or a container asks for (argv, env, user,
// network mode, extra bind mounts) into the config.json runc reads. Owns the security defaults every
// container gets: the default capability set, Docker's default seccomp filter for those capabilities,
// masked and read-only /proc and /sys paths, only runc's standard /dev nodes, no-new-privileges,
// and rlimits that never exceed the caller's own hard limits.
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { TsbuildError } from '../errors.js';
import { applyResources, type ContainerResources } from './resources.js';
import { buildSeccomp, type LinuxSeccomp } from './seccomp.js';
import { DEFAULT_PROFILE } from './seccomp-profile.js';
import { unmasks } from './security-opt.js';

export interface ProcessUser {
  uid: number;
  gid: number;
  additionalGids: number[];
}

export interface SpecMount {
  destination: string;
  type: string;
  source: string;
  options: string[];
}

export interface SpecOptions {
  /** Absolute path of the (already mounted) root filesystem. */
  rootfs: string;
  args: string[];
  env: string[];
  cwd: string;
  user: ProcessUser;
  hostname: string;
  terminal: boolean;
  /**
   * 'none' = a new network namespace with only loopback; 'host' = no network namespace; an absolute
   * path = join that namespace (e.g. /run/netns/tsbuild-<id>, set up by the network manager).
   */
  network: 'host' | 'none' | (string & {});
  /** Extra mounts after the standard ones, e.g. the /etc/hosts and /etc/resolv.conf generated for the container. */
  mounts?: SpecMount[];
  readonlyRootfs?: boolean;
  /** Capability names (with or without the CAP_ prefix); default DEFAULT_CAPABILITIES. */
  capabilities?: string[];
  /** Default: resources.security's, else true. */
  noNewPrivileges?: boolean;
  /**
   * RUN --security=insecure, as podman --privileged: every capability, no seccomp filter, no masked
   * or read-only paths, a writable /sys, the host's devices, and privileges may be gained (setuid
   * binaries).
   */
  privileged?: boolean;
  /**
   * Limits, devices, groups and cgroup placement beyond the defaults (bud --memory, --device, ...),
   * and the --security-opt choices (seccomp profile, no-new-privileges, mask/unmask).
   */
  resources?: ContainerResources;
  /**
   * --init: tini (the static build from the host, bind-mounted read-only) as pid 1, which reaps
   * zombies and forwards signals to the command.
   */
  init?: boolean;
  /** OCI createRuntime hooks: run by runc on the host once the container's namespaces exist, before its process starts. */
  createRuntimeHooks?: SpecHook[];
}

export interface SpecHook {
  path: string;
  args: string[];
  /** Seconds; runc kills the hook and fails the start beyond it. */
  timeout?: number;
}

/** Where the host's static tini comes from, and where the container sees it. */
export const INIT_BINARY = '/usr/bin/tini-static';
export const INIT_PATH = '/run/tsbuild-init';

export interface SpecDevice {
  path: string;
  type: 'c' | 'b';
  major: number;
  minor: number;
  fileMode: number;
  uid: number;
  gid: number;
}

export interface SpecRlimit {
  type: string;
  hard: number;
  soft: number;
}

export interface SpecCapabilities {
  bounding: string[];
  effective: string[];
  permitted: string[];
  inheritable: string[];
  ambient: string[];
}

export interface SpecNamespace {
  type: 'pid' | 'network' | 'ipc' | 'uts' | 'mount' | 'cgroup' | 'user';
  path?: string;
}

export interface SpecDeviceRule {
  allow: boolean;
  type?: 'a' | 'b' | 'c';
  major?: number;
  minor?: number;
  access?: string;
}

/** The subset of the OCI runtime-spec config.json (v1.0.2) that tsbuild writes. */
export interface RuntimeSpec {
  ociVersion: string;
  process: {
    terminal: boolean;
    user: ProcessUser;
    args: string[];
    env: string[];
    cwd: string;
    capabilities: SpecCapabilities;
    rlimits: SpecRlimit[];
    noNewPrivileges: boolean;
  };
  root: { path: string; readonly: boolean };
  hostname: string;
  mounts: SpecMount[];
  linux: {
    namespaces: SpecNamespace[];
    resources?: {
      devices?: SpecDeviceRule[];
      memory?: { limit?: number; swap?: number };
      cpu?: { shares?: number; period?: number; quota?: number; cpus?: string; mems?: string };
      pids?: { limit: number };
    };
    devices?: SpecDevice[];
    cgroupsPath?: string;
    maskedPaths: string[];
    readonlyPaths: string[];
    seccomp?: LinuxSeccomp;
  };
  hooks?: { createRuntime?: SpecHook[] };
}

/** buildah's default capability set (also Docker's, minus CAP_AUDIT_WRITE, CAP_MKNOD, CAP_NET_RAW). */
export const DEFAULT_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL',
  'CAP_NET_BIND_SERVICE',
  'CAP_SETFCAP',
  'CAP_SETGID',
  'CAP_SETPCAP',
  'CAP_SETUID',
  'CAP_SYS_CHROOT',
];

/** Every capability of Linux 5.9+, by bit number (CAP_CHECKPOINT_RESTORE is 40). */
export const CAPABILITY_NAMES: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID', 'CAP_SETUID',
  'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN', 'CAP_NET_RAW',
  'CAP_IPC_LOCK', 'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE', 'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME', 'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD',
  'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG',
  'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
];

/**
 * The capabilities this process may hand on: those in its bounding set (runc fails with "unable to
 * apply caps" on one we lack, as CAP_SYS_RESOURCE in some sandboxes).
 */
export const ALL_CAPABILITIES: readonly string[] = CAPABILITY_NAMES.filter((_, bit) => (boundingSet() >> BigInt(bit)) & 1n);

function boundingSet(): bigint {
  try {
    const hex = /^CapBnd:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    return hex === undefined ? (1n << 41n) - 1n : BigInt(`0x${hex}`);
  } catch {
    return (1n << 41n) - 1n;
  }
}

// Docker's and podman's defaults. runc skips the ones a kernel lacks.
export const MASKED_PATHS: readonly string[] = [
  '/proc/acpi',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
  '/sys/fs/selinux',
  '/sys/dev/block',
  // Energy counters: a side channel on what other processes compute (CVE-2020-8694).
  '/sys/devices/virtual/powercap',
];

export const READONLY_PATHS: readonly string[] = [
  '/proc/asound',
  '/proc/bus',
  '/proc/fs',
  '/proc/irq',
  '/proc/sys',
  '/proc/sysrq-trigger',
];

export function generateSpec(options: SpecOptions): RuntimeSpec {
  if (options.args.length === 0) throw new TsbuildError('INVALID_ARGUMENT', 'a container needs a command to run');
  if (!path.isAbsolute(options.rootfs)) {
    throw new TsbuildError('INVALID_ARGUMENT', `root filesystem path "${options.rootfs}" is not absolute`);
  }
  if (!path.posix.isAbsolute(options.cwd)) {
    throw new TsbuildError('INVALID_ARGUMENT', `working directory "${options.cwd}" is not an absolute path`);
  }
  const privileged = options.privileged ?? false;
  const security = options.resources?.security ?? {};
  const caps = privileged ? [...ALL_CAPABILITIES] : (options.capabilities ?? DEFAULT_CAPABILITIES).map(normalizeCapability);
  // Lifted defaults (unmask=) apply to both lists, as podman's; mask= adds even under --privileged.
  const open = (p: string): boolean => !unmasks(security.unmask ?? [], p);
  const maskedPaths = [...(privileged ? [] : MASKED_PATHS.filter(open)), ...(security.mask ?? [])];
  const ownNetns = options.network !== 'host';
  const namespaces: SpecNamespace[] = [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }];
  // runc brings up loopback by itself in a network namespace it creates, so 'none' needs nothing more.
  if (options.network === 'none') namespaces.push({ type: 'network' });
  else if (ownNetns) {
    if (!path.isAbsolute(options.network)) throw new TsbuildError('INVALID_ARGUMENT', `network namespace "${options.network}" is not an absolute path`);
    namespaces.push({ type: 'network', path: options.network });
  }
  const initMounts: SpecMount[] = options.init ? [{ destination: INIT_PATH, type: 'bind', source: INIT_BINARY, options: ['bind', 'ro', 'nosuid', 'nodev'] }] : [];

  const spec: RuntimeSpec = {
    ociVersion: '1.0.2',
    process: {
      terminal: options.terminal,
      user: { uid: options.user.uid, gid: options.user.gid, additionalGids: [...options.user.additionalGids] },
      args: options.init ? [INIT_PATH, '--', ...options.args] : [...options.args],
      env: [...options.env],
      cwd: options.cwd,
      // Effective/permitted are given regardless of the uid: the kernel clears them at execve for a
      // non-root user anyway (ambient is empty), which is what Docker users expect.
      capabilities: { bounding: caps, effective: caps, permitted: caps, inheritable: [], ambient: [] },
      rlimits: defaultRlimits(),
      noNewPrivileges: !privileged && (options.noNewPrivileges ?? security.noNewPrivileges ?? true),
    },
    root: { path: options.rootfs, readonly: options.readonlyRootfs ?? false },
    hostname: options.hostname,
    mounts: [...standardMounts(ownNetns, privileged), ...initMounts, ...(options.mounts ?? []).map((m) => ({ ...m, options: [...m.options] }))],
    linux: {
      namespaces,
      // Deny every device node by default; runc appends its own allow-list (null, zero, full,
      // random, urandom, tty, pts, ptmx) and creates those nodes in /dev.
      // Privileged: every device is allowed.
      resources: { devices: [{ allow: privileged, access: 'rwm' }] },
      ...(privileged && { devices: hostDevices() }),
      // No cgroupsPath on purpose: runc then nests the container's cgroups under the caller's own
      // (cgroup v1 here), so limits placed on tsbuild also bind its containers. An absolute path like
      // /tsbuild/<id> would escape them and leave a parent directory behind in every controller.
      maskedPaths: [...new Set(maskedPaths)],
      readonlyPaths: privileged ? [] : READONLY_PATHS.filter(open),
    },
  };
  // The filter follows the capabilities: a rule unlocked by CAP_SYS_ADMIN (mount, unshare, ...) is
  // in it only when the container holds CAP_SYS_ADMIN. --privileged runs unfiltered, as podman.
  const seccomp = privileged || security.seccomp === 'unconfined' ? undefined : (security.seccomp?.profile ?? DEFAULT_PROFILE);
  if (seccomp) spec.linux.seccomp = buildSeccomp(seccomp, { capabilities: caps });
  if (options.resources) applyResources(spec, options.resources, `tsbuild-${options.hostname}`);
  if (options.createRuntimeHooks?.length) spec.hooks = { createRuntime: options.createRuntimeHooks.map((h) => ({ ...h, args: [...h.args] })) };
  return spec;
}

function standardMounts(ownNetns: boolean, privileged: boolean): SpecMount[] {
  const sysAccess = privileged ? 'rw' : 'ro';
  return [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    {
      destination: '/dev/pts',
      type: 'devpts',
      source: 'devpts',
      options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
    },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    // sysfs is tied to the network namespace: without a new one (network 'host') mounting it fails
    // wherever we do not own the host's netns (e.g. in a user namespace), so the host's /sys is
    // bind-mounted read-only instead, as buildah does. (As real root here both would work.)
    ownNetns
      ? { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', sysAccess] }
      : { destination: '/sys', type: 'bind', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', sysAccess] },
    // The container's own cgroups (runc binds each v1 controller's directory of the container), so
    // a RUN sees its limits at /sys/fs/cgroup/<controller>/, as under buildah and podman.
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', sysAccess] },
  ];
}

// runc makes these itself in every container; /dev/pts, /dev/shm and /dev/mqueue are mounts of their own.
const RUNC_DEVICES = new Set(['/dev/null', '/dev/zero', '/dev/full', '/dev/random', '/dev/urandom', '/dev/tty', '/dev/ptmx', '/dev/console']);
const SKIPPED_DEV_DIRS = new Set(['/dev/pts', '/dev/shm', '/dev/mqueue']);

/** The host's character and block devices under /dev, as podman --privileged passes them on. */
function hostDevices(dir = '/dev'): SpecDevice[] {
  const out: SpecDevice[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of names.sort()) {
    const p = `${dir}/${name}`;
    let st;
    try {
      st = lstatSync(p);
    } catch {
      continue; // gone meanwhile
    }
    if (st.isDirectory()) {
      if (!SKIPPED_DEV_DIRS.has(p)) out.push(...hostDevices(p));
    } else if ((st.isCharacterDevice() || st.isBlockDevice()) && !RUNC_DEVICES.has(p)) {
      const { major, minor } = deviceNumbers(st.rdev);
      out.push({ path: p, type: st.isCharacterDevice() ? 'c' : 'b', major, minor, fileMode: st.mode & 0o7777, uid: st.uid, gid: st.gid });
    }
  }
  return out;
}

/** Linux's dev_t encoding (glibc major()/minor()). */
export function deviceNumbers(dev: number): { major: number; minor: number } {
  const rdev = BigInt(dev);
  return { major: Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn)), minor: Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn)) };
}

/**
 * docker/podman --cap-add/--cap-drop over the default set: ALL in --cap-drop leaves only the added
 * ones, ALL in --cap-add starts from every capability; one both added and dropped is an error.
 */
export function capabilitySet(add: readonly string[], drop: readonly string[]): string[] {
  const norm = (names: readonly string[], flag: string): string[] =>
    names.flatMap((n) => n.split(',')).filter((n) => n.trim() !== '').map((n) => {
      const upper = n.trim().toUpperCase();
      if (upper === 'ALL') return upper;
      const cap = upper.startsWith('CAP_') ? upper : `CAP_${upper}`;
      if (!CAPABILITY_NAMES.includes(cap)) throw new TsbuildError('INVALID_ARGUMENT', `${flag} "${n}": unknown capability`);
      if (flag === '--cap-add' && !ALL_CAPABILITIES.includes(cap)) {
        throw new TsbuildError('INVALID_ARGUMENT', `${flag} "${n}": tsbuild itself lacks this capability, so it cannot grant it`);
      }
      return cap;
    });
  const adds = norm(add, '--cap-add');
  const drops = norm(drop, '--cap-drop');
  if (drops.includes('ALL')) {
    if (adds.includes('ALL')) throw new TsbuildError('INVALID_ARGUMENT', '--cap-add=ALL and --cap-drop=ALL cannot be combined');
    return [...new Set(adds)];
  }
  for (const cap of adds) {
    if (drops.includes(cap)) throw new TsbuildError('INVALID_ARGUMENT', `capability ${cap} cannot be both added and dropped`);
  }
  const base = adds.includes('ALL') ? ALL_CAPABILITIES : [...DEFAULT_CAPABILITIES, ...adds];
  return [...new Set(base)].filter((c) => !drops.includes(c));
}

function normalizeCapability(name: string): string {
  const upper = name.trim().toUpperCase();
  if (!/^(CAP_)?[A-Z_]+$/.test(upper)) throw new TsbuildError('INVALID_ARGUMENT', `invalid capability "${name}"`);
  return upper.startsWith('CAP_') ? upper : `CAP_${upper}`;
}

/**
 * RLIMIT_NOFILE for the container: soft raised to our hard limit (builds like `npm install` run out
 * of 1024 descriptors; buildah raises it too), never above it, because without CAP_SYS_RESOURCE
 * runc fails with "error setting rlimits for ready process". When the limit cannot be read the
 * container simply inherits runc's.
 */
function defaultRlimits(): SpecRlimit[] {
  const nofile = currentLimit('Max open files');
  return nofile === undefined ? [] : [{ type: 'RLIMIT_NOFILE', soft: nofile.hard, hard: nofile.hard }];
}

let cachedLimits: string | undefined;

/** This process's soft/hard limit from /proc/self/limits; undefined when unreadable or unlimited. */
export function currentLimit(name: string): { soft: number; hard: number } | undefined {
  try {
    cachedLimits ??= readFileSync('/proc/self/limits', 'utf8');
  } catch {
    return undefined;
  }
  for (const line of cachedLimits.split('\n')) {
    if (!line.startsWith(name)) continue;
    const [soft, hard] = line.slice(name.length).trim().split(/\s+/);
    // "unlimited" (2^64-1) has no exact JSON number in JS; leaving the rlimit out inherits it.
    if (!soft || !hard || !/^\d+$/.test(soft) || !/^\d+$/.test(hard)) return undefined;
    return { soft: Number(soft), hard: Number(hard) };
  }
  return undefined;
}
