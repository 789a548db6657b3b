// Inter-process locks on one tsbuild root: a lock file holding the owner's pid, linked into place
// atomically. A lock whose owner has died (crash, SIGKILL) is stale and taken over, so a crash
// never wedges the store. Lock files are a few bytes: handled synchronously (see util/fs.ts).
import { closeSync, linkSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { TsbuildError, errnoCode } from '../errors.js';
import { readTextOrEmpty, tempName } from '../util/fs.js';

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

/**
 * Creates `file` holding our pid, atomically: the pid is written to a temp file first and linked
 * into place (link fails with EEXIST as O_EXCL does), so a lock file is never seen empty. An empty
 * one, left by a process killed between create and write, would name no holder to take over from
 * and wedge every later taker until its timeout.
 */
function takeFile(file: string): void {
  const tmp = tempName(path.dirname(file), 'lock');
  try {
    const fd = openSync(tmp, 'wx', 0o600);
    try {
      writeSync(fd, String(process.pid));
    } finally {
      closeSync(fd);
    }
    linkSync(tmp, file);
  } finally {
    rmSync(tmp, { force: true });
  }
}

/** Takes the lock at `file`, waiting for a live holder up to `timeoutMs`. */
export async function acquireLock(file: string, timeoutMs = 60_000): Promise<Lock> {
  const deadline = Date.now() + timeoutMs;
  let delay = 5;
  for (;;) {
    try {
      takeFile(file);
      let released = false;
      const release = async (): Promise<void> => {
        if (released) return;
        released = true;
        rmSync(file, { force: true });
      };
      return { release, [Symbol.asyncDispose]: release };
    } catch (err) {
      if (errnoCode(err) !== 'EEXIST') throw err;
    }
    const holder = (await lockHolder(file)) ?? Number.NaN;
    if (!Number.isNaN(holder) && !processAlive(holder)) {
      // The holder died; remove its lock (never a fresh one another waiter took meanwhile).
      await removeStaleLock(file, holder);
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

export async function lockHolder(file: string): Promise<number | undefined> {
  // Gone (released meanwhile) or unreadable: no holder to name.
  const pid = Number.parseInt(readTextOrEmpty(file), 10);
  return Number.isNaN(pid) ? undefined : pid;
}

/**
 * Removes a lock file still held by the dead `pid`. A live process may take the stale lock over
 * between our read and our removal, so the file is first moved aside (atomically taking whatever is
 * there now) and only deleted if it still names the dead holder; a fresh lock moved by mistake is
 * linked back.
 */
export async function removeStaleLock(file: string, pid: number): Promise<void> {
  const aside = tempName(path.dirname(file), 'stale-lock');
  try {
    renameSync(file, aside);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return;
    throw err;
  }
  try {
    if ((await lockHolder(aside)) !== pid) {
      try {
        linkSync(aside, file);
      } catch {
        // Someone holds the lock afresh: theirs wins.
      }
    }
  } finally {
    rmSync(aside, { force: true });
  }
}
