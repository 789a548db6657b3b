// Small file-system helpers shared by the stores: atomic writes, JSON records, existence checks.
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { errnoCode } from '../errors.js';

/** Whether `p` exists; `follow: false` asks about the entry itself (a dangling symlink exists). */
export async function pathExists(p: string, options: { follow?: boolean } = {}): Promise<boolean> {
  try {
    await (options.follow === false ? lstat(p) : stat(p));
    return true;
  } catch (err) {
    if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') return false;
    throw err;
  }
}

export function tempName(dir: string, prefix = 'tmp'): string {
  return path.join(dir, `.${prefix}-${process.pid}-${randomBytes(6).toString('hex')}`);
}

/**
 * Removes the tree at `target` so that no one, a crash included, sees it half-deleted: it is
 * renamed into `tmpDir` (same file system, a temp name that start-up recovery removes once this
 * process is dead) and deleted there. False when nothing was at `target`.
 */
export async function removeTree(target: string, tmpDir: string): Promise<boolean> {
  const doomed = tempName(tmpDir, 'rm');
  try {
    await rename(target, doomed);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return false;
    throw err;
  }
  await rm(doomed, { recursive: true, force: true });
  return true;
}

/** Writes a file so that readers see either the old content or the new, never a part (write, fsync, rename). */
export async function writeFileAtomic(file: string, data: string | Buffer, mode = 0o644): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = tempName(path.dirname(file));
  try {
    const handle = await open(tmp, 'wx', mode);
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

export async function writeJsonAtomic(file: string, value: unknown, mode = 0o644): Promise<void> {
  await writeFileAtomic(file, `${JSON.stringify(value, null, 2)}\n`, mode);
}

/** Reads a JSON record; undefined when it does not exist. */
export async function readJson<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  }
}
