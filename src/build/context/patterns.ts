// Path-pattern compilers for the build context: Go `filepath.Match` rules for one path component
// (COPY/ADD source wildcards) and moby/patternmatcher rules for whole paths (.dockerignore lines).
// Both yield JavaScript RegExps so the hot loops (walking tens of thousands of files) only run
// `RegExp.test`.
import { TsbuildError } from '../../errors.js';

/** Whether a path or component holds a Go glob metacharacter (`*`, `?`, `[` or an escaping `\`). */
export function hasWildcard(p: string): boolean {
  return /[*?[\\]/.test(p);
}

/**
 * Compiles one path component pattern with Go `filepath.Match` semantics: `*` is any run of
 * characters and `?` one character (neither matches `/`), `[...]`/`[^...]` is a class with ranges,
 * `\c` is a literal c. Dot files are not special, as in Go. Throws INVALID_ARGUMENT on a malformed
 * pattern, as Go returns ErrBadPattern.
 */
export function compileComponentGlob(pattern: string): RegExp {
  return new RegExp(`^${translateGlob(pattern, false)}$`, 's');
}

/**
 * Compiles a .dockerignore pattern (already cleaned, without its `!`) the way moby/patternmatcher
 * does: anchored at the context root, `*`/`?`/`[...]` never cross a `/`, `**` matches any number of
 * directories (a `**` before a `/` may match none), and a trailing `**` matches everything below.
 */
export function compileIgnorePattern(pattern: string): RegExp {
  return new RegExp(`^${translateGlob(pattern, true)}$`, 's');
}

function badPattern(pattern: string, why: string): never {
  throw new TsbuildError('INVALID_ARGUMENT', `invalid pattern "${pattern}": ${why}`);
}

function literal(ch: string): string {
  return /[.*+?^${}()|[\]\\/-]/.test(ch) ? `\\${ch}` : ch;
}

function classChar(ch: string): string {
  // Inside a class only these have a meaning to RegExp; everything else stands for itself.
  return ch === '\\' || ch === ']' || ch === '[' || ch === '^' || ch === '-' ? `\\${ch}` : ch;
}

function translateGlob(pattern: string, doubleStar: boolean): string {
  const chars = Array.from(pattern);
  let out = '';
  let i = 0;
  while (i < chars.length) {
    const ch = chars[i]!;
    if (ch === '*') {
      if (doubleStar && chars[i + 1] === '*') {
        i += 2;
        // `**/` is treated as `**`, as patternmatcher does.
        if (chars[i] === '/') i += 1;
        out += i >= chars.length ? '.*' : '(?:.*/)?';
        continue;
      }
      out += '[^/]*';
      i += 1;
    } else if (ch === '?') {
      out += '[^/]';
      i += 1;
    } else if (ch === '\\') {
      const next = chars[i + 1];
      if (next === undefined) {
        if (!doubleStar) badPattern(pattern, 'trailing backslash');
        out += '\\\\';
        i += 1;
      } else {
        out += literal(next);
        i += 2;
      }
    } else if (ch === '[') {
      const [cls, end] = translateClass(chars, i, pattern);
      out += cls;
      i = end;
    } else {
      out += literal(ch);
      i += 1;
    }
  }
  return out;
}

/** Translates the class starting at chars[start] === '['; returns it and the index after `]`. */
function translateClass(chars: string[], start: number, pattern: string): [string, number] {
  let i = start + 1;
  let out = '[';
  if (chars[i] === '^') {
    out += '^';
    i += 1;
  }
  let ranges = 0;
  const readChar = (): string => {
    const ch = chars[i];
    if (ch === undefined) badPattern(pattern, 'unterminated character class');
    if (ch === '\\') {
      const next = chars[i + 1];
      if (next === undefined) badPattern(pattern, 'unterminated character class');
      i += 2;
      return next;
    }
    if (ch === '-' || (ch === ']' && ranges === 0)) badPattern(pattern, `unexpected "${ch}" in character class`);
    i += 1;
    return ch;
  };
  for (;;) {
    if (chars[i] === ']' && ranges > 0) {
      i += 1;
      break;
    }
    const lo = readChar();
    if (chars[i] === '-') {
      i += 1;
      const hi = readChar();
      if (hi < lo) badPattern(pattern, 'character range out of order');
      out += `${classChar(lo)}-${classChar(hi)}`;
    } else {
      out += classChar(lo);
    }
    ranges += 1;
  }
  // Go classes never match the separator, even negated ones.
  return [`(?!/)${out}]`, i];
}
