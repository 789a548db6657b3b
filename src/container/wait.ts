// `wait`: blocks until the container has run and is no longer running (a created one is waited for
// through its start, as docker does) and returns its exit code.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Stores } from '../store/root.js';
import { readJson } from '../util/fs.js';
import type { ExitInfo } from './monitor.js';
import { containerPaths } from './paths.js';
import { readRecord } from './records.js';
import { monitorAlive, settle } from './settle.js';
import type { ContainerRecord } from './types.js';

export async function waitContainer(stores: Stores, record: ContainerRecord, signal?: AbortSignal): Promise<number> {
  let current: ContainerRecord | undefined = await settle(stores, record);
  let delay = 10;
  // A --rm container's record goes with it: its exit code is taken from exit.json on the way.
  let lastExit: number | undefined;
  while (current?.state === 'running' || current?.state === 'created') {
    signal?.throwIfAborted();
    await sleep(delay);
    delay = Math.min(delay * 2, 100);
    if (current.config.autoRemove) lastExit = (await readJson<ExitInfo>(containerPaths(stores, current.id).exit).catch(() => undefined))?.exitCode ?? lastExit;
    // Cheap check first; a record is re-read only when the monitor is gone (or restarted).
    if (monitorAlive(current)) continue;
    const now = await readRecord(stores, current.id);
    current = now ? await settle(stores, now) : undefined;
  }
  // A --rm container is gone after its exit: its code is in the last record we saw, or unknown.
  return current?.exitCode ?? lastExit ?? record.exitCode ?? 0;
}
