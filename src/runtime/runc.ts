// The runc driver: writes a bundle, runs the container in the foreground with `runc run`, streams
// its output, maps runc's own start-up failures to exit codes (127/126, podman's convention) or
// RUNTIME errors, kills the container on abort, and always removes runc's state afterwards.
// Also checkExecutable, which resolves a command inside the rootfs so callers can fail early.
import { spawn, type StdioOptions } from 'node:child_process';
import { statSync, type Stats } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { TsbuildError, errnoCode } from '../errors.js';
import { DEFAULT_PATH } from '../oci/types.js';
import type { Logger } from '../log.js';
import { signalNumber } from '../util/exec.js';
import { writeJsonAtomic } from '../util/fs.js';
import { resolveInRoot } from '../util/resolve-in-root.js';
import type { RuntimeSpec } from './spec.js';

export interface RunIO {
  /** Default 'ignore'. */
  stdin?: 'inherit' | 'ignore';
  stdout: 'inherit' | NodeJS.WritableStream;
  stderr: 'inherit' | NodeJS.WritableStream;
}

export interface ContainerRuntime {
  /** Creates the bundle (config.json) in bundleDir, runs the container in the foreground, returns its exit code; always deletes the runc state afterwards. */
  run(id: string, bundleDir: string, spec: RuntimeSpec, io: RunIO, signal?: AbortSignal): Promise<number>;
  /** Force-deletes a container; one that does not exist is not an error. */
  delete(id: string): Promise<void>;
}

export interface RuncRuntimeOptions {
  /** Default 'runc' (looked up in PATH). */
  binary?: string;
  /** Passed as `runc --root`: where runc keeps container state. */
  stateRoot: string;
  logger: Logger;
}

export { DEFAULT_PATH };

// How long an aborted container may take to die after `runc kill` before runc itself is SIGKILLed.
const ABORT_GRACE_MS = 10_000;
const ABORT_POLL_MS = 50;
// How long output pipes may stay open after runc has exited before the container is force-deleted.
const ORPHAN_GRACE_MS = 2_000;

export function createRuncRuntime(options: RuncRuntimeOptions): ContainerRuntime {
  const binary = options.binary ?? 'runc';
  const runcArgs = (...args: string[]): string[] => [binary, '--root', options.stateRoot, ...args];
  const env = { PATH: process.env.PATH ?? DEFAULT_PATH };

  async function deleteContainer(id: string): Promise<void> {
    const result = await runcCommand(runcArgs('delete', '--force', id), env);
    if (result.exitCode !== 0 && !/does not exist|not found/i.test(result.stderr)) {
      throw new TsbuildError('RUNTIME', `cannot delete container ${id}: ${runcMessage(result.stderr)}`);
    }
  }

  async function run(id: string, bundleDir: string, spec: RuntimeSpec, io: RunIO, signal?: AbortSignal): Promise<number> {
    signal?.throwIfAborted();
    const log = options.logger.child({ container: id });
    if (spec.process.terminal && (io.stdout !== 'inherit' || io.stderr !== 'inherit')) {
      throw new TsbuildError('INVALID_ARGUMENT', 'a container with a terminal must inherit stdout and stderr');
    }
    if (spec.process.terminal && !process.stdin.isTTY) {
      throw new TsbuildError('INVALID_ARGUMENT', 'a terminal was requested but the input device is not a TTY', {
        hint: 'run without a terminal (-t) or from an interactive shell',
      });
    }
    await mkdir(options.stateRoot, { recursive: true, mode: 0o700 });
    await mkdir(bundleDir, { recursive: true });
    // 0600: the environment may carry build arguments the user considers private.
    await writeJsonAtomic(path.join(bundleDir, 'config.json'), spec, 0o600);
    // runc's own messages go to this JSON log as well as to its stderr; the log is the clean channel,
    // because without a terminal the container writes to runc's very stderr.
    const logFile = path.join(bundleDir, 'runc.log');
    await rm(logFile, { force: true });

    // With a terminal runc makes the pty itself and copies it to its own stdio, which must be ours.
    const stdio: StdioOptions = spec.process.terminal
      ? 'inherit'
      : [io.stdin ?? 'ignore', io.stdout === 'inherit' ? 'inherit' : 'pipe', io.stderr === 'inherit' ? 'inherit' : 'pipe'];
    const argv = runcArgs('--log', logFile, '--log-format', 'json', 'run', '--bundle', bundleDir, '--no-new-keyring', id);
    log.debug({ argv }, 'starting container');

    let exited = false;
    let abortTask: Promise<void> | undefined;
    try {
      // No `signal` option for spawn: SIGTERM to runc would only be forwarded to the container's
      // pid 1, which ignores it unless it installed a handler. Abort is handled below instead.
      const child = spawn(argv[0]!, argv.slice(1), { env, stdio });
      let orphanTimer: NodeJS.Timeout | undefined;
      const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
        child.once('error', reject);
        child.once('exit', () => {
          exited = true;
          // Normally the container is dead when runc exits and the pipes close at once. If runc was
          // killed from outside, the container lives on holding them; kill it so 'close' comes.
          orphanTimer = setTimeout(() => {
            log.warn('runc exited but the container still holds its output; deleting it');
            void deleteContainer(id).catch(() => undefined);
          }, ORPHAN_GRACE_MS);
        });
        child.once('close', (code, sig) => {
          clearTimeout(orphanTimer);
          resolve({ code, signal: sig });
        });
      });
      const unforward = [
        child.stdout && io.stdout !== 'inherit' ? forward(child.stdout, io.stdout) : undefined,
        child.stderr && io.stderr !== 'inherit' ? forward(child.stderr, io.stderr) : undefined,
      ];

      const onAbort = (): void => {
        abortTask ??= killOnAbort(id, () => exited, () => child.kill('SIGKILL'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      // An abort that came while the bundle was being written has already fired.
      if (signal?.aborted) onAbort();
      let outcome: { code: number | null; signal: NodeJS.Signals | null };
      try {
        outcome = await closed;
      } catch (err) {
        throw new TsbuildError('RUNTIME', `cannot run ${binary}: ${(err as Error).message}`, {
          cause: err,
          hint: errnoCode(err) === 'ENOENT' ? 'install runc (Debian: apt-get install runc)' : undefined,
        });
      } finally {
        signal?.removeEventListener('abort', onAbort);
        for (const stop of unforward) stop?.();
      }
      await abortTask;
      if (signal?.aborted) signal.throwIfAborted();

      const exitCode = outcome.code ?? 128 + signalNumber(outcome.signal ?? 'SIGKILL');
      if (exitCode === 0) return 0;
      // A non-zero status with an error in runc's log means runc failed, not the container's process.
      const failure = await lastRuncError(logFile);
      if (failure === undefined) {
        log.debug({ exitCode }, 'container exited');
        return exitCode;
      }
      const startCode = execFailureCode(failure);
      if (startCode !== undefined) {
        log.debug({ exitCode: startCode, error: failure }, 'container command could not be started');
        return startCode;
      }
      throw new TsbuildError('RUNTIME', `runc failed to run container ${id}: ${failure}`);
    } finally {
      await abortTask?.catch(() => undefined);
      await deleteContainer(id).catch((err: unknown) => log.warn({ err }, 'cannot delete runc state'));
    }
  }

  /**
   * Kills the container with `runc kill KILL` (pid 1 of its pid namespace, so every process dies).
   * Retries because the abort may come while runc is still creating the container and the id is
   * not known yet; if it never dies, runc itself is SIGKILLed and `delete --force` cleans up.
   */
  async function killOnAbort(id: string, hasExited: () => boolean, killRunc: () => void): Promise<void> {
    const deadline = Date.now() + ABORT_GRACE_MS;
    while (!hasExited()) {
      await runcCommand(runcArgs('kill', id, 'KILL'), env).catch(() => undefined);
      await sleep(ABORT_POLL_MS);
      if (Date.now() > deadline) {
        options.logger.warn({ container: id }, 'container did not stop after kill; killing runc');
        killRunc();
        // The container still holds runc's stdout/stderr pipes; only its death lets them close.
        await deleteContainer(id).catch(() => undefined);
        return;
      }
    }
  }

  return { run, delete: deleteContainer };
}

/**
 * Pipes a child's output into a caller's stream without ending it (it may be process.stdout or a
 * shared log) and with backpressure. If the destination fails, the output is drained and dropped
 * so the container never blocks on a full pipe.
 */
function forward(source: Readable, destination: NodeJS.WritableStream): () => void {
  const onError = (): void => {
    source.unpipe(destination as Writable);
    source.resume();
  };
  source.pipe(destination, { end: false });
  destination.once('error', onError);
  // Callers reuse one stream (process.stdout) for many runs: do not pile up listeners on it.
  return () => destination.removeListener('error', onError);
}

/**
 * Runs a short runc command (kill, delete) and returns its status and stderr tail.
 * Not util/exec's execFile on purpose: that one always pipes an (empty) stdin, and when runc exits
 * before the write, the EPIPE is an uncaught exception that kills the whole process. These calls
 * happen during abort and cleanup, the worst place for that; stdin is simply not opened here.
 */
function runcCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<{ exitCode: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-4096);
    });
    child.once('error', (err) => reject(new TsbuildError('RUNTIME', `cannot run ${argv[0]}: ${err.message}`, { cause: err })));
    child.once('close', (code, sig) => resolve({ exitCode: code ?? 128 + signalNumber(sig ?? 'SIGKILL'), stderr: stderr.trim() }));
  });
}

/** The message of the last error runc wrote to its JSON log, if any. */
export async function lastRuncError(logFile: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(logFile, 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  }
  let message: string | undefined;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const entry = JSON.parse(line) as { level?: string; msg?: string };
      if ((entry.level === 'error' || entry.level === 'fatal') && entry.msg) message = entry.msg;
    } catch {
      // A torn or non-JSON line (runc killed mid-write) says nothing reliable.
    }
  }
  return message?.replace(/^runc (?:run|exec) failed: /, '');
}

/** 127/126 when runc could not exec the container's command (not found / not executable). */
export function execFailureCode(message: string): number | undefined {
  // runc: `unable to start container process: exec: "nope": executable file not found in $PATH`,
  // `... exec: "/nope": stat /nope: no such file or directory`, `... exec: "/file": permission denied`.
  const execError = /exec: "(?:[^"\\]|\\.)*": (.*)$/.exec(message)?.[1];
  if (execError === undefined) return undefined;
  if (/executable file not found|no such file or directory/.test(execError)) return 127;
  if (/permission denied|is a directory/.test(execError)) return 126;
  return undefined;
}

/** The useful part of runc's stderr (logrus text or a bare message). */
function runcMessage(stderr: string): string {
  const lines = stderr.split('\n').filter((l) => l.trim() !== '');
  const last = lines[lines.length - 1] ?? 'unknown error';
  return /msg="((?:[^"\\]|\\.)*)"/.exec(last)?.[1]?.replace(/\\"/g, '"') ?? last;
}

/**
 * Looks `command` up the way runc will inside the container (Go's exec.LookPath against the
 * container's PATH), following symlinks only within `rootfs`, so a caller can fail early with exit
 * status 127. `env` is the container's PATH value or its whole environment (PATH=... is taken from
 * it); without a PATH, Docker's default applies. Returns undefined when the command exists, else the
 * message to show, e.g. `executable file "x" not found in $PATH`. Files that exist but cannot be
 * executed are left to runc, whose failure run() reports as 126, and so are commands under
 * `mountedOver` (the destinations of the container's other mounts).
 */
export async function checkExecutable(
  rootfs: string,
  command: string,
  env: string | readonly string[] | undefined,
  cwd: string,
  mountedOver: readonly string[] = [],
): Promise<string | undefined> {
  if (command === '') return 'no command given';
  // What lies under a volume, bind or tmpfs is not in the rootfs looked at here: runc decides.
  const mounted = (inContainer: string): boolean =>
    mountedOver.some((m) => {
      const target = path.posix.resolve('/', m);
      return inContainer === target || inContainer.startsWith(target === '/' ? '/' : `${target}/`);
    });
  if (command.includes('/')) {
    const inContainer = path.posix.resolve(cwd, command);
    if (mounted(inContainer)) return undefined;
    const found = await exists(rootfs, inContainer);
    return found ? undefined : `executable file "${command}" not found: no such file or directory`;
  }
  for (const dir of pathValue(env).split(':')) {
    // Go 1.19 (runc's) refuses results from relative PATH entries ("." or ""), so they never match.
    if (!path.posix.isAbsolute(dir)) continue;
    if (mounted(path.posix.join(dir, command))) return undefined;
    const candidate = await resolveInRoot(rootfs, path.posix.join(dir, command));
    // LookPath skips directories and files without an x bit and keeps searching.
    let st: Stats | undefined;
    try {
      st = statSync(candidate);
    } catch {
      // Not there, or not reachable: LookPath goes on to the next entry.
    }
    if (st?.isFile() && (st.mode & 0o111) !== 0) return undefined;
  }
  return `executable file "${command}" not found in $PATH`;
}

function pathValue(env: string | readonly string[] | undefined): string {
  if (typeof env === 'string') return env;
  // The last PATH= wins, as it does for execve's environment lookup in Go (os.Getenv).
  const entry = env?.filter((e) => e.startsWith('PATH=')).pop();
  return entry === undefined ? DEFAULT_PATH : entry.slice('PATH='.length);
}

async function exists(rootfs: string, inContainer: string): Promise<boolean> {
  try {
    statSync(await resolveInRoot(rootfs, inContainer));
    return true;
  } catch (err) {
    if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') return false;
    throw err;
  }
}
