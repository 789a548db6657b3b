// Writes COPY/ADD sources into a new layer directory with Docker's semantics: directory sources
// copy their contents, modes and mtimes are preserved, owners become 0:0 (context) or stay as they
// were (COPY --from) unless --chown, symlinks stay symlinks, hardlinks become copies, and ADD
// unpacks local tar archives. The layer dir is fresh, so the copy is planned first (later sources
// win over earlier ones at the same path) and then executed with file data moved by copyFile
// (copy_file_range / reflinks), in worker threads for big copies (copy-files.ts).
import { constants as fsConstants, type Stats } from 'node:fs';
import { chmod, lchown, lstat, lutimes, mkdir, symlink, unlink, utimes } from 'node:fs/promises';
import path from 'node:path';
import { execFile } from '../../util/exec.js';
import { TsbuildError, errnoCode, isTsbuildError } from '../../errors.js';
import { closeFd, fchmod, fchown, futimes, openFd } from '../../archive/fd.js';
import { resolveInRoot } from '../../util/resolve-in-root.js';
import type { ChmodSpec } from './chmod.js';
import { detectArchive, extractArchive, type ArchiveFormat } from './add-archive.js';
import { mapLimit } from '../../util/limit.js';
import { hasWildcard } from './patterns.js';
import type { SelectedEntry, SourceRoot } from './select.js';
import { walkEntry } from './walk.js';
import { copyFiles, directoryInTheWay, type CopyJob } from './copy-files.js';

export interface DirMetadata {
  mode: number;
  uid: number;
  gid: number;
  /** Seconds since the epoch (fractional); when absent the directory keeps the time of the copy. */
  mtime?: number;
}

export interface CopyOptions {
  chown?: { uid: number; gid: number };
  /** --chmod, octal or symbolic; applied to every file and directory copied. */
  chmod?: ChmodSpec;
  /** ADD: auto-extract local tar archives (plain, gzip, bzip2, xz; detected by content, not name) */
  extractArchives?: boolean;
  what: string /* "Containerfile:7" */;
  /**
   * Metadata of a directory that already exists in the image below (lower layers), by image path.
   * The layer dir cannot see lower layers, and a directory written into the layer replaces the
   * lower one's metadata when layers are stacked; with this hook, dest parents that already exist
   * keep their mode and owner instead of becoming 0755 root:root.
   */
  existingDir?: (imagePath: string) => Promise<DirMetadata | undefined>;
  /**
   * mtime (seconds) of directories the copy creates that no source supplies (parents of the
   * destination, an implied destination directory). The caller passes something derived from the
   * sources, so copying the same sources again gives the same layer; without it they get "now".
   */
  createdDirMtime?: number;
}

const S_ISGID = 0o2000;
const WHITEOUT_PREFIX = '.wh.';

/** Symlinks and special files made at once (file data goes through copyFiles). */
const COPY_CONCURRENCY = 16;

/**
 * Docker's rule for whether the destination is a directory: it ends with `/`, there are several
 * sources, a source is a directory (its contents go into dest) or a wildcard was used. The caller
 * should also treat dest as a directory when it already is one in the image.
 */
export function destIsDirectory(dest: string, patterns: readonly string[], entries: readonly SelectedEntry[]): boolean {
  return (
    dest.endsWith('/') ||
    dest.endsWith('/.') ||
    entries.length > 1 ||
    entries.some((e) => e.isDirSource) ||
    patterns.some((p) => hasWildcard(p))
  );
}

type PlanNode =
  /** `keepExisting`: the destination itself, which keeps the metadata it has in the image below. */
  | { kind: 'dir'; meta: DirMetadata | 'implicit'; keepExisting?: boolean }
  | { kind: 'file'; abs: string; st: Stats }
  | { kind: 'symlink'; target: string; st: Stats }
  | { kind: 'special'; st: Stats };

/** Copies the selected entries into layerDir at `dest` (absolute path inside the image, already resolved against WORKDIR by the caller). */
export async function copySelection(
  entries: readonly SelectedEntry[],
  root: SourceRoot,
  layerDir: string,
  dest: string,
  destIsDir: boolean,
  options: CopyOptions,
): Promise<void> {
  const layerRoot = path.resolve(layerDir);
  // The layer is fresh, but clamping keeps `COPY x ../../y` inside it whatever the caller passed.
  const destHost = await resolveInRoot(layerRoot, dest, { followFinal: false, onEscape: 'clamp', what: 'the layer' });
  const destParent = destIsDir ? destHost : path.dirname(destHost);
  // A setgid layer dir would hand its group to everything created below it; then chown always.
  const inheritsGroup = ((await lstat(layerRoot)).mode & S_ISGID) !== 0;
  const owners = new Owners(options, root, inheritsGroup);
  const plan = new Map<string, PlanNode>();
  const archives: Array<{ abs: string; format: ArchiveFormat }> = [];

  const place = (target: string, node: PlanNode, shown: string): void => {
    if (path.relative(layerRoot, target).split(path.sep).some((c) => c.startsWith(WHITEOUT_PREFIX))) {
      // In the layer tar this would be a whiteout: `.wh.x` deletes x from the image below, and
      // `.wh..wh..opq` hides a whole directory of it (the OCI image spec reserves the prefix).
      throw new TsbuildError(
        'INVALID_ARGUMENT',
        `${options.what}: cannot copy "${shown}" to ${imagePath(layerRoot, target)}: names starting with ".wh." are reserved for whiteouts in image layers`,
      );
    }
    const existing = plan.get(target);
    if (existing?.kind === 'dir') {
      if (node.kind === 'dir') {
        plan.set(target, node);
        return;
      }
      throw new TsbuildError('INVALID_ARGUMENT', `${options.what}: cannot copy "${shown}" over the directory ${imagePath(layerRoot, target)}`);
    }
    // A later source replaces an earlier non-directory; deleting first keeps creation order parent-first.
    plan.delete(target);
    plan.set(target, node);
  };

  if (destIsDir && destHost !== layerRoot) plan.set(destHost, { kind: 'dir', meta: 'implicit', keepExisting: true });
  for (const entry of entries) {
    if (options.extractArchives && !entry.isDirSource && entry.stat.isFile()) {
      const format = await detectArchive(entry.abs);
      if (format !== undefined) {
        // Archives unpack into the destination, which is a directory even without a trailing `/`.
        if (destHost !== layerRoot && plan.get(destHost)?.kind !== 'dir') {
          place(destHost, { kind: 'dir', meta: 'implicit', keepExisting: true }, entry.rel);
        }
        archives.push({ abs: entry.abs, format });
        continue;
      }
    }
    for (const item of await walkEntry(entry, root, destIsDir)) {
      const target = item.destRel === '' ? destHost : path.join(destHost, ...item.destRel.split('/'));
      // A file source's destRel is its own name under a directory destination, not a path below it.
      const shown = item.destRel === '' || !entry.isDirSource ? entry.rel : `${entry.rel}/${item.destRel}`;
      if (item.type === 'dir') {
        // The image root keeps its own metadata: `COPY dir /` must not chmod `/`.
        if (target === layerRoot) continue;
        place(target, { kind: 'dir', meta: owners.dirMeta(item.st), keepExisting: item.destRel === '' }, shown);
      } else if (item.type === 'symlink') {
        place(target, { kind: 'symlink', target: item.linkTarget!, st: item.st }, shown);
      } else if (item.type === 'special') {
        place(target, { kind: 'special', st: item.st }, shown);
      } else {
        place(target, { kind: 'file', abs: item.abs, st: item.st }, shown);
      }
    }
  }

  const parents = await createParents(layerRoot, destParent, options);
  const dirs: Array<Extract<PlanNode, { kind: 'dir' }> & { target: string }> = [];
  for (const [target, node] of plan) {
    if (node.kind !== 'dir') continue;
    await makeDir(target, options.what);
    dirs.push({ ...node, target });
  }
  const files: CopyJob[] = [];
  const others: Array<[string, Extract<PlanNode, { kind: 'symlink' | 'special' }>]> = [];
  for (const [target, node] of plan) {
    if (node.kind === 'file') files.push(copyJob(node.abs, target, node.st, owners));
    else if (node.kind !== 'dir') others.push([target, node]);
  }
  await copyFiles(files, options.what);
  await mapLimit(others, COPY_CONCURRENCY, async ([target, node]) => {
    if (node.kind === 'symlink') await linkOne(node.target, target, node.st, owners, options.what);
    else await makeSpecial(target, node.st, owners, options.what);
  });
  for (const archive of archives) {
    await extractArchive(archive.abs, archive.format, destHost, {
      what: options.what,
      ...(options.chown === undefined ? {} : { owner: options.chown }),
    });
  }
  // Directory metadata last: creating entries inside a directory would move its mtime again.
  for (const { target, meta } of parents) await applyMeta(layerRoot, target, meta, owners, options.what);
  await mapLimit(dirs, COPY_CONCURRENCY, async ({ target, meta, keepExisting }) => {
    const existing = keepExisting ? await options.existingDir?.(imagePath(layerRoot, target)) : undefined;
    const resolved = existing ?? (meta === 'implicit' ? owners.implicitDestDir() : meta);
    await applyMeta(layerRoot, target, resolved, owners, options.what);
  });
}

/** Decides owners and modes, and skips chown calls that would not change anything. */
class Owners {
  private readonly processUid = process.geteuid?.() ?? -1;
  private readonly processGid = process.getegid?.() ?? -1;

  constructor(
    private readonly options: CopyOptions,
    private readonly root: SourceRoot,
    private readonly inheritsGroup: boolean,
  ) {}

  owner(st: Stats): { uid: number; gid: number } {
    if (this.options.chown !== undefined) return this.options.chown;
    // Build-context files belong to whoever checked them out; in the image they belong to root.
    if (this.root.kind === 'context') return { uid: 0, gid: 0 };
    return { uid: st.uid, gid: st.gid };
  }

  mode(st: Stats): number {
    return this.options.chmod?.apply(st.mode, st.isDirectory()) ?? (st.mode & 0o7777);
  }

  dirMeta(st: Stats): DirMetadata {
    return { mode: this.mode(st), ...this.owner(st), mtime: seconds(st.mtimeMs) };
  }

  /**
   * A new file is owned by the process, so chown is skipped when that is already right (most
   * copies as root). Directories we create get their setgid bit only in the final chmod, so nothing
   * inherits a group from them meanwhile.
   */
  needsChown(uid: number, gid: number): boolean {
    return this.inheritsGroup || uid !== this.processUid || gid !== this.processGid;
  }

  /** A new destination directory no directory source supplies: Docker makes it 0755, owned by --chown. */
  implicitDestDir(): DirMetadata {
    return { mode: 0o755, ...(this.options.chown ?? { uid: 0, gid: 0 }), mtime: this.options.createdDirMtime };
  }
}

/**
 * Creates the missing ancestors of `dir` inside the layer and returns the metadata each should get
 * (as it is in the image below, else 0755 root:root), applied once everything inside is written.
 */
async function createParents(layerRoot: string, dir: string, options: CopyOptions): Promise<Array<{ target: string; meta: DirMetadata }>> {
  const rel = path.relative(layerRoot, dir);
  if (rel === '') return [];
  const created: Array<{ target: string; meta: DirMetadata }> = [];
  let current = layerRoot;
  for (const component of rel.split(path.sep)) {
    current = path.join(current, component);
    if (!(await makeDir(current, options.what))) continue;
    const meta = (await options.existingDir?.(imagePath(layerRoot, current))) ?? { mode: 0o755, uid: 0, gid: 0, mtime: options.createdDirMtime };
    created.push({ target: current, meta });
  }
  return created;
}

/** mkdir that accepts an existing real directory and replaces anything else; true when created. */
async function makeDir(target: string, what: string): Promise<boolean> {
  try {
    await mkdir(target, { mode: 0o755 });
    return true;
  } catch (err) {
    if (errnoCode(err) !== 'EEXIST') throw writeError(err, target, what);
  }
  const st = await lstat(target);
  if (st.isDirectory()) return false;
  // Never write through a symlink (or into a file) that sits where a directory belongs.
  await unlink(target);
  await mkdir(target, { mode: 0o755 });
  return true;
}

/**
 * Sets a planned directory's owner, mode and mtime, through a descriptor of the directory itself.
 * An archive ADD unpacked meanwhile may have replaced it (or a parent) with a symlink, possibly to
 * an absolute host path: chmod(2) and utimes(2) on the path would follow that. Then the archive's
 * entry stands and the directory's metadata is dropped.
 */
async function applyMeta(layerRoot: string, target: string, meta: DirMetadata, owners: Owners, what: string): Promise<void> {
  let fd: number;
  try {
    const rel = path.relative(layerRoot, target);
    if ((await resolveInRoot(layerRoot, rel, { followFinal: false, onEscape: 'error' })) !== target) return;
    fd = await openFd(target, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY | fsConstants.O_NOFOLLOW);
  } catch (err) {
    const code = errnoCode(err);
    // Not a directory any more (ENOTDIR), a symlink now (ELOOP), or gone: nothing of ours to set.
    if (code === 'ENOTDIR' || code === 'ELOOP' || code === 'ENOENT' || isTsbuildError(err, 'PATH_ESCAPE')) return;
    throw writeError(err, target, what);
  }
  try {
    if (owners.needsChown(meta.uid, meta.gid)) await fchown(fd, meta.uid, meta.gid);
    await fchmod(fd, meta.mode);
    if (meta.mtime !== undefined) await futimes(fd, meta.mtime, meta.mtime);
  } catch (err) {
    throw writeError(err, target, what);
  } finally {
    await closeFd(fd);
  }
}

function copyJob(source: string, target: string, st: Stats, owners: Owners): CopyJob {
  const { uid, gid } = owners.owner(st);
  const mode = owners.mode(st);
  return {
    source,
    target,
    owner: owners.needsChown(uid, gid) ? { uid, gid } : undefined,
    // copyFile already gives the source's mode; chmod only for --chmod or bits chown clears (setuid/setgid).
    mode: mode !== (st.mode & 0o7777) || (mode & 0o6000) !== 0 ? mode : undefined,
    atime: seconds(st.atimeMs),
    mtime: seconds(st.mtimeMs),
  };
}

async function linkOne(linkTarget: string, target: string, st: Stats, owners: Owners, what: string): Promise<void> {
  try {
    try {
      await symlink(linkTarget, target);
    } catch (err) {
      if (errnoCode(err) !== 'EEXIST') throw err;
      await removeNonDir(target, what);
      await symlink(linkTarget, target);
    }
    const { uid, gid } = owners.owner(st);
    if (owners.needsChown(uid, gid)) await lchown(target, uid, gid);
    const mtime = seconds(st.mtimeMs);
    await lutimes(target, mtime, mtime);
  } catch (err) {
    if (err instanceof TsbuildError) throw err;
    throw writeError(err, target, what);
  }
}

/** FIFOs and device nodes: Node cannot mknod, so coreutils' mknod makes them (they are rare). */
async function makeSpecial(target: string, st: Stats, owners: Owners, what: string): Promise<void> {
  try {
    await removeNonDir(target, what).catch((err: unknown) => {
      if (errnoCode(err) !== 'ENOENT') throw err;
    });
    const type = st.isFIFO() ? ['p'] : [st.isCharacterDevice() ? 'c' : 'b', String(major(st.rdev)), String(minor(st.rdev))];
    await execFile(['mknod', target, ...type]);
    const { uid, gid } = owners.owner(st);
    if (owners.needsChown(uid, gid)) await lchown(target, uid, gid);
    await chmod(target, owners.mode(st));
    await utimes(target, seconds(st.atimeMs), seconds(st.mtimeMs));
  } catch (err) {
    if (err instanceof TsbuildError && err.code !== 'RUNTIME') throw err;
    throw writeError(err, target, what);
  }
}

// Linux's dev_t encoding (glibc's gnu_dev_major/minor).
function major(dev: number): number {
  return ((dev >>> 8) & 0xfff) | (Math.floor(dev / 2 ** 32) & ~0xfff);
}

function minor(dev: number): number {
  return (dev & 0xff) | ((dev >>> 12) & ~0xff);
}

async function removeNonDir(target: string, what: string): Promise<void> {
  const st = await lstat(target);
  if (st.isDirectory()) throw directoryInTheWay(what, target);
  await unlink(target);
}

/** The fractional seconds utimes takes; *Ms keeps sub-millisecond precision (a Date would not). */
function seconds(ms: number): number {
  return ms / 1000;
}

function imagePath(layerRoot: string, host: string): string {
  const rel = path.relative(layerRoot, host);
  return rel === '' ? '/' : `/${rel.split(path.sep).join('/')}`;
}

function writeError(err: unknown, target: string, what: string, source?: string): TsbuildError {
  const detail = source === undefined ? '' : ` from ${source}`;
  return new TsbuildError('IO', `${what}: cannot write ${target}${detail}: ${(err as Error).message}`, { cause: err });
}
