// State on read. A record says "running" from the moment its monitor runs; whether that is still
// true is decided here, every time a command reads containers: the monitor process alive (same pid,
// same /proc start time, same boot) means running; otherwise nothing watches the container any more,
// so what is left of it is killed, the exit is recorded (exit.json's code, else 137) and everything
// it held is released (cleanup.ts). A reboot changes the boot id: runc's state and the netns are gone,
// the container exited. A foreground container also ends with the CLI that runs it (ownerPid).
import { processAlive } from '../store/lock.js';
import type { Stores } from '../store/root.js';
import { readJson } from '../util/fs.js';
import { cleanupContainer } from './cleanup.js';
import type { MonitorState } from './monitor.js';
import { containerPaths } from './paths.js';
import { identityAlive } from './process-identity.js';
import { readRecord } from './records.js';
import type { ContainerRecord } from './types.js';

/** Whether the record's monitor (and, for a foreground run, its CLI) still lives. */
export function monitorAlive(record: ContainerRecord): boolean {
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

export async function settleAll(stores: Stores, records: readonly ContainerRecord[]): Promise<ContainerRecord[]> {
  const settled = await Promise.all(
    records.map(async (r) => {
      const s = await settle(stores, r);
      // --rm containers disappear once settled.
      return s === r || (await readRecord(stores, r.id)) ? s : undefined;
    }),
  );
  return settled.filter((r): r is ContainerRecord => r !== undefined);
}

/** A running record with the monitor's own view (container pid, restarts) folded in. */
async function withMonitorState(stores: Stores, record: ContainerRecord): Promise<ContainerRecord> {
  const state = await readJson<MonitorState>(containerPaths(stores, record.id).monitorState).catch(() => undefined);
  if (!state) return record;
  return { ...record, pid: state.containerPid, restartCount: state.restartCount, startedAt: state.startedAt || record.startedAt };
}
