// Extracts an uncompressed tar (a layer, or a local archive for ADD) into a directory without ever
// writing outside it: every entry is placed by resolving its parent inside the root, the final
// component is never followed, and hardlink targets must already be inside. In 'overlay' mode OCI
// whiteouts become overlayfs whiteouts, so the result can serve as an overlay lower dir.
//
// What hostile input gets (test/integration/security/corpus.ts tries each): absolute names, `..`
// that climbs out, writes, hardlinks and whiteouts through a symlink that leads out, and hardlinks
// to entries not yet extracted are errors naming the entry; an absolute symlink is followed as it
// would be inside the container (re-rooted at the root), a symlink nobody writes through is kept
// verbatim, a later entry replaces an earlier one of another type (never writing through it), the
// last of duplicates wins, a directory over a directory merges. As buildah does for layers, and as
// we run as root, device nodes and FIFOs are created as the tar says, and setuid/setgid bits and
// owners are kept. trusted.overlay.* xattrs are never taken from a tar.
import { constants as fsConstants } from 'node:fs';
import { chmod, lchown, link, lutimes, mkdir, symlink } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { TsbuildError } from '../errors.js';
import { execFile } from '../util/exec.js';
import { ExtractionState, cleanEntryName } from './apply-paths.js';
import { showName, systemMessage } from './show.js';
import { closeFd, fchmod, fchown, futimes, openFd, writeAll } from './fd.js';
import { TarReader, type TarEntry } from './tar-reader.js';

export interface ApplyOptions {
  /**
   * 'overlay': `.wh.<name>` -> char device 0/0 named <name>, `.wh..wh..opq` -> xattr
   * trusted.overlay.opaque=y on its dir. 'none': plain extraction; `.wh.` names are ordinary files.
   * 'refuse': plain extraction into a directory that becomes a layer as it is (ADD), where a
   * `.wh.` name would turn into a whiteout for whoever unpacks the layer: such names are errors.
   */
  whiteouts: 'overlay' | 'none' | 'refuse';
  /** Named in errors, e.g. `layer sha256:abcd…` or `archive /ctx/a.tar`. */
  what: string;
  /** Keep owners from the tar (default true). When false, everything is owned by `owner` (default 0:0). */
  preserveOwners?: boolean;
  owner?: { uid: number; gid: number };
}

export interface ApplyResult {
  entries: number;
}

const WHITEOUT = '.wh.';
const OPAQUE = '.wh..wh..opq';
const CREATE_FLAGS = fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW;
/** Files up to this size are read into memory and written in the background; bigger ones stream. */
const SMALL_FILE = 256 * 1024;

/** Extracts an uncompressed tar stream into `root` (which exists). Never writes outside root. */
export async function applyTar(input: Readable, root: string, options: ApplyOptions): Promise<ApplyResult> {
  const state = new ExtractionState(path.resolve(root), options.what);
  const reader = new TarReader(input, options.what);
  let entries = 0;
  try {
    for (let entry = await reader.next(); entry; entry = await reader.next()) {
      entries++;
      try {
        await applyEntry(entry, reader, state, options);
      } catch (err) {
        if (err instanceof TsbuildError) throw err;
        throw new TsbuildError('IO', `${options.what}: cannot extract ${showName(entry.name)}: ${systemMessage(err)}`, { cause: err });
      }
    }
    try {
      await state.finish();
    } catch (err) {
      if (err instanceof TsbuildError) throw err;
      throw new TsbuildError('IO', `${options.what}: cannot set directory times or xattrs: ${systemMessage(err)}`, { cause: err });
    }
  } finally {
    await reader.close();
    // Nothing may still be writing once we return, even after a failure.
    await state.cleanup();
  }
  return { entries };
}

async function applyEntry(entry: TarEntry, reader: TarReader, state: ExtractionState, options: ApplyOptions): Promise<void> {
  const { what } = options;
  const rel = cleanEntryName(entry.name, what);
  const owner = options.preserveOwners === false ? (options.owner ?? { uid: 0, gid: 0 }) : { uid: entry.uid, gid: entry.gid };

  if (rel === '') {
    if (entry.type !== 'dir') throw new TsbuildError('INVALID_ARGUMENT', `${what}: entry ${showName(entry.name)} names the root but is not a directory`);
    await setDirMetadata(state.root, entry, owner, state, true);
    return;
  }

  const parentRel = path.posix.dirname(rel) === '.' ? '' : path.posix.dirname(rel);
  const base = path.posix.basename(rel);
  if (options.whiteouts === 'refuse' && rel.split('/').some((c) => c.startsWith(WHITEOUT))) {
    // The OCI image spec reserves the prefix: in a layer tar `.wh.x` deletes x, `.wh..wh..opq` hides a
    // whole directory of the image below, and `.wh...` makes the layer impossible to unpack.
    throw new TsbuildError('INVALID_ARGUMENT', `${what}: entry ${showName(entry.name)}: names starting with ".wh." are reserved for whiteouts in image layers`);
  }
  if (options.whiteouts === 'overlay') {
    if (parentRel.split('/').some((c) => c.startsWith(WHITEOUT))) {
      throw new TsbuildError('INVALID_ARGUMENT', `${what}: entry ${showName(entry.name)} is below a whiteout`);
    }
    if (base.startsWith(WHITEOUT)) {
      await applyWhiteout(entry, parentRel, base, state);
      return;
    }
  }

  // For a hardlink, find its target before anything at the new path is removed.
  const linkTarget = entry.type === 'link' ? await hardlinkTarget(entry, state) : undefined;
  const host = path.join(await state.parentDir(parentRel, entry.name), base);
  if (linkTarget === host) return; // a link to itself: already there

  const existing = await state.existing(host);
  if (existing?.isDirectory() && entry.type === 'dir') {
    // A directory over a directory keeps its content; only the metadata is the new entry's.
    await setDirMetadata(host, entry, owner, state, true);
    return;
  }
  if (existing) await state.remove(host, existing.isDirectory());

  switch (entry.type) {
    case 'dir':
      await mkdir(host, { mode: 0o700 });
      state.noteCreated(host, true);
      await setDirMetadata(host, entry, owner, state, false);
      return;
    case 'file':
      if (entry.size <= SMALL_FILE) {
        const data = await readAll(reader, entry.size);
        await state.background(host, () => writeFile(host, entry, [data], owner, state.what));
      } else {
        await writeFile(host, entry, reader.data(), owner, state.what);
        state.noteCreated(host);
      }
      break;
    case 'symlink':
      await symlink(entry.linkname, host);
      state.noteCreated(host);
      await lchown(host, owner.uid, owner.gid);
      await lutimes(host, entry.mtime, entry.mtime);
      break;
    case 'link':
      // link(2) never follows a symlink target: the new name shares the symlink's own inode.
      await state.settle(); // the target may still be being written
      await link(linkTarget!, host);
      state.noteCreated(host);
      return; // the inode's metadata is the target's
    case 'char':
    case 'block':
    case 'fifo':
      await makeNode(host, entry);
      state.noteCreated(host);
      await lchown(host, owner.uid, owner.gid);
      await chmod(host, entry.mode);
      await lutimes(host, entry.mtime, entry.mtime);
      break;
  }
  setXattrs(state, host, entry, false);
}

async function applyWhiteout(entry: TarEntry, parentRel: string, base: string, state: ExtractionState): Promise<void> {
  const parent = await state.parentDir(parentRel, entry.name);
  if (base === OPAQUE) {
    const attrs = state.xattrs.get(parent) ?? new Map<string, Buffer>();
    attrs.set('trusted.overlay.opaque', Buffer.from('y'));
    state.xattrs.set(parent, attrs);
    return;
  }
  // Other `.wh..wh.` names are aufs bookkeeping (hardlink dirs), meaningless here, as in docker.
  if (base.startsWith(`${WHITEOUT}${WHITEOUT}`)) return;
  const name = base.slice(WHITEOUT.length);
  if (name === '' || name === '.' || name === '..') {
    throw new TsbuildError('PATH_ESCAPE', `${state.what}: whiteout ${showName(entry.name)} does not name an entry inside the root`);
  }
  const host = path.join(parent, name);
  const existing = await state.existing(host);
  if (existing) await state.remove(host, existing.isDirectory());
  // Every whiteout is a hardlink to one char 0/0 device, as overlayfs itself does: one mknod
  // process per layer instead of one per deleted path. Their mtime carries no meaning.
  await link(await state.whiteoutDevice(), host);
  state.noteCreated(host);
}

/** The host path of a hardlink's target: inside the root, already extracted, not a directory. */
async function hardlinkTarget(entry: TarEntry, state: ExtractionState): Promise<string> {
  const { what } = state;
  const describe = `hardlink ${showName(entry.name)} -> ${showName(entry.linkname)}`;
  const targetRel = cleanEntryName(entry.linkname, what, 'hardlink target of');
  if (targetRel === '') throw new TsbuildError('INVALID_ARGUMENT', `${what}: ${describe} points to the root`);
  const dir = path.posix.dirname(targetRel) === '.' ? '' : path.posix.dirname(targetRel);
  const host = path.join(await state.resolve(dir, entry.linkname, true, 'hardlink target of'), path.posix.basename(targetRel));
  // Linking a symlink is harmless in itself, but one that leads out is refused like a path that does.
  await state.resolve(targetRel, entry.linkname, true, 'hardlink target of');
  const st = await state.existing(host);
  if (!st) throw new TsbuildError('INVALID_ARGUMENT', `${what}: ${describe} points to an entry that does not exist (yet)`);
  if (st.isDirectory()) throw new TsbuildError('INVALID_ARGUMENT', `${what}: ${describe} points to a directory`);
  return host;
}

/** The data of a small entry, in one buffer (a copy, so source chunks are not kept alive). */
async function readAll(reader: TarReader, size: number): Promise<Buffer> {
  const out = Buffer.allocUnsafe(size);
  let off = 0;
  for await (const chunk of reader.data()) off += chunk.copy(out, off);
  return out;
}

/** Writes the data into a new file (never an existing one, never through a symlink), then its metadata. */
async function writeFile(
  host: string,
  entry: TarEntry,
  data: Iterable<Buffer> | AsyncIterable<Buffer>,
  owner: { uid: number; gid: number },
  what: string,
): Promise<void> {
  try {
    const fd = await openFd(host, CREATE_FLAGS, 0o600);
    try {
      // Each chunk is written before the next is pulled from the archive: that is the backpressure.
      for await (const chunk of data) await writeAll(fd, chunk);
      // chown before chmod: chown clears setuid/setgid.
      await fchown(fd, owner.uid, owner.gid);
      await fchmod(fd, entry.mode);
      await futimes(fd, entry.mtime, entry.mtime);
    } finally {
      await closeFd(fd);
    }
  } catch (err) {
    throw new TsbuildError('IO', `${what}: cannot extract ${showName(entry.name)}: ${systemMessage(err)}`, { cause: err });
  }
}

async function setDirMetadata(
  host: string,
  entry: TarEntry,
  owner: { uid: number; gid: number },
  state: ExtractionState,
  merge: boolean,
): Promise<void> {
  // Changing an existing dir's mode could make it unwritable for files still being written into it.
  if (merge) await state.settle();
  await lchown(host, owner.uid, owner.gid);
  await chmod(host, entry.mode);
  state.dirTimes.set(host, entry.mtime);
  setXattrs(state, host, entry, merge);
}

/** Records the entry's xattrs for the one setfattr call at the end. */
function setXattrs(state: ExtractionState, host: string, entry: TarEntry, merge: boolean): void {
  // trusted.overlay.* from an archive would steer overlayfs (opaque, redirect): never taken from a tar.
  const attrs = [...entry.xattrs].filter(([name]) => !name.startsWith('trusted.overlay.'));
  const previous = state.xattrs.get(host);
  const table = merge && previous ? previous : new Map<string, Buffer>();
  for (const [name, value] of attrs) table.set(name, value);
  if (table.size > 0) state.xattrs.set(host, table);
  else state.xattrs.delete(host);
}

async function makeNode(host: string, entry: TarEntry): Promise<void> {
  // Node has no mknod; device nodes and fifos are rare, so one coreutils process each is fine.
  const args =
    entry.type === 'fifo' ? ['p'] : [entry.type === 'char' ? 'c' : 'b', String(entry.devmajor), String(entry.devminor)];
  await execFile(['mknod', host, ...args]);
}
