// What a container may use beyond the defaults (bud --memory, --cpu-*, --shm-size, --ulimit,
// --device, --group-add, --cgroup-parent): the parsed, checked form, and how it goes into the
// runtime spec. runc applies cgroup limits itself (v1 here); rlimits never exceed the caller's hard
// limits, since without CAP_SYS_RESOURCE runc cannot raise them.
import type { SecurityOptions } from './security-opt.js';
import type { RuntimeSpec, SpecDevice, SpecRlimit } from './spec.js';

export interface ContainerResources {
  /** Bytes. */
  memory?: number;
  /** Memory plus swap in bytes; -1: unlimited swap. */
  memorySwap?: number;
  cpuShares?: number;
  cpuPeriod?: number;
  cpuQuota?: number;
  cpusetCpus?: string;
  cpusetMems?: string;
  /** --cpus: a fraction of CPUs (1.5), as a CFS quota over a 100 ms period (when cpuQuota is not given). */
  cpus?: number;
  /** --pids-limit; 0 or less: unlimited. */
  pidsLimit?: number;
  /** Size of /dev/shm in bytes (default 64 MiB). */
  shmSize?: number;
  /** Replace the default rlimit of the same type; `unlimited` ones are left out (the container inherits the caller's). */
  ulimits?: (SpecRlimit | { type: string; unlimited: true })[];
  /** Host devices with their path in the container and the access granted (r, w, m). */
  devices?: (SpecDevice & { access: string })[];
  /** Supplementary groups, by gid or by name in the image's /etc/group (resolved when the container runs). */
  groupAdd?: string[];
  /** A cgroup the container's cgroup goes under, instead of the caller's own. */
  cgroupParent?: string;
  /**
   * --security-opt (bud's and run/create's): carried here because it travels the same way from the
   * flags to the spec; generateSpec applies it, applyResources does not.
   */
  security?: SecurityOptions;
}

/** The resources in the spec; `name` makes the container's cgroup name under --cgroup-parent. */
export function applyResources(spec: RuntimeSpec, r: ContainerResources, name: string): void {
  const resources = (spec.linux.resources ??= {});
  if (r.memory !== undefined || r.memorySwap !== undefined) resources.memory = { limit: r.memory, swap: r.memorySwap };
  const fromCpus = r.cpus !== undefined && r.cpuQuota === undefined ? { period: r.cpuPeriod ?? 100_000, quota: Math.round(r.cpus * (r.cpuPeriod ?? 100_000)) } : undefined;
  const cpu = { shares: r.cpuShares, period: fromCpus?.period ?? r.cpuPeriod, quota: fromCpus?.quota ?? r.cpuQuota, cpus: r.cpusetCpus, mems: r.cpusetMems };
  if (r.pidsLimit !== undefined && r.pidsLimit > 0) resources.pids = { limit: r.pidsLimit };
  if (Object.values(cpu).some((v) => v !== undefined)) resources.cpu = cpu;
  if (r.shmSize !== undefined) {
    const shm = spec.mounts.find((m) => m.destination === '/dev/shm');
    if (shm) shm.options = [...shm.options.filter((o) => !o.startsWith('size=')), `size=${r.shmSize}`];
  }
  for (const limit of r.ulimits ?? []) {
    spec.process.rlimits = spec.process.rlimits.filter((l) => l.type !== limit.type);
    if (!('unlimited' in limit)) spec.process.rlimits.push(limit);
  }
  for (const { access, ...device } of r.devices ?? []) {
    spec.linux.devices = [...(spec.linux.devices ?? []).filter((d) => d.path !== device.path), device];
    resources.devices = [...(resources.devices ?? []), { allow: true, type: device.type, major: device.major, minor: device.minor, access }];
  }
  if (r.cgroupParent !== undefined) spec.linux.cgroupsPath = `${r.cgroupParent.replace(/\/+$/, '')}/${name}`;
}
