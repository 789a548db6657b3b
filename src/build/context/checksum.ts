// Content checksums of COPY/ADD sources, the input of their cache keys. The checksum covers what a
// copy would produce — landing path, type, mode (with setuid/setgid/sticky), owner, size, link
// target and content — and deliberately not mtimes, so a fresh checkout of the same tree hits the
// cache. File content digests are memoised on disk by (dev, ino, size, mtime, ctime): a rebuild of
// an unchanged context costs one lstat per file and reads no content.
import { createHash } from 'node:crypto';
import type { Stats } from 'node:fs';
import { close as fsClose, closeSync, constants as fsConstants, open as fsOpen, openSync, read as fsRead, readSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { TsbuildError, errnoCode } from '../../errors.js';
import { writeFileAtomic } from '../../util/fs.js';
import { mapLimit } from '../../util/limit.js';
import { yieldEvery } from '../../util/yield.js';
import type { SelectedEntry, SourceRoot } from './select.js';
import { walkEntry, type WalkItem } from './walk.js';

export interface FileDigestMemo {
  lookup(abs: string, st: Stats): string | undefined;
  remember(abs: string, st: Stats, digest: string): void;
  save(): Promise<void>;
}

/**
 * How the selection lands in the destination; it decides the paths the checksum covers (a file
 * source lands at its basename, or at the destination itself). It defaults to a directory
 * destination, which loses nothing for callers that put destIsDir into the cache key themselves.
 */
export interface DestLayout {
  /** The destination is a directory (file sources land at their basename inside it). */
  destIsDir: boolean;
}

/** Counters a caller (or a test) may pass in to see what a checksum cost. */
export interface ChecksumStats {
  /** Regular files covered. */
  files: number;
  /** Files whose digest came from the memo. */
  memoHits: number;
  /** Files whose content was read and hashed. */
  filesHashed: number;
  bytesHashed: number;
}

/** Files hashed at once: enough to keep the disk and libuv's 4 threads busy, not enough to hog fds. */
const HASH_CONCURRENCY = 16;
/** Read buffer per hashing worker: big files stream through it, so memory stays flat. */
const READ_CHUNK = 512 * 1024;
/**
 * A file modified this close to (or after) the moment we start reading it may change again within
 * the same timestamp tick without its mtime moving (the "racy git" problem); its digest is used but
 * not remembered. Two seconds covers the coarsest common timestamp granularity (FAT, some NFS).
 */
const RACY_WINDOW_MS = 2000;
/**
 * The window for a file whose mtime has a sub-second part, so its filesystem keeps fine timestamps
 * (ext4, xfs, btrfs, tmpfs: the kernel's clock tick, a few milliseconds). Without it, a build right
 * after a checkout re-hashed on its next run every file written in the checkout's last 2 seconds.
 * A whole-second mtime may come from a coarse filesystem, so it keeps the long window.
 */
const FINE_RACY_WINDOW_MS = 100;

/** Whether a digest read from `st`'s file starting at `startedMs` may be remembered. */
export function settledBefore(st: Stats, startedMs: number): boolean {
  const window = st.mtimeMs % 1000 === 0 ? RACY_WINDOW_MS : FINE_RACY_WINDOW_MS;
  return st.mtimeMs < startedMs - window;
}

/** The checksum ("sha256:...") of everything the selected entries would copy. */
export async function checksumSelection(
  entries: readonly SelectedEntry[],
  root: SourceRoot,
  memo: FileDigestMemo | undefined,
  destLayout: DestLayout = { destIsDir: true },
  stats?: ChecksumStats,
): Promise<string> {
  const walked = await Promise.all(entries.map((entry) => walkEntry(entry, root, destLayout.destIsDir)));
  const files = walked.flat().filter((item) => item.type === 'file');
  const digests = new Map<WalkItem, string>();
  const misses: WalkItem[] = [];
  for (const item of files) {
    const known = memo?.lookup(item.abs, item.st);
    if (known === undefined) misses.push(item);
    else digests.set(item, known);
  }
  if (stats !== undefined) {
    stats.files += files.length;
    stats.memoHits += files.length - misses.length;
  }
  const done = (item: WalkItem, digest: string, startedMs: number): void => {
    digests.set(item, digest);
    if (stats !== undefined) {
      stats.filesHashed += 1;
      stats.bytesHashed += item.st.size;
    }
    if (memo !== undefined && settledBefore(item.st, startedMs)) memo.remember(item.abs, item.st, digest);
  };
  // Small files are hashed with synchronous reads: the thread pool's hand-offs for their open,
  // read and close cost more than reading them. Big ones stream through the pool, several at once,
  // so a cold disk gets a deep queue; both go on together.
  const small = misses.filter((item) => item.st.size <= READ_CHUNK);
  const big = misses.filter((item) => item.st.size > READ_CHUNK);
  const hashSmall = async (): Promise<void> => {
    const buffer = Buffer.allocUnsafe(READ_CHUNK);
    const pause = yieldEvery(4 * READ_CHUNK);
    for (const item of small) {
      const startedMs = Date.now();
      done(item, hashSmallFile(item.abs, item.st.size, buffer), startedMs);
      await pause(item.st.size + 4096);
    }
  };
  const buffers: Buffer[] = [];
  await Promise.all([
    hashSmall(),
    mapLimit(big, HASH_CONCURRENCY, async (item) => {
      const startedMs = Date.now();
      const buffer = buffers.pop() ?? Buffer.allocUnsafe(READ_CHUNK);
      try {
        done(item, await hashFile(item.abs, item.st.size, buffer), startedMs);
      } finally {
        buffers.push(buffer);
      }
    }),
  ]);

  // One string per source, hashed in one go: thousands of tiny hash.update calls cost more than one big one.
  const hash = createHash('sha256');
  hash.update('tsbuild-copy-sources/v2\n');
  walked.forEach((items, index) => {
    const lines = [`source ${entries[index]!.isDirSource ? 'dir' : 'file'}`];
    for (const item of items) lines.push(record(item, digests.get(item)));
    lines.push('');
    hash.update(lines.join('\n'));
  });
  return `sha256:${hash.digest('hex')}`;
}

/** One line per item; names and link targets are JSON-quoted so no byte in them can forge a field. */
function record(item: WalkItem, digest: string | undefined): string {
  const { st } = item;
  const common = `${JSON.stringify(item.destRel)}\t${st.mode & 0o7777}\t${st.uid}\t${st.gid}`;
  switch (item.type) {
    case 'file':
      return `f\t${common}\t${st.size}\t${digest}`;
    case 'symlink':
      return `l\t${common}\t${JSON.stringify(item.linkTarget)}`;
    case 'special':
      // The file type bits tell a FIFO from a device; rdev names the device.
      return `s\t${common}\t${st.mode & 0o170000}\t${st.rdev}`;
    case 'dir':
      // A directory's size is a file-system detail (it differs between ext4 and tmpfs), not content.
      return `d\t${common}`;
  }
}

/**
 * sha256 of a file's content, streamed through one reusable buffer. It uses the callback fs API:
 * the fs/promises equivalents (FileHandle, readFile) cost several times more per file, which
 * dominates when a context holds thousands of small files. O_NOFOLLOW: a file swapped for a
 * symlink after the walk is never read through.
 */
function hashFile(abs: string, expectedSize: number, buffer: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    fsOpen(abs, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW, (openErr, fd) => {
      if (openErr) return reject(readError(openErr, abs));
      const hash = createHash('sha256');
      let total = 0;
      const finish = (error?: unknown): void =>
        fsClose(fd, (closeErr) => {
          const failure = error ?? closeErr;
          if (failure) reject(readError(failure, abs));
          else resolve(`sha256:${hash.digest('hex')}`);
        });
      const step = (): void =>
        fsRead(fd, buffer, 0, buffer.length, null, (readErr, bytesRead) => {
          if (readErr) return finish(readErr);
          if (bytesRead > 0) hash.update(buffer.subarray(0, bytesRead));
          total += bytesRead;
          // A short read that reached the size lstat saw is the end: saves a read per small file.
          if (bytesRead === 0 || (bytesRead < buffer.length && total >= expectedSize)) return finish();
          step();
        });
      step();
    });
  });
}

/** sha256 of a file of at most buffer.length bytes (as lstat saw it), read synchronously. */
function hashSmallFile(abs: string, expectedSize: number, buffer: Buffer): string {
  let fd: number;
  try {
    fd = openSync(abs, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
  } catch (err) {
    throw readError(err, abs);
  }
  const hash = createHash('sha256');
  try {
    let total = 0;
    for (;;) {
      const n = readSync(fd, buffer, 0, buffer.length, null);
      hash.update(buffer.subarray(0, n));
      total += n;
      // As in hashFile: a short read that reached the size lstat saw is the end (one read saved).
      if (n === 0 || (n < buffer.length && total >= expectedSize)) break;
    }
  } catch (err) {
    throw readError(err, abs);
  } finally {
    closeSync(fd);
  }
  return `sha256:${hash.digest('hex')}`;
}

function readError(err: unknown, abs: string): TsbuildError {
  const code = errnoCode(err);
  if (code === 'ENOENT' || code === 'ELOOP') {
    return new TsbuildError('NOT_FOUND', `${abs} changed while its checksum was computed`, { cause: err });
  }
  return new TsbuildError('IO', `cannot read ${abs}: ${(err as Error).message}`, { cause: err });
}

// ---------------------------------------------------------------------------------------------------
// The memo: one JSON file mapping absolute paths to [dev, ino, size, mtimeMs, ctimeMs, hex digest].
// The fields are compared as numbers: *Ms are doubles with sub-microsecond resolution (not rounded
// to milliseconds) and JSON round-trips doubles exactly. Number tuples were chosen over a string
// key after profiling: building string keys from BigIntStats dominated the warm checksum.

type MemoEntry = [dev: number, ino: number, size: number, mtimeMs: number, ctimeMs: number, hex: string];

interface MemoFile {
  version: 2;
  entries: Record<string, MemoEntry>;
}

/** Beyond this many entries, a save keeps only those used since the memo was opened. */
const MAX_MEMO_ENTRIES = 250_000;

function matches(entry: unknown, st: Stats): entry is MemoEntry {
  return (
    Array.isArray(entry) &&
    entry[0] === st.dev &&
    entry[1] === st.ino &&
    entry[2] === st.size &&
    entry[3] === st.mtimeMs &&
    entry[4] === st.ctimeMs &&
    typeof entry[5] === 'string'
  );
}

/**
 * Opens (or starts) the digest memo stored in `file`. A missing, unreadable or corrupt file starts
 * an empty memo: it is only a cache. save() replaces the file atomically and is a no-op when nothing
 * changed; concurrent builds simply last-writer-win.
 */
export async function openFileDigestMemo(file: string): Promise<FileDigestMemo> {
  // The parsed object is used as is (copying 20k entries into a Map showed in profiles); keys are
  // absolute paths, so they never collide with Object.prototype names, and hasOwn guards anyway.
  let entries: Record<string, MemoEntry> = {};
  try {
    const parsed = JSON.parse(await readFile(file, 'utf8')) as Partial<MemoFile>;
    if (parsed.version === 2 && parsed.entries !== null && typeof parsed.entries === 'object' && !Array.isArray(parsed.entries)) {
      entries = parsed.entries;
    }
  } catch {
    // Missing or corrupt: start empty.
  }
  const used = new Set<string>();
  let dirty = false;
  return {
    lookup(abs, st) {
      const known = Object.hasOwn(entries, abs) ? entries[abs] : undefined;
      if (!matches(known, st)) return undefined;
      used.add(abs);
      return `sha256:${known[5]}`;
    },
    remember(abs, st, digest) {
      entries[abs] = [st.dev, st.ino, st.size, st.mtimeMs, st.ctimeMs, digest.replace(/^sha256:/, '')];
      used.add(abs);
      dirty = true;
    },
    async save() {
      if (!dirty) return;
      let kept = entries;
      if (Object.keys(entries).length > MAX_MEMO_ENTRIES) {
        kept = {};
        for (const abs of used) if (Object.hasOwn(entries, abs)) kept[abs] = entries[abs]!;
        entries = kept;
      }
      const body: MemoFile = { version: 2, entries: kept };
      await writeFileAtomic(file, JSON.stringify(body));
      dirty = false;
    },
  };
}
