// The per-container monitor (dist/tsbuild-monitor) with real runc: logging, rotation, the state and
// exit files, restart policies, the stop flag, daemonizing, the exit command, attached stdio and
// signals, start-up errors, and its memory footprint.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { monitorAlive, readExit, readMonitorState, startMonitor, type ExitInfo, type MonitorState } from '../../../src/container/monitor.js';
import { TsbuildError } from '../../../src/errors.js';
import { processAlive } from '../../../src/store/lock.js';
import { REPO } from '../../helpers/tsbuild.js';
import { createMonitorFixture, readJsonLines, runcList, waitFor, type MonitorFixture } from './monitor-helpers.js';

let f: MonitorFixture;

beforeAll(async () => {
  if (!existsSync(path.join(REPO, 'dist', 'tsbuild-monitor'))) throw new Error('dist/tsbuild-monitor is missing: run npm run build');
  f = await createMonitorFixture();
});

afterAll(async () => {
  await f?.cleanup();
});

/** Waits until the detached monitor of `state` is gone (it exits or execs its exit command). */
async function monitorGone(pid: number, timeoutMs = 15_000): Promise<void> {
  await waitFor(`monitor ${pid} to end`, () => !monitorAlive({ monitorPid: pid, containerPid: 0, startedAt: '', restartCount: 0 }), timeoutMs);
}

describe('tsbuild-monitor', () => {
  it('logs stdout and stderr as json-file lines, writes monitor.json and exit.json, and deletes the runc container', async () => {
    const spec = await f.container('log', ['sh', '-c', 'echo hello; echo "quote\\" tab\tend" >&2; printf partial; exit 3']);
    const started = await startMonitor(spec, { detached: true });
    f.track(started.monitorPid);
    expect(started.containerPid).toBeGreaterThan(0);
    const exit = await waitFor('exit.json', () => readExit(spec.exitFile));
    await monitorGone(started.monitorPid);

    expect(exit.exitCode).toBe(3);
    expect(Date.parse(exit.finishedAt)).toBeGreaterThan(Date.now() - 60_000);
    const lines = await readJsonLines(spec.logFile);
    expect(lines.map((l) => [l.stream, l.log])).toEqual(
      expect.arrayContaining([
        ['stdout', 'hello\n'],
        ['stderr', 'quote" tab\tend\n'],
        ['stdout', 'partial'],
      ]),
    );
    expect(lines).toHaveLength(3);
    for (const l of lines) expect(l.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
    const state = (await readMonitorState(spec.stateFile))!;
    expect(state).toMatchObject({ monitorPid: started.monitorPid, containerPid: started.containerPid, restartCount: 0 });
    expect(runcList(f.runcRoot)).not.toContain(spec.id);
  });

  it('keeps the log valid JSON for control bytes, invalid UTF-8 and lines longer than its buffer', async () => {
    const spec = await f.container('bytes', ['sh', '-c', "printf 'a\\001b\\377c\\303\\251d\\n'; head -c 100000 /dev/zero | tr '\\0' x; echo"]);
    const started = await startMonitor(spec, { detached: true });
    f.track(started.monitorPid);
    await waitFor('exit.json', () => readExit(spec.exitFile));
    const lines = await readJsonLines(spec.logFile);
    expect(lines[0]!.log).toBe('a\u0001b\ufffdc\u00e9d\n');
    const long = lines.slice(1).map((l) => l.log).join('');
    expect(long).toBe(`${'x'.repeat(100000)}\n`);
  });

  it('rotates the log to ctr.log.1 beyond --log-max, keeping the newest lines', async () => {
    const spec = await f.container('rotate', ['sh', '-c', 'i=0; while [ $i -lt 300 ]; do echo line-$i; i=$((i+1)); done'], { logMaxBytes: 4000 });
    const started = await startMonitor(spec, { detached: true });
    f.track(started.monitorPid);
    await waitFor('exit.json', () => readExit(spec.exitFile));
    expect((await stat(spec.logFile)).size).toBeLessThanOrEqual(4000);
    expect((await stat(`${spec.logFile}.1`)).size).toBeLessThanOrEqual(4000);
    const current = await readJsonLines(spec.logFile);
    const rotated = await readJsonLines(`${spec.logFile}.1`);
    expect(current[current.length - 1]!.log).toBe('line-299\n');
    // .1 holds the lines right before the current file's first one (older ones were dropped).
    const first = Number(/line-(\d+)/.exec(current[0]!.log)![1]);
    expect(rotated[rotated.length - 1]!.log).toBe(`line-${first - 1}\n`);
  });

  it('on-failure:2 restarts a failing container exactly twice', async () => {
    const spec = await f.container('onfail', ['sh', '-c', 'echo run; exit 1'], { restart: { name: 'on-failure', maximumRetryCount: 2 } });
    const started = await startMonitor(spec, { detached: true });
    f.track(started.monitorPid);
    await monitorGone(started.monitorPid);
    const state = (await readMonitorState(spec.stateFile)) as MonitorState;
    expect(state.restartCount).toBe(2);
    expect((await readJsonLines(spec.logFile)).map((l) => l.log)).toEqual(['run\n', 'run\n', 'run\n']);
    expect(((await readExit(spec.exitFile)) as ExitInfo).exitCode).toBe(1);
    expect(runcList(f.runcRoot)).not.toContain(spec.id);
  });

  it('always restarts until the stop flag exists', async () => {
    const spec = await f.container('always', ['sh', '-c', 'echo tick; sleep 0.2'], { restart: { name: 'always', maximumRetryCount: 0 } });
    const started = await startMonitor(spec, { detached: true });
    f.track(started.monitorPid);
    await waitFor('a restart', async () => ((await readMonitorState(spec.stateFile))?.restartCount ?? 0) >= 1);
    await writeFile(spec.stopFlagFile, '');
    await monitorGone(started.monitorPid);
    const count = (await readMonitorState(spec.stateFile))!.restartCount;
    const ticks = (await readJsonLines(spec.logFile)).length;
    expect(ticks).toBe(count + 1);
    expect(((await readExit(spec.exitFile)) as ExitInfo).exitCode).toBe(0);
  });

  it('a detached monitor survives the process that started it and runs the exit command when done', async () => {
    const spec = await f.container('survive', ['sh', '-c', 'echo up; exec sleep 30']);
    const marker = path.join(f.dir, 'survive', 'exit-command-ran');
    spec.exitCommand = ['/bin/sh', '-c', `echo "$0 $1" > ${marker}`, 'cleanup', spec.id];
    // A separate node process starts it and exits at once, as `tsbuild run -d` does.
    const script = `
      const { startMonitor } = await import(${JSON.stringify(path.join(REPO, 'dist', 'container', 'monitor.js'))});
      const m = await startMonitor(JSON.parse(process.argv[1]), { detached: true });
      process.stdout.write(JSON.stringify(m));`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script, JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    expect(code).toBe(0);
    const started = JSON.parse(out) as { monitorPid: number; containerPid: number };
    f.track(started.monitorPid);

    expect(processAlive(child.pid!)).toBe(false);
    expect(monitorAlive((await readMonitorState(spec.stateFile))!)).toBe(true);
    expect(processAlive(started.containerPid)).toBe(true);
    // Daemonized: its own session, cwd /.
    const statFields = (await readFile(`/proc/${started.monitorPid}/stat`, 'utf8')).replace(/^.*\) /, '').split(' ');
    expect(Number(statFields[3])).toBe(started.monitorPid); // session id
    expect((await import('node:fs')).readlinkSync(`/proc/${started.monitorPid}/cwd`)).toBe('/');
    await waitFor('the log line', async () => (await readJsonLines(spec.logFile)).length === 1);

    spawn('runc', ['--root', f.runcRoot, 'kill', spec.id, 'KILL'], { stdio: 'ignore' });
    // The shell creates the marker before it writes the line: wait for the whole line.
    await waitFor('the exit command', async () => ((await readFile(marker, 'utf8').catch(() => '')).endsWith('\n') ? true : undefined));
    expect(await readFile(marker, 'utf8')).toBe(`cleanup ${spec.id}\n`);
    expect(((await readExit(spec.exitFile)) as ExitInfo).exitCode).toBe(137);
  });

  it('attached with stdin: passes our stdin to the container and copies its output to ours and to the log', async () => {
    const spec = await f.container('attach', ['sh', '-c', 'read a; echo "got $a"; echo warn >&2; exit 4'], { stdin: 'inherit', attach: true });
    const started = await startMonitor(spec, { detached: false, stdio: 'pipe' });
    f.track(started.monitorPid);
    let out = '';
    let err = '';
    started.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    started.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    started.stdin!.end('hello\n');
    expect(await started.wait!()).toBe(4);
    expect(out).toBe('got hello\n');
    expect(err).toBe('warn\n');
    expect((await readJsonLines(spec.logFile)).map((l) => l.log).sort()).toEqual(['got hello\n', 'warn\n']);
    expect(((await readExit(spec.exitFile)) as ExitInfo).exitCode).toBe(4);
  });

  it('attached: SIGTERM to the monitor is forwarded to the container', async () => {
    const spec = await f.container('sigproxy', ['sh', '-c', 'trap "echo got-term; exit 7" TERM; echo ready; while true; do sleep 0.05; done'], {
      attach: true,
    });
    const started = await startMonitor(spec, { detached: false, stdio: 'pipe' });
    f.track(started.monitorPid);
    let out = '';
    started.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    await waitFor('ready', () => out.includes('ready'));
    process.kill(started.monitorPid, 'SIGTERM');
    expect(await started.wait!()).toBe(7);
    expect(out).toBe('ready\ngot-term\n');
  });

  it('detached with a terminal: logs what the container writes to its pty as stdout', async () => {
    const spec = await f.container('tty', ['sh', '-c', 'tty; echo on-tty'], { terminal: true });
    spec.terminal = true;
    const started = await startMonitor(spec, { detached: true });
    f.track(started.monitorPid);
    await waitFor('exit.json', () => readExit(spec.exitFile));
    await monitorGone(started.monitorPid);
    const lines = await readJsonLines(spec.logFile);
    expect(lines.map((l) => l.stream)).toEqual(['stdout', 'stdout']);
    expect(lines[0]!.log).toMatch(/^\/dev\/pts\/\d+\r\n$/);
    expect(lines[1]!.log).toBe('on-tty\r\n');
  });

  it('a command that does not exist fails the start with runc\'s message and exit code 127, leaving no runc container', async () => {
    const spec = await f.container('bad', ['no-such-command']);
    const err = await startMonitor(spec, { detached: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TsbuildError);
    expect((err as TsbuildError).code).toBe('RUNTIME');
    expect((err as TsbuildError).exitCode).toBe(127);
    expect((err as Error).message).toMatch(/no-such-command.*executable file not found/);
    expect(runcList(f.runcRoot)).not.toContain(spec.id);
  });

  it('uses well under 15 MB of memory (VmRSS) while it monitors a container', async () => {
    const spec = await f.container('rss', ['sh', '-c', 'i=0; while [ $i -lt 2000 ]; do echo line-$i; i=$((i+1)); done; exec sleep 30']);
    const started = await startMonitor(spec, { detached: true });
    f.track(started.monitorPid);
    await waitFor('the output', async () => (await readJsonLines(spec.logFile)).length === 2000);
    const status = await readFile(`/proc/${started.monitorPid}/status`, 'utf8');
    const rssKb = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)![1]);
    console.log(`tsbuild-monitor VmRSS: ${rssKb} kB`);
    expect(rssKb).toBeLessThan(15 * 1024);
    process.kill(started.monitorPid, 'SIGTERM'); // forwarded: sleep as pid 1 ignores TERM, so KILL it
    spawn('runc', ['--root', f.runcRoot, 'kill', spec.id, 'KILL'], { stdio: 'ignore' });
    await monitorGone(started.monitorPid);
  });

  it('detached with stdin held (-d -i): the container\'s stdin stays open, so it does not see EOF', async () => {
    const spec = await f.container('hold', ['sh', '-c', 'echo waiting; cat; echo eof'], { stdin: 'hold' });
    const started = await startMonitor(spec, { detached: true });
    f.track(started.monitorPid);
    await waitFor('waiting', async () => (await readJsonLines(spec.logFile)).length === 1);
    await new Promise((r) => setTimeout(r, 300));
    expect(processAlive(started.containerPid)).toBe(true);
    expect((await readJsonLines(spec.logFile)).map((l) => l.log)).toEqual(['waiting\n']);
    spawn('runc', ['--root', f.runcRoot, 'kill', spec.id, 'KILL'], { stdio: 'ignore' });
    await monitorGone(started.monitorPid);
  });

  it('attached: runs the exit command itself when the process that started it died', async () => {
    const spec = await f.container('orphaned', ['sh', '-c', 'echo started; sleep 0.5; echo after']);
    const marker = path.join(f.dir, 'orphaned', 'exit-command-ran');
    spec.attach = true;
    spec.exitCommand = ['/bin/sh', '-c', `touch ${marker}`];
    const script = `
      const { startMonitor } = await import(${JSON.stringify(path.join(REPO, 'dist', 'container', 'monitor.js'))});
      const m = await startMonitor(JSON.parse(process.argv[1]), { detached: false });
      process.stderr.write(JSON.stringify(m) + '\\n');
      await m.wait();`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script, JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await waitFor('started', () => out.includes('started') && err.includes('monitorPid'));
    const started = JSON.parse(err.trim().split('\n').pop()!) as { monitorPid: number };
    f.track(started.monitorPid);
    child.kill('SIGKILL');
    await waitFor('the exit command', () => existsSync(marker));
    // Its stdout went away with the parent; the log still has everything.
    expect((await readJsonLines(spec.logFile)).map((l) => l.log)).toEqual(['started\n', 'after\n']);
    expect(((await readExit(spec.exitFile)) as ExitInfo).exitCode).toBe(0);
  });

  it('attached with a terminal: runc run proxies our terminal and the exit code comes back', async () => {
    const spec = await f.container('attached-tty', ['sh', '-c', 'tty; exit 5'], { terminal: true, attach: true });
    spec.terminal = true;
    const runner = path.join(f.dir, 'attached-tty', 'run.mjs');
    await writeFile(
      runner,
      `const { startMonitor } = await import(${JSON.stringify(path.join(REPO, 'dist', 'container', 'monitor.js'))});
       const m = await startMonitor(${JSON.stringify(spec)}, { detached: false });
       process.exit(await m.wait());`,
    );
    // script(1) gives the runner a pty as its stdio, as a user's terminal would.
    const child = spawn('script', ['-qec', `${process.execPath} ${runner}`, '/dev/null'], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    expect(out).toMatch(/\/dev\/pts\/\d+/);
    expect(code).toBe(5);
    expect(((await readExit(spec.exitFile)) as ExitInfo).exitCode).toBe(5);
    expect(runcList(f.runcRoot)).not.toContain(spec.id);
  });

  it('reports its own usage errors', async () => {
    const spec = await f.container('usage', ['true'], { stdin: 'bogus' as never });
    await expect(startMonitor(spec, { detached: true })).rejects.toThrow(/--stdin must be null, hold or inherit/);
  });

  it('says to build when the monitor binary is missing', async () => {
    const spec = await f.container('nobinary', ['true']);
    process.env.TSBUILD_MONITOR = path.join(f.dir, 'missing-monitor');
    try {
      await expect(startMonitor(spec, { detached: true })).rejects.toMatchObject({ code: 'RUNTIME', hint: 'run npm run build' });
    } finally {
      delete process.env.TSBUILD_MONITOR;
    }
  });
});
