// stop, kill and restart. Stopping tells the monitor not to restart the container (the stop-requested
// file; docker's rule: a container the user stopped stays stopped), sends the stop signal (the
// image's STOPSIGNAL, --stop-signal, default SIGTERM), waits up to the timeout, then SIGKILLs, and
// cleans up itself once the monitor has finished: the stop flag's content tells the monitor to skip
// its exit command, which would cost a second Node start-up (and would still touch the root after
// stop returned). Should this CLI die first, settle.ts cleans up for it.
import { writeFile } from 'node:fs/promises';
import type { Stores } from '../store/root.js';
import { cleanupContainer } from './cleanup.js';
import { normalizeSignal } from './create.js';
import { containerPaths } from './paths.js';
import { identityAlive } from '../util/process-identity.js';
import { mutateRecord, readRecord } from './records.js';
import { runcKill } from './runc-control.js';
import { monitorGone, settle, settleFinished } from './settle.js';
import { startContainer } from './start.js';
import type { ContainerRecord } from './types.js';

// After SIGKILL a container dies at once; the monitor then deletes it and runs the exit command.
const AFTER_KILL_MS = 15_000;

/** Stops a running container; a stopped one is left as it is. Returns the settled record. */
export async function stopContainer(stores: Stores, record: ContainerRecord, timeoutSeconds?: number): Promise<ContainerRecord> {
  const current = await settleFinished(stores, record);
  if (current.state !== 'running') return current;
  await markStopped(stores, current, true);
  const timeout = (timeoutSeconds ?? current.config.stopTimeout) * 1000;
  if (timeout > 0) {
    const sent = await runcKill(stores, current.id, current.config.stopSignal).catch(() => false);
    if (sent) await monitorGone(current, timeout);
  }
  if (identityAlive(current.monitor)) {
    await runcKill(stores, current.id, 'SIGKILL', true).catch(() => false);
    if (!(await monitorGone(current, AFTER_KILL_MS))) {
      stores.logger.warn({ container: current.id }, 'monitor did not finish after SIGKILL; killing it');
      killMonitor(current);
    }
  }
  await cleanupContainer(stores, current.id);
  return settleAgain(stores, current);
}

/** `kill -s SIG`: the signal to the container's init; terminating ones count as a stop by the user. */
export async function killContainer(stores: Stores, record: ContainerRecord, signal = 'SIGKILL'): Promise<ContainerRecord> {
  const sig = normalizeSignal(signal);
  const current = await settle(stores, record);
  if (current.state !== 'running') {
    const { TsbuildError } = await import('../errors.js');
    throw new TsbuildError('INVALID_ARGUMENT', `container "${current.name}" is not running`, { exitCode: 125 });
  }
  if (['SIGKILL', 'SIGTERM', 'SIGINT', 'SIGQUIT'].includes(sig)) await markStopped(stores, current);
  await runcKill(stores, current.id, sig);
  // SIGKILL cannot be caught: wait for the end, so the next command sees the container exited.
  if (sig === 'SIGKILL') await monitorGone(current, AFTER_KILL_MS);
  return current;
}

export async function restartContainer(stores: Stores, record: ContainerRecord, timeoutSeconds?: number): Promise<ContainerRecord> {
  const stopped = await stopContainer(stores, record, timeoutSeconds);
  return (await startContainer(stores, stopped.id)).record;
}

/** No restart from now on; with cliCleansUp, the monitor leaves the clean-up to us (see above). */
async function markStopped(stores: Stores, record: ContainerRecord, cliCleansUp = false): Promise<void> {
  await writeFile(containerPaths(stores, record.id).stopFlag, cliCleansUp ? 'cli\n' : '');
  await mutateRecord(stores, record.id, (r) => ({ ...r, stoppedByUser: true }));
}

function killMonitor(record: ContainerRecord): void {
  if (!record.monitor || !identityAlive(record.monitor)) return;
  try {
    process.kill(record.monitor.pid, 'SIGKILL');
  } catch {
    // Gone meanwhile.
  }
}

async function settleAgain(stores: Stores, record: ContainerRecord): Promise<ContainerRecord> {
  const now = await readRecord(stores, record.id);
  return now ? settle(stores, now) : { ...record, state: 'exited' };
}
