// `tsbuild cp`: files between the host and a container, in both directions, with docker cp's
// rules (a directory goes into an existing directory, SRC/. copies the contents, a trailing slash
// demands a directory, `-` is a tar stream on stdin/stdout).
//
// Every copy is a tar stream written by sourceTar and extracted by the archive module's applyTar
// into the destination directory: applyTar never writes outside the directory it is given, never
// writes through an existing symlink and replaces what is in the way, so neither an untrusted
// container tree copied out nor a container's symlinks on the way in can lead a write elsewhere.
// Container paths are resolved with resolveInRoot (symlinks followed inside the container, clamped
// at its root). A running container is reached through /proc/<pid>/root, its own view with its
// volumes, binds and tmpfs mounts; a stopped one through its rootfs, mounted for the copy (under
// the container lock, so it cannot be started meanwhile) and unmounted again unless it already was.
import type { Stats } from 'node:fs';
import { constants as fsConstants } from 'node:fs';
import { lstat, mkdir, readlink, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { applyTar } from '../archive/apply-layer.js';
import { closeFd, openFd, readAt } from '../archive/fd.js';
import { END_OF_ARCHIVE, encodeHeader, padding, type TarHeader } from '../archive/tar-format.js';
import { splitRdev } from '../archive/write-layer.js';
import { walkTree } from '../archive/walk.js';
import { TsbuildError, errnoCode } from '../errors.js';
import { withLock } from '../store/lock.js';
import type { Stores } from '../store/root.js';
import { readJson } from '../util/fs.js';
import { resolveInRoot } from '../util/resolve-in-root.js';
import { requireContainer, runcState } from './exec-target.js';
import { containerPaths } from './paths.js';
import { mountRootfs, unmountRootfs } from './rootfs.js';
import { isMounted } from '../util/mounts.js';
import type { ContainerRecord } from './types.js';

export type CpLocation = { kind: 'host'; path: string } | { kind: 'container'; container: string; path: string } | { kind: 'stream' };

export interface CpOptions {
  source: string;
  destination: string;
  /** -a: keep the source's owners (default: root in the container, the caller on the host). */
  archive: boolean;
  /** -L: follow a symlink named as SRC. */
  followLink: boolean;
  /** Default process.stdin / process.stdout. */
  stdin?: NodeJS.ReadableStream;
  stdout?: NodeJS.WritableStream;
}

/** docker's split of a cp argument: `-`, an absolute or ./ path (host), else NAME:PATH. */
export function parseCpLocation(arg: string): CpLocation {
  if (arg === '-') return { kind: 'stream' };
  if (arg === '') throw new TsbuildError('INVALID_ARGUMENT', 'cp needs a non-empty path', { exitCode: 125 });
  const colon = arg.indexOf(':');
  if (path.isAbsolute(arg) || colon < 0 || arg.startsWith('.') || arg.slice(0, colon).includes('/')) return { kind: 'host', path: arg };
  const container = arg.slice(0, colon);
  if (container === '') throw new TsbuildError('INVALID_ARGUMENT', `"${arg}" names no container before ":"`, { exitCode: 125 });
  // A relative container path is relative to the container's root, as in docker.
  const inner = arg.slice(colon + 1);
  return { kind: 'container', container, path: inner.startsWith('/') ? inner : `/${inner}` };
}

/** What the source is, as far as the plan needs it. */
export interface SourceShape {
  isDir: boolean;
  /** SRC ends with /. (or is the root): the directory's contents, not the directory. */
  contentsOnly: boolean;
  /** The name it gets in a directory: the last component of SRC as given. */
  name: string;
}

export interface DestShape {
  /** Resolved host path of DEST. */
  host: string;
  exists: boolean;
  isDir: boolean;
  /** DEST ends with "/". */
  trailingSlash: boolean;
  /** DEST as given, for messages. */
  given: string;
}

export interface CopyPlan {
  /** The existing directory the tar is extracted into. */
  extractDir: string;
  /** The name of the top entry, or undefined for the source directory's contents. */
  topName: string | undefined;
}

/** docker cp's table: where the source lands for each kind of destination. */
export function planCopy(src: SourceShape, dest: DestShape): CopyPlan {
  if (dest.exists && dest.isDir) return { extractDir: dest.host, topName: src.contentsOnly ? undefined : src.name };
  if (dest.exists) {
    if (src.isDir) throw new TsbuildError('INVALID_ARGUMENT', `cannot copy a directory to "${dest.given}": it is a file`, { exitCode: 125 });
    return { extractDir: path.dirname(dest.host), topName: path.basename(dest.host) };
  }
  if (dest.trailingSlash && !src.isDir) {
    throw new TsbuildError('NOT_FOUND', `destination directory "${dest.given}" does not exist`, { exitCode: 125 });
  }
  // A directory source creates DEST with the source's content (also for SRC/.); a file is DEST.
  return { extractDir: path.dirname(dest.host), topName: path.basename(dest.host) };
}

export async function copy(stores: Stores, options: CpOptions): Promise<void> {
  const src = parseCpLocation(options.source);
  const dest = parseCpLocation(options.destination);
  if (src.kind === 'container' && dest.kind === 'container') {
    throw new TsbuildError('INVALID_ARGUMENT', 'copying between containers is not supported', { exitCode: 125 });
  }
  if (src.kind !== 'container' && dest.kind !== 'container') {
    throw new TsbuildError('INVALID_ARGUMENT', 'one of SRC and DEST must be CONTAINER:PATH', { exitCode: 125 });
  }
  const inContainer = src.kind === 'container' ? src : (dest as { kind: 'container'; container: string; path: string });
  const record = await requireContainer(stores, inContainer.container);
  await withContainerRoot(stores, record, async (root) => {
    if (src.kind === 'container') await copyOut(root, record, src.path, dest, options);
    else await copyIn(root, record, src, inContainer.path, options, containerPaths(stores, record.id).rootfs);
  });
}

/** Container -> host path or stdout. Files end up owned by us unless -a. */
async function copyOut(root: string, record: ContainerRecord, srcPath: string, dest: CpLocation, options: CpOptions): Promise<void> {
  const source = await resolveSource(srcPath, options.followLink, `"${record.name}:${srcPath}"`, (p, follow) =>
    resolveInRoot(root, p, { followFinal: follow }),
  );
  if (dest.kind === 'stream') {
    await pipeline(Readable.from(sourceTar(source.host, source.stat, source.shape.contentsOnly ? undefined : source.shape.name)), (options.stdout ?? process.stdout) as Writable, { end: false });
    return;
  }
  const given = (dest as { path: string }).path;
  const plan = planCopy(source.shape, await destShape(path.resolve(given), given));
  await extract(sourceTar(source.host, source.stat, plan.topName), plan.extractDir, given, options.archive, {
    uid: process.getuid?.() ?? 0,
    gid: process.getgid?.() ?? 0,
  });
}

/** Host path or stdin -> container. Files end up owned by root unless -a. */
async function copyIn(root: string, record: ContainerRecord, src: CpLocation, destPath: string, options: CpOptions, rootfs: string): Promise<void> {
  let destHost = await resolveInRoot(root, destPath);
  // /proc/<pid>/root is a magic link, not a directory, to the extractor; the container's "/" itself
  // is its rootfs mount (only mounts below it are missed there, a copy straight into "/" is rare).
  if (destHost === path.resolve(root)) destHost = rootfs;
  const shape = await destShape(destHost, `${record.name}:${destPath}`, destPath.endsWith('/'));
  const owner = { uid: 0, gid: 0 };
  if (src.kind === 'stream') {
    if (!shape.exists || !shape.isDir) {
      throw new TsbuildError('INVALID_ARGUMENT', `destination "${shape.given}" must be an existing directory to extract a tar stream into`, { exitCode: 125 });
    }
    await extract(options.stdin ?? process.stdin, destHost, shape.given, options.archive, owner);
    return;
  }
  const given = (src as { path: string }).path;
  // On the host the path is the host's own; whether its last symlink is followed is up to resolveSource's stat.
  const source = await resolveSource(given, options.followLink, `"${given}"`, async (p) => path.resolve(p));
  const plan = planCopy(source.shape, shape);
  await extract(sourceTar(source.host, source.stat, plan.topName), plan.extractDir, shape.given, options.archive, owner);
}

interface ResolvedSource {
  host: string;
  stat: Stats;
  shape: SourceShape;
}

async function resolveSource(
  given: string,
  followLink: boolean,
  what: string,
  resolve: (p: string, followFinal: boolean) => Promise<string>,
): Promise<ResolvedSource> {
  const contentsOnly = /(^|\/)\.$/.test(given) || path.posix.normalize(given) === '/';
  const trailing = given.endsWith('/') || contentsOnly;
  const follow = followLink || trailing;
  const host = await resolve(given, follow);
  let st: Stats;
  try {
    st = follow ? await stat(host) : await lstat(host);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') {
      throw new TsbuildError('NOT_FOUND', `could not find ${what}: no such file or directory`, { exitCode: 125 });
    }
    throw new TsbuildError('IO', `cannot read ${what}: ${(err as Error).message}`, { exitCode: 125, cause: err });
  }
  if (trailing && !st.isDirectory()) throw new TsbuildError('INVALID_ARGUMENT', `${what} is not a directory`, { exitCode: 125 });
  const name = path.posix.basename(path.posix.normalize(given.replace(/\/+\.?$/, '') || '/'));
  return { host, stat: st, shape: { isDir: st.isDirectory(), contentsOnly, name: name === '' || name === '/' ? 'root' : name } };
}

async function destShape(host: string, given: string, trailingSlash = given.endsWith('/')): Promise<DestShape> {
  // Followed: a destination symlink means its target (inside the container: already resolved).
  const st = await stat(host).catch((err: unknown) => {
    if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') return undefined;
    throw err;
  });
  const shape: DestShape = { host, exists: st !== undefined, isDir: st?.isDirectory() ?? false, trailingSlash, given };
  if (!shape.exists) {
    const parent = await stat(path.dirname(host)).catch(() => undefined);
    if (!parent?.isDirectory()) {
      throw new TsbuildError('NOT_FOUND', `cannot copy to "${given}": its parent directory does not exist`, { exitCode: 125 });
    }
  }
  return shape;
}

async function extract(
  tar: AsyncIterable<Buffer> | NodeJS.ReadableStream,
  dir: string,
  given: string,
  keepOwners: boolean,
  owner: { uid: number; gid: number },
): Promise<void> {
  const input = Symbol.asyncIterator in tar && !(tar instanceof Readable) ? Readable.from(tar as AsyncIterable<Buffer>) : (tar as Readable);
  await applyTar(input, dir, { whiteouts: 'none', what: `copy to ${given}`, preserveOwners: keepOwners, owner });
}

/**
 * A tar of `host`: named `topName` (its children below it), or, with topName undefined, the
 * children of the directory `host` at the top. Symlinks are archived as links, never followed;
 * files are opened with O_NOFOLLOW and sized by their header (a file that shrinks while being read,
 * in a running container, is padded, one that grows is cut).
 */
export async function* sourceTar(host: string, st: Stats, topName: string | undefined): AsyncGenerator<Buffer> {
  if (topName !== undefined) yield* entry(host, st, topName, undefined);
  if (st.isDirectory()) {
    for (const e of await walkTree(host, new Set())) {
      const name = topName === undefined ? e.rel : `${topName}/${e.rel}`;
      yield* entry(e.host, e.stat, name, e.linkTarget);
    }
  }
  yield END_OF_ARCHIVE;
}

async function* entry(host: string, st: Stats, name: string, linkTarget: string | undefined): AsyncGenerator<Buffer> {
  const base: Omit<TarHeader, 'name' | 'type'> = { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, size: 0, mtime: Math.floor(st.mtimeMs / 1000) };
  if (st.isDirectory()) {
    yield encodeHeader({ ...base, name: `${name}/`, type: 'dir' });
  } else if (st.isSymbolicLink()) {
    yield encodeHeader({ ...base, name, type: 'symlink', linkname: linkTarget ?? (await readlink(host)) });
  } else if (st.isFile()) {
    yield encodeHeader({ ...base, name, type: 'file', size: st.size });
    yield* fileData(host, st.size);
    yield padding(st.size);
  } else if (st.isCharacterDevice() || st.isBlockDevice()) {
    const { major, minor } = splitRdev(st.rdev);
    yield encodeHeader({ ...base, name, type: st.isCharacterDevice() ? 'char' : 'block', devmajor: major, devminor: minor });
  } else if (st.isFIFO()) {
    yield encodeHeader({ ...base, name, type: 'fifo' });
  }
  // Sockets cannot be archived; docker leaves them out too.
}

const CHUNK = 1024 * 1024;

async function* fileData(host: string, size: number): AsyncGenerator<Buffer> {
  const fd = await openFd(host, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
  try {
    let off = 0;
    while (off < size) {
      const want = Math.min(CHUNK, size - off);
      const chunk = await readAt(fd, want, off);
      if (!chunk || chunk.length === 0) {
        yield Buffer.alloc(size - off);
        return;
      }
      off += chunk.length;
      yield chunk;
    }
  } finally {
    await closeFd(fd);
  }
}

/**
 * Runs fn with the container's root as a host path: /proc/<pid>/root while it runs, else its rootfs
 * mounted for the duration (under the container lock) and unmounted unless it was mounted before.
 */
export async function withContainerRoot<T>(stores: Stores, record: ContainerRecord, fn: (root: string) => Promise<T>): Promise<T> {
  const live = async (): Promise<string | undefined> => {
    const state = await runcState(stores, record.id);
    return state && (state.status === 'running' || state.status === 'paused') && state.pid > 0 ? `/proc/${state.pid}/root` : undefined;
  };
  const running = record.state === 'running' ? await live() : undefined;
  if (running) return fn(running);
  const paths = containerPaths(stores, record.id);
  return withLock(paths.lock, async () => {
    const current = (await readJson<ContainerRecord>(paths.record)) ?? record;
    // Started since we looked: use the live root instead of mounting under it.
    const nowRunning = current.state === 'running' ? await live() : undefined;
    if (nowRunning) return fn(nowRunning);
    const wasMounted = await isMounted(paths.rootfs);
    // A container that was only created has no upper dir yet (start makes it).
    await mkdir(paths.upper, { recursive: true, mode: 0o755 });
    const rootfs = await mountRootfs(stores, current);
    try {
      return await fn(rootfs);
    } finally {
      if (!wasMounted) await unmountRootfs(stores, current);
    }
  });
}
