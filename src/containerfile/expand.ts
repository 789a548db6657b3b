// Variable substitution with the Dockerfile lexer rules (a port of the behaviour of buildkit's
// frontend/dockerfile/shell lexer): $v and ${v} with the -, +, ?, #, %, / modifiers, quotes (removed;
// no expansion inside single quotes) and the escape character.
//
// Which instructions the builder expands, and with what (the executor calls these functions):
//   ADD, COPY   sources, dest and --chown/--chmod: expandWord per word
//   ENV, LABEL  keys and values: expandWord (a value is one word even with spaces)
//   ARG         default values: expandWord
//   EXPOSE      each raw word: expandWords (one word may become several ports)
//   FROM        image and --platform: expandWord with the global ARGs only (plan.ts does this)
//   STOPSIGNAL, USER, WORKDIR, VOLUME paths: expandWord
//   ONBUILD     nothing when declared; the trigger expands when it runs in the child build
// RUN, CMD, ENTRYPOINT and SHELL are not expanded by the builder: the shell in the container does it.
import type { SourceLocation } from './model.js';
import { parseError } from './words.js';

export type VarLookup = (name: string) => string | undefined;

export interface ExpandOptions {
  escapeChar: string;
  /** Where the word came from, for error messages. */
  loc: SourceLocation;
}

/** Expands one word: quotes and escapes are removed, unset variables become empty, nothing is split. */
export function expandWord(word: string, vars: VarLookup, opts: ExpandOptions): string {
  return new Lexer(word, vars, opts).processStopOn(undefined, false).result;
}

/** Expands and splits into words on unquoted blanks, including blanks that came from a variable's value. */
export function expandWords(text: string, vars: VarLookup, opts: ExpandOptions): string[] {
  return new Lexer(text, vars, opts).processStopOn(undefined, false).words;
}

/**
 * The body of a COPY/ADD heredoc with an unquoted delimiter: variables expand, quotes are ordinary
 * characters, and a backslash (always backslash) escapes the next character and is removed, exactly
 * as BuildKit's raw expansion of heredoc sources (SkipProcessQuotes) does.
 */
export function expandHeredocBody(body: string, vars: VarLookup, loc: SourceLocation): string {
  return new Lexer(body, vars, { escapeChar: '\\', loc }, { skipProcessQuotes: true }).processStopOn(undefined, false).result;
}

/** Lexer switches of BuildKit's shell.Lex, for the parser's own uses (heredoc words). */
export interface LexModes {
  /** Keep quote characters in the result (they still group words). */
  rawQuotes?: boolean;
  /** Keep escape characters in the result. */
  rawEscapes?: boolean;
  /** Quotes are ordinary characters. */
  skipProcessQuotes?: boolean;
  /** References to unset variables stay as written. */
  skipUnset?: boolean;
}

/** Splits into words with the given modes and no variables set (the parser's view of a line). */
export function lexWords(text: string, modes: LexModes, loc: SourceLocation): string[] {
  return new Lexer(text, () => undefined, { escapeChar: '\\', loc }, modes).processStopOn(undefined, modes.rawEscapes ?? false).words;
}

const isSpace = (ch: string): boolean => /\s/u.test(ch);
/** $1, $@, $$ ... are read as names so that they expand (to empty, normally) rather than stay literal. */
const SPECIAL_PARAMS = new Set(['@', '*', '#', '?', '-', '$', '!', '0']);

/** Collects words the way the lexer sees them: text from quotes and escapes never splits. */
class Words {
  private word = '';
  private inWord = false;
  readonly words: string[] = [];

  addChar(ch: string): void {
    if (!isSpace(ch)) this.addRaw(ch);
    else if (this.inWord) this.finish();
  }
  addString(s: string): void {
    for (const ch of s) this.addChar(ch);
  }
  addRaw(s: string): void {
    this.word += s;
    this.inWord = true;
  }
  finish(): string[] {
    // Docker drops words that ended up empty (`""` alone yields no word).
    if (this.word !== '') this.words.push(this.word);
    this.word = '';
    this.inWord = false;
    return this.words;
  }
}

class Lexer {
  private readonly chars: string[];
  private pos = 0;

  constructor(
    text: string,
    private readonly vars: VarLookup,
    private readonly opts: ExpandOptions,
    private readonly modes: LexModes = {},
  ) {
    // Code points, not UTF-16 units, so a name test never splits a surrogate pair.
    this.chars = Array.from(text);
  }

  private peek(): string | undefined {
    return this.chars[this.pos];
  }
  private next(): string | undefined {
    return this.chars[this.pos++];
  }
  private fail(message: string): never {
    throw parseError(this.opts.loc, message);
  }

  /** Reads up to `stop` (consumed) or the end. rawEscapes keeps the escape character for patterns. */
  processStopOn(stop: string | undefined, rawEscapes: boolean): { result: string; words: string[] } {
    let result = '';
    const words = new Words();
    const esc = this.opts.escapeChar;
    for (let ch = this.peek(); ch !== undefined; ch = this.peek()) {
      if (stop !== undefined && ch === stop) {
        this.next();
        return { result, words: words.finish() };
      }
      if ((ch === "'" || ch === '"') && !this.modes.skipProcessQuotes) {
        const quoted = ch === "'" ? this.singleQuoted() : this.doubleQuoted();
        result += quoted;
        words.addRaw(quoted);
      } else if (ch === '$') {
        const value = this.dollar();
        result += value;
        words.addString(value);
      } else {
        this.next();
        if (ch === esc) {
          if (rawEscapes) {
            result += ch;
            words.addRaw(ch);
          }
          const escaped = this.next();
          if (escaped === undefined) break; // an escape at the very end is dropped
          result += escaped;
          words.addRaw(escaped);
        } else {
          result += ch;
          words.addChar(ch);
        }
      }
    }
    if (stop !== undefined) this.fail(`unexpected end of statement while looking for matching ${stop}`);
    return { result, words: words.finish() };
  }

  /** Everything up to the next ' is literal; a single quote cannot be escaped inside single quotes. */
  private singleQuoted(): string {
    this.next();
    let out = '';
    for (let ch = this.next(); ch !== "'"; ch = this.next()) {
      if (ch === undefined) this.fail('unexpected end of statement while looking for matching single-quote');
      out += ch;
    }
    return this.modes.rawQuotes ? `'${out}'` : out;
  }

  /** $ expands inside double quotes; the escape character only escapes ", $ and itself, as in sh. */
  private doubleQuoted(): string {
    this.next();
    let out = '';
    for (;;) {
      const ch = this.peek();
      if (ch === undefined) this.fail('unexpected end of statement while looking for matching double-quote');
      if (ch === '"') {
        this.next();
        return this.modes.rawQuotes ? `"${out}"` : out;
      }
      if (ch === '$') {
        out += this.dollar();
        continue;
      }
      this.next();
      if (ch === this.opts.escapeChar) {
        if (this.modes.rawEscapes) out += ch;
        const following = this.peek();
        if (following === undefined) continue;
        if (following === '"' || following === '$' || following === this.opts.escapeChar) {
          out += this.next();
          continue;
        }
      }
      out += ch;
    }
  }

  private name(): string {
    let name = '';
    for (let ch = this.peek(); ch !== undefined; ch = this.peek()) {
      if (name === '' && /\p{Nd}/u.test(ch)) {
        while (this.peek() !== undefined && /\p{Nd}/u.test(this.peek() as string)) name += this.next();
        return name;
      }
      if (name === '' && SPECIAL_PARAMS.has(ch)) return this.next() as string;
      if (!/[\p{L}\p{Nd}_]/u.test(ch)) break;
      name += this.next();
    }
    return name;
  }

  private lookup(name: string): { value: string; set: boolean } {
    const value = this.vars(name);
    return { value: value ?? '', set: value !== undefined };
  }

  private dollar(): string {
    this.next();
    if (this.peek() !== '{') {
      const name = this.name();
      if (name === '') return '$';
      const { value, set } = this.lookup(name);
      return !set && this.modes.skipUnset ? `$${name}` : value;
    }
    this.next();
    const first = this.peek();
    if (first === undefined) this.fail("syntax error: missing '}'");
    if (first === '{' || first === '}' || first === ':') this.fail('syntax error: bad substitution');
    const name = this.name();
    let op = this.next();
    if (op === '}') {
      const { value, set } = this.lookup(name);
      return !set && this.modes.skipUnset ? `\${${name}}` : value;
    }
    if (op === '/') return this.replace(name);
    let modifier = op ?? '';
    const nullIsUnset = op === ':';
    if (nullIsUnset) {
      op = this.next();
      modifier += op ?? '';
    }
    // As in BuildKit, `:` may precede # and % too (`${v:#p}` is `${v#p}`).
    if (op !== '-' && op !== '+' && op !== '?' && op !== '#' && op !== '%') {
      return op === undefined ? this.fail("syntax error: missing '}'") : this.fail(`unsupported modifier (${modifier}) in substitution`);
    }
    const isPattern = op === '#' || op === '%';
    let word = this.argument('}', isPattern);
    const { value, set } = this.lookup(name);
    if (!set && this.modes.skipUnset) return `\${${name}${modifier}${word}}`;
    const unsetOrNull = !set || (nullIsUnset && value === '');
    switch (op) {
      case '-':
        return unsetOrNull ? word : value;
      case '+':
        return unsetOrNull ? '' : word;
      case '?':
        if (unsetOrNull) this.fail(`${name}: ${word || (set ? 'is not allowed to be empty' : 'is not allowed to be unset')}`);
        return value;
      default: {
        // # and % remove the shortest match, ## and %% the longest.
        const greedy = word.startsWith(op);
        if (greedy) word = word.slice(1);
        if (op === '#') return this.trimPrefix(word, value, greedy);
        // A shortest/longest suffix is a shortest/longest prefix of the reversed value.
        return reverse(this.trimPrefix(reversePattern(word, this.opts.escapeChar), reverse(value), greedy));
      }
    }
  }

  /** The text of a modifier argument, expanded, up to `stop`. */
  private argument(stop: string, rawEscapes: boolean): string {
    try {
      return this.processStopOn(stop, rawEscapes).result;
    } catch (err) {
      // Running off the end means the ${...} was never closed; say that rather than the inner error.
      if (this.pos >= this.chars.length) {
        this.fail(stop === '}' ? "syntax error: missing '}'" : "syntax error: missing '/' in ${}");
      }
      throw err;
    }
  }

  /** ${v/pattern/replacement} replaces the first (longest) match, ${v//pattern/replacement} all. */
  private replace(name: string): string {
    const all = this.peek() === '/';
    if (all) this.next();
    const pattern = this.argument('/', true);
    // BuildKit keeps escapes in the replacement as written.
    const replacement = this.argument('}', true);
    const { value, set } = this.lookup(name);
    if (!set && this.modes.skipUnset) return `\${${name}/${all ? '/' : ''}${pattern}/${replacement}}`;
    const re = this.toRegExp(pattern, true, false, all);
    return value.replace(re, () => replacement);
  }

  private trimPrefix(pattern: string, value: string, greedy: boolean): string {
    const match = this.toRegExp(pattern, greedy, true, false).exec(value);
    return match ? value.slice(match[0].length) : value;
  }

  /**
   * A shell glob (* ? and escapes) as a regular expression, as BuildKit converts it: an escape may
   * only quote * ? the escape itself, or the } and / that would end the ${...}; `.` does not match
   * a newline (Go's regexp default).
   */
  private toRegExp(pattern: string, greedy: boolean, anchored: boolean, global: boolean): RegExp {
    const esc = this.opts.escapeChar;
    let out = anchored ? '^' : '';
    const chars = Array.from(pattern);
    for (let i = 0; i < chars.length; i++) {
      const ch = chars[i] as string;
      if (ch === '*') out += greedy ? '.*' : '.*?';
      else if (ch === '?') out += '.';
      else if (ch === esc && i + 1 < chars.length) {
        const escaped = chars[++i] as string;
        if (!['*', '?', esc, '}', '/'].includes(escaped)) this.fail(`invalid pattern (${pattern}) in substitution: invalid escape '${esc}${escaped}'`);
        out += escapeRegExp(escaped);
      } else out += escapeRegExp(ch);
    }
    return new RegExp(out, `u${global ? 'g' : ''}`);
  }
}

function escapeRegExp(ch: string): string {
  return /[\\^$.*+?()[\]{}|/]/.test(ch) ? `\\${ch}` : ch;
}

function reverse(s: string): string {
  return Array.from(s).reverse().join('');
}

/** Reverses a pattern for suffix matching while keeping each escape in front of the character it escapes. */
function reversePattern(pattern: string, esc: string): string {
  const tokens: string[] = [];
  const chars = Array.from(pattern);
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i] as string;
    if (ch === esc && i + 1 < chars.length) tokens.push(ch + (chars[++i] as string));
    else tokens.push(ch);
  }
  return tokens.reverse().join('');
}
