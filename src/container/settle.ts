// State on read. A record says "running" from the moment its monitor runs; whether that is still
// true is decided here, every time a command reads containers: the monitor process alive (same pid,
// same /proc start time, same boot) means running; otherwise nothing watches the container any more,
// so what is left of it is killed, the exit is recorded (exit.json's code, else 137) and everything
// it held is released (cleanup.ts). A reboot changes the boot id: runc's state and the netns are gone,
// the container exited. A foreground container also ends with the CLI that runs it (ownerPid).
import { setTimeout as sleep } from 'node:timers/promises';
import { processAlive } from '../store/lock.js';
import type { Stores } from '../store/root.js';
import { readJson } from '../util/fs.js';
import { cleanupContainer } from './cleanup.js';
import type { ExitInfo, MonitorState } from './monitor.js';
import { containerPaths } from './paths.js';
import { identityAlive } from '../util/process-identity.js';
import { readRecord } from './records.js';
import type { ContainerRecord } from './types.js';

/** Whether the record's monitor (and, for a foreground run, its CLI) still lives. */
export function monitorAlive(record: ContainerRecord): boolean {
  // Between the record saying running and the monitor being known, the starting CLI owns it.
  if (!record.monitor) return record.ownerPid !== undefined && processAlive(record.ownerPid);
  if (!identityAlive(record.monitor)) return false;
  return record.ownerPid === undefined || processAlive(record.ownerPid);
}

export async function settle(stores: Stores, record: ContainerRecord): Promise<ContainerRecord> {
  if (record.state !== 'running') return record;
  if (monitorAlive(record)) return withMonitorState(stores, record);
  // Re-read under the lock inside cleanup: the exit command may have settled it meanwhile.
  if (record.monitor && identityAlive(record.monitor)) {
    // The foreground CLI died but its attached monitor lives on: end both, as `run` would on exit.
    try {
      process.kill(record.monitor.pid, 'SIGKILL');
    } catch {
      // Gone meanwhile.
    }
  }
  stores.logger.debug({ container: record.id }, 'monitor gone: settling container as exited');
  const settled = await cleanupContainer(stores, record.id, { force: true, fallbackExitCode: 137 });
  return settled ?? { ...record, state: 'exited', exitCode: record.exitCode ?? 137 };
}

/**
 * Like settle, but a container that has exited while its monitor still finishes is waited for
 * (up to `timeoutMs`), so the caller may act on it (start it again, remove it) without racing the
 * monitor's clean-up.
 */
export async function settleFinished(stores: Stores, record: ContainerRecord, timeoutMs = 15_000): Promise<ContainerRecord> {
  const settled = await settle(stores, record);
  if (settled.state === 'running' || !record.monitor || !identityAlive(record.monitor)) return settled;
  await monitorGone(record, timeoutMs);
  const now = await readRecord(stores, record.id);
  return now ? settle(stores, now) : settled;
}

/** Waits for the monitor (and the exit command it became) to end; false on timeout. */
export async function monitorGone(record: ContainerRecord, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let delay = 5;
  while (identityAlive(record.monitor)) {
    if (Date.now() > deadline) return false;
    await sleep(delay);
    delay = Math.min(delay * 2, 50);
  }
  return true;
}

/** Each record settled (see settle); --rm containers that went away meanwhile are left out. */
export async function settleRecords(stores: Stores, records: readonly ContainerRecord[]): Promise<ContainerRecord[]> {
  const settled = await Promise.all(
    records.map(async (r) => {
      const s = await settle(stores, r);
      // --rm containers disappear once settled.
      return s === r || (await readRecord(stores, r.id)) ? s : undefined;
    }),
  );
  return settled.filter((r): r is ContainerRecord => r !== undefined);
}

/**
 * A running record with the monitor's own view (container pid, restarts) folded in. A container
 * that has exited for good while its monitor still finishes (runc delete, the exit command's
 * clean-up) already reads as exited, so `ps` and `wait` are right at once.
 */
async function withMonitorState(stores: Stores, record: ContainerRecord): Promise<ContainerRecord> {
  const paths = containerPaths(stores, record.id);
  const [state, exit] = await Promise.all([
    readJson<MonitorState>(paths.monitorState).catch(() => undefined),
    record.config.restart.name === 'no' || record.stoppedByUser ? readJson<ExitInfo>(paths.exit).catch(() => undefined) : undefined,
  ]);
  if (!state) return record;
  const running = { ...record, pid: state.containerPid, restartCount: state.restartCount, startedAt: state.startedAt || record.startedAt };
  if (exit && Date.parse(exit.finishedAt) >= Date.parse(state.startedAt)) {
    return { ...running, state: 'exited', exitCode: exit.exitCode, finishedAt: exit.finishedAt };
  }
  return running;
}
