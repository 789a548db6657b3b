// COPY/ADD --chmod values: octal (`755`, `0644`) or chmod(1)'s symbolic notation (`u+x,go=rX`,
// `a-w`, `+x`, `g=u`), as the Dockerfile reference allows since syntax 1.14. Octal is one mode for
// everything; symbolic is a transformation of each entry's own mode, because `X` (execute for
// directories and for files that are executable already) and `g=u` depend on it. No umask applies:
// `+x` means `a+x`, as in BuildKit (dchapes-mode's Parse).
import { TsbuildError } from '../../errors.js';

export interface ChmodSpec {
  /** The value as written, for cache keys and messages. */
  readonly text: string;
  /** The mode (permission and setuid/setgid/sticky bits) an entry gets, from the mode it had. */
  apply(mode: number, isDir: boolean): number;
}

const WHO_BITS: Record<string, number> = { u: 0o4700, g: 0o2070, o: 0o1007 };
const CLASS_SHIFT: Record<string, number> = { u: 6, g: 3, o: 0 };

interface Clause {
  who: string;
  actions: Array<{ op: '+' | '-' | '='; perms: string }>;
}

/** Parses a --chmod value; INVALID_ARGUMENT (naming `where`) when it is neither octal nor symbolic. */
export function parseChmod(text: string, where: string): ChmodSpec {
  const invalid = (why: string): never => {
    throw new TsbuildError('INVALID_ARGUMENT', `${where}: invalid --chmod "${text}": ${why}`, {
      hint: 'use an octal mode such as 755, or symbolic clauses such as u+x,go=rX',
    });
  };
  if (/^[0-7]+$/.test(text)) {
    const mode = Number.parseInt(text, 8);
    if (mode > 0o7777) invalid('octal modes go up to 7777');
    return { text, apply: () => mode };
  }
  const clauses: Clause[] = text.split(',').map((raw) => {
    const m = /^([ugoa]*)((?:[-+=](?:[rwxXst]*|[ugo]))+)$/.exec(raw);
    if (!m) return invalid(raw === '' ? 'empty clause' : `bad clause "${raw}"`);
    const who = m[1]!.includes('a') || m[1] === '' ? 'ugo' : m[1]!;
    const actions = [...m[2]!.matchAll(/([-+=])([ugo]|[rwxXst]*)/g)].map((a) => ({ op: a[1] as '+' | '-' | '=', perms: a[2]! }));
    return { who, actions };
  });
  return { text, apply: (mode, isDir) => applyClauses(clauses, mode & 0o7777, isDir) };
}

function applyClauses(clauses: readonly Clause[], start: number, isDir: boolean): number {
  let mode = start;
  for (const { who, actions } of clauses) {
    const whoMask = [...who].reduce((m, c) => m | WHO_BITS[c]!, 0);
    for (const { op, perms } of actions) {
      const value = permBits(perms, mode, isDir) & whoMask;
      if (op === '+') mode |= value;
      else if (op === '-') mode &= ~value;
      else mode = (mode & ~whoMask) | value;
    }
  }
  return mode;
}

/** The bits a permission list stands for, in every class (the caller masks them to `who`). */
function permBits(perms: string, mode: number, isDir: boolean): number {
  if (perms === 'u' || perms === 'g' || perms === 'o') {
    // Copying a class: its rwx bits, replicated into all three classes.
    const rwx = (mode >> CLASS_SHIFT[perms]!) & 0o7;
    return (rwx << 6) | (rwx << 3) | rwx;
  }
  let bits = 0;
  for (const p of perms) {
    if (p === 'r') bits |= 0o444;
    else if (p === 'w') bits |= 0o222;
    else if (p === 'x') bits |= 0o111;
    else if (p === 'X' && (isDir || (mode & 0o111) !== 0)) bits |= 0o111;
    else if (p === 's') bits |= 0o6000;
    else if (p === 't') bits |= 0o1000;
  }
  return bits;
}
