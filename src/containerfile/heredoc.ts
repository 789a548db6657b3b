// Heredocs (`RUN <<EOF`, `COPY <<A <<B /dir/`) with the rules of BuildKit's Dockerfile parser: which
// words of an instruction open a heredoc, what the delimiter is, whether the body expands (no quote
// anywhere in the delimiter word), and `<<-` stripping leading tabs. The parser reads the bodies; the
// builder decides what a RUN or COPY does with them (src/build/heredoc.ts).
import { lexWords } from './expand.js';
import type { SourceLocation } from './model.js';

export interface HeredocWord {
  /** The delimiter with quotes and escapes removed: the line that ends the body. */
  name: string;
  /** `<<-`: leading tabs are stripped from the body lines and the delimiter line. */
  chomp: boolean;
  /** False when any part of the delimiter was quoted (`<<'EOF'`, `<<"EOF"`, `<<E"O"F`). */
  expand: boolean;
}

export interface Heredoc extends HeredocWord {
  /** The body lines exactly as written, each with its line ending; tabs not yet stripped. */
  content: string;
  /** Where the body starts (the line after the instruction). */
  loc: SourceLocation;
}

const HEREDOC = /^(\d*)<<(-?)([^<]*)$/;

/**
 * The heredoc a single word opens (`<<EOF`, `<<-"EOF"`, `3<<EOF`), or undefined. A word whose rest
 * is more than one word (`<<EOF python3` as one string) is not a heredoc, as in BuildKit.
 */
export function parseHeredocWord(word: string, loc: SourceLocation): HeredocWord | undefined {
  const match = HEREDOC.exec(word);
  const rest = match?.[3];
  if (!match || !rest) return undefined;
  const words = lexWords(rest, { skipUnset: true }, loc);
  if (words.length !== 1) return undefined;
  const raw = lexWords(rest, { skipUnset: true, rawQuotes: true }, loc);
  const quotes = (s: string | undefined): number => (s ?? '').replace(/[^'"]/g, '').length;
  return { name: words[0] as string, chomp: match[2] === '-', expand: quotes(words[0]) === quotes(raw[0]) };
}

/** The heredocs an instruction line opens, in order (BuildKit's heredocsFromLine). */
export function heredocWords(line: string, loc: SourceLocation): HeredocWord[] {
  if (!line.includes('<<')) return [];
  let words: string[];
  try {
    words = lexWords(line, { rawQuotes: true, rawEscapes: true, skipUnset: true }, loc);
  } catch {
    // BuildKit ignores lexing errors here; the instruction's own parsing reports them.
    return [];
  }
  return words.flatMap((w) => parseHeredocWord(w, loc) ?? []);
}

/** `<<-` bodies lose the leading tabs of every line. */
export function chompHeredoc(content: string): string {
  return content.replace(/^\t+/gm, '');
}

/** A heredoc's body as a command or file sees it: tabs stripped for `<<-`. */
export function heredocBody(heredoc: Heredoc): string {
  return heredoc.chomp ? chompHeredoc(heredoc.content) : heredoc.content;
}
