// Turns one logical line into a typed Instruction: validates the flags against each instruction's
// allowed set, and splits the arguments the way buildkit's parser does for that instruction
// (JSON-or-shell, key=value pairs, whitespace words, or the whole rest as one string).
import { parseDuration } from './duration.js';
import { parseHeredocWord } from './heredoc.js';
import type { CommandForm, Heredoc, Instruction, InstructionFlag, InstructionKind, KeyValue } from './model.js';
import { INSTRUCTION_KINDS } from './model.js';
import {
  type LogicalLine,
  locAt,
  parseError,
  parseJsonArray,
  parseWords,
  sliceLine,
  splitInstruction,
  splitWhitespace,
} from './words.js';

/** 'strings' flags may repeat; the others may appear once. Booleans take no value or `=true|false`. */
type FlagType = 'string' | 'strings' | 'bool';

const HEALTHCHECK_FLAGS = ['interval', 'timeout', 'start-period', 'start-interval', 'retries'] as const;

const ALLOWED_FLAGS: Partial<Record<InstructionKind, Record<string, FlagType>>> = {
  FROM: { platform: 'string' },
  RUN: { mount: 'strings', network: 'string', security: 'string' },
  COPY: { from: 'string', chown: 'string', chmod: 'string', link: 'bool', parents: 'bool', exclude: 'strings' },
  ADD: {
    chown: 'string',
    chmod: 'string',
    link: 'bool',
    checksum: 'string',
    'keep-git-dir': 'bool',
    exclude: 'strings',
    unpack: 'bool',
  },
  HEALTHCHECK: Object.fromEntries(HEALTHCHECK_FLAGS.map((f) => [f, 'string' as const])),
};

const NOT_TRIGGERS: ReadonlySet<string> = new Set(['ONBUILD', 'FROM', 'MAINTAINER']);

export interface InstructionContext {
  escapeChar: string;
  /** 1-based last source line of the instruction. */
  endLine: number;
  /**
   * Reads the bodies of the heredocs the logical line opens (RUN, COPY and ADD in shell form only,
   * as in BuildKit). Absent where no bodies can follow.
   */
  readHeredocs?: (line: string) => Heredoc[];
}

export function parseInstruction(ll: LogicalLine, ctx: InstructionContext): Instruction {
  const split = splitInstruction(ll);
  const keywordOffset = ll.text.length - ll.text.trimStart().length;
  const loc = locAt(ll, keywordOffset);
  const kind = split.keyword.toUpperCase();
  if (!(INSTRUCTION_KINDS as readonly string[]).includes(kind)) {
    const near = INSTRUCTION_KINDS.find((k) => editDistance(k, kind) <= (kind.length > 3 ? 2 : 1));
    throw parseError(loc, `unknown instruction "${kind}"${near ? ` (did you mean ${near}?)` : ''}`);
  }
  const flags = validateFlags(kind as InstructionKind, split.flags.map((f) => toFlag(ll, f.word, f.offset)));
  const base = { loc, endLine: ctx.endLine, text: ll.text.trim(), flags };
  const args = split.args;
  const fail = (message: string): never => {
    throw parseError(loc, message);
  };
  if (args === '') fail(`${kind} requires at least one argument`);

  switch (kind as InstructionKind) {
    case 'FROM': {
      const words = splitWhitespace(ll, split.argsOffset).map((w) => w.value);
      if (words.length !== 1 && !(words.length === 3 && words[1]?.toLowerCase() === 'as')) {
        fail('FROM requires either one or three arguments: FROM <image> [AS <name>]');
      }
      const stageName = words[2];
      if (stageName !== undefined && !/^[a-z][a-z0-9._-]*$/.test(stageName.toLowerCase())) {
        fail(`invalid stage name "${stageName}": it must start with a letter and contain only letters, digits, "-", "_", "."`);
      }
      const platform = flags.find((f) => f.name === 'platform')?.value;
      return {
        ...base,
        kind: 'FROM',
        image: words[0] as string,
        ...(stageName && { stageName }),
        ...(platform !== undefined && { platform }),
      };
    }
    case 'RUN':
    case 'CMD':
    case 'ENTRYPOINT': {
      const command = commandForm(args, kind, fail);
      if (kind === 'RUN' && command.form === 'exec' && command.args.length === 0) fail('RUN requires at least one argument');
      const heredocs = kind === 'RUN' && command.form === 'shell' ? (ctx.readHeredocs?.(ll.text) ?? []) : [];
      if (heredocs.length > 0) return { ...base, kind: 'RUN', command, heredocs };
      return { ...base, kind: kind as 'RUN' | 'CMD' | 'ENTRYPOINT', command };
    }
    case 'SHELL': {
      const command = commandForm(args, kind, fail);
      if (command.form !== 'exec') return fail('SHELL requires the arguments to be in JSON form, e.g. SHELL ["/bin/sh", "-c"]');
      if (command.args.length === 0) fail('SHELL requires at least one argument');
      return { ...base, kind: 'SHELL', shell: command.args };
    }
    case 'COPY':
    case 'ADD': {
      const json = parseJsonArray(args);
      if (json === 'not-strings') return fail(`${kind} JSON form must be an array of strings`);
      const words = json ?? splitWhitespace(ll, split.argsOffset).map((w) => w.value);
      if (words.length < 2) fail(`${kind} requires at least two arguments: one or more sources and a destination`);
      const dest = words[words.length - 1] as string;
      const heredocs = json === undefined ? (ctx.readHeredocs?.(ll.text) ?? []) : [];
      if (heredocs.length === 0) return { ...base, kind: kind as 'COPY' | 'ADD', sources: words.slice(0, -1), dest };
      if (parseHeredocWord(dest, loc)) fail(`${kind} cannot accept a heredoc as a destination`);
      // Each heredoc word among the sources takes the next body, in order (BuildKit's parseSourcesAndDest).
      const sources: string[] = [];
      const inline: Heredoc[] = [];
      for (const word of words.slice(0, -1)) {
        const heredoc = parseHeredocWord(word, loc) ? heredocs[inline.length] : undefined;
        if (heredoc) inline.push(heredoc);
        else sources.push(word);
      }
      return { ...base, kind: kind as 'COPY' | 'ADD', sources, dest, heredocs: inline };
    }
    case 'ENV':
    case 'LABEL':
      return { ...base, kind: kind as 'ENV' | 'LABEL', pairs: keyValuePairs(ll, split.argsOffset, kind, ctx.escapeChar) };
    case 'ARG': {
      const declarations = parseWords(ll, split.argsOffset, ctx.escapeChar).map((w) => {
        const eq = w.value.indexOf('=');
        if (eq === 0) throw parseError(locAt(ll, w.offset), 'ARG names can not be blank');
        return eq < 0 ? { name: w.value } : { name: w.value.slice(0, eq), defaultValue: w.value.slice(eq + 1) };
      });
      return { ...base, kind: 'ARG', args: declarations };
    }
    case 'EXPOSE':
      return { ...base, kind: 'EXPOSE', ports: splitWhitespace(ll, split.argsOffset).map((w) => w.value) };
    case 'VOLUME': {
      const json = parseJsonArray(args);
      if (json === 'not-strings') return fail('VOLUME JSON form must be an array of strings');
      const paths = json ?? splitWhitespace(ll, split.argsOffset).map((w) => w.value);
      if (paths.length === 0 || paths.some((p) => p.trim() === '')) fail('VOLUME paths can not be empty');
      return { ...base, kind: 'VOLUME', paths };
    }
    // These take the whole rest of the line as one value, like buildkit's parseString.
    case 'WORKDIR':
      return { ...base, kind: 'WORKDIR', path: args };
    case 'USER':
      return { ...base, kind: 'USER', user: args };
    case 'STOPSIGNAL':
      return { ...base, kind: 'STOPSIGNAL', signal: args };
    case 'MAINTAINER':
      return { ...base, kind: 'MAINTAINER', name: args };
    case 'HEALTHCHECK':
      return { ...base, kind: 'HEALTHCHECK', ...healthcheck(args, flags, fail) };
    case 'ONBUILD': {
      const trigger = parseInstruction(sliceLine(ll, split.argsOffset), ctx);
      if (NOT_TRIGGERS.has(trigger.kind)) {
        fail(
          trigger.kind === 'ONBUILD'
            ? 'chaining ONBUILD via ONBUILD ONBUILD is not allowed'
            : `${trigger.kind} is not allowed as an ONBUILD trigger`,
        );
      }
      // Docker stores the original text minus the ONBUILD keyword, keeping the trigger's own case.
      // Heredoc bodies follow on their own lines, so that the child build reads the same trigger
      // (BuildKit drops them, which leaves the child build an unterminated heredoc).
      const bodies = triggerHeredocs(trigger).map((h) => `\n${h.content}${h.name}`).join('');
      return { ...base, kind: 'ONBUILD', trigger, triggerText: base.text.replace(/^\s*ONBUILD\s*/i, '') + bodies };
    }
  }
}

function triggerHeredocs(trigger: Instruction): Heredoc[] {
  return (trigger.kind === 'RUN' || trigger.kind === 'COPY' || trigger.kind === 'ADD' ? trigger.heredocs : undefined) ?? [];
}

/** Levenshtein distance, for "did you mean" on a misspelt instruction. */
function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) {
      next.push(Math.min((row[j] ?? 0) + 1, (next[j - 1] ?? 0) + 1, (row[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1)));
    }
    row = next;
  }
  return row[b.length] ?? 0;
}

function toFlag(ll: LogicalLine, word: string, offset: number): InstructionFlag {
  const body = word.slice(2);
  const eq = body.indexOf('=');
  const name = eq < 0 ? body : body.slice(0, eq);
  const loc = locAt(ll, offset);
  if (!/^[a-z][a-z0-9-]*$/i.test(name)) throw parseError(loc, `malformed flag "${word}"`);
  return { name, value: eq < 0 ? undefined : body.slice(eq + 1), loc };
}

function validateFlags(kind: InstructionKind, flags: InstructionFlag[]): InstructionFlag[] {
  const allowed = ALLOWED_FLAGS[kind] ?? {};
  const seen = new Set<string>();
  for (const flag of flags) {
    const type = allowed[flag.name];
    const fail = (message: string): never => {
      throw parseError(flag.loc, message);
    };
    if (type === undefined) {
      const names = Object.keys(allowed).map((n) => `--${n}`);
      fail(`unknown flag --${flag.name} for ${kind}${names.length ? ` (allowed: ${names.join(', ')})` : ' (it takes no flags)'}`);
    }
    if (type !== 'strings' && seen.has(flag.name)) fail(`duplicate flag --${flag.name}`);
    seen.add(flag.name);
    if (type === 'bool') {
      if (flag.value !== undefined && !['true', 'false'].includes(flag.value.toLowerCase())) {
        fail(`flag --${flag.name} expects true or false, not "${flag.value}"`);
      }
    } else if (flag.value === undefined) {
      fail(`missing a value on flag --${flag.name} (write --${flag.name}=<value>)`);
    }
  }
  return flags;
}

function commandForm(args: string, kind: string, fail: (message: string) => never): CommandForm {
  const json = parseJsonArray(args);
  if (json === 'not-strings') return fail(`${kind} JSON form must be an array of strings`);
  return json === undefined ? { form: 'shell', command: args } : { form: 'exec', args: json };
}

/**
 * buildkit's parseNameVal: `key=value ...` pairs, or the legacy `KEY value with spaces` form when
 * the first word has no `=`. Values stay raw; keys are not expanded.
 */
function keyValuePairs(ll: LogicalLine, start: number, kind: string, escapeChar: string): KeyValue[] {
  const words = parseWords(ll, start, escapeChar);
  const first = words[0];
  if (first === undefined) throw parseError(locAt(ll, start), `${kind} requires at least one argument`);
  if (!first.value.includes('=')) {
    const rest = ll.text.slice(first.offset + first.value.length).trim();
    if (rest === '') {
      throw parseError(locAt(ll, first.offset), `${kind} must have two arguments: ${kind} <key> <value> or ${kind} <key>=<value>`);
    }
    return [{ key: first.value, value: rest }];
  }
  return words.map((w) => {
    const eq = w.value.indexOf('=');
    if (eq < 0) throw parseError(locAt(ll, w.offset), `can't find = in "${w.value}": must be of the form ${kind} <key>=<value>`);
    if (eq === 0) throw parseError(locAt(ll, w.offset), `${kind} names can not be blank`);
    return { key: w.value.slice(0, eq), value: w.value.slice(eq + 1) };
  });
}

type HealthFields = Pick<
  Extract<Instruction, { kind: 'HEALTHCHECK' }>,
  'test' | 'interval' | 'timeout' | 'startPeriod' | 'startInterval' | 'retries'
>;

/** `HEALTHCHECK NONE` or `HEALTHCHECK [flags] CMD <command>`; flag values are checked here so errors get a line. */
function healthcheck(args: string, flags: InstructionFlag[], fail: (message: string) => never): HealthFields {
  const typeEnd = args.search(/\s|$/);
  const type = args.slice(0, typeEnd).toUpperCase();
  const rest = args.slice(typeEnd).trim();
  if (type === 'NONE') {
    if (rest !== '') fail('HEALTHCHECK NONE takes no arguments');
    return { test: 'NONE' };
  }
  if (type !== 'CMD') fail(`unknown type "${type}" in HEALTHCHECK (try CMD)`);
  if (rest === '') fail('missing command after HEALTHCHECK CMD');
  const test = commandForm(rest, 'HEALTHCHECK', fail);
  if (test.form === 'exec' && test.args.length === 0) fail('missing command after HEALTHCHECK CMD');
  const out: HealthFields = { test };
  const keys = { interval: 'interval', timeout: 'timeout', 'start-period': 'startPeriod', 'start-interval': 'startInterval' } as const;
  for (const flag of flags) {
    const value = flag.value as string;
    const fieldFail = (message: string): never => {
      throw parseError(flag.loc, message);
    };
    if (flag.name === 'retries') {
      if (!/^\d+$/.test(value)) fieldFail(`--retries must be a non-negative integer, not "${value}"`);
      out.retries = value;
      continue;
    }
    const ns = parseDuration(value);
    if (ns === undefined) fieldFail(`--${flag.name} must be a duration such as 30s or 1m30s, not "${value}"`);
    // Docker: 0 means "use the default"; anything else must be at least 1ms.
    if (ns !== undefined && ns !== 0 && ns < 1e6) fieldFail(`--${flag.name} cannot be less than 1ms`);
    out[keys[flag.name as keyof typeof keys]] = value;
  }
  return out;
}
