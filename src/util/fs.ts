// Small file-system helpers shared by the stores: atomic writes, JSON records, existence checks.
//
// Small metadata I/O is synchronous. An fs/promises call is a round trip through libuv's thread
// pool: on the 2-core VM tsbuild is measured on, a stat costs ~200 us that way against ~8 us
// synchronously, and a readFile ~0.9 ms against ~20 us (four round trips: open, fstat, read,
// close). A `run --rm` made 309 of them from tsbuild's own code, now 40 (fsync and rm of trees).
// Records and JSON blobs are a few KB, so reading them on the main thread blocks nothing for long;
// fsync stays asynchronous (it waits on the disk, and under write load that can take long), and so
// does anything sized by user data (layers, trees).
import { randomBytes } from 'node:crypto';
import { closeSync, fsync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { errnoCode } from '../errors.js';

const fsyncAsync = promisify(fsync);

/** Whether `p` exists; `follow: false` asks about the entry itself (a dangling symlink exists). */
export async function pathExists(p: string, options: { follow?: boolean } = {}): Promise<boolean> {
  try {
    // throwIfNoEntry: false answers ENOENT without building an exception.
    return (options.follow === false ? lstatSync(p, { throwIfNoEntry: false }) : statSync(p, { throwIfNoEntry: false })) !== undefined;
  } catch (err) {
    if (errnoCode(err) === 'ENOTDIR') return false;
    throw err;
  }
}

/** rmdir that leaves a directory that is missing or not empty alone. */
export function removeEmptyDir(dir: string): void {
  try {
    rmdirSync(dir);
  } catch {
    // Gone already, or still holding something: not ours to force.
  }
}

export function tempName(dir: string, prefix = 'tmp'): string {
  return path.join(dir, `.${prefix}-${process.pid}-${randomBytes(6).toString('hex')}`);
}

/**
 * Removes the tree at `target` so that no one, a crash included, sees it half-deleted: it is
 * renamed into `tmpDir` (same file system, a temp name that start-up recovery removes once this
 * process is dead) and deleted there. False when nothing was at `target`. `bulky` names entries
 * of `target` that may hold any amount of data (a container's upper dir): they are deleted through
 * the thread pool, and the rest, a few small files, synchronously (util/fs.ts says why).
 */
export async function removeTree(target: string, tmpDir: string, options: { bulky?: readonly string[] } = {}): Promise<boolean> {
  const doomed = tempName(tmpDir, 'rm');
  try {
    renameSync(target, doomed);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return false;
    throw err;
  }
  if (options.bulky === undefined) {
    await rm(doomed, { recursive: true, force: true });
  } else {
    for (const name of options.bulky) await rm(path.join(doomed, name), { recursive: true, force: true });
    rmSync(doomed, { recursive: true, force: true });
  }
  return true;
}

export interface AtomicWriteOptions {
  /**
   * false: no fsync before the rename. Readers still see the old content or the new, but a crash of
   * the machine may lose the write. For files that mean nothing after such a crash: those of a
   * `run --rm` container, which is deleted when it exits (its rootfs is mounted volatile too).
   */
  durable?: boolean;
}

/** Writes a file so that readers see either the old content or the new, never a part (write, fsync, rename). */
export async function writeFileAtomic(file: string, data: string | Buffer, mode = 0o644, options: AtomicWriteOptions = {}): Promise<void> {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = tempName(path.dirname(file));
  try {
    const fd = openSync(tmp, 'wx', mode);
    try {
      writeFileSync(fd, data);
      if (options.durable !== false) await fsyncAsync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

export async function writeJsonAtomic(file: string, value: unknown, mode = 0o644, options: AtomicWriteOptions = {}): Promise<void> {
  await writeFileAtomic(file, `${JSON.stringify(value, null, 2)}\n`, mode, options);
}

/** Reads a JSON record; undefined when it does not exist. */
export async function readJson<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  }
}

/** The text of `file`, or '' when it cannot be read (most often: it does not exist). */
export function readTextOrEmpty(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** The names in directory `dir`, or none when it cannot be read (most often: it does not exist). */
export function listNames(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
