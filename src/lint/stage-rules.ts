// Checks that need the build's variables: each stage is walked the way BuildKit's dispatcher walks it
// (ENV and ARG values in scope, ARGs declared, SHELL set, WORKDIR set, inherited from a base stage),
// without running or copying anything (the FROM lines are from-rules.ts's).
//
// A base image's config (its ENV and SHELL) comes from `baseImage` when the caller can read it
// (tsbuild looks in local storage); when it cannot, UndefinedVar stays quiet for that stage rather
// than guess, since base images commonly define variables (GOPATH, JAVA_HOME, ...).
import path from 'node:path';
import type { IgnoreRules } from '../build/context/index.js';
import { platformArgs } from '../build/stage-state.js';
import {
  expandWords,
  flagValue,
  flagValues,
  planBuild,
  type Instruction,
  type ParsedContainerfile,
  type SourceLocation,
  type Stage,
  type StageBase,
} from '../containerfile/index.js';
import { DEFAULT_PATH, hostPlatform } from '../oci/types.js';
import { expandTracked, suggest, type Expansion } from './expansion.js';
import { checkFromLines } from './from-rules.js';
import { MESSAGES } from './rules.js';
import type { Report } from './report.js';
import { keywordOf } from './syntax-rules.js';

export interface BaseImageInfo {
  env: readonly string[];
  shell?: readonly string[];
  os?: string;
  architecture?: string;
  variant?: string;
}

/** The config of an image named by FROM, or undefined when it is not at hand. */
export type BaseImageLookup = (ref: string) => Promise<BaseImageInfo | undefined>;

export interface StageCheckOptions {
  buildArgs: ReadonlyMap<string, string>;
  /** Only the stages the target needs are walked; without one, all of them (as BuildKit's lint) ... */
  target?: string;
  /** ... unless this is false (a build): then the stages the last one needs. */
  allStages?: boolean;
  /** For CopyIgnoredFile. */
  ignore?: IgnoreRules;
  baseImage?: BaseImageLookup;
}

/** buildkit's nonEnvArgs: build arguments that configure BuildKit and never become variables. */
const NON_ENV_ARGS = new Set(['BUILDKIT_SBOM_SCAN_CONTEXT', 'BUILDKIT_SBOM_SCAN_STAGE']);
// Whole words of a name (split at "_"): API_KEY, DB_PASSWORD, GITHUB_TOKEN; "public" makes it harmless.
const SECRET_RE = /(?:_|^)(?:apikey|auth|credential|credentials|key|password|pword|passwd|secret|token)(?:_|$)/i;
const SECRET_ALLOW_RE = /(?:_|^)(?:public)(?:_|$)/i;

interface Scope {
  /** What expansion sees: ENV values and ARG values. */
  env: Map<string, string>;
  /** ARG names declared in this stage or its base stages, with or without a value. */
  declared: Set<string>;
  shellSet: boolean;
  workdirSet: boolean;
  /** False when the base image's ENV is unknown. */
  envKnown: boolean;
}

export async function checkStages(parsed: ParsedContainerfile, options: StageCheckOptions, report: Report): Promise<void> {
  const { globals, bases } = checkFromLines(parsed, options, report);
  // The plan also checks the stage graph as a build would (unknown target, cycles, bad --from).
  const plan = planBuild(parsed, { target: options.target, buildArgs: options.buildArgs, builtinArgs: platformArgs() });
  const walk = options.target === undefined && (options.allStages ?? true) ? undefined : new Set(plan.stages.map((p) => p.stage.index));
  const scopes = new Map<number, Scope>();
  for (const stage of parsed.stages) {
    if (walk && !walk.has(stage.index)) continue;
    const scope = await initialScope(stage, bases.get(stage.index)!, scopes, options.baseImage, report);
    walkStage(stage, scope, globals, options, parsed.escapeChar, report);
    scopes.set(stage.index, scope);
  }
}

async function initialScope(
  stage: Stage,
  base: StageBase,
  scopes: ReadonlyMap<number, Scope>,
  lookup: BaseImageLookup | undefined,
  report: Report,
): Promise<Scope> {
  if (base.kind === 'stage') {
    const parent = scopes.get(base.index);
    if (parent) return { ...parent, env: new Map(parent.env), declared: new Set(parent.declared) };
  }
  // (A base stage is always walked before the stages built on it; not knowing it means knowing nothing.)
  const scope: Scope = { env: new Map(), declared: new Set(), shellSet: false, workdirSet: false, envKnown: base.kind === 'scratch' };
  if (base.kind === 'image') {
    const info = await lookup?.(base.ref);
    if (info) {
      for (const entry of info.env) {
        const eq = entry.indexOf('=');
        scope.env.set(eq < 0 ? entry : entry.slice(0, eq), eq < 0 ? '' : entry.slice(eq + 1));
      }
      scope.shellSet = (info.shell?.length ?? 0) > 0;
      scope.envKnown = true;
      checkBasePlatform(stage, base.ref, info, report);
    }
  }
  // BuildKit makes sure PATH is always set.
  if (!scope.env.has('PATH')) scope.env.set('PATH', DEFAULT_PATH);
  return scope;
}

function checkBasePlatform(stage: Stage, ref: string, info: BaseImageInfo, report: Report): void {
  const host = hostPlatform();
  if (info.os === undefined || info.architecture === undefined) return;
  if (info.os === host.os && info.architecture === host.architecture) return;
  const actual = [info.os, info.architecture, info.variant].filter(Boolean).join('/');
  report('InvalidBaseImagePlatform', stage.from.loc, MESSAGES.InvalidBaseImagePlatform(ref, `${host.os}/${host.architecture}`, actual));
}

function walkStage(
  stage: Stage,
  scope: Scope,
  globals: ReadonlyMap<string, string>,
  options: StageCheckOptions,
  esc: string,
  report: Report,
): void {
  const once = new Map<string, Instruction>();
  /** Expands one word as the dispatcher would, reporting variables that are neither set nor declared. */
  const expand = (word: string, loc: SourceLocation): string | undefined => {
    let expansion: Expansion;
    try {
      expansion = expandTracked(word, scope.env, esc, loc);
    } catch {
      return undefined;
    }
    if (scope.envKnown) {
      for (const name of expansion.unmatched) {
        if (scope.declared.has(name) || NON_ENV_ARGS.has(name)) continue;
        report('UndefinedVar', loc, MESSAGES.UndefinedVar(name, suggest(name, scope.env.keys())));
      }
    }
    return expansion.value;
  };
  const secret = (kind: 'ARG' | 'ENV', key: string, loc: SourceLocation): void => {
    if (SECRET_RE.test(key) && !SECRET_ALLOW_RE.test(key)) report('SecretsUsedInArgOrEnv', loc, MESSAGES.SecretsUsedInArgOrEnv(kind, key));
  };

  for (const instruction of stage.instructions) {
    const loc = instruction.loc;
    const keyword = keywordOf(instruction);
    switch (instruction.kind) {
      case 'ENV':
      case 'LABEL': {
        if (isLegacyKeyValue(instruction.text, instruction.pairs[0]?.key ?? '')) {
          report('LegacyKeyValueFormat', loc, MESSAGES.LegacyKeyValueFormat(keyword));
        }
        // Every word expands before any is set: `ENV A=1 B=$A` reads the old A, as in Docker.
        const pairs = instruction.pairs.map((p) => ({ key: expand(p.key, loc), value: expand(p.value, loc) }));
        if (instruction.kind === 'ENV') {
          for (const { key, value } of pairs) {
            if (key === undefined) continue;
            secret('ENV', key, loc);
            scope.env.set(key, value ?? '');
          }
        }
        break;
      }
      case 'ARG':
        for (const arg of instruction.args) {
          secret('ARG', arg.name, loc);
          let value = options.buildArgs.get(arg.name);
          if (value === undefined && arg.defaultValue !== undefined) value = expand(arg.defaultValue, loc);
          else if (value === undefined) value = globals.get(arg.name);
          if (value !== undefined && !NON_ENV_ARGS.has(arg.name)) scope.env.set(arg.name, value);
          scope.declared.add(arg.name);
        }
        break;
      case 'COPY':
      case 'ADD': {
        for (const name of ['chown', 'chmod']) {
          const value = flagValue(instruction, name);
          if (value !== undefined) expand(value, loc);
        }
        const fromContext = instruction.kind === 'ADD' || flagValue(instruction, 'from') === undefined;
        for (const source of instruction.sources) {
          const value = expand(source, loc);
          if (value === undefined || !fromContext || !options.ignore || isRemoteOrInline(value)) continue;
          const rel = path.posix.normalize(value.replace(/^\/+/, ''));
          if (rel !== '.' && options.ignore.ignores(rel)) {
            report('CopyIgnoredFile', loc, MESSAGES.CopyIgnoredFile(instruction.kind === 'ADD' ? 'Add' : 'Copy', value));
          }
        }
        expand(instruction.dest, loc);
        break;
      }
      case 'WORKDIR': {
        const dir = expand(instruction.path, loc);
        // Only the first WORKDIR of the build counts: fixing it fixes the relative ones after it.
        if (dir !== undefined && !scope.workdirSet && !dir.startsWith('/')) report('WorkdirRelativePath', loc, MESSAGES.WorkdirRelativePath(dir));
        scope.workdirSet = true;
        break;
      }
      case 'RUN':
        for (const mount of flagValues(instruction, 'mount')) expand(mount, loc);
        break;
      case 'USER':
        expand(instruction.user, loc);
        break;
      case 'STOPSIGNAL':
        expand(instruction.signal, loc);
        break;
      case 'VOLUME':
        for (const p of instruction.paths) expand(p, loc);
        break;
      case 'EXPOSE':
        for (const raw of instruction.ports) checkExpose(raw, scope.env, esc, loc, report);
        break;
      case 'SHELL':
        scope.shellSet = true;
        break;
      case 'CMD':
      case 'ENTRYPOINT':
      case 'HEALTHCHECK': {
        const previous = once.get(instruction.kind);
        // Reported where the instruction is that will be ignored: the earlier one.
        if (previous) report('MultipleInstructionsDisallowed', previous.loc, MESSAGES.MultipleInstructionsDisallowed(keyword));
        once.set(instruction.kind, instruction);
        if (instruction.kind !== 'HEALTHCHECK' && instruction.command.form === 'shell' && !scope.shellSet) {
          report('JSONArgsRecommended', loc, MESSAGES.JSONArgsRecommended(keyword));
        }
        break;
      }
      default:
        break;
    }
  }
}

/** `ENV key value`: the first word has no `=` (the parser read the rest of the line as its value). */
function isLegacyKeyValue(text: string, firstKey: string): boolean {
  const args = text.replace(/^\S+\s+/, '');
  return !args.startsWith(`${firstKey}=`);
}

function isRemoteOrInline(source: string): boolean {
  return /^(https?|git):\/\//.test(source) || source.startsWith('git@') || source.startsWith('<<');
}

/** ExposeProtoCasing and ExposeInvalidFormat for one EXPOSE word (which may expand to several ports). */
function checkExpose(raw: string, env: ReadonlyMap<string, string>, esc: string, loc: SourceLocation, report: Report): void {
  let ports: string[];
  try {
    ports = expandWords(raw, (name) => env.get(name), { escapeChar: esc, loc });
  } catch {
    return;
  }
  for (const port of ports) {
    const slash = port.lastIndexOf('/');
    const proto = slash < 0 ? '' : port.slice(slash + 1);
    if (proto !== proto.toLowerCase()) report('ExposeProtoCasing', loc, MESSAGES.ExposeProtoCasing(port));
    // buildkit's splitParts: [ip:]hostPort:containerPort, split at every ":" (an IPv6 address too).
    const parts = port.split(':');
    const hostPort = parts.length >= 2 ? parts[parts.length - 2] : '';
    const ip = parts.slice(0, -2).join(':');
    if (ip !== '' || hostPort !== '') report('ExposeInvalidFormat', loc, MESSAGES.ExposeInvalidFormat(port));
  }
}
