// `tsbuild top`: the processes of a running container, in podman top's columns (its psgo format
// descriptors, by name or AIX code). The pids come from `runc ps` (the container's cgroup); each
// process is read from /proc: PID/PPID as the container sees them (NSpid), user names from the
// container's own /etc/passwd, times and CPU share from /proc/<pid>/stat.
import { readFile } from 'node:fs/promises';
import { TsbuildError } from '../errors.js';
import type { Stores } from '../store/root.js';
import { resolveInRoot } from '../util/resolve-in-root.js';
import { requireContainer, requireRunning, runcOutput } from './exec-target.js';

export interface TopTable {
  headers: string[];
  rows: string[][];
}

interface Descriptor {
  header: string;
  value: (p: ProcInfo, ctx: TopContext) => string;
}

export interface ProcInfo {
  hostPid: number;
  pid: number;
  ppid: number;
  /** The host pid of the parent. */
  hostPpid: number;
  comm: string;
  args: string[];
  state: string;
  uid: number;
  ruid: number;
  gid: number;
  rgid: number;
  pgid: number;
  nice: number;
  ttyNr: number;
  /** utime + stime, in clock ticks. */
  cpuTicks: number;
  /** Start time after boot, in clock ticks. */
  startTicks: number;
  vszKiB: number;
  rssKiB: number;
}

export interface TopContext {
  /** Seconds since the epoch, now. */
  now: number;
  /** Boot time, seconds since the epoch. */
  bootTime: number;
  users: Map<number, string>;
  groups: Map<number, string>;
  hostUsers: Map<number, string>;
}

const CLOCK_TICKS = 100;

// Start times are known to a clock tick only: milliseconds are all the precision there is.
const elapsedSeconds = (p: ProcInfo, ctx: TopContext): number =>
  Math.max(0, Math.round((ctx.now - (ctx.bootTime + p.startTicks / CLOCK_TICKS)) * 1000) / 1000);
const nameOf = (map: Map<number, string>, id: number): string => map.get(id) ?? String(id);

const DESCRIPTORS: Record<string, Descriptor> = {
  user: { header: 'USER', value: (p, c) => nameOf(c.users, p.uid) },
  ruser: { header: 'RUSER', value: (p, c) => nameOf(c.users, p.ruid) },
  group: { header: 'GROUP', value: (p, c) => nameOf(c.groups, p.gid) },
  rgroup: { header: 'RGROUP', value: (p, c) => nameOf(c.groups, p.rgid) },
  huser: { header: 'HUSER', value: (p, c) => nameOf(c.hostUsers, p.uid) },
  pid: { header: 'PID', value: (p) => String(p.pid) },
  ppid: { header: 'PPID', value: (p) => String(p.ppid) },
  hpid: { header: 'HPID', value: (p) => String(p.hostPid) },
  hppid: { header: 'HPPID', value: (p) => String(p.hostPpid) },
  pgid: { header: 'PGID', value: (p) => String(p.pgid) },
  pcpu: {
    header: '%CPU',
    value: (p, c) => {
      const elapsed = elapsedSeconds(p, c);
      return (elapsed > 0 ? ((p.cpuTicks / CLOCK_TICKS) / elapsed) * 100 : 0).toFixed(3);
    },
  },
  etime: { header: 'ELAPSED', value: (p, c) => goDuration(elapsedSeconds(p, c)) },
  time: { header: 'TIME', value: (p) => goDuration(Math.floor(p.cpuTicks / CLOCK_TICKS)) },
  tty: { header: 'TTY', value: (p) => ttyName(p.ttyNr) },
  nice: { header: 'NI', value: (p) => String(p.nice) },
  vsz: { header: 'VSZ', value: (p) => String(p.vszKiB) },
  rss: { header: 'RSS', value: (p) => String(p.rssKiB) },
  state: { header: 'STATE', value: (p) => p.state },
  args: { header: 'COMMAND', value: (p) => (p.args.length > 0 ? p.args.join(' ') : `[${p.comm}]`) },
  comm: { header: 'COMMAND', value: (p) => p.comm },
};

// AIX format codes, as podman top accepts them.
const AIX: Record<string, string> = {
  '%C': 'pcpu', '%G': 'group', '%P': 'ppid', '%U': 'user', '%a': 'args', '%c': 'comm', '%g': 'rgroup',
  '%n': 'nice', '%p': 'pid', '%r': 'pgid', '%t': 'etime', '%u': 'ruser', '%x': 'time', '%y': 'tty', '%z': 'vsz',
};

export const DEFAULT_DESCRIPTORS = ['user', 'pid', 'ppid', 'pcpu', 'etime', 'tty', 'time', 'args'];

/** Format descriptors from the command line ("pid,user" "args" "%p %U"), checked. */
export function parseDescriptors(words: readonly string[]): string[] {
  const names = words.flatMap((w) => w.split(/[,\s]+/)).filter((w) => w !== '');
  if (names.length === 0) return [...DEFAULT_DESCRIPTORS];
  return names.map((n) => {
    const name = AIX[n] ?? n.toLowerCase();
    if (!DESCRIPTORS[name]) {
      throw new TsbuildError('INVALID_ARGUMENT', `unknown top descriptor "${n}"`, {
        exitCode: 125,
        hint: `use ${Object.keys(DESCRIPTORS).join(', ')} (or AIX codes like %p %U %a)`,
      });
    }
    return name;
  });
}

export function renderTop(descriptors: readonly string[], procs: readonly ProcInfo[], ctx: TopContext): TopTable {
  return {
    headers: descriptors.map((d) => DESCRIPTORS[d]!.header),
    rows: procs.map((p) => descriptors.map((d) => DESCRIPTORS[d]!.value(p, ctx))),
  };
}

export async function topContainer(stores: Stores, ref: string, words: readonly string[]): Promise<TopTable> {
  const descriptors = parseDescriptors(words);
  const record = await requireContainer(stores, ref);
  const state = await requireRunning(stores, record);
  const ps = await runcOutput(stores, ['ps', '--format', 'json', record.id]);
  if (ps.code !== 0) {
    if (/not running|does not exist/i.test(ps.stderr)) {
      throw new TsbuildError('INVALID_ARGUMENT', `container ${record.name} is not running`, { exitCode: 125 });
    }
    throw new TsbuildError('RUNTIME', `runc ps failed for container ${record.name}: ${ps.stderr}`, { exitCode: 125 });
  }
  const hostPids = (JSON.parse(ps.stdout || '[]') as number[] | null) ?? [];
  const procs = (await Promise.all(hostPids.map(readProc))).filter((p): p is ProcInfo => p !== undefined);
  const byHost = new Map(procs.map((p) => [p.hostPid, p]));
  // A parent outside the container (runc, the monitor) shows as 0, as podman does.
  for (const p of procs) p.ppid = byHost.get(p.hostPpid)?.pid ?? 0;
  procs.sort((a, b) => a.pid - b.pid);
  const root = `/proc/${state.pid}/root`;
  const ctx: TopContext = {
    now: Date.now() / 1000,
    bootTime: await bootTime(),
    users: parseIdNames(await readInRoot(root, '/etc/passwd')),
    groups: parseIdNames(await readInRoot(root, '/etc/group')),
    hostUsers: parseIdNames(await readFile('/etc/passwd', 'utf8').catch(() => '')),
  };
  return renderTop(descriptors, procs, ctx);
}

/** One process from /proc; undefined when it has exited meanwhile. */
async function readProc(hostPid: number): Promise<ProcInfo | undefined> {
  try {
    const [statText, status, cmdline] = await Promise.all([
      readFile(`/proc/${hostPid}/stat`, 'utf8'),
      readFile(`/proc/${hostPid}/status`, 'utf8'),
      readFile(`/proc/${hostPid}/cmdline`),
    ]);
    return parseProc(hostPid, statText, status, cmdline);
  } catch {
    return undefined;
  }
}

export function parseProc(hostPid: number, statText: string, status: string, cmdline: Buffer): ProcInfo {
  // comm may contain spaces and parentheses: it runs from the first "(" to the last ")".
  const open = statText.indexOf('(');
  const close = statText.lastIndexOf(')');
  const comm = statText.slice(open + 1, close);
  const f = statText.slice(close + 2).split(' '); // f[0] is field 3 (state)
  const num = (i: number): number => Number(f[i - 3] ?? 0);
  const line = (key: string): number[] =>
    (new RegExp(`^${key}:\\s*(.*)$`, 'm').exec(status)?.[1] ?? '').split(/\s+/).filter((x) => x !== '').map(Number);
  const nspid = line('NSpid');
  const uids = line('Uid');
  const gids = line('Gid');
  const args = cmdline.toString('utf8').split('\0');
  while (args.length > 0 && args[args.length - 1] === '') args.pop();
  return {
    hostPid,
    pid: nspid.length > 0 ? nspid[nspid.length - 1]! : hostPid,
    ppid: 0,
    hostPpid: num(4),
    comm,
    args,
    state: f[0] ?? '?',
    ruid: uids[0] ?? 0,
    uid: uids[1] ?? 0,
    rgid: gids[0] ?? 0,
    gid: gids[1] ?? 0,
    pgid: num(5),
    nice: num(19),
    ttyNr: num(7),
    cpuTicks: num(14) + num(15),
    startTicks: num(22),
    vszKiB: Math.floor(num(23) / 1024),
    rssKiB: num(24) * 4,
  };
}

/** Go's time.Duration.String() for a number of seconds: "13.318305s", "2m5s", "1h0m3s", "0s". */
export function goDuration(seconds: number): string {
  const ns = Math.round(seconds * 1e9);
  if (ns === 0) return '0s';
  if (ns < 1e9) {
    const [unit, div] = ns < 1e3 ? ['ns', 1] : ns < 1e6 ? ['µs', 1e3] : ['ms', 1e6];
    return `${trimFraction((ns / div).toFixed(9))}${unit}`;
  }
  const h = Math.floor(ns / 3.6e12);
  const m = Math.floor((ns % 3.6e12) / 6e10);
  const s = trimFraction(((ns % 6e10) / 1e9).toFixed(9));
  return h > 0 ? `${h}h${m}m${s}s` : m > 0 ? `${m}m${s}s` : `${s}s`;
}

function trimFraction(s: string): string {
  return s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s;
}

/** tty_nr -> "pts/0", "tty1", or "?" without one. */
export function ttyName(ttyNr: number): string {
  if (ttyNr === 0) return '?';
  const major = (ttyNr >> 8) & 0xfff;
  const minor = (ttyNr & 0xff) | ((ttyNr >> 12) & 0xfff00);
  if (major >= 136 && major <= 143) return `pts/${(major - 136) * 256 + minor}`;
  if (major === 4) return minor < 64 ? `tty${minor}` : `ttyS${minor - 64}`;
  if (major === 5 && minor === 0) return 'tty';
  return '?';
}

function parseIdNames(text: string): Map<number, string> {
  const map = new Map<number, string>();
  for (const line of text.split('\n')) {
    const [name, , id] = line.split(':');
    if (name && id !== undefined && /^\d+$/.test(id) && !map.has(Number(id))) map.set(Number(id), name);
  }
  return map;
}

async function readInRoot(root: string, file: string): Promise<string> {
  return readFile(await resolveInRoot(root, file), 'utf8').catch(() => '');
}

async function bootTime(): Promise<number> {
  const text = await readFile('/proc/stat', 'utf8');
  return Number(/^btime (\d+)$/m.exec(text)?.[1] ?? 0);
}

/** Columns separated by at least two spaces, the last one unpadded (podman's tabwriter look). */
export function formatTable(table: TopTable): string {
  const all = [table.headers, ...table.rows];
  const widths = table.headers.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]! + 2))).join('').trimEnd() + '\n').join('');
}
