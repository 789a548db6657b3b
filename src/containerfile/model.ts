// The typed instruction model of a parsed Containerfile. Values are kept raw (unexpanded, quotes and
// escapes intact) because expansion depends on build state (ARG/ENV values at that step) that only the
// executor knows; see expand.ts for which instructions expand which fields.
import type { Heredoc } from './heredoc.js';

export type { Heredoc } from './heredoc.js';

export interface SourceLocation {
  file: string;
  /** 1-based */
  line: number;
  /** 1-based, in UTF-16 code units */
  column: number;
}

export interface InstructionFlag {
  /** Without the leading `--`, e.g. `from`. */
  name: string;
  /** Quotes removed; undefined for a bare boolean flag such as `--link`. */
  value: string | undefined;
  loc: SourceLocation;
}

interface Base {
  /** Where the instruction keyword is (the first line of a continued instruction). */
  loc: SourceLocation;
  /** 1-based last line of the instruction, continuation lines included. */
  endLine: number;
  /** The source text joined into one line, e.g. `RUN echo hi`: used for history created_by and error messages. */
  text: string;
  /** Every `--name[=value]` flag, in source order; repeatable flags (--mount, --exclude) appear once per use. */
  flags: InstructionFlag[];
}

export type CommandForm = { form: 'exec'; args: string[] } | { form: 'shell'; command: string };

export type FromInstruction = Base & {
  kind: 'FROM';
  /** Raw, unexpanded (global ARGs apply, see plan.ts). */
  image: string;
  /** As written after AS; Stage.name holds the lower-cased form used for lookups. */
  stageName?: string;
  /** Raw value of --platform. */
  platform?: string;
};
export type RunInstruction = Base & {
  kind: 'RUN';
  /** For heredocs, the shell form holds the line as written (`<<EOF python3`); the bodies are in `heredocs`. */
  command: CommandForm;
  /** The heredocs the line opens, in order (shell form only). */
  heredocs?: Heredoc[];
};
/** Raw words, unexpanded; the exec (JSON array) form is already decoded. */
export type CopyInstruction = Base & {
  kind: 'COPY' | 'ADD';
  /** Path sources (heredoc words are not among them). */
  sources: string[];
  dest: string;
  /** Sources given inline (`COPY <<EOF /file`): each becomes a file named after its delimiter. */
  heredocs?: Heredoc[];
};
export interface KeyValue {
  key: string;
  /** Raw: quotes and escapes are removed by expandWord. */
  value: string;
}
export type EnvInstruction = Base & { kind: 'ENV'; pairs: KeyValue[] };
export interface ArgDeclaration {
  name: string;
  /** Raw; undefined when declared without `=`. */
  defaultValue?: string;
}
export type ArgInstruction = Base & { kind: 'ARG'; args: ArgDeclaration[] };
export type WorkdirInstruction = Base & { kind: 'WORKDIR'; path: string };
export type UserInstruction = Base & { kind: 'USER'; user: string };
export type LabelInstruction = Base & { kind: 'LABEL'; pairs: KeyValue[] };
/** Raw whitespace-separated words; each may expand to several ports (expandWords). */
export type ExposeInstruction = Base & { kind: 'EXPOSE'; ports: string[] };
export type VolumeInstruction = Base & { kind: 'VOLUME'; paths: string[] };
export type CmdInstruction = Base & { kind: 'CMD'; command: CommandForm };
export type EntrypointInstruction = Base & { kind: 'ENTRYPOINT'; command: CommandForm };
export type ShellInstruction = Base & { kind: 'SHELL'; shell: string[] };
export type StopsignalInstruction = Base & { kind: 'STOPSIGNAL'; signal: string };
export type HealthcheckInstruction = Base & {
  kind: 'HEALTHCHECK';
  test: CommandForm | 'NONE';
  /** Raw flag values, already checked to be valid Go durations (see parseDuration) / a non-negative integer. */
  interval?: string;
  timeout?: string;
  startPeriod?: string;
  startInterval?: string;
  retries?: string;
};
export type OnbuildInstruction = Base & {
  kind: 'ONBUILD';
  /** The parsed inner instruction; never ONBUILD, FROM or MAINTAINER. */
  trigger: Instruction;
  /** The trigger as stored in the image config's OnBuild list, e.g. `RUN echo x`. */
  triggerText: string;
};
export type MaintainerInstruction = Base & { kind: 'MAINTAINER'; name: string };

export type Instruction =
  | FromInstruction
  | RunInstruction
  | CopyInstruction
  | EnvInstruction
  | ArgInstruction
  | WorkdirInstruction
  | UserInstruction
  | LabelInstruction
  | ExposeInstruction
  | VolumeInstruction
  | CmdInstruction
  | EntrypointInstruction
  | ShellInstruction
  | StopsignalInstruction
  | HealthcheckInstruction
  | OnbuildInstruction
  | MaintainerInstruction;

export type InstructionKind = Instruction['kind'];

export const INSTRUCTION_KINDS: readonly InstructionKind[] = [
  'FROM', 'RUN', 'COPY', 'ADD', 'ENV', 'ARG', 'WORKDIR', 'USER', 'LABEL', 'EXPOSE', 'VOLUME', 'CMD',
  'ENTRYPOINT', 'SHELL', 'STOPSIGNAL', 'HEALTHCHECK', 'ONBUILD', 'MAINTAINER',
];

export interface Stage {
  index: number;
  /** Lower-cased: stage names are case-insensitive. */
  name?: string;
  from: FromInstruction;
  /** The instructions after FROM, up to the next FROM. */
  instructions: Instruction[];
}

/** `# check=skip=A,B;error=true`, for `tsbuild lint` (BuildKit's ParseLintOptions). */
export interface CheckDirective {
  /** Rule names to skip; empty with skipAll. */
  skip: string[];
  skipAll: boolean;
  /** Whether lint warnings fail the build. */
  error: boolean;
  /** `experimental=A,B|all`: experimental rules to run (set only when given). */
  experimental?: string[];
  experimentalAll?: boolean;
}

/** The parser directives at the top of the file (BuildKit: syntax, escape, check). */
export interface Directives {
  /** The frontend image a `# syntax=` names; tsbuild has one built-in frontend and ignores it. */
  syntax?: string;
  escape?: string;
  check?: CheckDirective;
}

export interface ParsedContainerfile {
  file: string;
  escapeChar: string;
  directives: Directives;
  /** The source lines (BOM removed), for error excerpts. */
  lines: readonly string[];
  /** ARGs before the first FROM: the only variables FROM lines may use. */
  globalArgs: ArgInstruction[];
  stages: Stage[];
}

/**
 * Where a raw word of an instruction starts, for expansion errors: exact for an instruction on one
 * line, the keyword otherwise (continued lines do not map back by offset).
 */
export function wordLoc(instruction: { loc: SourceLocation; endLine: number; text: string }, raw: string): SourceLocation {
  const at = instruction.text.indexOf(raw);
  if (instruction.endLine !== instruction.loc.line || at < 0 || raw === '') return instruction.loc;
  return { ...instruction.loc, column: instruction.loc.column + at };
}

/** The value of the first flag with this name (undefined if absent or bare). */
export function flagValue(instruction: { flags: InstructionFlag[] }, name: string): string | undefined {
  return instruction.flags.find((f) => f.name === name)?.value;
}

/** Every value of a repeatable flag (--mount, --exclude), in order. */
export function flagValues(instruction: { flags: InstructionFlag[] }, name: string): string[] {
  return instruction.flags.filter((f) => f.name === name && f.value !== undefined).map((f) => f.value as string);
}

/** Whether a boolean flag (--link, --parents, ...) is on: bare or `=true`. */
export function flagEnabled(instruction: { flags: InstructionFlag[] }, name: string): boolean {
  const flag = instruction.flags.find((f) => f.name === name);
  return flag !== undefined && (flag.value === undefined || flag.value.toLowerCase() === 'true');
}
