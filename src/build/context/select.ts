// Turns the source arguments of COPY/ADD into concrete entries of a source root: the build context
// (ignore rules apply, nothing may leave it) or a stage's/image's root filesystem (COPY --from;
// symlinks resolve inside it, clamped). Wildcards follow Go's filepath.Match per component, plus
// `**` for any number of directories. A symlink with an absolute target is re-rooted at the source
// root (as BuildKit does, and as it would read inside a container), never followed on the host.
import type { Stats } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import path from 'node:path';
import { TsbuildError, errnoCode, isTsbuildError } from '../../errors.js';
import { resolveInRoot } from '../../util/resolve-in-root.js';
import type { IgnoreRules } from './ignore-rules.js';
import { compileComponentGlob, hasWildcard } from './patterns.js';
import { activeRules, contextRelative, hasIncludedDescendant } from './walk.js';

export interface SourceRoot {
  dir: string;
  /**
   * 'context' (build context; ignore rules apply; sources may not leave it: `../x` or a top-level
   * symlink pointing outside → PATH_ESCAPE) or 'rootfs' (a stage's or image's root filesystem:
   * symlinks resolved inside it, clamped)
   */
  kind: 'context' | 'rootfs';
  ignore?: IgnoreRules;
}

export interface SelectedEntry {
  /** path relative to the source root */
  rel: string;
  /** host path to read (after following a top-level symlink source) */
  abs: string;
  stat: Stats;
  /** name the copy gets under the destination: for a file source its basename; for a dir source its CONTENTS go into dest */
  isDirSource: boolean;
  /**
   * Where the entry lands under a directory destination when that is not the default (basename for
   * a file, the destination itself for a directory): COPY --parents keeps the source's path.
   */
  destName?: string;
  /** COPY/ADD --exclude rules, matched against paths relative to the entry (a file: its name). */
  exclude?: IgnoreRules;
}

/**
 * Expands the source patterns of one COPY/ADD. Entries come out per pattern in argument order,
 * wildcard matches sorted. A literal source that does not exist (or is ignored) is NOT_FOUND. A
 * wildcard that matches nothing is tolerated while another source matches something, as Docker
 * does (`COPY package.json yarn.loc[k] ./` is a common way to copy an optional file); when nothing
 * at all matches, the first such source is reported as NOT_FOUND.
 */
export interface SelectOptions {
  /**
   * COPY --parents: every entry keeps its path (from the root, or from a `/./` pivot in the
   * pattern) under the destination, instead of landing at its basename.
   */
  parents?: boolean;
  /** --exclude rules: also drop wildcard matches whose name they match. */
  exclude?: IgnoreRules;
}

export async function selectSources(root: SourceRoot, patterns: readonly string[], where: string, options: SelectOptions = {}): Promise<SelectedEntry[]> {
  const sources = patterns.filter((p) => p !== '');
  if (sources.length === 0) throw new TsbuildError('NOT_FOUND', `${where}: no source files were specified`);
  const entries: SelectedEntry[] = [];
  let firstEmpty: string | undefined;
  for (const pattern of sources) {
    let kept: string | undefined;
    let effective = pattern;
    if (options.parents) {
      const pivot = pattern.indexOf('/./');
      kept = pivot < 0 ? '' : cleanSource(root, pattern.slice(0, pivot), where);
      if (pivot >= 0) effective = `${pattern.slice(0, pivot)}/${pattern.slice(pivot + 3)}`;
    }
    const rel = cleanSource(root, effective, where);
    const wildcard = hasWildcard(rel);
    const candidates = wildcard ? await expandWildcards(root, rel, pattern, where) : [rel];
    let matched = 0;
    for (const candidate of candidates) {
      const entry = await resolveCandidate(root, candidate, pattern, where);
      if (entry === undefined) continue;
      if (wildcard && options.exclude?.ignores(path.posix.basename(entry.rel))) continue;
      if (options.exclude !== undefined) entry.exclude = options.exclude;
      if (kept !== undefined) entry.destName = kept === '' ? entry.rel : entry.rel === kept ? '' : entry.rel.slice(kept.length + 1);
      entries.push(entry);
      matched += 1;
    }
    if (matched === 0) {
      if (!wildcard) throw notFound(root, pattern, where);
      firstEmpty ??= pattern;
    }
  }
  if (entries.length === 0) throw notFound(root, firstEmpty ?? sources[0]!, where);
  return entries;
}

function describeRoot(root: SourceRoot): string {
  return root.kind === 'context' ? 'the build context' : 'the source filesystem';
}

function notFound(root: SourceRoot, pattern: string, where: string): TsbuildError {
  return new TsbuildError('NOT_FOUND', `${where}: "${pattern}": no such file or directory in ${describeRoot(root)}`);
}

function escapeError(pattern: string, where: string, cause?: unknown): TsbuildError {
  return new TsbuildError('PATH_ESCAPE', `${where}: "${pattern}" is outside the build context`, {
    cause,
    hint: 'COPY and ADD can only read files inside the build context; move the file into it or widen the context',
  });
}

/**
 * The source as a path relative to the root. A leading `/` means the root (Docker reads `COPY /a`
 * from the context). In the context, `..` that climbs out is an error; in a root filesystem it stops
 * at `/`, as it would inside the container.
 */
function cleanSource(root: SourceRoot, pattern: string, where: string): string {
  if (root.kind === 'rootfs') {
    return path.posix.normalize(`/${pattern}`).replace(/^\/+/, '').replace(/\/+$/, '');
  }
  const normalized = path.posix.normalize(pattern.replace(/^\/+/, '') || '.');
  if (normalized === '..' || normalized.startsWith('../')) throw escapeError(pattern, where);
  return normalized === '.' ? '' : normalized.replace(/\/+$/, '');
}

async function resolveHost(root: SourceRoot, rel: string, pattern: string, where: string): Promise<string> {
  try {
    return await resolveInRoot(root.dir, rel, {
      followFinal: true,
      onEscape: root.kind === 'context' ? 'error' : 'clamp',
      what: describeRoot(root),
    });
  } catch (err) {
    if (isTsbuildError(err, 'PATH_ESCAPE')) throw escapeError(pattern, where, err);
    throw err;
  }
}

/** Resolves one path (symlinks followed within the root); undefined when absent or invisible. */
async function resolveCandidate(root: SourceRoot, rel: string, pattern: string, where: string): Promise<SelectedEntry | undefined> {
  const abs = await resolveHost(root, rel, pattern, where);
  let stat: Stats;
  try {
    stat = await lstat(abs);
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new TsbuildError('IO', `${where}: cannot read "${pattern}": ${(err as Error).message}`, { cause: err });
  }
  const rules = activeRules(root);
  if (rules !== undefined) {
    // Ignored files are not in the context at all: neither under the name used nor as a symlink's target.
    const ctxRel = contextRelative(root, abs);
    if (rel !== ctxRel && rules.ignores(rel)) return undefined;
    if (rules.ignores(ctxRel) && !(stat.isDirectory() && (await hasIncludedDescendant(abs, ctxRel, rules)))) return undefined;
  }
  return { rel, abs, stat, isDirSource: stat.isDirectory() };
}

/** All existing paths matching a wildcard pattern, sorted; ignore rules are applied later. */
async function expandWildcards(root: SourceRoot, rel: string, pattern: string, where: string): Promise<string[]> {
  let prefixes = [''];
  for (const component of rel.split('/')) {
    const next: string[] = [];
    if (component === '**') {
      for (const prefix of prefixes) next.push(prefix, ...(await descendantDirs(root, prefix, pattern, where)));
    } else if (hasWildcard(component)) {
      let matcher: RegExp;
      try {
        matcher = compileComponentGlob(component);
      } catch (err) {
        throw new TsbuildError('INVALID_ARGUMENT', `${where}: source "${pattern}": ${(err as Error).message}`, { cause: err });
      }
      for (const prefix of prefixes) {
        for (const name of await listDir(root, prefix, pattern, where)) {
          if (matcher.test(name)) next.push(join(prefix, name));
        }
      }
    } else {
      for (const prefix of prefixes) next.push(join(prefix, component));
    }
    prefixes = [...new Set(next)];
    if (prefixes.length === 0) break;
  }
  return prefixes.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

function join(prefix: string, name: string): string {
  return prefix === '' ? name : `${prefix}/${name}`;
}

async function listDir(root: SourceRoot, rel: string, pattern: string, where: string): Promise<string[]> {
  const abs = await resolveHost(root, rel, pattern, where);
  try {
    return await readdir(abs);
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw new TsbuildError('IO', `${where}: cannot list "${rel || '.'}": ${(err as Error).message}`, { cause: err });
  }
}

/** Directories below `rel` (for `**`), not following symlinks, skipping subtrees the ignore rules drop whole. */
async function descendantDirs(root: SourceRoot, rel: string, pattern: string, where: string): Promise<string[]> {
  const rules = activeRules(root);
  const out: string[] = [];
  const visit = async (dirRel: string, abs: string): Promise<void> => {
    let dirents;
    try {
      dirents = await readdir(abs, { withFileTypes: true });
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'ENOENT' || code === 'ENOTDIR') return;
      throw new TsbuildError('IO', `${where}: cannot list "${dirRel || '.'}": ${(err as Error).message}`, { cause: err });
    }
    for (const dirent of dirents) {
      if (!dirent.isDirectory()) continue;
      const childRel = join(dirRel, dirent.name);
      if (rules !== undefined && rules.ignores(childRel) && !rules.mayIncludeUnder(childRel)) continue;
      out.push(childRel);
      await visit(childRel, path.join(abs, dirent.name));
    }
  };
  await visit(rel, await resolveHost(root, rel, pattern, where));
  return out;
}
