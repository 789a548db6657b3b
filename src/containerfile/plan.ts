// The stage graph: resolves each stage's base (an earlier stage, an image or scratch) with the global
// ARGs, finds which stages and images each stage reads through COPY --from, and keeps only the
// stages the target needs, dependencies first. Follows Docker: a name refers to a stage only when
// that stage comes earlier; otherwise it is an image reference.
import { TsbuildError } from '../errors.js';
import { expandWord } from './expand.js';
import type { InstructionFlag, ParsedContainerfile, SourceLocation, Stage } from './model.js';
import { parseError } from './words.js';

export type StageBase =
  | { kind: 'stage'; index: number }
  | { kind: 'image'; ref: string }
  | { kind: 'scratch' }
  /** A named build context (bud --build-context), by its key. */
  | { kind: 'context'; name: string };

export interface StagePlan {
  stage: Stage;
  /** Resolved base: another stage's index, an external image reference (after global-ARG expansion) or scratch. */
  base: StageBase;
  /** FROM --platform after global-ARG expansion, if given. */
  platform?: string;
  /** Stages this one reads via FROM or COPY --from, ascending. */
  dependsOn: number[];
  /** External images read via COPY --from=<image>, expanded, in first-use order. */
  externalImages: string[];
}

export interface BuildPlan {
  file: string;
  /** Only the stages needed for the target, dependencies first (ascending index). */
  stages: StagePlan[];
  /** Index of the final stage. */
  target: number;
  /** Every global ARG with its value: --build-arg, else the expanded default, else a builtin, else unset. */
  globalArgs: Map<string, string | undefined>;
}

export interface PlanOptions {
  /** Stage name (case-insensitive) to stop at; default the last stage. */
  target?: string;
  buildArgs: ReadonlyMap<string, string>;
  /**
   * Values usable in FROM without being declared, e.g. BUILDPLATFORM, TARGETPLATFORM, TARGETARCH.
   * A declared global ARG without a default takes its builtin value too.
   */
  builtinArgs?: ReadonlyMap<string, string>;
  /**
   * The named build context a FROM image or a stage name means, if any. A stage whose name has one
   * is replaced by it (BuildKit's precedence): its instructions are dropped and nothing it needs is built.
   */
  namedContext?: (ref: string) => string | undefined;
}

export function planBuild(parsed: ParsedContainerfile, opts: PlanOptions): BuildPlan {
  const globalArgs = resolveGlobalArgs(parsed, opts);
  const lookup = (name: string): string | undefined => (globalArgs.has(name) ? globalArgs.get(name) : opts.builtinArgs?.get(name));
  const expand = (word: string, loc: SourceLocation): string => expandWord(word, lookup, { escapeChar: parsed.escapeChar, loc });

  const earlierByName = new Map<string, number>();
  const plans: StagePlan[] = [];
  // Every stage is resolved, needed or not, so that a mistake anywhere in the file is reported (as Docker does).
  for (const stage of parsed.stages) {
    const from = stage.from;
    const image = expand(from.image, from.loc);
    if (image === '') throw parseError(from.loc, `base name (${from.image}) should not be blank`);
    const dependsOn = new Set<number>();
    const externalImages: string[] = [];
    let base: StageBase;
    const baseStage = earlierByName.get(image.toLowerCase());
    const replacement = stage.name === undefined ? undefined : opts.namedContext?.(stage.name);
    const baseContext = opts.namedContext?.(image);
    if (replacement !== undefined) {
      plans.push({ stage: { ...stage, instructions: [] }, base: { kind: 'context', name: replacement }, dependsOn: [], externalImages: [] });
      earlierByName.set(stage.name!, stage.index);
      continue;
    }
    if (baseStage !== undefined) {
      base = { kind: 'stage', index: baseStage };
      dependsOn.add(baseStage);
    } else if (image.toLowerCase() === 'scratch') {
      base = { kind: 'scratch' };
    } else if (baseContext !== undefined) {
      base = { kind: 'context', name: baseContext };
    } else {
      base = { kind: 'image', ref: image };
    }
    for (const instruction of stage.instructions) {
      if (instruction.kind !== 'COPY' && instruction.kind !== 'ADD') continue;
      const flag = instruction.flags.find((f) => f.name === 'from');
      if (flag?.value === undefined) continue;
      const source = resolveCopyFrom(flag, expand(flag.value, flag.loc), stage.index, earlierByName);
      if (typeof source === 'number') dependsOn.add(source);
      else if (!externalImages.includes(source)) externalImages.push(source);
    }
    const platform = from.platform === undefined ? undefined : expand(from.platform, from.loc);
    plans.push({
      stage,
      base,
      ...(platform !== undefined && { platform }),
      dependsOn: [...dependsOn].sort((a, b) => a - b),
      externalImages,
    });
    // Registered only after its own FROM and COPYs: a stage never refers to itself or a later stage.
    if (stage.name !== undefined) earlierByName.set(stage.name, stage.index);
  }

  const target = findTarget(parsed, opts.target);
  const needed = new Set<number>();
  const visit = (index: number): void => {
    if (needed.has(index)) return;
    needed.add(index);
    for (const dep of plans[index]?.dependsOn ?? []) visit(dep);
  };
  visit(target);
  return { file: parsed.file, stages: plans.filter((p) => needed.has(p.stage.index)), target, globalArgs };
}

/** A stage index for a stage reference, or the image reference to read from. */
function resolveCopyFrom(
  flag: InstructionFlag,
  value: string,
  current: number,
  earlierByName: ReadonlyMap<string, number>,
): number | string {
  if (value === '') throw parseError(flag.loc, `--from is empty (from "${flag.value ?? ''}")`);
  if (/^\d+$/.test(value)) {
    const index = Number(value);
    if (index >= current) {
      const detail = `this is stage ${current}; stages are numbered from 0`;
      throw parseError(flag.loc, `--from=${value} does not refer to an earlier stage (${detail})`);
    }
    return index;
  }
  return earlierByName.get(value.toLowerCase()) ?? value;
}

function findTarget(parsed: ParsedContainerfile, target: string | undefined): number {
  if (target === undefined) return parsed.stages.length - 1;
  const stage = parsed.stages.find((s) => s.name === target.toLowerCase());
  if (stage === undefined) {
    const names = parsed.stages.flatMap((s) => (s.name === undefined ? [] : [s.name]));
    throw new TsbuildError('INVALID_ARGUMENT', `${parsed.file}: target stage "${target}" not found`, {
      hint:
        names.length > 0
          ? `stages in ${parsed.file}: ${names.join(', ')}`
          : `no stage in ${parsed.file} has a name (FROM <image> AS <name>)`,
    });
  }
  return stage.index;
}

/**
 * Global ARG values in declaration order: a default may use earlier global ARGs; --build-arg wins over
 * the default; a declaration without either takes a builtin value (e.g. TARGETARCH) if there is one.
 */
function resolveGlobalArgs(parsed: ParsedContainerfile, opts: PlanOptions): Map<string, string | undefined> {
  const values = new Map<string, string | undefined>();
  const lookup = (name: string): string | undefined => (values.has(name) ? values.get(name) : opts.builtinArgs?.get(name));
  for (const instruction of parsed.globalArgs) {
    for (const arg of instruction.args) {
      let value: string | undefined;
      if (opts.buildArgs.has(arg.name)) {
        value = opts.buildArgs.get(arg.name);
      } else if (arg.defaultValue !== undefined) {
        value = expandWord(arg.defaultValue, lookup, { escapeChar: parsed.escapeChar, loc: instruction.loc });
      } else {
        value = opts.builtinArgs?.get(arg.name);
      }
      values.set(arg.name, value);
    }
  }
  return values;
}
