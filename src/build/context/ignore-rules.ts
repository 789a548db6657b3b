// .containerignore / .dockerignore for the build context, with Docker's (moby/patternmatcher)
// semantics. The `ignore` package was considered and rejected: it implements .gitignore, which
// differs where it matters for a build context —
//   - gitignore matches a slash-less pattern (`*.log`) at any depth; Docker anchors every pattern at
//     the context root (`*.log` is only the top level; use `**/*.log` for any depth);
//   - gitignore cannot re-include a file below an excluded directory (`dir` + `!dir/keep` keeps
//     nothing); Docker re-includes dir/keep, and COPY must see it.
// So the rules are compiled here: each pattern is anchored, matched against the path and every
// parent directory of it, and the last pattern that matches decides (`!` re-includes).
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { resolveInRoot } from '../../util/resolve-in-root.js';
import { TsbuildError, errnoCode } from '../../errors.js';
import { compileComponentGlob, compileIgnorePattern } from './patterns.js';

export interface IgnoreRules {
  /** The file the rules were read from; undefined when the context has none. */
  readonly file: string | undefined;
  /** The cleaned patterns, in order, exceptions with their leading `!`. */
  readonly patterns: readonly string[];
  /** Whether a context-relative path is excluded (itself or through a parent directory), net of `!` exceptions. */
  ignores(relPath: string): boolean;
  /**
   * Whether an excluded directory may still hold re-included paths (an exception pattern could match
   * below it), so a walk has to descend into it instead of skipping it. Conservative: may say true
   * when nothing ends up re-included, never false when something would be.
   */
  mayIncludeUnder(dirRel: string): boolean;
}

export interface LoadIgnoreOptions {
  /** --ignorefile: used instead of the context's own files; relative to the working directory. */
  ignorefile?: string;
  /** The Containerfile as readContainerfile names it (not a file: '<stdin>', a URL): its own ignore file beats the context's. */
  containerfile?: string;
}

const CANDIDATES = ['.containerignore', '.dockerignore'];

/**
 * Reads the ignore rules for a build context: --ignorefile, else the Containerfile's own
 * `<file>.containerignore` or `<file>.dockerignore` beside it (BuildKit reads `<file>.dockerignore`
 * before the context's file; podman adds the .containerignore name), else the context's
 * .containerignore, else its .dockerignore.
 */
export async function loadIgnoreRules(contextDir: string, options: LoadIgnoreOptions = {}): Promise<IgnoreRules> {
  if (options.ignorefile !== undefined) {
    const file = path.resolve(options.ignorefile);
    const text = await readIgnoreFile(file);
    if (text === undefined) throw new TsbuildError('NOT_FOUND', `ignore file "${options.ignorefile}" not found`);
    return compileIgnoreRules(parseIgnoreFile(text), file);
  }
  const own = options.containerfile === undefined || options.containerfile === '<stdin>' || options.containerfile.includes('://') ? [] : CANDIDATES.map((ext) => path.resolve(options.containerfile + ext));
  // The context's own files may be symlinks (a git checkout can hold any): they resolve inside it.
  const inContext = await Promise.all(CANDIDATES.map((name) => resolveInRoot(contextDir, name, { onEscape: 'clamp' })));
  for (const file of [...own, ...inContext]) {
    const text = await readIgnoreFile(file);
    if (text !== undefined) return compileIgnoreRules(parseIgnoreFile(text), file);
  }
  return compileIgnoreRules([], undefined);
}

/** Real ignore files are small; this bounds what a mistaken --ignorefile reads into memory. */
const MAX_IGNORE_FILE = 16 * 1024 * 1024;

async function readIgnoreFile(file: string): Promise<string | undefined> {
  try {
    // A FIFO or device (a symlink to /dev/zero) would hang the build or read forever.
    const st = await stat(file);
    if (!st.isFile()) throw new TsbuildError('INVALID_ARGUMENT', `ignore file ${file} is not a regular file`);
    if (st.size > MAX_IGNORE_FILE) throw new TsbuildError('INVALID_ARGUMENT', `ignore file ${file} is too large (${st.size} bytes)`);
    return await readFile(file, 'utf8');
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    if (err instanceof TsbuildError) throw err;
    throw new TsbuildError('IO', `cannot read ignore file ${file}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Splits an ignore file into cleaned patterns the way Docker's ReadAll does: a BOM is dropped, lines
 * starting with `#` are comments (only at column 0), blanks are skipped, whitespace is trimmed, each
 * pattern is path-cleaned and a leading `/` removed (patterns are relative to the context anyway).
 */
export function parseIgnoreFile(text: string): string[] {
  const patterns: string[] = [];
  for (const raw of text.replace(/^\uFEFF/, '').split(/\r?\n/)) {
    if (raw.startsWith('#')) continue;
    let pattern = raw.trim();
    if (pattern === '') continue;
    const invert = pattern.startsWith('!');
    if (invert) pattern = pattern.slice(1).trim();
    if (pattern !== '') {
      pattern = goClean(pattern);
      if (pattern.length > 1 && pattern.startsWith('/')) pattern = pattern.slice(1);
    }
    patterns.push(invert ? `!${pattern}` : pattern);
  }
  return patterns;
}

interface CompiledPattern {
  exclusion: boolean;
  source: string;
  regex: RegExp;
  /** Per-component matchers for mayIncludeUnder; 'any' for a component holding `**`. */
  components: Array<RegExp | 'any'>;
}

/** Builds rules from already-parsed patterns (as parseIgnoreFile returns them). */
export function compileIgnoreRules(patterns: readonly string[], file: string | undefined): IgnoreRules {
  const compiled: CompiledPattern[] = [];
  for (const original of patterns) {
    let p = original.trim();
    if (p === '') continue;
    const exclusion = p.startsWith('!');
    if (exclusion) {
      p = p.slice(1);
      if (p === '') throw new TsbuildError('INVALID_ARGUMENT', `${file ?? 'ignore rules'}: illegal exclusion pattern "!"`);
    }
    p = goClean(p);
    try {
      compiled.push({ exclusion, source: p, regex: compileIgnorePattern(p), components: p.split('/').map(componentMatcher) });
    } catch (err) {
      throw new TsbuildError('INVALID_ARGUMENT', `${file ?? 'ignore rules'}: ${(err as Error).message}`, { cause: err });
    }
  }
  const exceptions = compiled.filter((c) => c.exclusion);
  const cleaned = compiled.map((c) => (c.exclusion ? `!${c.source}` : c.source));

  const ignores = (relPath: string): boolean => {
    if (compiled.length === 0) return false;
    const rel = normaliseRel(relPath);
    if (rel === '') return false;
    const parents = parentChain(rel);
    let matched = false;
    for (const pattern of compiled) {
      // A pattern can only change the verdict: skip excludes once excluded, exceptions until then.
      if (pattern.exclusion !== matched) continue;
      const hit = pattern.regex.test(rel) || parents.some((parent) => pattern.regex.test(parent));
      if (hit) matched = !pattern.exclusion;
    }
    return matched;
  };

  const mayIncludeUnder = (dirRel: string): boolean => {
    if (exceptions.length === 0) return false;
    const dirParts = normaliseRel(dirRel).split('/').filter((c) => c !== '');
    return exceptions.some((pattern) => {
      for (let i = 0; i < dirParts.length; i++) {
        const matcher = pattern.components[i];
        // The exception names this directory or an ancestor of it: everything below is re-included.
        if (matcher === undefined) return true;
        if (matcher === 'any') return true;
        if (!matcher.test(dirParts[i]!)) return false;
      }
      return true;
    });
  };

  return { file, patterns: cleaned, ignores, mayIncludeUnder };
}

function componentMatcher(component: string): RegExp | 'any' {
  if (component.includes('**')) return 'any';
  try {
    return compileComponentGlob(component);
  } catch {
    // An odd component that Go's rules reject cannot prune safely; treat it as a wildcard.
    return 'any';
  }
}

/** ['a', 'a/b'] for 'a/b/c': the parent directories a pattern may exclude the path through. */
function parentChain(rel: string): string[] {
  const parts = rel.split('/');
  const out: string[] = [];
  for (let i = 1; i < parts.length; i++) out.push(parts.slice(0, i).join('/'));
  return out;
}

function normaliseRel(relPath: string): string {
  const cleaned = path.posix.normalize(relPath.replace(/^\/+/, ''));
  return cleaned === '.' ? '' : cleaned.replace(/\/+$/, '');
}

/** Go's filepath.Clean: lexical `.`/`..` removal, no trailing slash, '.' for empty. */
function goClean(p: string): string {
  const normalised = path.posix.normalize(p);
  return normalised.length > 1 ? normalised.replace(/\/+$/, '') : normalised;
}
