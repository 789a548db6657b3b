// `logs`: reads the json-file log the monitor writes (ctr.log.1, then ctr.log), filters it by
// --since/--until and --tail, prefixes timestamps for -t, and with -f follows the log across
// rotation until the container no longer runs. stdout entries go to stdout, stderr to stderr.
import { open, stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { TsbuildError, errnoCode } from '../errors.js';

export interface LogEntry {
  log: string;
  stream: 'stdout' | 'stderr';
  /** RFC 3339 with nanoseconds, as written. */
  time: string;
}

export interface LogOptions {
  follow: boolean;
  /** Entries from the end; undefined or negative = all. */
  tail?: number;
  /** Nanoseconds since the epoch (parseTimeFilter). */
  since?: bigint;
  until?: bigint;
  timestamps: boolean;
  /** How often -f looks for new lines (default 100 ms). */
  pollMs?: number;
  signal?: AbortSignal;
}

export interface LogPaths {
  /** ctr.log; its rotated predecessor is <log>.1 */
  log: string;
}

/** The time of an RFC 3339 string in nanoseconds since the epoch (keeps all 9 fraction digits). */
export function timeNs(text: string): bigint | undefined {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/i.exec(text);
  if (!m) return undefined;
  const ms = Date.parse(`${m[1]}${m[3]}`);
  if (Number.isNaN(ms)) return undefined;
  return BigInt(ms) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'));
}

const DURATION_UNITS: Record<string, bigint> = {
  ns: 1n,
  us: 1_000n,
  µs: 1_000n,
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};

/**
 * docker's --since/--until values: a Go duration relative to now ("10s", "1h30m", "1.5h"), a Unix
 * timestamp ("1700000000", "1700000000.5"), or a date-time (RFC 3339, or without a zone = local
 * time, or a date alone). Returns nanoseconds since the epoch.
 */
export function parseTimeFilter(value: string, now: number = Date.now()): bigint {
  const text = value.trim();
  if (/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(text)) {
    let total = 0;
    for (const part of text.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) {
      total += Number(part[1]) * Number(DURATION_UNITS[part[2]!]!);
    }
    return BigInt(now) * 1_000_000n - BigInt(Math.round(total));
  }
  const unix = /^(\d+)(?:\.(\d{1,9}))?$/.exec(text);
  if (unix) return BigInt(unix[1]!) * 1_000_000_000n + BigInt((unix[2] ?? '').padEnd(9, '0'));
  const exact = timeNs(text);
  if (exact !== undefined) return exact;
  // No zone: local time, as docker does. Date.parse reads date-time forms without a zone as local,
  // but a date alone as UTC, so give it a midnight time.
  const local = /^(\d{4}-\d{2}-\d{2})(?:T(\d{2}:\d{2}(?::\d{2})?)(?:\.(\d{1,9}))?)?$/.exec(text);
  if (local) {
    const ms = Date.parse(`${local[1]}T${local[2] ?? '00:00:00'}`);
    if (!Number.isNaN(ms)) return BigInt(ms) * 1_000_000n + BigInt((local[3] ?? '').padEnd(9, '0'));
  }
  throw new TsbuildError('INVALID_ARGUMENT', `invalid time "${value}": use RFC 3339 (2026-12-01T10:00:00Z), a Unix timestamp or a duration like 10s, 5m, 1h`);
}

/** The entries of a log text; torn or foreign lines are skipped. */
export function parseLogLines(text: string): LogEntry[] {
  const entries: LogEntry[] = [];
  for (const line of text.split('\n')) {
    const entry = parseLogLine(line);
    if (entry) entries.push(entry);
  }
  return entries;
}

function parseLogLine(line: string): LogEntry | undefined {
  if (line.trim() === '') return undefined;
  try {
    const e = JSON.parse(line) as Partial<LogEntry>;
    if (typeof e.log !== 'string' || (e.stream !== 'stdout' && e.stream !== 'stderr') || typeof e.time !== 'string') return undefined;
    return { log: e.log, stream: e.stream, time: e.time };
  } catch {
    return undefined;
  }
}

/** --since/--until (inclusive since, exclusive until as docker) and then --tail. */
export function selectEntries(entries: LogEntry[], options: Pick<LogOptions, 'tail' | 'since' | 'until'>): LogEntry[] {
  let selected = entries;
  if (options.since !== undefined || options.until !== undefined) {
    selected = selected.filter((e) => {
      const t = timeNs(e.time);
      if (t === undefined) return false;
      if (options.since !== undefined && t < options.since) return false;
      if (options.until !== undefined && t > options.until) return false;
      return true;
    });
  }
  if (options.tail !== undefined && options.tail >= 0) selected = options.tail === 0 ? [] : selected.slice(-options.tail);
  return selected;
}

/**
 * Renders entries as the user sees them. With timestamps, each line starts with its time; an entry
 * that continues a partial line of the same stream gets no second prefix.
 */
export class LogRenderer {
  private readonly atLineStart = { stdout: true, stderr: true };
  constructor(private readonly timestamps: boolean) {}

  render(entry: LogEntry): string {
    const prefix = this.timestamps && this.atLineStart[entry.stream] ? `${entry.time} ` : '';
    this.atLineStart[entry.stream] = entry.log.endsWith('\n');
    return prefix + entry.log;
  }
}

async function readText(file: string): Promise<{ text: string; ino: number; size: number } | undefined> {
  try {
    const handle = await open(file, 'r');
    try {
      const st = await handle.stat();
      const buf = await handle.readFile();
      return { text: buf.toString('utf8'), ino: st.ino, size: buf.length };
    } finally {
      await handle.close();
    }
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  }
}

async function readFrom(file: string, offset: number): Promise<Buffer> {
  const handle = await open(file, 'r');
  try {
    const st = await handle.stat();
    if (st.size <= offset) return Buffer.alloc(0);
    const buf = Buffer.alloc(st.size - offset);
    const { bytesRead } = await handle.read(buf, 0, buf.length, offset);
    return buf.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

function write(stream: NodeJS.WritableStream, text: string): Promise<void> | undefined {
  if (text === '' || stream.write(text)) return undefined;
  return new Promise((resolve) => stream.once('drain', () => resolve()));
}

/** Prints a container's log; with follow, keeps printing until isRunning() says false (or the signal aborts). */
export async function readLogs(
  paths: LogPaths,
  options: LogOptions,
  stdout: NodeJS.WritableStream,
  stderr: NodeJS.WritableStream,
  container: { isRunning: () => Promise<boolean> },
): Promise<void> {
  const renderer = new LogRenderer(options.timestamps);
  const emit = async (entries: LogEntry[]): Promise<void> => {
    for (const e of entries) {
      if (options.until !== undefined) {
        const t = timeNs(e.time);
        if (t !== undefined && t > options.until) continue;
      }
      if (options.since !== undefined) {
        const t = timeNs(e.time);
        if (t !== undefined && t < options.since) continue;
      }
      await write(e.stream === 'stdout' ? stdout : stderr, renderer.render(e));
    }
  };

  const rotated = await readText(`${paths.log}.1`);
  const current = await readText(paths.log);
  const all = [...parseLogLines(rotated?.text ?? ''), ...parseLogLines(current?.text ?? '')];
  await emit(selectEntries(all, options));
  // Following past --until would never print anything.
  if (!options.follow || (options.until !== undefined && options.until <= BigInt(Date.now()) * 1_000_000n)) return;

  // Follow: remember where we are in which file (by inode), so a rotation (ctr.log -> ctr.log.1)
  // is noticed and the rest of the old file is read before the new one.
  let ino = current?.ino ?? -1;
  let offset = current?.size ?? 0;
  // Bytes of the current file up to the last complete line; a torn last line waits for its end.
  let leftover = '';
  if (current && !current.text.endsWith('\n')) {
    const cut = current.text.lastIndexOf('\n') + 1;
    leftover = current.text.slice(cut);
  }
  const pollMs = options.pollMs ?? 100;
  const drain = async (): Promise<void> => {
    const st = await stat(paths.log).catch(() => undefined);
    if (st && st.ino !== ino && ino !== -1) {
      // Rotated: finish the old file (now .1, if it is still ours), then start the new one at 0.
      const old = await stat(`${paths.log}.1`).catch(() => undefined);
      if (old?.ino === ino) {
        const rest = leftover + (await readFrom(`${paths.log}.1`, offset)).toString('utf8');
        await emit(parseLogLines(rest));
      }
      leftover = '';
      offset = 0;
    }
    if (!st) return;
    ino = st.ino;
    const chunk = await readFrom(paths.log, offset).catch((err: unknown) => {
      if (errnoCode(err) === 'ENOENT') return Buffer.alloc(0);
      throw err;
    });
    offset += chunk.length;
    const text = leftover + chunk.toString('utf8');
    const cut = text.lastIndexOf('\n') + 1;
    leftover = text.slice(cut);
    await emit(parseLogLines(text.slice(0, cut)));
  };
  for (;;) {
    if (options.signal?.aborted) return;
    const running = await container.isRunning();
    await drain();
    if (!running) {
      // The last lines may have landed between the check and the read.
      await drain();
      return;
    }
    await sleep(pollMs, undefined, { signal: options.signal }).catch(() => undefined);
  }
}

/** Parses --tail: "all" or a number. */
export function parseTail(value: string | number | undefined): number | undefined {
  if (value === undefined || value === 'all' || value === '') return undefined;
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isInteger(n)) throw new TsbuildError('INVALID_ARGUMENT', `invalid --tail "${value}": use a number or "all"`);
  return n < 0 ? undefined : n;
}
