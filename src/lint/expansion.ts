// Variable expansion as the checks need it: the builder's own expansion (expand.ts), plus which
// variables a word looked up and did or did not find (buildkit's ProcessWordWithMatches), and
// buildkit's "did you mean" suggestion for a name that was not found.
import { expandWord, type SourceLocation } from '../containerfile/index.js';

/** One expansion's result and the variables it looked up. */
export interface Expansion {
  value: string;
  matched: Set<string>;
  unmatched: Set<string>;
}

/** Expands one word as the builder does, recording every variable looked up. */
export function expandTracked(word: string, vars: ReadonlyMap<string, string>, escapeChar: string, loc: SourceLocation): Expansion {
  const matched = new Set<string>();
  const unmatched = new Set<string>();
  const lookup = (name: string): string | undefined => {
    const value = vars.get(name);
    (value === undefined ? unmatched : matched).add(name);
    return value;
  };
  return { value: expandWord(word, lookup, { escapeChar, loc }), matched, unmatched };
}

/** buildkit's suggest: the closest option within a Levenshtein distance of 2, none on an exact match. */
export function suggest(value: string, options: Iterable<string>): string | undefined {
  let best: string | undefined;
  let min = 3;
  for (const option of options) {
    if (option === value) return undefined;
    const d = levenshtein(value, option);
    if (d < min) {
      min = d;
      best = option;
    }
  }
  return best;
}

function levenshtein(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length]!;
}
