// Values of metadata instructions checked the way BuildKit checks them: EXPOSE port specs (ranges
// become one port each, as BuildKit's parsePortSpecs does) and STOPSIGNAL names (moby's ParseSignal).

/**
 * The `port/proto` keys of one EXPOSE word: `80`, `80/udp`, `8000-8002/tcp` (three ports), and
 * the `[ip:][hostPort:]containerPort` forms BuildKit still accepts (only the container port counts).
 * Throws a plain Error with BuildKit's wording; the caller adds where.
 */
export function exposedPorts(spec: string): string[] {
  const parts = spec.split(':');
  const containerPart = parts[parts.length - 1] as string;
  const hostPort = parts.length >= 2 ? (parts[parts.length - 2] as string) : '';
  let ip = parts.length >= 3 ? parts.slice(0, -2).join(':') : '';
  const slash = containerPart.indexOf('/');
  const port = slash < 0 ? containerPart : containerPart.slice(0, slash);
  const proto = (slash < 0 ? '' : containerPart.slice(slash + 1)).toLowerCase() || 'tcp';
  if (port === '') throw new Error(`no port specified: ${spec}<empty>`);
  if (!['tcp', 'udp', 'sctp'].includes(proto)) throw new Error(`invalid proto: ${proto}`);
  if (ip.startsWith('[') && ip.endsWith(']')) ip = ip.slice(1, -1);
  if (ip !== '' && !isIp(ip)) throw new Error(`invalid IP address: ${ip}`);
  const range = portRange(port);
  if (range === undefined) throw new Error(`invalid containerPort: ${port}`);
  if (hostPort !== '') {
    const host = portRange(hostPort);
    if (host === undefined) throw new Error(`invalid hostPort: ${hostPort}`);
    if (range[1] - range[0] !== host[1] - host[0] && range[1] !== range[0]) {
      throw new Error(`invalid ranges specified for container and host Ports: ${port} and ${hostPort}`);
    }
  }
  const out: string[] = [];
  for (let p = range[0]; p <= range[1]; p++) out.push(`${p}/${proto}`);
  return out;
}

/** `8080` or `8000-9000` as [start, end], ports 0..65535 as Go's ParseUint(.., 16) allows. */
function portRange(text: string): [number, number] | undefined {
  const parts = text.split('-');
  if (parts.length > 2 || parts.some((p) => !/^\d+$/.test(p) || Number(p) > 65535)) return undefined;
  const start = Number(parts[0]);
  const end = Number(parts[1] ?? parts[0]);
  return end < start ? undefined : [start, end];
}

function isIp(text: string): boolean {
  if (/^(\d{1,3})(\.\d{1,3}){3}$/.test(text)) return text.split('.').every((o) => Number(o) <= 255);
  return /^[0-9a-fA-F:.]+$/.test(text) && text.includes(':');
}

const SIGNALS = new Set([
  'ABRT', 'ALRM', 'BUS', 'CHLD', 'CLD', 'CONT', 'FPE', 'HUP', 'ILL', 'INT', 'IO', 'IOT', 'KILL', 'PIPE', 'POLL', 'PROF', 'PWR',
  'QUIT', 'SEGV', 'STKFLT', 'STOP', 'SYS', 'TERM', 'TRAP', 'TSTP', 'TTIN', 'TTOU', 'URG', 'USR1', 'USR2', 'VTALRM', 'WINCH',
  'XCPU', 'XFSZ', 'RTMIN', 'RTMAX',
  ...Array.from({ length: 15 }, (_, i) => `RTMIN+${i + 1}`),
  ...Array.from({ length: 14 }, (_, i) => `RTMAX-${i + 1}`),
]);

/** moby's signal.ParseSignal on Linux: a non-zero number, or a name with or without SIG, any case. */
export function isValidSignal(text: string): boolean {
  if (/^[+-]?\d+$/.test(text)) return Number(text) !== 0;
  return SIGNALS.has(text.toUpperCase().replace(/^SIG/, ''));
}
