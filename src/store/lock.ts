// Inter-process locks on one tsbuild root: a lock file created with O_EXCL that holds the owner's
// pid. A lock whose owner has died (crash, SIGKILL) is stale and taken over, so a crash never wedges
// the store.
import { open, readFile, rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { TsbuildError, errnoCode } from '../errors.js';

export interface Lock {
  release(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errnoCode(err) === 'EPERM';
  }
}

/** Takes the lock at `file`, waiting for a live holder up to `timeoutMs`. */
export async function acquireLock(file: string, timeoutMs = 60_000): Promise<Lock> {
  const deadline = Date.now() + timeoutMs;
  let delay = 5;
  for (;;) {
    try {
      const handle = await open(file, 'wx', 0o600);
      await handle.writeFile(String(process.pid));
      await handle.close();
      let released = false;
      const release = async (): Promise<void> => {
        if (released) return;
        released = true;
        await rm(file, { force: true });
      };
      return { release, [Symbol.asyncDispose]: release };
    } catch (err) {
      if (errnoCode(err) !== 'EEXIST') throw err;
    }
    const holder = Number.parseInt(await readFile(file, 'utf8').catch(() => ''), 10);
    if (!Number.isNaN(holder) && !processAlive(holder)) {
      // The holder died; remove its lock. Two waiters may race here: O_EXCL above decides.
      await rm(file, { force: true });
      continue;
    }
    if (Date.now() > deadline) {
      throw new TsbuildError('LOCKED', `timed out waiting for lock ${file} held by process ${holder}`);
    }
    await sleep(delay);
    delay = Math.min(delay * 2, 200);
  }
}

/** Runs fn while holding the lock at `file`. */
export async function withLock<T>(file: string, fn: () => Promise<T>): Promise<T> {
  const lock = await acquireLock(file);
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}
