// The json-file log reader without containers: parsing, --since/--until/--tail, -t prefixes, and
// -f across a rotation (lines written by hand the way the monitor writes them).
import { appendFile, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { LogRenderer, parseLogLines, parseTail, parseTimeFilter, readLogs, selectEntries, timeNs, type LogEntry } from '../../../src/container/logs.js';

const line = (log: string, stream: 'stdout' | 'stderr', time: string): string => `${JSON.stringify({ log, stream, time })}\n`;

class Collect extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: string, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});
async function tempLog(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'logs-unit-'));
  dirs.push(dir);
  return path.join(dir, 'ctr.log');
}

describe('time filters', () => {
  it('keeps all nine fraction digits of an RFC 3339 time', () => {
    expect(timeNs('2026-12-01T10:00:00.123456789Z')).toBe(1796119200123456789n);
    expect(timeNs('2026-12-01T10:00:00Z')).toBe(1796119200000000000n);
    expect(timeNs('2026-12-01T11:00:00.5+01:00')).toBe(1796119200500000000n);
    expect(timeNs('yesterday')).toBeUndefined();
  });

  it('reads durations relative to now, Unix timestamps and RFC 3339', () => {
    const now = Date.parse('2026-12-01T10:00:00Z');
    expect(parseTimeFilter('10s', now)).toBe(BigInt(now - 10_000) * 1_000_000n);
    expect(parseTimeFilter('1h30m', now)).toBe(BigInt(now - 5_400_000) * 1_000_000n);
    expect(parseTimeFilter('1.5h', now)).toBe(BigInt(now - 5_400_000) * 1_000_000n);
    expect(parseTimeFilter('250ms', now)).toBe(BigInt(now - 250) * 1_000_000n);
    expect(parseTimeFilter('1796119200.25')).toBe(1796119200250000000n);
    expect(parseTimeFilter('2026-12-01T10:00:00Z')).toBe(1796119200000000000n);
    expect(parseTimeFilter('2026-12-01')).toBe(BigInt(new Date(2026, 11, 1).getTime()) * 1_000_000n);
  });

  it('rejects a time it cannot read, naming it', () => {
    expect(() => parseTimeFilter('last tuesday')).toThrow(/invalid time "last tuesday"/);
    expect(() => parseTimeFilter('10x')).toThrow(/invalid time/);
  });
});

describe('selecting entries', () => {
  const entries: LogEntry[] = parseLogLines(
    line('one\n', 'stdout', '2026-12-01T10:00:01.000000001Z') +
      '{"torn":\n' +
      line('two\n', 'stderr', '2026-12-01T10:00:02Z') +
      line('three\n', 'stdout', '2026-12-01T10:00:03Z') +
      'not json\n',
  );

  it('skips torn and foreign lines', () => {
    expect(entries.map((e) => e.log)).toEqual(['one\n', 'two\n', 'three\n']);
  });

  it('--tail N keeps the last N, 0 none, all every one', () => {
    expect(selectEntries(entries, { tail: 2 }).map((e) => e.log)).toEqual(['two\n', 'three\n']);
    expect(selectEntries(entries, { tail: 0 })).toEqual([]);
    expect(selectEntries(entries, { tail: parseTail('all') })).toHaveLength(3);
    expect(selectEntries(entries, { tail: 10 })).toHaveLength(3);
  });

  it('--since is inclusive to the nanosecond, --until bounds the end, and --tail applies after them', () => {
    expect(selectEntries(entries, { since: 1796119201000000001n }).map((e) => e.log)).toEqual(['one\n', 'two\n', 'three\n']);
    expect(selectEntries(entries, { since: 1796119201000000002n }).map((e) => e.log)).toEqual(['two\n', 'three\n']);
    expect(selectEntries(entries, { until: parseTimeFilter('2026-12-01T10:00:02Z') }).map((e) => e.log)).toEqual(['one\n', 'two\n']);
    expect(selectEntries(entries, { since: parseTimeFilter('2026-12-01T10:00:02Z'), tail: 1 }).map((e) => e.log)).toEqual(['three\n']);
  });

  it('rejects a --tail that is not a number', () => {
    expect(() => parseTail('ten')).toThrow(/invalid --tail "ten"/);
  });
});

describe('rendering', () => {
  it('prefixes a timestamp once per line, not on the continuation of a partial line', () => {
    const r = new LogRenderer(true);
    const out = [
      { log: 'par', stream: 'stdout', time: 'T1' },
      { log: 'err\n', stream: 'stderr', time: 'T2' },
      { log: 'tial\n', stream: 'stdout', time: 'T3' },
      { log: 'next\n', stream: 'stdout', time: 'T4' },
    ].map((e) => r.render(e as LogEntry));
    expect(out).toEqual(['T1 par', 'T2 err\n', 'tial\n', 'T4 next\n']);
  });
});

describe('readLogs', () => {
  it('prints the rotated file first, then the current one, stdout and stderr apart', async () => {
    const log = await tempLog();
    await writeFile(`${log}.1`, line('old\n', 'stdout', '2026-12-01T10:00:00Z'));
    await writeFile(log, line('new\n', 'stdout', '2026-12-01T10:00:01Z') + line('oops\n', 'stderr', '2026-12-01T10:00:02Z'));
    const out = new Collect();
    const err = new Collect();
    await readLogs({ log }, { follow: false, timestamps: false }, out, err, { isRunning: async () => false });
    expect(out.text).toBe('old\nnew\n');
    expect(err.text).toBe('oops\n');
  });

  it('with -t, prefixes each line with its time', async () => {
    const log = await tempLog();
    await writeFile(log, line('a\n', 'stdout', '2026-12-01T10:00:01.5Z'));
    const out = new Collect();
    await readLogs({ log }, { follow: false, timestamps: true }, out, new Collect(), { isRunning: async () => false });
    expect(out.text).toBe('2026-12-01T10:00:01.5Z a\n');
  });

  it('a container without a log yet prints nothing', async () => {
    const log = await tempLog();
    const out = new Collect();
    await readLogs({ log }, { follow: false, timestamps: false }, out, new Collect(), { isRunning: async () => false });
    expect(out.text).toBe('');
  });

  it('-f follows new lines across a rotation and ends when the container stops', async () => {
    const log = await tempLog();
    await writeFile(log, line('first\n', 'stdout', '2026-12-01T10:00:00Z'));
    let running = true;
    const out = new Collect();
    const done = readLogs({ log }, { follow: true, timestamps: false, pollMs: 20 }, out, new Collect(), { isRunning: async () => running });
    await new Promise((r) => setTimeout(r, 60));
    await appendFile(log, line('second\n', 'stdout', '2026-12-01T10:00:01Z'));
    await new Promise((r) => setTimeout(r, 60));
    // A half-written line is held back until its end arrives.
    await appendFile(log, line('third\n', 'stdout', '2026-12-01T10:00:02Z').slice(0, 10));
    await new Promise((r) => setTimeout(r, 60));
    expect(out.text).toBe('first\nsecond\n');
    await appendFile(log, line('third\n', 'stdout', '2026-12-01T10:00:02Z').slice(10));
    // Rotation right after a write the reader has not seen yet: it must still print it.
    await appendFile(log, line('fourth\n', 'stdout', '2026-12-01T10:00:03Z'));
    await rename(log, `${log}.1`);
    await writeFile(log, line('fifth\n', 'stdout', '2026-12-01T10:00:04Z'));
    await new Promise((r) => setTimeout(r, 80));
    running = false;
    await done;
    expect(out.text).toBe('first\nsecond\nthird\nfourth\nfifth\n');
  });
});
