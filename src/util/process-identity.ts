// Who a pid is: its /proc start time and the boot it belongs to. A bare pid can be reused by any
// process after the monitor died (and is meaningless after a reboot), so a monitor is identified by
// all three.
import { readFileSync } from 'node:fs';

let cachedBootId: string | undefined;

export function bootId(): string {
  cachedBootId ??= readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  return cachedBootId;
}

/** Field 22 of /proc/<pid>/stat (clock ticks since boot); undefined when the process is gone. */
export function processStartTime(pid: number): number | undefined {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const state = fields[0];
  // A zombie has finished; it only waits for its parent to reap it.
  if (state === 'Z' || state === 'X') return undefined;
  const start = Number(fields[19]);
  return Number.isFinite(start) ? start : undefined;
}

export interface ProcessIdentity {
  pid: number;
  startTime: number;
  bootId: string;
}

export function identify(pid: number): ProcessIdentity | undefined {
  const startTime = processStartTime(pid);
  return startTime === undefined ? undefined : { pid, startTime, bootId: bootId() };
}

/** Whether the very process (same boot, same start time) still runs. */
export function identityAlive(id: ProcessIdentity | undefined): boolean {
  if (!id) return false;
  if (id.bootId !== bootId()) return false;
  return processStartTime(id.pid) === id.startTime;
}
