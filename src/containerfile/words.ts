// The line-level lexing of the Dockerfile parser (ported from the rules of moby/buildkit's
// frontend/dockerfile/parser): joining continuation lines into one logical line while remembering
// where every character came from, splitting off the keyword and the `--flags`, and the three ways
// Docker splits arguments into words. Nothing here removes quotes from argument words; that is
// expansion's job (expand.ts).
import { TsbuildError } from '../errors.js';
import type { SourceLocation } from './model.js';

/** One instruction's text with continuations joined, and the source position of every character. */
export interface LogicalLine {
  file: string;
  text: string;
  /** 1-based line and column of text[i]; one extra entry for the position just past the end. */
  lines: number[];
  columns: number[];
}

export function locAt(ll: LogicalLine, offset: number): SourceLocation {
  const i = Math.min(Math.max(offset, 0), ll.lines.length - 1);
  return { file: ll.file, line: ll.lines[i] ?? 1, column: ll.columns[i] ?? 1 };
}

/**
 * A Containerfile error at `file:line:column` (`file:line` when the column is unknown). The parser
 * adds the source line for the CLI's excerpt; see parse.ts.
 */
export function parseError(loc: { file: string; line: number; column?: number }, message: string, code: 'PARSE' | 'INVALID_ARGUMENT' = 'PARSE'): TsbuildError {
  const at = loc.column === undefined ? `${loc.file}:${loc.line}` : `${loc.file}:${loc.line}:${loc.column}`;
  return new TsbuildError(code, `${at}: ${message}`, { source: { file: loc.file, line: loc.line, column: loc.column ?? 1 } });
}

/** The part of a logical line from `start` to `end`, positions included (ONBUILD's trigger). */
export function sliceLine(ll: LogicalLine, start: number, end = ll.text.length): LogicalLine {
  return {
    file: ll.file,
    text: ll.text.slice(start, end),
    lines: [...ll.lines.slice(start, end), ll.lines[end] ?? ll.lines[ll.lines.length - 1] ?? 1],
    columns: [...ll.columns.slice(start, end), ll.columns[end] ?? ll.columns[ll.columns.length - 1] ?? 1],
  };
}

/**
 * Joins source lines `first..last` (0-based, `last` inclusive) starting at `startColumn` (0-based) the
 * way Docker does: a trailing escape character (plus trailing blanks) continues the instruction and
 * is dropped with no separator added; comment lines and blank lines inside a continuation are skipped.
 */
export function joinLines(
  source: readonly string[],
  first: number,
  startColumn: number,
  last: number,
  escapeChar: string,
  file: string,
): LogicalLine {
  const ll: LogicalLine = { file, text: '', lines: [], columns: [] };
  let endLine = first + 1;
  let endColumn = startColumn + 1;
  for (let n = first; n <= last && n < source.length; n++) {
    const raw = source[n] ?? '';
    const from = n === first ? startColumn : 0;
    if (n !== first && (/^\s*$/.test(raw) || /^\s*#/.test(raw))) continue;
    const trimmed = raw.replace(/[ \t]+$/, '');
    const continues = trimmed.endsWith(escapeChar);
    const upTo = continues ? trimmed.length - escapeChar.length : raw.length;
    for (let c = from; c < upTo; c++) {
      ll.text += raw[c];
      ll.lines.push(n + 1);
      ll.columns.push(c + 1);
    }
    endLine = n + 1;
    endColumn = upTo + 1;
    if (!continues) break;
  }
  ll.lines.push(endLine);
  ll.columns.push(endColumn);
  return ll;
}

export interface RawFlag {
  /** The whole flag word with quotes removed, e.g. `--from=build`. */
  word: string;
  offset: number;
}

export interface SplitInstruction {
  keyword: string;
  flags: RawFlag[];
  /** Everything after the keyword and flags, trimmed. */
  args: string;
  argsOffset: number;
}

const isSpace = (ch: string | undefined): boolean => ch !== undefined && /\s/.test(ch);

/**
 * Splits a logical line into keyword, leading `--flags` and the rest, like buildkit's splitCommand
 * and extractBuilderFlags: flags end at the first word not starting with `--`, or at a lone `--`.
 * Flag words may be quoted; a backslash (always backslash here, as in Docker) escapes one character.
 */
export function splitInstruction(ll: LogicalLine): SplitInstruction {
  const text = ll.text;
  let pos = 0;
  while (isSpace(text[pos])) pos++;
  const kwStart = pos;
  while (pos < text.length && !isSpace(text[pos])) pos++;
  const keyword = text.slice(kwStart, pos);
  const flags: RawFlag[] = [];
  for (;;) {
    while (isSpace(text[pos])) pos++;
    if (!text.startsWith('--', pos)) break;
    const start = pos;
    let word = '';
    let quote: string | undefined;
    for (; pos < text.length; pos++) {
      const ch = text[pos] as string;
      if (quote === undefined && isSpace(ch)) break;
      if (quote === undefined && (ch === '"' || ch === "'")) quote = ch;
      else if (ch === quote) quote = undefined;
      else if (ch === '\\' && pos + 1 < text.length) word += text[++pos];
      else if (ch !== '\\') word += ch;
    }
    if (quote !== undefined) throw parseError(locAt(ll, start), `unterminated quote in flag ${text.slice(start, pos)}`);
    if (word === '--') break;
    flags.push({ word, offset: start });
  }
  const rest = text.slice(pos);
  const lead = rest.length - rest.trimStart().length;
  return { keyword, flags, args: rest.trim(), argsOffset: pos + lead };
}

export interface Word {
  /** Raw: quotes and escapes kept. */
  value: string;
  offset: number;
}

/**
 * buildkit's parseWords (ENV, LABEL, ARG): splits on blanks outside quotes, keeping the quotes and
 * escape characters in the words. An unterminated quote is an error here already, because the
 * rest of the line would otherwise silently become part of one value.
 */
export function parseWords(ll: LogicalLine, start: number, escapeChar: string): Word[] {
  const text = ll.text;
  const words: Word[] = [];
  let word = '';
  let wordStart = -1;
  let quote: string | undefined;
  let quoteStart = 0;
  const flush = (): void => {
    if (wordStart >= 0) words.push({ value: word, offset: wordStart });
    word = '';
    wordStart = -1;
  };
  for (let pos = start; pos < text.length; pos++) {
    const ch = text[pos] as string;
    if (quote === undefined && isSpace(ch)) {
      flush();
      continue;
    }
    if (wordStart < 0) wordStart = pos;
    if (quote === undefined && (ch === '"' || ch === "'")) {
      quote = ch;
      quoteStart = pos;
    } else if (ch === quote) {
      quote = undefined;
    } else if (ch === escapeChar && quote !== "'") {
      // The escape and the escaped character stay in the word together (a quote after it is literal).
      if (pos + 1 >= text.length) continue;
      word += ch;
      pos++;
      word += text[pos];
      continue;
    }
    word += ch;
  }
  if (quote !== undefined) throw parseError(locAt(ll, quoteStart), `unterminated ${quote === '"' ? 'double' : 'single'} quote`);
  flush();
  return words;
}

/** buildkit's parseStringsWhitespaceDelimited (FROM, EXPOSE, COPY/ADD/VOLUME shell form): no quote handling. */
export function splitWhitespace(ll: LogicalLine, start: number): Word[] {
  const words: Word[] = [];
  const re = /\S+/g;
  re.lastIndex = start;
  for (let m = re.exec(ll.text); m !== null; m = re.exec(ll.text)) words.push({ value: m[0], offset: m.index });
  return words;
}

/**
 * buildkit's parseJSON: a JSON array of strings is the exec form. Anything that is not valid JSON is
 * the shell form (as Docker does), but valid JSON that is not an array of strings is an error.
 */
export function parseJsonArray(args: string): string[] | undefined | 'not-strings' {
  if (!args.startsWith('[')) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(args);
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed)) return undefined;
  return parsed.every((v) => typeof v === 'string') ? (parsed as string[]) : 'not-strings';
}
