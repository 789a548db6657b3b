// The state of one extraction: names cleaned and checked, parents resolved inside the root
// (symlinks followed one component at a time, escapes rejected) and created when missing, new
// files written in the background, and the deferred metadata (directory mtimes, xattrs) applied
// after all entries, re-checked before use.
import { randomBytes } from 'node:crypto';
import type { Stats } from 'node:fs';
import { chmod, lstat, lutimes, mkdir, rm, unlink } from 'node:fs/promises';
import path from 'node:path';
import { TsbuildError, errnoCode, isTsbuildError } from '../errors.js';
import { execFile } from '../util/exec.js';
import { resolveInRoot } from '../util/resolve-in-root.js';
import { showName } from './show.js';
import { restoreXattrs, type XattrTable } from './xattrs.js';

/**
 * Cleans an entry name from an untrusted archive into a relative "/"-separated path ('' is the root).
 * Absolute names and `..` that climbs out are escapes, not something to clamp: a layer that tries
 * is broken or hostile.
 */
export function cleanEntryName(name: string, what: string, role = 'entry'): string {
  if (name.includes('\0')) throw new TsbuildError('INVALID_ARGUMENT', `${what}: ${role} ${showName(name)} contains a NUL byte`);
  const stripped = name.replace(/^(\.\/+)+/, '');
  const normalized = path.posix.normalize(stripped === '' ? '.' : stripped);
  if (path.posix.isAbsolute(name) || normalized === '..' || normalized.startsWith('../')) {
    throw new TsbuildError('PATH_ESCAPE', `${what}: ${role} ${showName(name)} escapes the root`);
  }
  return normalized === '.' ? '' : normalized.replace(/\/+$/, '');
}

/** New small files written concurrently: hides per-file syscall latency without much memory. */
const BACKGROUND = 32;

export class ExtractionState {
  /** Parent rel path -> host dir, valid until something that could be on such a path is removed. */
  private readonly parents = new Map<string, string>();
  readonly dirTimes = new Map<string, number>();
  readonly xattrs: XattrTable = new Map();
  /** Directories this extraction created, so empty when created, and every path it created. */
  private readonly freshDirs = new Set<string>();
  private readonly created = new Set<string>();
  /** Background file writes by host path, and the first failure among them. */
  private readonly inflight = new Map<string, Promise<void>>();
  private failure: { error: unknown } | undefined;
  private whiteout: string | undefined;

  constructor(
    readonly root: string,
    readonly what: string,
  ) {}

  /**
   * The host directory for `parentRel`, created (0755) when missing. `entryName` is only for errors.
   * Symlinks on the way are followed inside the root; one that leads out is an escape.
   */
  async parentDir(parentRel: string, entryName: string): Promise<string> {
    const cached = this.parents.get(parentRel);
    if (cached !== undefined) return cached;
    const host = await this.resolve(parentRel, entryName, true);
    await this.settleWritesOn(host);
    let st;
    try {
      st = await lstat(host);
    } catch (err) {
      if (errnoCode(err) === 'ENOTDIR') throw this.belowNonDirectory(entryName, await this.nonDirectoryAbove(host));
      if (errnoCode(err) !== 'ENOENT') throw err;
      // Missing components were appended literally by resolveInRoot, so this creates real dirs only.
      const first = await mkdir(host, { recursive: true });
      for (let dir = host; first !== undefined && dir.length >= first.length; dir = path.dirname(dir)) {
        await chmod(dir, 0o755); // not left to the umask
        this.noteCreated(dir, true);
      }
    }
    if (st && !st.isDirectory()) throw this.belowNonDirectory(entryName, parentRel);
    this.parents.set(parentRel, host);
    return host;
  }

  private belowNonDirectory(entryName: string, parentRel: string): TsbuildError {
    return new TsbuildError('INVALID_ARGUMENT', `${this.what}: entry ${showName(entryName)} is below ${showName(parentRel)}, which is not a directory`);
  }

  /** The root-relative path of the nearest existing thing above `host` (a lstat gave ENOTDIR, so not a directory). */
  private async nonDirectoryAbove(host: string): Promise<string> {
    let above = path.dirname(host);
    while (above.length > this.root.length) {
      try {
        await lstat(above);
        break;
      } catch {
        above = path.dirname(above);
      }
    }
    return path.relative(this.root, above);
  }

  /** resolveInRoot with errors phrased for an archive entry. */
  async resolve(rel: string, entryName: string, followFinal: boolean, role = 'entry'): Promise<string> {
    try {
      return await resolveInRoot(this.root, rel, { onEscape: 'error', followFinal, what: this.what });
    } catch (err) {
      if (!isTsbuildError(err, 'PATH_ESCAPE')) throw err;
      if (err.message.endsWith('too many levels of symbolic links')) {
        throw new TsbuildError('PATH_ESCAPE', `${this.what}: ${role} ${showName(entryName)}: too many levels of symbolic links`, { cause: err });
      }
      const detail = /through the symlink .*$/.exec(err.message)?.[0];
      throw new TsbuildError('PATH_ESCAPE', `${this.what}: ${role} ${showName(entryName)} escapes the root${detail ? ` ${showName(detail, false)}` : ''}`, {
        cause: err,
      });
    }
  }

  noteCreated(host: string, isDir = false): void {
    this.created.add(host);
    if (isDir) this.freshDirs.add(host);
  }

  /**
   * lstat of what is at `host` now (undefined: nothing). Skipped when `host` certainly does not
   * exist: its dir was created empty by this extraction, which never made `host`.
   */
  async existing(host: string): Promise<Stats | undefined> {
    if (this.freshDirs.has(path.dirname(host)) && !this.created.has(host)) return undefined;
    await this.settleWritesOn(host);
    try {
      return await lstat(host);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return undefined;
      throw err;
    }
  }

  /**
   * Runs `write` (creating the new file `host`) concurrently with the following entries, at most
   * BACKGROUND at a time. Anything that could interfere (a removal, a hardlink, the same path
   * again, metadata of an existing dir, the end) waits for them first via settle().
   */
  async background(host: string, write: () => Promise<void>): Promise<void> {
    while (this.inflight.size >= BACKGROUND) await Promise.race(this.inflight.values());
    this.throwFailure();
    this.noteCreated(host);
    const task = write()
      .catch((error: unknown) => {
        this.failure ??= { error };
      })
      .finally(() => this.inflight.delete(host));
    this.inflight.set(host, task);
  }

  /**
   * Waits for the background writes when one of them creates `host` or a path above it: until its
   * open() has run, that file looks missing, and a parent made there would be a directory in its place.
   */
  private async settleWritesOn(host: string): Promise<void> {
    for (const writing of this.inflight.keys()) {
      if (host === writing || host.startsWith(`${writing}/`)) return this.settle();
    }
  }

  /** Waits for all background writes; rethrows the first failure. */
  async settle(): Promise<void> {
    while (this.inflight.size > 0) await Promise.all(this.inflight.values());
    this.throwFailure();
  }

  private throwFailure(): void {
    if (this.failure) throw this.failure.error;
  }

  /** A char 0/0 device inside the root for whiteouts to link to; removed by cleanup(). */
  async whiteoutDevice(): Promise<string> {
    if (this.whiteout === undefined) {
      const device = path.join(this.root, `.tsbuild-whiteout-${randomBytes(8).toString('hex')}`);
      await execFile(['mknod', device, 'c', '0', '0']);
      this.whiteout = device;
    }
    return this.whiteout;
  }

  /** Waits for background writes and removes the whiteout device, whether or not extraction succeeded. */
  async cleanup(): Promise<void> {
    await this.settle().catch(() => {});
    if (this.whiteout !== undefined) await rm(this.whiteout, { force: true });
  }

  /** Removes whatever is at `host` (never following a symlink), and forgets what was deferred for it. */
  async remove(host: string, isDir: boolean): Promise<void> {
    await this.settle();
    if (isDir) await rm(host, { recursive: true, force: true });
    else await unlink(host);
    // A removed dir or symlink may have been on a cached parent path; a plain file cannot have been.
    this.parents.clear();
    const prefix = `${host}/`;
    for (const map of [this.dirTimes, this.xattrs]) {
      for (const key of map.keys()) if (key === host || key.startsWith(prefix)) map.delete(key);
    }
  }

  /** Sets the deferred xattrs and directory mtimes, on paths that still are what they were. */
  async finish(): Promise<void> {
    await this.settle();
    const table: XattrTable = new Map();
    for (const [host, attrs] of this.xattrs) {
      if (attrs.size > 0 && (await this.unchanged(host))) table.set(host, attrs);
    }
    await restoreXattrs(table);
    // Last, because creating children changed these mtimes.
    for (const [host, mtime] of this.dirTimes) {
      if (await this.unchanged(host, true)) await lutimes(host, mtime, mtime);
    }
  }

  /**
   * True when `host` still exists and no symlink has appeared on its path since it was recorded
   * (a later entry may have replaced a parent dir), so acting on it cannot reach outside the root.
   */
  private async unchanged(host: string, mustBeDir = false): Promise<boolean> {
    try {
      const rel = path.relative(this.root, host);
      if ((await resolveInRoot(this.root, rel, { onEscape: 'error', followFinal: false })) !== host) return false;
      const st = await lstat(host);
      return !mustBeDir || st.isDirectory();
    } catch {
      return false;
    }
  }
}
