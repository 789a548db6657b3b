// `tsbuild run` = create + start. Detached (-d), the monitor keeps the container after we exit and
// runs the clean-up when it ends. In the foreground, the same monitor runs attached to our stdio
// (our stdin with -i, our terminal with -t); we forward SIGINT/SIGTERM/SIGHUP to the container, wait
// for the monitor, clean up ourselves (faster than the exit command) and return its exit code.
import { TsbuildError } from '../errors.js';
import type { Stores } from '../store/root.js';
import { cleanupContainer, removeContainer } from './cleanup.js';
import { createContainer, type CreateRequest } from './create.js';
import { readRecord } from './records.js';
import { runcKill } from './runc-control.js';
import { startContainer } from './start.js';
import type { ContainerRecord } from './types.js';

export { containerArgs } from './create.js';
export { mergeEnv } from './env.js';

export interface RunRequest extends CreateRequest {
  detach?: boolean;
  /** Foreground without -i: pass our stdin anyway (tsbuild's behaviour when stdin is a pipe or file). */
  stdinFromCaller?: boolean;
}

export interface RunResult {
  record: ContainerRecord;
  /** Foreground only. */
  exitCode?: number;
}

const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
const INTERRUPT_GRACE_MS = 1000;

export async function runContainer(stores: Stores, request: RunRequest): Promise<RunResult> {
  const created = await createContainer(stores, request);
  if (request.detach) {
    try {
      return { record: (await startContainer(stores, created.id)).record };
    } catch (err) {
      await discardAfterFailure(stores, created);
      throw err;
    }
  }

  // SIGINT/SIGTERM/SIGHUP go to the container (podman's sig-proxy); one that does not end it within
  // a grace period is killed, and the run counts as interrupted (125), as it always did here.
  let started = false;
  let killed = false;
  const pending: NodeJS.Signals[] = [];
  let killTimer: NodeJS.Timeout | undefined;
  const onSignal = (sig: NodeJS.Signals): void => {
    if (!started) {
      pending.push(sig);
      return;
    }
    void runcKill(stores, created.id, sig).catch(() => undefined);
    killTimer ??= setTimeout(() => {
      killed = true;
      void runcKill(stores, created.id, 'SIGKILL', true).catch(() => undefined);
    }, INTERRUPT_GRACE_MS);
  };
  for (const sig of FORWARDED) process.on(sig, onSignal);
  try {
    let result;
    try {
      result = await startContainer(stores, created.id, { attached: true, stdinFromCaller: request.stdinFromCaller });
    } catch (err) {
      await discardAfterFailure(stores, created);
      throw err;
    }
    started = true;
    for (const sig of pending) onSignal(sig);
    const exitCode = (await result.monitor?.wait?.()) ?? 0;
    clearTimeout(killTimer);
    const final = await cleanupContainer(stores, created.id, { fallbackExitCode: exitCode });
    if (killed) throw new TsbuildError('RUNTIME', 'interrupted', { exitCode: 125 });
    return { record: final ?? { ...result.record, state: 'exited', exitCode }, exitCode: final?.exitCode ?? exitCode };
  } finally {
    clearTimeout(killTimer);
    for (const sig of FORWARDED) process.off(sig, onSignal);
  }
}

/**
 * A container `run` made but could not start goes away with the failure (with its anonymous
 * volumes): nothing is left behind. podman and docker keep it as "Created"; `create` then `start`
 * keeps it here too.
 */
async function discardAfterFailure(stores: Stores, record: ContainerRecord): Promise<void> {
  const current = (await readRecord(stores, record.id)) ?? record;
  await removeContainer(stores, current, { volumes: true }).catch(() => undefined);
}
