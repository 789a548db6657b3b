// The one way tsbuild starts child processes: argv arrays (never a shell), an explicit environment,
// kill on abort, and the tail of stderr kept for error messages.
import { spawn, type StdioOptions } from 'node:child_process';
import { constants as osConstants } from 'node:os';
import { TsbuildError } from '../errors.js';

export interface ExecOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Bytes written to the child's stdin, then closed. */
  input?: string | Buffer;
  signal?: AbortSignal;
  /** 'pipe' (default) captures stdout/stderr; 'inherit' passes them through to ours. */
  stdio?: 'pipe' | 'inherit';
  /** Non-zero exit codes that are not failures. */
  allowExitCodes?: number[];
}

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

const STDERR_TAIL = 4096;

/** Runs argv to completion; rejects with a RUNTIME error that carries the stderr tail on failure. */
export async function execFile(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
  const [command, ...args] = argv;
  if (!command) throw new TsbuildError('INTERNAL', 'execFile called with an empty argv');
  const stdin = options.input === undefined ? 'ignore' : 'pipe';
  const stdio: StdioOptions = options.stdio === 'inherit' ? [stdin, 'inherit', 'inherit'] : [stdin, 'pipe', 'pipe'];
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env ?? { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' },
    stdio,
    signal: options.signal,
  });
  const stdout: Buffer[] = [];
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => stdout.push(chunk));
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-STDERR_TAIL);
  });
  if (child.stdin) {
    // A child may exit without reading its input; its exit status tells what went wrong, not EPIPE.
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input);
  }
  const exitCode = await new Promise<number>((resolve, reject) => {
    child.once('error', (err) =>
      reject(new TsbuildError('RUNTIME', `cannot run ${command}: ${err.message}`, { cause: err })),
    );
    child.once('close', (code, signal) => resolve(code ?? (signal ? 128 + signalNumber(signal) : 1)));
  });
  const result = { exitCode, stdout: Buffer.concat(stdout).toString('utf8'), stderr: stderr.trim() };
  if (exitCode !== 0 && !(options.allowExitCodes ?? []).includes(exitCode)) {
    const detail = result.stderr ? `: ${lastLine(result.stderr)}` : '';
    throw new TsbuildError('RUNTIME', `${command} ${args[0] ?? ''} exited with status ${exitCode}${detail}`.replace(/ {2,}/g, ' '));
  }
  return result;
}

function lastLine(text: string): string {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  return lines[lines.length - 1] ?? '';
}

export function signalNumber(signal: NodeJS.Signals | string): number {
  return (osConstants.signals as Record<string, number>)[signal] ?? 1;
}
