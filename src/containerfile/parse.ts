// Parses a whole Containerfile the way BuildKit's Dockerfile parser reads it: parser directives at
// the very top, then one instruction per logical line (continuations joined, comment and blank lines
// skipped), then the bodies of the heredocs a RUN, COPY or ADD line opens. words.ts and
// instructions.ts read each instruction with Docker's own splitting rules; the instructions are
// grouped into stages here. Every error names file:line:column and carries the source line.
import { TsbuildError, withSourceExcerpt } from '../errors.js';
import type { ArgInstruction, CheckDirective, Directives, Heredoc, Instruction, ParsedContainerfile, Stage } from './model.js';
import { heredocWords } from './heredoc.js';
import { parseInstruction, type InstructionContext } from './instructions.js';
import { joinLines, locAt, parseError, type LogicalLine } from './words.js';

export function parseContainerfile(text: string, file: string): ParsedContainerfile {
  const body = text.startsWith('\uFEFF') ? text.slice(1) : text;
  const raw = body.split('\n');
  const lines = raw.map((l) => l.replace(/\r$/, ''));
  try {
    const { directives, escapeChar } = readDirectives(lines, file);
    const parsed: ParsedContainerfile = { file, escapeChar, directives, lines, globalArgs: [], stages: [] };
    groupStages(parsed, scanInstructions(raw, lines, file, escapeChar));
    return parsed;
  } catch (err) {
    throw withSourceExcerpt(err, file, lines);
  }
}

/**
 * Parses one ONBUILD trigger as stored in a base image's config (`RUN echo x`, or a RUN/COPY with
 * its heredoc bodies on the following lines). Triggers are always read with the default escape
 * character, as Docker does, and may not be ONBUILD, FROM or MAINTAINER.
 */
export function parseInstructionLine(text: string, file: string, line: number): Instruction {
  const raw = text.split('\n');
  const lines = raw.map((l) => l.replace(/\r$/, ''));
  const [instruction, extra] = scanInstructions(raw, lines, file, '\\', line - 1);
  if (instruction === undefined || extra !== undefined) {
    throw parseError({ file, line }, `an ONBUILD trigger must be exactly one instruction, not "${text}"`);
  }
  if (instruction.kind === 'ONBUILD' || instruction.kind === 'FROM' || instruction.kind === 'MAINTAINER') {
    throw parseError(instruction.loc, `${instruction.kind} is not allowed as an ONBUILD trigger`);
  }
  return instruction;
}

/**
 * The instructions of `lines`, in order. `raw` are the same lines with their carriage returns, which
 * heredoc bodies keep; `lineOffset` shifts reported line numbers (ONBUILD triggers).
 */
function scanInstructions(raw: readonly string[], lines: readonly string[], file: string, escapeChar: string, lineOffset = 0): Instruction[] {
  // Positions are computed on lines shifted by lineOffset, so that errors name the caller's line.
  const source = [...Array<string>(lineOffset).fill(''), ...lines];
  const rawSource = [...Array<string>(lineOffset).fill(''), ...raw];
  const instructions: Instruction[] = [];
  let next = lineOffset;
  while (next < source.length) {
    const line = source[next] as string;
    const content = line.trimStart();
    if (content === '' || content.startsWith('#')) {
      next++;
      continue;
    }
    const ll = joinLines(source, next, line.length - content.length, source.length - 1, escapeChar, file);
    next = ll.lines[ll.lines.length - 1] as number;
    const ctx: InstructionContext = {
      escapeChar,
      endLine: next,
      readHeredocs: (text) => {
        const heredocs = readHeredocBodies(rawSource, next, text, ll);
        next += heredocs.reduce((n, h) => n + h.lineCount, 0);
        return heredocs.map((h) => h.heredoc);
      },
    };
    const instruction = parseInstruction(ll, ctx);
    setEndLine(instruction, next);
    instructions.push(instruction);
  }
  return instructions;
}

function setEndLine(instruction: Instruction, endLine: number): void {
  instruction.endLine = endLine;
  if (instruction.kind === 'ONBUILD') setEndLine(instruction.trigger, endLine);
}

/**
 * Reads the body of every heredoc `text` opens, from line index `from` on: each body ends at a line
 * that is exactly its delimiter (after leading tabs for `<<-`), and the next body starts after it.
 */
function readHeredocBodies(raw: readonly string[], from: number, text: string, ll: LogicalLine): { heredoc: Heredoc; lineCount: number }[] {
  const openers = [...text.matchAll(/\d*<<-?(?!<)/g)];
  const words = heredocWords(text, locAt(ll, 0));
  const out: { heredoc: Heredoc; lineCount: number }[] = [];
  let n = from;
  for (const [i, word] of words.entries()) {
    const start = n;
    let content = '';
    let terminated = false;
    while (n < raw.length) {
      const line = raw[n] as string;
      n++;
      const withEnding = n < raw.length ? `${line}\n` : line;
      let candidate = line.replace(/[\r\n]+$/, '');
      if (word.chomp) candidate = candidate.replace(/^\t+/, '');
      if (candidate === word.name) {
        terminated = true;
        break;
      }
      content += withEnding;
    }
    if (!terminated) {
      const at = locAt(ll, openers[i]?.index ?? 0);
      throw parseError(at, `unterminated heredoc: no line "${word.name}" after line ${at.line} ends it`);
    }
    out.push({ heredoc: { ...word, content, loc: { file: ll.file, line: start + 1, column: 1 } }, lineCount: n - start });
  }
  return out;
}

function groupStages(parsed: ParsedContainerfile, instructions: Instruction[]): void {
  const { stages, globalArgs } = parsed;
  const byName = new Map<string, Stage>();
  for (const instruction of instructions) {
    const current = stages[stages.length - 1];
    if (instruction.kind === 'FROM') {
      const name = instruction.stageName?.toLowerCase();
      const stage: Stage = { index: stages.length, ...(name && { name }), from: instruction, instructions: [] };
      if (name !== undefined) {
        const earlier = byName.get(name);
        if (earlier) {
          throw parseError(instruction.loc, `duplicate stage name "${name}" (first used on line ${earlier.from.loc.line})`);
        }
        byName.set(name, stage);
      }
      stages.push(stage);
    } else if (current) {
      current.instructions.push(instruction);
    } else if (instruction.kind === 'ARG') {
      globalArgs.push(instruction as ArgInstruction);
    } else {
      throw parseError(instruction.loc, `${instruction.kind} before the first FROM: only ARG may come before FROM`);
    }
  }
  if (stages.length === 0) {
    throw parseError({ file: parsed.file, line: 1 }, 'no FROM instruction: a Containerfile needs at least one stage');
  }
}

// BuildKit's directive syntax; a directive line may have blanks around `#`, the name and `=`.
const DIRECTIVE = /^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$/;
const KNOWN_DIRECTIVES = new Set(['syntax', 'escape', 'check']);

/**
 * Parser directives: only the lines at the very top count. The first line that is not a directive
 * of a known name (an instruction, a blank line, any other comment) ends them, as in BuildKit.
 */
export function readDirectives(lines: readonly string[], file: string): { directives: Directives; escapeChar: string } {
  const directives: Directives = {};
  for (const [i, line] of lines.entries()) {
    const match = DIRECTIVE.exec(line.trimStart());
    const name = match?.[1]?.toLowerCase();
    if (!match || name === undefined || !KNOWN_DIRECTIVES.has(name)) break;
    const value = match[2] as string;
    const loc = { file, line: i + 1, column: line.length - line.trimStart().length + 1 };
    if (directives[name as keyof Directives] !== undefined) throw parseError(loc, `only one ${name} parser directive can be used`);
    if (name === 'escape') {
      if (value !== '\\' && value !== '`') throw parseError(loc, `invalid escape character "${value}": it must be \\ or \``);
      directives.escape = value;
    } else if (name === 'syntax') {
      directives.syntax = value;
    } else {
      directives.check = parseCheckDirective(value, (message) => parseError(loc, message));
    }
  }
  return { directives, escapeChar: directives.escape ?? '\\' };
}

/** `skip=A,B|all`, `error=true|false` and `experimental=A,B|all`, separated by `;` (BuildKit's linter.ParseLintOptions). */
export function parseCheckDirective(value: string, fail: (message: string) => TsbuildError): CheckDirective {
  const check: CheckDirective = { skip: [], skipAll: false, error: false };
  const text = value.trim();
  if (text === '') return check;
  // Like BuildKit (strings.SplitN(s, ";", 3)), only the first two `;` separate.
  const [first, second, ...rest] = text.split(';');
  const parts = [first!, ...(second === undefined ? [] : [second]), ...(rest.length > 0 ? [rest.join(';')] : [])];
  for (const part of parts) {
    const eq = part.indexOf('=');
    if (eq < 0) throw fail(`invalid check option "${part}": expected skip=<rules>|all or error=true|false`);
    const key = part.slice(0, eq).trim();
    const v = part.slice(eq + 1).trim();
    if (key === 'skip') {
      if (v === 'all') check.skipAll = true;
      else check.skip = v.split(',').map((r) => r.trim());
    } else if (key === 'experimental') {
      if (v === 'all') check.experimentalAll = true;
      else check.experimental = v.split(',').map((r) => r.trim());
    } else if (key === 'error') {
      const bool = parseGoBool(v);
      if (bool === undefined) throw fail(`invalid check option "${part}": error must be true or false`);
      check.error = bool;
    } else {
      throw fail(`invalid check option "${key}": expected skip, error or experimental`);
    }
  }
  return check;
}

/** Go's strconv.ParseBool. */
function parseGoBool(v: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(v)) return false;
  return undefined;
}
