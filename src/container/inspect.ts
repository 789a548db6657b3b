// What `inspect` and `ps` show of a container, in podman's shapes (docker-compatible field names),
// so scripts written for podman's --format templates work.
import { DEFAULT_LOG_MAX_BYTES, type ContainerRecord, type PortMapping } from './types.js';

/** podman's Ports map: {"80/tcp": [{HostIp, HostPort}]} (null for exposed but unpublished ports). */
export function portMap(record: ContainerRecord): Record<string, { HostIp: string; HostPort: string }[] | null> {
  const out: Record<string, { HostIp: string; HostPort: string }[] | null> = {};
  for (const p of record.config.exposedPorts) out[p.includes('/') ? p : `${p}/tcp`] = null;
  for (const p of publishedPorts(record)) {
    const key = `${p.containerPort}/${p.protocol}`;
    (out[key] ??= []).push({ HostIp: p.hostIp, HostPort: String(p.hostPort) });
  }
  return out;
}

/** The ports as chosen at start while running, else as requested. */
export function publishedPorts(record: ContainerRecord): PortMapping[] {
  return record.network?.ports.length ? record.network.ports : record.config.network.ports;
}

export function inspectContainer(record: ContainerRecord): Record<string, unknown> {
  const c = record.config;
  const running = record.state === 'running';
  const networks: Record<string, unknown> = {};
  if (c.network.mode === 'bridge') {
    for (const n of c.network.networks) {
      const a = record.network?.attachments.find((x) => x.network === n.name);
      networks[n.name] = {
        NetworkID: n.name,
        IPAddress: a?.ip ?? '',
        IPPrefixLen: a?.prefixLength ?? 0,
        Gateway: a?.gateway ?? '',
        MacAddress: a?.mac ?? '',
        Aliases: [...n.aliases, ...(a?.aliases ?? [])].filter((v, i, all) => all.indexOf(v) === i),
      };
    }
  }
  const primary = record.network?.attachments[0];
  return {
    Id: record.id,
    Created: record.created,
    Path: c.args[0] ?? '',
    Args: c.args.slice(1),
    State: {
      Status: record.state,
      Running: running,
      Paused: false,
      Restarting: false,
      OOMKilled: false,
      Dead: false,
      Pid: running ? (record.pid ?? 0) : 0,
      ExitCode: record.exitCode ?? 0,
      Error: record.error ?? '',
      StartedAt: record.startedAt ?? '0001-01-01T00:00:00Z',
      FinishedAt: record.finishedAt ?? '0001-01-01T00:00:00Z',
      ConmonPid: running ? (record.monitor?.pid ?? 0) : 0,
    },
    Image: record.imageId.replace(/^sha256:/, ''),
    ImageName: record.image,
    Name: record.name,
    RestartCount: record.restartCount ?? 0,
    Driver: 'overlay',
    IsWorkingContainer: record.kind === 'working',
    Mounts: c.mounts.map((m) => ({
      Type: m.type,
      Name: m.type === 'volume' ? m.source : undefined,
      Source: m.source,
      Destination: m.target,
      RW: !m.readonly,
      Options: m.options,
    })),
    Config: {
      Hostname: c.hostname || record.id.slice(0, 12),
      User: c.user,
      Env: c.env,
      Cmd: c.cmd,
      Entrypoint: c.entrypoint,
      WorkingDir: c.cwd,
      Image: record.image,
      Labels: c.labels,
      StopSignal: c.stopSignal,
      StopTimeout: c.stopTimeout,
      Tty: c.terminal,
      OpenStdin: c.interactive,
      ExposedPorts: Object.fromEntries(c.exposedPorts.map((p) => [p.includes('/') ? p : `${p}/tcp`, {}])),
    },
    HostConfig: {
      NetworkMode: c.network.mode === 'container' ? `container:${c.network.container ?? ''}` : c.network.mode === 'bridge' ? (c.network.networks[0]?.name ?? 'bridge') : c.network.mode,
      RestartPolicy: { Name: c.restart.name, MaximumRetryCount: c.restart.maximumRetryCount },
      AutoRemove: c.autoRemove,
      Memory: c.memory ?? 0,
      NanoCpus: c.cpus === undefined ? 0 : Math.round(c.cpus * 1e9),
      PidsLimit: c.pidsLimit ?? 0,
      Privileged: c.privileged,
      ReadonlyRootfs: c.readOnly,
      CapAdd: c.capAdd,
      CapDrop: c.capDrop,
      SecurityOpt: c.securityOpt ?? [],
      Init: c.init,
      LogConfig: { Type: 'json-file', Config: { 'max-size': String(c.logMaxBytes ?? DEFAULT_LOG_MAX_BYTES) } },
      PortBindings: Object.fromEntries(
        Object.entries(groupPorts(c.network.ports)).map(([k, v]) => [k, v.map((p) => ({ HostIp: p.hostIp, HostPort: p.hostPort === 0 ? '' : String(p.hostPort) }))]),
      ),
      PublishAllPorts: c.network.publishAll,
      Binds: c.mounts.filter((m) => m.type !== 'tmpfs').map((m) => `${m.source}:${m.target}${m.readonly ? ':ro' : ''}`),
      Tmpfs: Object.fromEntries(c.mounts.filter((m) => m.type === 'tmpfs').map((m) => [m.target, m.options.join(',')])),
      Dns: c.network.dns,
      DnsSearch: c.network.dnsSearch,
      DnsOptions: c.network.dnsOptions,
      ExtraHosts: c.network.addHosts.map((h) => `${h.name}:${h.ip}`),
    },
    NetworkSettings: {
      SandboxKey: record.network?.namespace ?? '',
      IPAddress: primary?.ip ?? '',
      Gateway: primary?.gateway ?? '',
      MacAddress: primary?.mac ?? '',
      Ports: portMap(record),
      Networks: networks,
    },
  };
}

function groupPorts(ports: readonly PortMapping[]): Record<string, PortMapping[]> {
  const out: Record<string, PortMapping[]> = {};
  for (const p of ports) (out[`${p.containerPort}/${p.protocol}`] ??= []).push(p);
  return out;
}

/** podman ps's STATUS column. */
export function statusText(record: ContainerRecord, now = Date.now()): string {
  if (record.state === 'running') return `Up ${duration(now - Date.parse(record.startedAt ?? record.created))}`;
  if (record.state === 'created') return 'Created';
  return `Exited (${record.exitCode ?? 0}) ${duration(now - Date.parse(record.finishedAt ?? record.created))} ago`;
}

/** "3 seconds", "About a minute", "5 minutes", "2 hours", "3 days" (docker's units.HumanDuration). */
export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 1) return 'Less than a second';
  if (s === 1) return '1 second';
  if (s < 60) return `${s} seconds`;
  const m = Math.round(s / 60);
  if (m === 1) return 'About a minute';
  if (m < 60) return `${m} minutes`;
  const h = Math.round(s / 3600);
  if (h === 1) return 'About an hour';
  if (h < 48) return `${h} hours`;
  const d = Math.round(s / 86400);
  if (d < 14) return `${d} days`;
  if (d < 60) return `${Math.round(d / 7)} weeks`;
  if (d < 730) return `${Math.round(d / 30)} months`;
  return `${Math.round(d / 365)} years`;
}

/** 0.0.0.0:8080->80/tcp, as ps prints published ports. */
export function portsText(record: ContainerRecord): string {
  return publishedPorts(record)
    .map((p) => `${p.hostIp || '0.0.0.0'}:${p.hostPort === 0 ? '' : p.hostPort}->${p.containerPort}/${p.protocol}`)
    .join(', ');
}

/** One `ps` row's fields, as podman's ps --format json / {{.Names}} templates name them. */
export function psEntry(record: ContainerRecord, now = Date.now()): Record<string, unknown> {
  return {
    Id: record.id,
    ID: record.id,
    Image: record.image,
    ImageID: record.imageId.replace(/^sha256:/, ''),
    Command: record.config.args,
    Created: Math.floor(Date.parse(record.created) / 1000),
    CreatedAt: record.created,
    State: record.state,
    Status: statusText(record, now),
    Names: [record.name],
    Labels: record.config.labels,
    Pid: record.state === 'running' ? (record.pid ?? 0) : 0,
    ExitCode: record.exitCode ?? 0,
    Exited: record.state === 'exited',
    ExitedAt: record.finishedAt ? Math.floor(Date.parse(record.finishedAt) / 1000) : 0,
    StartedAt: record.startedAt ? Math.floor(Date.parse(record.startedAt) / 1000) : 0,
    Ports: publishedPorts(record).map((p) => ({ host_ip: p.hostIp, host_port: p.hostPort, container_port: p.containerPort, protocol: p.protocol })),
    Networks: record.config.network.mode === 'bridge' ? record.config.network.networks.map((n) => n.name) : [record.config.network.mode],
    Mounts: record.config.mounts.map((m) => m.target),
    IsWorkingContainer: record.kind === 'working',
    AutoRemove: record.config.autoRemove,
  };
}
