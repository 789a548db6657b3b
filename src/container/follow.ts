// `start -a`: the container's output from its log (json-file lines written by the monitor), copied to
// our stdout/stderr until the container has stopped and the log is read to its end.
import { open, stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Stores } from '../store/root.js';
import { containerPaths } from './paths.js';
import { readRecord } from './records.js';
import { monitorAlive, settle } from './settle.js';
import type { ContainerRecord } from './types.js';

export async function logSize(stores: Stores, id: string): Promise<number> {
  return (await stat(containerPaths(stores, id).log).catch(() => undefined))?.size ?? 0;
}

/** Copies log lines from byte `offset` on until the container stops; returns its exit code. */
export async function followUntilExit(stores: Stores, record: ContainerRecord, offset: number): Promise<number> {
  const file = containerPaths(stores, record.id).log;
  let position = offset;
  let partial = '';
  let current: ContainerRecord | undefined = record;
  const drain = async (): Promise<void> => {
    const handle = await open(file, 'r').catch(() => undefined);
    if (!handle) return;
    try {
      const size = (await handle.stat()).size;
      if (size < position) position = 0; // rotated
      while (position < size) {
        const buffer = Buffer.alloc(Math.min(size - position, 1 << 16));
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
        if (bytesRead === 0) break;
        position += bytesRead;
        partial += buffer.subarray(0, bytesRead).toString('utf8');
        const lines = partial.split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) writeLine(line);
      }
    } finally {
      await handle.close();
    }
  };
  while (current?.state === 'running') {
    await drain();
    await sleep(50);
    if (monitorAlive(current)) continue;
    const now = await readRecord(stores, current.id);
    current = now ? await settle(stores, now) : undefined;
  }
  await drain();
  return current?.exitCode ?? 0;
}

function writeLine(line: string): void {
  if (line.trim() === '') return;
  try {
    const entry = JSON.parse(line) as { log?: string; stream?: string };
    (entry.stream === 'stderr' ? process.stderr : process.stdout).write(entry.log ?? '');
  } catch {
    // A torn line of a killed monitor: nothing reliable to show.
  }
}
