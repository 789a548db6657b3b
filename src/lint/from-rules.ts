// Checks of the FROM lines, which expand with the global ARGs only: UndefinedArgInFrom,
// InvalidDefaultArgInFrom, RedundantTargetPlatform and FromPlatformFlagConstDisallowed. Also works
// out what the stages need: the global ARG values and each stage's base.
import { platformArgs } from '../build/stage-state.js';
import type { ParsedContainerfile, SourceLocation, Stage, StageBase } from '../containerfile/index.js';
import { parseReference } from '../remote/reference.js';
import { expandTracked, suggest, type Expansion } from './expansion.js';
import { parsePlatform } from './platform.js';
import { MESSAGES } from './rules.js';
import type { Report } from './report.js';

export interface FromLines {
  /** The global ARG values (and the automatic platform ARGs) that stage ARGs may take over. */
  globals: Map<string, string>;
  bases: Map<number, StageBase>;
}

export function checkFromLines(
  parsed: ParsedContainerfile,
  options: { buildArgs: ReadonlyMap<string, string>; target?: string },
  report: Report,
): FromLines {
  const esc = parsed.escapeChar;
  const builtins = new Map(platformArgs());
  const lastName = parsed.stages[parsed.stages.length - 1]?.name ?? '';
  for (const [k, v] of [['TARGETSTAGE', options.target ?? lastName], ['BUILDOSVERSION', ''], ['TARGETOSVERSION', '']] as const) builtins.set(k, v);
  for (const key of builtins.keys()) {
    const override = options.buildArgs.get(key);
    if (override !== undefined) builtins.set(key, override);
  }

  checkDefaultBaseNames(parsed, builtins, report);

  // buildkit's buildMetaArgs: builtins, then each global ARG's --build-arg or expanded default.
  const globals = new Map(builtins);
  const declaredGlobals = new Set<string>();
  for (const instruction of parsed.globalArgs) {
    for (const arg of instruction.args) {
      declaredGlobals.add(arg.name);
      const value = options.buildArgs.get(arg.name) ?? (arg.defaultValue === undefined ? undefined : tryExpand(arg.defaultValue, globals, esc, instruction.loc));
      if (value !== undefined) globals.set(arg.name, value);
    }
  }
  const fromKeys = new Set([...declaredGlobals, ...globals.keys()]);

  const bases = new Map<number, StageBase>();
  const earlier = new Map<string, number>();
  for (const stage of parsed.stages) {
    const from = stage.from;
    const image = checkFromWord(from.image, from, globals, fromKeys, esc, report);
    if (from.platform !== undefined) {
      const platform = checkFromWord(from.platform, from, globals, fromKeys, esc, report);
      if (platform) checkPlatformFlag(stage, platform, globals, report);
    }
    const value = image?.value ?? from.image;
    const baseIndex = earlier.get(value.toLowerCase());
    bases.set(
      stage.index,
      baseIndex !== undefined ? { kind: 'stage', index: baseIndex } : value.toLowerCase() === 'scratch' ? { kind: 'scratch' } : { kind: 'image', ref: value },
    );
    // As in BuildKit (and plan.ts), a later stage of the same name takes it over from here on.
    if (stage.name !== undefined) earlier.set(stage.name, stage.index);
  }
  return { globals, bases };
}

function tryExpand(word: string, vars: ReadonlyMap<string, string>, escapeChar: string, loc: SourceLocation): string | undefined {
  try {
    return expandTracked(word, vars, escapeChar, loc).value;
  } catch {
    // A malformed substitution is the build's error to report, with its own message.
    return undefined;
  }
}

/** UndefinedArgInFrom for one FROM word (the image or --platform); the expansion, or undefined if it failed. */
function checkFromWord(
  word: string,
  from: Stage['from'],
  globals: ReadonlyMap<string, string>,
  fromKeys: ReadonlySet<string>,
  esc: string,
  report: Report,
): Expansion | undefined {
  let expansion: Expansion;
  try {
    expansion = expandTracked(word, globals, esc, from.loc);
  } catch {
    return undefined;
  }
  for (const name of expansion.unmatched) {
    if (!fromKeys.has(name)) report('UndefinedArgInFrom', from.loc, MESSAGES.UndefinedArgInFrom(name, suggest(name, fromKeys)));
  }
  return expansion;
}

/** InvalidDefaultArgInFrom: with no --build-arg at all, every FROM must still name a valid image. */
function checkDefaultBaseNames(parsed: ParsedContainerfile, builtins: ReadonlyMap<string, string>, report: Report): void {
  const defaults = new Map(builtins);
  try {
    for (const instruction of parsed.globalArgs) {
      for (const arg of instruction.args) {
        if (arg.defaultValue !== undefined) defaults.set(arg.name, expandTracked(arg.defaultValue, defaults, parsed.escapeChar, instruction.loc).value);
      }
    }
    for (const stage of parsed.stages) {
      const name = expandTracked(stage.from.image, defaults, parsed.escapeChar, stage.from.loc).value;
      try {
        parseReference(name);
      } catch {
        report('InvalidDefaultArgInFrom', stage.from.loc, MESSAGES.InvalidDefaultArgInFrom(stage.from.image));
      }
    }
  } catch {
    // The build fails on this expansion anyway, with a better message than a lint warning.
  }
}

function checkPlatformFlag(stage: Stage, platform: Expansion, globals: ReadonlyMap<string, string>, report: Report): void {
  const loc = stage.from.loc;
  const raw = stage.from.platform!;
  if (platform.matched.size === 1 && platform.unmatched.size === 0 && platform.matched.has('TARGETPLATFORM')) {
    if (platform.value === globals.get('TARGETPLATFORM')) report('RedundantTargetPlatform', loc, MESSAGES.RedundantTargetPlatform(raw));
  }
  if (platform.matched.size > 0 || platform.unmatched.size > 0) return;
  const parsed = parsePlatform(platform.value);
  if (!parsed) return;
  // A stage named after its platform (FROM --platform=linux/arm64 ... AS build-arm64) means it.
  const name = stage.name ?? '';
  if (name.includes(parsed.os) || name.includes(parsed.architecture)) return;
  report('FromPlatformFlagConstDisallowed', loc, MESSAGES.FromPlatformFlagConstDisallowed(platform.value));
}
