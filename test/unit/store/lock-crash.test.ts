// A process that dies while taking a lock must not leave a lock file without a pid in it: such a
// file names no holder to take over from, and every later taker would wait until its timeout. The
// death is a failing write of the pid.
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';

const crash = vi.hoisted(() => ({ on: false }));

vi.mock('node:fs', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs')>();
  const writeSync = ((...args: Parameters<typeof actual.writeSync>) => {
    if (crash.on) throw new Error('killed while writing the pid');
    return actual.writeSync(...args);
  }) as typeof actual.writeSync;
  return { ...actual, default: { ...actual, writeSync }, writeSync };
});

const { acquireLock } = await import('../../../src/store/lock.js');

const dirs: string[] = [];
afterEach(async () => {
  crash.on = false;
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

describe('lock files after a crash while locking', () => {
  it('leaves no lock file (and no temp file) when the pid could not be written, so the next taker gets it at once', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-lock-'));
    dirs.push(dir);
    const file = path.join(dir, 'images.lock');
    crash.on = true;
    await expect(acquireLock(file, 100)).rejects.toThrow('killed while writing the pid');
    crash.on = false;
    expect(await readdir(dir)).toEqual([]);
    const lock = await acquireLock(file, 300);
    await lock.release();
  });
});
