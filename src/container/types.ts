// The container model shared by the container manager's parts: what `create` decides once
// (ContainerConfig, kept for every later start and restart) and the record that holds it together
// with the container's lifecycle state. The record is the only file that says what a container is;
// the monitor's own files (monitor.json, exit.json) say what its process is doing, and settle.ts
// combines the two.
import type { SecurityOptions } from '../runtime/security-opt.js';

/** docker/podman --restart. */
export interface RestartPolicy {
  name: 'no' | 'on-failure' | 'always' | 'unless-stopped';
  /** on-failure:N; 0 = no limit. */
  maximumRetryCount: number;
}

/** -p [ip:]host:container[/proto] after parsing; hostPort 0 = pick a free one at start (-P, or -p CONTAINER). */
export interface PortMapping {
  hostIp: string;
  hostPort: number;
  containerPort: number;
  protocol: 'tcp' | 'udp';
}

/**
 * A mount requested with -v, --mount, --tmpfs, or implied by an image VOLUME. After create, a
 * volume mount's source is always a volume name (anonymous ones get a generated name).
 */
export interface MountSpec {
  type: 'bind' | 'volume' | 'tmpfs';
  /** Host path (bind), volume name (volume), '' (tmpfs). */
  source: string;
  /** Absolute path inside the container. */
  target: string;
  readonly: boolean;
  /** Extra options: bind propagation, z/Z (accepted, no SELinux here), tmpfs size=/mode=, volume nocopy. */
  options: string[];
  /** An anonymous volume (image VOLUME or -v /path): removed with `rm -v`. */
  anonymous?: boolean;
}

export interface NetworkRequest {
  mode: 'bridge' | 'host' | 'none' | 'container';
  /** mode 'container': the container (ID) whose network namespace is joined. */
  container?: string;
  /** mode 'bridge': the networks to attach, first = eth0; default [{ name: 'tsbuild' }]. */
  networks: { name: string; aliases: string[] }[];
  ports: PortMapping[];
  /** -P: publish every EXPOSEd port of the image to a free host port. */
  publishAll: boolean;
  dns: string[];
  dnsSearch: string[];
  dnsOptions: string[];
  addHosts: { name: string; ip: string }[];
}

export interface ContainerConfig {
  /** Final argv (entrypoint + command) and the parts as given, for inspect. */
  args: string[];
  entrypoint: string[];
  cmd: string[];
  env: string[];
  cwd: string;
  /** As given (name or uid[:gid]); resolved against the rootfs at each start. */
  user: string;
  hostname: string;
  /** -t */
  terminal: boolean;
  /** -i: keep stdin open. */
  interactive: boolean;
  readOnly: boolean;
  privileged: boolean;
  capAdd: string[];
  capDrop: string[];
  /** --security-opt as given, for inspect's HostConfig.SecurityOpt. */
  securityOpt?: string[];
  /**
   * --security-opt parsed: seccomp (a file's profile is kept here, read at create, so a later start
   * does not depend on the file), no-new-privileges, mask/unmask. Absent: the defaults.
   */
  security?: SecurityOptions;
  /** --init: a tiny init (tini) as pid 1 that reaps zombies and forwards signals. */
  init: boolean;
  memory?: number;
  /** --cpus as a fraction of CPUs (1.5). */
  cpus?: number;
  pidsLimit?: number;
  restart: RestartPolicy;
  /** --rm */
  autoRemove: boolean;
  stopSignal: string;
  /** Seconds `stop` waits before SIGKILL. */
  stopTimeout: number;
  labels: Record<string, string>;
  network: NetworkRequest;
  mounts: MountSpec[];
  /** Ports the image EXPOSEs ("80/tcp"), for -P and inspect. */
  exposedPorts: string[];
  /** --log-opt max-size: the log is rotated (to ctr.log.1) beyond it; absent = DEFAULT_LOG_MAX_BYTES. */
  logMaxBytes?: number;
}

/** One network a running container is attached to (from the CNI result). */
export interface NetworkAttachment {
  network: string;
  interface: string;
  ip: string;
  prefixLength: number;
  gateway: string;
  mac: string;
  aliases: string[];
}

/** Network state while the container's namespace exists (set by start, cleared by cleanup). */
export interface NetworkState {
  /** Path of the network namespace file (e.g. /run/netns/tsbuild-<id12>); '' for host mode. */
  namespace: string;
  attachments: NetworkAttachment[];
  /** Published ports with the host ports actually chosen. */
  ports: PortMapping[];
}

export const DEFAULT_LOG_MAX_BYTES = 10 * 1024 * 1024;

export type ContainerState = 'created' | 'running' | 'exited';

export interface ContainerRecord {
  id: string;
  name: string;
  /** 'container': podman-style (run/create); 'working': buildah-style (from), see src/working/. */
  kind: 'container' | 'working';
  image: string;
  imageId: string;
  created: string;
  state: ContainerState;
  config: ContainerConfig;
  exitCode?: number;
  startedAt?: string;
  finishedAt?: string;
  restartCount?: number;
  /** The monitor process of a started container (pid and its /proc start time, against pid reuse). */
  monitor?: { pid: number; startTime: number; bootId: string };
  /** The container's init process as the host sees it. */
  pid?: number;
  network?: NetworkState;
  /** `stop`/`kill` by the user: restart policies do not apply (docker's rule). */
  stoppedByUser?: boolean;
  /** `tsbuild mount` holds the rootfs mounted beyond the container's own runs. */
  userMounted?: boolean;
  /** Foreground `run`: the CLI process the container lives for; its death ends the container (settle.ts). */
  ownerPid?: number;
  /** Why the last start failed (the record stays created/exited). */
  error?: string;
}

/** Defaults for a record's config, so callers (tests, `from`) set only what they mean. */
export function defaultConfig(fields: Partial<ContainerConfig> = {}): ContainerConfig {
  return {
    args: [],
    entrypoint: [],
    cmd: [],
    env: [],
    cwd: '/',
    user: '',
    hostname: '',
    terminal: false,
    interactive: false,
    readOnly: false,
    privileged: false,
    capAdd: [],
    capDrop: [],
    init: false,
    restart: { name: 'no', maximumRetryCount: 0 },
    autoRemove: false,
    stopSignal: 'SIGTERM',
    stopTimeout: 10,
    labels: {},
    network: { mode: 'bridge', networks: [], ports: [], publishAll: false, dns: [], dnsSearch: [], dnsOptions: [], addHosts: [] },
    mounts: [],
    exposedPorts: [],
    ...fields,
  };
}
