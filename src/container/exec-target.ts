// How exec, cp and top find the container they act on: the record by name, ID or unique ID prefix
// (settled, so a dead container is not taken for a running one), and runc's own view of it (its
// init's host pid), which is the authority on whether a process can be joined right now.
import { spawn } from 'node:child_process';
import { TsbuildError } from '../errors.js';
import { DEFAULT_PATH } from '../oci/types.js';
import type { Stores } from '../store/root.js';
import type { ContainerRecord } from './types.js';

// By name, ID or unique ID prefix, settled; a missing one is an error (exit 125).
export { requireContainer } from './records.js';

export interface RuncState {
  pid: number;
  status: string;
}

/** `runc state ID`: undefined when runc does not know the container (never started, or gone). */
export async function runcState(stores: Stores, id: string): Promise<RuncState | undefined> {
  const { code, stdout } = await runcOutput(stores, ['state', id]);
  if (code !== 0) return undefined;
  try {
    const state = JSON.parse(stdout) as { pid?: number; status?: string };
    return { pid: state.pid ?? 0, status: state.status ?? 'unknown' };
  } catch {
    return undefined;
  }
}

/** The running container's init pid; "container X is not running" (exit 125) otherwise. */
export async function requireRunning(stores: Stores, record: ContainerRecord): Promise<RuncState> {
  const notRunning = (): TsbuildError =>
    new TsbuildError('INVALID_ARGUMENT', `container ${record.name} is not running`, {
      exitCode: 125,
      hint: `start it with "tsbuild start ${record.name}"`,
    });
  if (record.state !== 'running') throw notRunning();
  const state = await runcState(stores, record.id);
  if (!state || state.status !== 'running' || state.pid <= 0) throw notRunning();
  return state;
}

/** Runs a short runc command with --root and captures its output (stdin is never opened). */
export function runcOutput(stores: Stores, args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('runc', ['--root', stores.layout.runcState, ...args], {
      env: { PATH: process.env.PATH ?? DEFAULT_PATH },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString('utf8')).slice(-4096)));
    child.once('error', (err) => reject(new TsbuildError('RUNTIME', `cannot run runc: ${err.message}`, { cause: err })));
    child.once('close', (code) => resolve({ code: code ?? 1, stdout, stderr: stderr.trim() }));
  });
}
