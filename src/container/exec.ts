// `tsbuild exec`: runs another process in a running container with `runc exec --process`. The
// process gets the container's environment (plus -e/--env-file), working directory and user unless
// overridden, and the container's own capabilities, rlimits and no-new-privileges (read back from
// the bundle runc started it with), so exec can never hand out more than the container has, short
// of --privileged. Users and commands are looked up through /proc/<pid>/root, i.e. the container's
// view of its filesystem with its volumes and binds, never the host's.
import { spawn, type StdioOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { TsbuildError, errnoCode } from '../errors.js';
import { DEFAULT_PATH } from '../oci/types.js';
import { ALL_CAPABILITIES, CAPABILITY_NAMES, DEFAULT_CAPABILITIES, checkExecutable, resolveUser, type RuntimeSpec } from '../runtime/index.js';
import { execFailureCode, lastRuncError } from '../runtime/runc.js';
import type { ProcessUser } from '../runtime/spec.js';
import type { Stores } from '../store/root.js';
import { signalNumber } from '../util/exec.js';
import { writeJsonAtomic } from '../util/fs.js';
import { containerPaths } from './paths.js';
import { requireContainer, requireRunning } from './exec-target.js';
import type { ContainerRecord } from './types.js';
import { mergeEnv } from './env.js';

export interface ExecOptions {
  container: string;
  command: string[];
  /** -i: our stdin goes to the process. */
  interactive: boolean;
  /** -t: a terminal (ours must be one). */
  tty: boolean;
  /** -d: start it and return at once. */
  detach: boolean;
  /** --env-file entries, then -e values, in order (KEY=VALUE, or KEY to pass ours). */
  env: string[];
  user?: string;
  workdir?: string;
  privileged: boolean;
}

type ProcessSpec = RuntimeSpec['process'];

/** Runs the command; resolves to its exit status (0 for -d). Our own failures throw (exit 125). */
export async function execInContainer(stores: Stores, options: ExecOptions): Promise<number> {
  if (options.command.length === 0 || options.command[0] === '') {
    throw new TsbuildError('INVALID_ARGUMENT', 'exec needs a command to run in the container', { exitCode: 125 });
  }
  if (options.tty && options.detach) {
    throw new TsbuildError('INVALID_ARGUMENT', 'exec -d with -t is not supported (a detached terminal needs a console socket)', { exitCode: 125 });
  }
  if (options.tty && !process.stdin.isTTY) {
    throw new TsbuildError('INVALID_ARGUMENT', 'the input device is not a TTY: exec -t needs a terminal', {
      exitCode: 125,
      hint: 'run without -t, or from an interactive shell',
    });
  }
  const record = await requireContainer(stores, options.container);
  const state = await requireRunning(stores, record);
  const root = `/proc/${state.pid}/root`;
  const paths = containerPaths(stores, record.id);

  const env = execEnv(record.config.env, options.env, options.tty);
  const cwd = options.workdir ?? (record.config.cwd || '/');
  if (!path.posix.isAbsolute(cwd)) {
    throw new TsbuildError('INVALID_ARGUMENT', `working directory "${cwd}" is not an absolute path`, { exitCode: 125 });
  }
  const user = await resolveUser(root, options.user ?? record.config.user).catch((err: unknown) => {
    throw new TsbuildError('INVALID_ARGUMENT', `container ${record.name}: ${(err as Error).message}`, { exitCode: 125, cause: err });
  });
  const missing = await checkExecutable(root, options.command[0]!, env, cwd);
  if (missing) throw new TsbuildError('RUNTIME', missing, { exitCode: 127 });

  const base = await bundleProcess(path.join(paths.bundle, 'config.json'));
  const spec = execProcessSpec(base, record, { args: options.command, env, cwd, user, terminal: options.tty, privileged: options.privileged });

  const token = randomBytes(6).toString('hex');
  const processFile = path.join(paths.dir, `exec-${token}.json`);
  const logFile = path.join(paths.dir, `exec-${token}.log`);
  // 0600: the environment may hold values the user considers private.
  await writeJsonAtomic(processFile, spec, 0o600);
  try {
    const argv = ['--root', stores.layout.runcState, '--log', logFile, '--log-format', 'json', 'exec', '--process', processFile];
    if (options.detach) argv.push('--detach');
    argv.push(record.id);
    // Without a terminal runc hands these very fds to the process; with one it makes a pty and
    // copies between it and its own stdio, which must then be our terminal.
    const stdio: StdioOptions = options.detach
      ? 'ignore'
      : options.tty
        ? 'inherit'
        : [options.interactive ? 'inherit' : 'ignore', 'inherit', 'inherit'];
    const code = await runRunc(argv, stdio, options.tty);
    if (code === 0) return 0;
    const failure = await lastRuncError(logFile);
    if (failure === undefined) return code;
    const startCode = execFailureCode(failure);
    // runc has printed the reason on the stderr it shares with the process already.
    if (startCode !== undefined) return startCode;
    if (/cannot exec in a (?:stopped|paused) container|container .* does not exist/i.test(failure)) {
      throw new TsbuildError('INVALID_ARGUMENT', `container ${record.name} is not running`, { exitCode: 125 });
    }
    if (/chdir to cwd .* (?:no such file or directory|not a directory)/.test(failure)) {
      throw new TsbuildError('INVALID_ARGUMENT', `working directory "${cwd}" does not exist in container ${record.name}`, { exitCode: 127 });
    }
    throw new TsbuildError('RUNTIME', `runc failed to exec in container ${record.name}: ${failure}`, { exitCode: 125 });
  } finally {
    await rm(processFile, { force: true });
    await rm(logFile, { force: true });
  }
}

/**
 * Runs runc in the foreground and returns its status (the process's). Signals sent to us go on to
 * runc, which forwards them to the process; a Ctrl-C from a terminal already reaches runc through
 * the process group, so it is not sent twice.
 */
function runRunc(argv: string[], stdio: StdioOptions, tty: boolean): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn('runc', argv, { env: { PATH: process.env.PATH ?? DEFAULT_PATH }, stdio });
    const forward = (sig: NodeJS.Signals) => (): void => {
      if (sig === 'SIGINT' && (tty || process.stdin.isTTY)) return;
      child.kill(sig);
    };
    const handlers = (['SIGINT', 'SIGTERM', 'SIGHUP'] as const).map((sig) => [sig, forward(sig)] as const);
    for (const [sig, fn] of handlers) process.on(sig, fn);
    const done = (): void => {
      for (const [sig, fn] of handlers) process.off(sig, fn);
    };
    child.once('error', (err) => {
      done();
      reject(new TsbuildError('RUNTIME', `cannot run runc: ${err.message}`, { cause: err, exitCode: 125 }));
    });
    child.once('close', (code, sig) => {
      done();
      resolve(code ?? 128 + signalNumber(sig ?? 'SIGKILL'));
    });
  });
}

/** The process section runc started the container with, if its bundle is still there. */
async function bundleProcess(file: string): Promise<ProcessSpec | undefined> {
  try {
    return (JSON.parse(await readFile(file, 'utf8')) as RuntimeSpec).process;
  } catch (err) {
    if (errnoCode(err) === 'ENOENT' || err instanceof SyntaxError) return undefined;
    throw err;
  }
}

export interface ExecProcessFields {
  args: string[];
  env: string[];
  cwd: string;
  user: ProcessUser;
  terminal: boolean;
  privileged: boolean;
}

/**
 * The process.json for `runc exec`: the container's security settings (from its bundle, else
 * recomputed from its config) with this exec's command, environment, directory and user.
 */
export function execProcessSpec(base: ProcessSpec | undefined, record: ContainerRecord, fields: ExecProcessFields): ProcessSpec {
  const privileged = fields.privileged || record.config.privileged;
  const capabilities = privileged
    ? capabilitySet([...ALL_CAPABILITIES])
    : (base?.capabilities ?? capabilitySet(adjustCapabilities(DEFAULT_CAPABILITIES, record.config.capAdd, record.config.capDrop)));
  return {
    terminal: fields.terminal,
    user: { uid: fields.user.uid, gid: fields.user.gid, additionalGids: [...fields.user.additionalGids] },
    args: [...fields.args],
    env: [...fields.env],
    cwd: fields.cwd,
    capabilities,
    rlimits: base?.rlimits ?? [],
    noNewPrivileges: privileged ? false : (base?.noNewPrivileges ?? record.config.security?.noNewPrivileges ?? true),
  };
}

function capabilitySet(caps: string[]): ProcessSpec['capabilities'] {
  // Ambient stays empty: a non-root exec user gets no capabilities, as in docker.
  return { bounding: [...caps], effective: [...caps], permitted: [...caps], inheritable: [...caps], ambient: [] };
}

/** --cap-add/--cap-drop over a base set (names with or without CAP_, any case; ALL allowed). */
export function adjustCapabilities(base: readonly string[], add: readonly string[], drop: readonly string[]): string[] {
  const norm = (c: string): string => (c.toUpperCase().startsWith('CAP_') ? c.toUpperCase() : `CAP_${c.toUpperCase()}`);
  let caps = new Set(base.map(norm));
  if (drop.some((c) => c.toUpperCase() === 'ALL')) caps = new Set();
  for (const c of drop) caps.delete(norm(c));
  if (add.some((c) => c.toUpperCase() === 'ALL')) for (const c of ALL_CAPABILITIES) caps.add(c);
  for (const c of add) if (c.toUpperCase() !== 'ALL' && CAPABILITY_NAMES.includes(norm(c))) caps.add(norm(c));
  return [...caps];
}

/**
 * The exec's environment: the container's, then --env-file, then -e (later wins); KEY alone takes
 * our value (and is dropped when we have none); PATH defaults like in the container; with -t, TERM.
 */
export function execEnv(containerEnv: readonly string[], overrides: readonly string[], tty: boolean): string[] {
  const empty = overrides.find((e) => e.startsWith('='));
  if (empty !== undefined) throw new TsbuildError('INVALID_ARGUMENT', `invalid environment variable "${empty}": the name is empty`, { exitCode: 125 });
  const env = mergeEnv(containerEnv.filter((e) => e.indexOf('=') > 0), overrides);
  return tty && !env.some((e) => e.startsWith('TERM=')) ? [...env, 'TERM=xterm'] : env;
}
