// `wait`: blocks until the container is no longer running and returns its exit code.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Stores } from '../store/root.js';
import { readRecord } from './records.js';
import { monitorAlive, settle } from './settle.js';
import type { ContainerRecord } from './types.js';

export async function waitContainer(stores: Stores, record: ContainerRecord, signal?: AbortSignal): Promise<number> {
  let current: ContainerRecord | undefined = await settle(stores, record);
  let delay = 10;
  while (current?.state === 'running') {
    signal?.throwIfAborted();
    await sleep(delay);
    delay = Math.min(delay * 2, 100);
    // Cheap check first; a record is re-read only when the monitor is gone (or restarted).
    if (monitorAlive(current)) continue;
    const now = await readRecord(stores, current.id);
    current = now ? await settle(stores, now) : undefined;
  }
  // A --rm container is gone after its exit: its code is in the last record we saw, or unknown.
  return current?.exitCode ?? record.exitCode ?? 0;
}
