// Enumerates what a selected COPY/ADD source contributes: the source itself and, for a directory,
// everything below it in a stable (sorted) order, with ignore rules applied. Checksums and copies
// both consume this, so the cache key always describes exactly what gets copied.
import type { Stats } from 'node:fs';
import { lstatSync, readdirSync, readlinkSync } from 'node:fs';
import { lstat } from 'node:fs/promises';
import path from 'node:path';
import { TsbuildError, errnoCode } from '../../errors.js';
import { resolveInRoot } from '../../util/resolve-in-root.js';
import type { IgnoreRules } from './ignore-rules.js';
import type { SelectedEntry, SourceRoot } from './select.js';

/** 'special': a FIFO or a character or block device (copied as such, as BuildKit does). */
export type WalkItemType = 'file' | 'dir' | 'symlink' | 'special';

export interface WalkItem {
  type: WalkItemType;
  /** Where the item lands relative to the destination: '' is the destination itself. */
  destRel: string;
  /** Host path of the item (never a symlink that was followed, except a top-level source). */
  abs: string;
  /**
   * Plain (number) stats: Stats were measured to double the walk's time through allocation
   * and GC, and the *Ms fields keep sub-microsecond precision, which is what the memo keys on.
   */
  st: Stats;
  /** For symlinks, the target, verbatim. */
  linkTarget?: string;
}

/**
 * Lists the items of one selected entry. A file source lands at `basename(rel)` under a directory
 * destination, or at the destination itself; a directory source contributes itself (as the
 * destination directory) and its contents. Sockets are skipped, as Docker skips them: a socket is
 * only meaningful to the process that listens on it.
 */
export async function walkEntry(entry: SelectedEntry, root: SourceRoot, destIsDir: boolean): Promise<WalkItem[]> {
  const st = await lstatOrThrow(entry.abs, entry.rel);
  const name = entry.destName ?? (st.isDirectory() ? '' : path.posix.basename(entry.rel));
  const ancestors = destIsDir ? await ancestorDirs(entry, root, name) : [];
  if (!st.isDirectory()) {
    const type = leafType(st);
    return type === undefined ? [] : [...ancestors, { type, destRel: destIsDir ? name : '', abs: entry.abs, st }];
  }
  const rules = activeRules(root);
  const ctxRel = contextRelative(root, entry.abs);
  const exclude = entry.exclude !== undefined && entry.exclude.patterns.length > 0 ? entry.exclude : undefined;
  const children = await walkDir(entry.abs, ctxRel, name, rules, exclude);
  return [...ancestors, { type: 'dir', destRel: name, abs: entry.abs, st }, ...children];
}

/**
 * The directories between the destination and an entry that lands deeper than its basename (COPY
 * --parents): each is the source's directory of that name, so it keeps its mode and owner.
 */
async function ancestorDirs(entry: SelectedEntry, root: SourceRoot, name: string): Promise<WalkItem[]> {
  const parts = name.split('/');
  const out: WalkItem[] = [];
  const srcParts = entry.rel.split('/');
  for (let i = 1; i < parts.length; i++) {
    const srcRel = srcParts.slice(0, srcParts.length - (parts.length - i)).join('/');
    const abs = await resolveInRoot(root.dir, srcRel, { onEscape: root.kind === 'context' ? 'error' : 'clamp', what: 'the source' });
    const st = await lstatOrThrow(abs, srcRel);
    if (st.isDirectory()) out.push({ type: 'dir', destRel: parts.slice(0, i).join('/'), abs, st });
  }
  return out;
}

/** Whether a directory that is itself ignored still holds something re-included by a `!` rule. */
export async function hasIncludedDescendant(absDir: string, ctxRel: string, rules: IgnoreRules): Promise<boolean> {
  if (!rules.mayIncludeUnder(ctxRel)) return false;
  return (await walkDir(absDir, ctxRel, '', rules)).length > 0;
}

/** Ignore rules apply to build contexts only, and cost nothing when there are none. */
export function activeRules(root: SourceRoot): IgnoreRules | undefined {
  return root.kind === 'context' && root.ignore !== undefined && root.ignore.patterns.length > 0 ? root.ignore : undefined;
}

/** The path of a host path inside the source root, in the form ignore rules use. */
export function contextRelative(root: SourceRoot, abs: string): string {
  const rel = path.relative(path.resolve(root.dir), abs);
  return rel.split(path.sep).join('/');
}

/**
 * Yields to the event loop every few milliseconds of synchronous work. The walk uses synchronous
 * readdir/lstat on purpose: through libuv's thread pool each call costs tens of microseconds of
 * promise and thread hand-off, which made a warm 20k-file checksum take seconds; synchronous calls
 * on cached metadata take a few microseconds. Slicing keeps other builds steps responsive meanwhile.
 */
class TimeSlicer {
  private deadline = performance.now() + SLICE_MS;

  get due(): boolean {
    return performance.now() >= this.deadline;
  }

  async yield(): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.deadline = performance.now() + SLICE_MS;
  }
}

const SLICE_MS = 8;

async function walkDir(
  absDir: string,
  ctxRel: string,
  destRel: string,
  rules: IgnoreRules | undefined,
  exclude?: IgnoreRules,
): Promise<WalkItem[]> {
  const out: WalkItem[] = [];
  await walkInto(out, absDir, ctxRel, destRel, rules, exclude === undefined ? undefined : { rules: exclude, rel: '' }, new TimeSlicer());
  return out;
}

/**
 * Appends the items below absDir to `out` in sorted depth-first order; returns how many it added.
 * `exclude` (--exclude) is matched like the ignore rules, but against paths relative to the entry.
 */
async function walkInto(
  out: WalkItem[],
  absDir: string,
  ctxRel: string,
  destRel: string,
  rules: IgnoreRules | undefined,
  exclude: { rules: IgnoreRules; rel: string } | undefined,
  slicer: TimeSlicer,
): Promise<number> {
  let names: string[];
  try {
    names = readdirSync(absDir);
  } catch (err) {
    throw ioError(err, absDir);
  }
  // Byte order, not locale order: the checksum must not depend on the machine's locale.
  names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const start = out.length;
  for (const name of names) {
    if (slicer.due) await slicer.yield();
    // Plain concatenation: absDir is already normalised and path.join showed up in profiles.
    const abs = absDir.endsWith('/') ? `${absDir}${name}` : `${absDir}/${name}`;
    const childCtx = ctxRel === '' ? name : `${ctxRel}/${name}`;
    const childDest = destRel === '' ? name : `${destRel}/${name}`;
    const childEx = exclude === undefined ? undefined : { rules: exclude.rules, rel: exclude.rel === '' ? name : `${exclude.rel}/${name}` };
    const ignoredByRules = rules?.ignores(childCtx) ?? false;
    const excluded = childEx?.rules.ignores(childEx.rel) ?? false;
    const ignored = ignoredByRules || excluded;
    if ((ignoredByRules && !rules!.mayIncludeUnder(childCtx)) || (excluded && !childEx!.rules.mayIncludeUnder(childEx!.rel))) continue;
    const st = lstatSyncOrThrow(abs, childCtx);
    if (st.isDirectory()) {
      const at = out.length;
      out.push({ type: 'dir', destRel: childDest, abs, st });
      const added = await walkInto(out, abs, childCtx, childDest, rules, childEx, slicer);
      // An excluded directory still appears when something inside it is re-included, as the
      // parent of that thing (Docker sends it for the same reason).
      if (ignored && added === 0) out.length = at;
    } else if (ignored) {
      continue;
    } else if (st.isFile() || isSpecial(st)) {
      out.push({ type: st.isFile() ? 'file' : 'special', destRel: childDest, abs, st });
    } else if (st.isSymbolicLink()) {
      let linkTarget: string;
      try {
        linkTarget = readlinkSync(abs);
      } catch (err) {
        throw ioError(err, childCtx);
      }
      out.push({ type: 'symlink', destRel: childDest, abs, st, linkTarget });
    }
  }
  return out.length - start;
}

function isSpecial(st: Stats): boolean {
  return st.isFIFO() || st.isCharacterDevice() || st.isBlockDevice();
}

/** The item type of a non-directory source named directly; undefined for sockets. */
function leafType(st: Stats): Exclude<WalkItemType, 'dir' | 'symlink'> | undefined {
  if (st.isFile()) return 'file';
  return isSpecial(st) ? 'special' : undefined;
}

function lstatSyncOrThrow(abs: string, shown: string): Stats {
  try {
    return lstatSync(abs);
  } catch (err) {
    throw ioError(err, shown);
  }
}

async function lstatOrThrow(abs: string, shown: string): Promise<Stats> {
  try {
    return await lstat(abs);
  } catch (err) {
    throw ioError(err, shown);
  }
}

function ioError(err: unknown, shown: string): TsbuildError {
  const code = errnoCode(err);
  if (code === 'ENOENT' || code === 'ENOTDIR') {
    return new TsbuildError('NOT_FOUND', `${shown} disappeared while reading the build sources`, { cause: err });
  }
  return new TsbuildError('IO', `cannot read ${shown}: ${(err as Error).message}`, { cause: err });
}
