// The TypeScript side of the per-container monitor (src/container/monitor/monitor.c, built into
// dist/tsbuild-monitor): starts it with the container's flags, waits for its one start-up report on
// the sync pipe (fd 3), and turns runc's failure message into a RUNTIME error with podman's exit
// codes. Also reads the monitor's own files (monitor.json, exit.json) for settle and `logs -f`.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { TsbuildError, errnoCode } from '../errors.js';
import { execFailureCode } from '../runtime/runc.js';
import { processAlive } from '../store/lock.js';
import { signalNumber } from '../util/exec.js';
import { readJson } from '../util/fs.js';
import { installRoot } from '../util/install-root.js';
import type { RestartPolicy } from './types.js';

export interface MonitorSpec {
  /** runc container ID (the container ID). */
  id: string;
  bundle: string;
  runcRoot: string;
  runcBinary?: string;
  logFile: string;
  /** Rotate the log (to <log>.1) beyond this size. */
  logMaxBytes: number;
  stateFile: string;
  exitFile: string;
  stopFlagFile: string;
  /** 'null': /dev/null; 'hold': a pipe held open (-d -i); 'inherit': our stdin (foreground -i). */
  stdin: 'null' | 'hold' | 'inherit';
  terminal: boolean;
  /** Foreground: copy the container's output to our stdout/stderr too (not only the log). */
  attach: boolean;
  restart: RestartPolicy;
  /** Run (exec) when the container is done for good, e.g. [node, bin/tsbuild, --root, R, container, cleanup, ID]. Attached monitors run it only if their parent died. */
  exitCommand: string[];
}

export interface StartOptions {
  detached: boolean;
  /**
   * Attached only: where the monitor's stdio goes. Default 'inherit' (ours: the CLI's terminal);
   * 'pipe' hands the streams back on StartedMonitor (tests, or a caller that relays them).
   */
  stdio?: 'inherit' | 'pipe';
}

export interface StartedMonitor {
  monitorPid: number;
  containerPid: number;
  /** Attached (foreground) only: resolves with the final exit code when the monitor exits. */
  wait?: () => Promise<number>;
  /** Attached with stdio 'pipe' only: the monitor's stdin/stdout/stderr. */
  stdin?: Writable;
  stdout?: Readable;
  stderr?: Readable;
}

export interface ExitInfo {
  exitCode: number;
  finishedAt: string;
  oomKilled?: boolean;
}

export interface MonitorState {
  monitorPid: number;
  containerPid: number;
  startedAt: string;
  restartCount: number;
}

/** The monitor binary, dist/tsbuild-monitor (scripts/build-native.sh), also when the sources run under vitest. */
export function monitorBinary(): string {
  return process.env.TSBUILD_MONITOR || path.join(installRoot(), 'dist', 'tsbuild-monitor');
}

/** The monitor's argv (after the binary), one flag per MonitorSpec field. */
export function monitorArgs(spec: MonitorSpec, detached: boolean): string[] {
  const restart =
    spec.restart.name === 'on-failure' && spec.restart.maximumRetryCount > 0
      ? `on-failure:${spec.restart.maximumRetryCount}`
      : spec.restart.name;
  const args = [
    '--id', spec.id,
    '--bundle', spec.bundle,
    '--runc-root', spec.runcRoot,
    '--runc', spec.runcBinary ?? 'runc',
    '--log', spec.logFile,
    '--log-max', String(Math.max(0, Math.floor(spec.logMaxBytes))),
    '--state-file', spec.stateFile,
    '--exit-file', spec.exitFile,
    '--stop-flag', spec.stopFlagFile,
    '--stdin', spec.stdin,
    '--restart', restart,
    '--sync-fd', '3',
  ];
  if (spec.terminal) args.push('--terminal');
  if (!detached) args.push('--attach');
  const [command, ...rest] = spec.exitCommand;
  if (command !== undefined) {
    args.push('--exit-command', command);
    for (const arg of rest) args.push('--exit-arg', arg);
  }
  return args;
}

/** Starts the monitor; resolves once the container's process runs, or throws (RUNTIME, exit 125) with runc's message. */
export async function startMonitor(spec: MonitorSpec, options: StartOptions): Promise<StartedMonitor> {
  const { detached } = options;
  if (spec.stdin === 'inherit' && detached) {
    throw new TsbuildError('INVALID_ARGUMENT', 'a detached container cannot use our stdin');
  }
  if (spec.terminal && !detached && !process.stdin.isTTY && (options.stdio ?? 'inherit') === 'inherit') {
    throw new TsbuildError('INVALID_ARGUMENT', 'a terminal was requested but the input device is not a TTY', {
      hint: 'run without a terminal (-t) or from an interactive shell',
    });
  }
  const binary = monitorBinary();
  if (!existsSync(binary)) {
    throw new TsbuildError('RUNTIME', `the container monitor ${binary} does not exist`, { hint: 'run npm run build' });
  }
  const piped = !detached && options.stdio === 'pipe';
  const stdinMode = spec.stdin === 'inherit' ? (piped ? 'pipe' : 'inherit') : 'ignore';
  // Detached: stderr piped only for usage errors before it daemonizes (then it is /dev/null).
  const stdio: ('inherit' | 'ignore' | 'pipe')[] = detached
    ? ['ignore', 'ignore', 'pipe', 'pipe']
    : [stdinMode, piped ? 'pipe' : 'inherit', piped ? 'pipe' : 'inherit', 'pipe'];
  const child = spawn(binary, monitorArgs(spec, detached), { detached, stdio, env: process.env });

  const exited = new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, sig) => resolve(code ?? 128 + signalNumber(sig ?? 'SIGKILL')));
  });
  // Keep a rejection (spawn failure) from being unhandled while we wait on the sync pipe first.
  exited.catch(() => undefined);
  // After a failure: 'close' also waits for the last of its stderr.
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  let earlyStderr = '';
  if (detached) {
    child.stderr?.on('data', (d: Buffer) => {
      earlyStderr = (earlyStderr + d.toString('utf8')).slice(-4096);
    });
  }

  let line: string;
  try {
    line = await readSyncLine(child);
  } catch (err) {
    child.kill('SIGKILL');
    throw new TsbuildError('RUNTIME', `cannot run the container monitor ${binary}: ${(err as Error).message}`, {
      cause: err,
      hint: errnoCode(err) === 'ENOENT' ? 'run npm run build' : undefined,
    });
  }

  if (line.startsWith('ok ')) {
    const containerPid = Number.parseInt(line.slice(3), 10);
    if (detached) {
      child.stderr?.destroy();
      child.unref();
      return { monitorPid: child.pid!, containerPid };
    }
    return {
      monitorPid: child.pid!,
      containerPid,
      wait: () => exited,
      stdin: piped ? (child.stdin ?? undefined) : undefined,
      stdout: piped ? (child.stdout ?? undefined) : undefined,
      stderr: piped ? (child.stderr ?? undefined) : undefined,
    };
  }

  const status = await exited.catch(() => 125);
  await Promise.race([closed, sleep(1000)]);
  if (line.startsWith('error ')) throw startError(spec.id, line.slice(6));
  const detail = earlyStderr.trim() || `exited with status ${status} before starting the container`;
  throw new TsbuildError('RUNTIME', `the container monitor for ${spec.id} failed: ${detail}`);
}

/** runc's message as a user error: 127/126 when the command cannot be executed, else 125. */
export function startError(id: string, message: string): TsbuildError {
  const cleaned = message.replace(/^runc (?:create|start|run) failed: /, '');
  const exitCode = execFailureCode(cleaned) ?? 125;
  return new TsbuildError('RUNTIME', `cannot start container ${id}: ${cleaned}`, { exitCode });
}

/** The one line the monitor writes on fd 3 ('' when it closed the pipe without one). */
function readSyncLine(child: ChildProcess): Promise<string> {
  const sync = child.stdio[3] as Readable | null | undefined;
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    if (!sync) return;
    let text = '';
    const onData = (d: Buffer): void => {
      text += d.toString('utf8');
      if (text.includes('\n')) done();
    };
    const done = (): void => {
      // Only our listeners: ChildProcess counts the stream's 'close' for its own 'close' event.
      sync.off('data', onData).off('end', done).off('error', done);
      sync.destroy();
      const nl = text.indexOf('\n');
      resolve(nl >= 0 ? text.slice(0, nl) : text);
    };
    sync.on('data', onData);
    sync.once('end', done);
    sync.once('error', done);
  });
}

/** monitor.json, or undefined before the first start. */
export async function readMonitorState(file: string): Promise<MonitorState | undefined> {
  return readJsonTolerant<MonitorState>(file);
}

/** exit.json of the last exit, or undefined when the container has not exited since it was started. */
export async function readExit(file: string): Promise<ExitInfo | undefined> {
  return readJsonTolerant<ExitInfo>(file);
}

async function readJsonTolerant<T>(file: string): Promise<T | undefined> {
  try {
    return await readJson<T>(file);
  } catch (err) {
    // Written atomically by the monitor, so a parse error means a foreign or truncated file.
    if (err instanceof SyntaxError) return undefined;
    throw err;
  }
}

/**
 * Whether the monitor of `state` still runs: the pid is alive, not a zombie, and is a tsbuild
 * monitor (not an unrelated process that got the pid after a reboot or a long time).
 */
export function monitorAlive(state: MonitorState | undefined): boolean {
  if (state === undefined || !processAlive(state.monitorPid)) return false;
  try {
    const stat = readFileSync(`/proc/${state.monitorPid}/stat`, 'utf8');
    if (/^\d+ \(.*\) Z/.test(stat)) return false;
    const cmdline = readFileSync(`/proc/${state.monitorPid}/cmdline`, 'utf8');
    return cmdline.split('\0')[0]!.endsWith('tsbuild-monitor');
  } catch {
    return false;
  }
}
