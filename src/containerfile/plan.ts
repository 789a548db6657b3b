// The stage graph: resolves each stage's base (an earlier stage, an image or scratch) with the global
// ARGs, finds which stages and images each stage reads through COPY --from, and keeps only the
// stages the target needs, dependencies first. Follows BuildKit: FROM <name> means a stage only when
// that stage comes earlier (otherwise it is an image), while COPY --from=<name|index> may name any
// stage, later ones included; a stage that ends up depending on itself is an error.
import { TsbuildError, withSourceExcerpt } from '../errors.js';
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
  /** Build every stage up to the target, needed or not (buildah's --skip-unused-stages=false). */
  allStages?: boolean;
}

export function planBuild(parsed: ParsedContainerfile, opts: PlanOptions): BuildPlan {
  try {
    return plan(parsed, opts);
  } catch (err) {
    throw withSourceExcerpt(err, parsed.file, parsed.lines);
  }
}

function plan(parsed: ParsedContainerfile, opts: PlanOptions): BuildPlan {
  const globalArgs = resolveGlobalArgs(parsed, opts);
  const lookup = (name: string): string | undefined => (globalArgs.has(name) ? globalArgs.get(name) : opts.builtinArgs?.get(name));
  const expand = (word: string, loc: SourceLocation): string => expandWord(word, lookup, { escapeChar: parsed.escapeChar, loc });

  const earlierByName = new Map<string, number>();
  const allByName = new Map(parsed.stages.flatMap((s) => (s.name === undefined ? [] : [[s.name, s.index] as const])));
  const plans: StagePlan[] = [];
  /** Where each stage-to-stage edge comes from (a FROM or a COPY --from), for the cycle error. */
  const edges = new Map<string, SourceLocation>();
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
      edges.set(`${stage.index}>${baseStage}`, from.loc);
    } else if (image.toLowerCase() === 'scratch') {
      base = { kind: 'scratch' };
    } else if (baseContext !== undefined) {
      base = { kind: 'context', name: baseContext };
    } else {
      base = { kind: 'image', ref: image };
    }
    for (const instruction of stage.instructions) {
      if (instruction.kind !== 'COPY' && instruction.kind !== 'ADD' && instruction.kind !== 'RUN') continue;
      const froms = instruction.kind === 'RUN' ? runMountFroms(instruction.flags) : instruction.flags.filter((f) => f.name === 'from');
      for (const flag of froms) {
        if (flag.value === undefined) continue;
        const source = resolveCopyFrom(flag, expand(flag.value, flag.loc), parsed.stages.length, allByName);
        if (typeof source === 'number') {
          dependsOn.add(source);
          if (!edges.has(`${stage.index}>${source}`)) edges.set(`${stage.index}>${source}`, flag.loc);
        } else if (!externalImages.includes(source)) externalImages.push(source);
      }
    }
    const platform = from.platform === undefined ? undefined : expand(from.platform, from.loc);
    plans.push({
      stage,
      base,
      ...(platform !== undefined && { platform }),
      dependsOn: [...dependsOn].sort((a, b) => a - b),
      externalImages,
    });
    // Registered only after its own FROM: a FROM never names itself or a later stage.
    if (stage.name !== undefined) earlierByName.set(stage.name, stage.index);
  }
  checkCycles(plans, edges);

  const target = findTarget(parsed, opts.target);
  const needed = new Set<number>();
  const collect = (index: number): void => {
    if (needed.has(index)) return;
    needed.add(index);
    for (const dep of plans[index]?.dependsOn ?? []) collect(dep);
  };
  collect(target);
  if (opts.allStages) for (let i = 0; i < target; i++) collect(i);
  // Dependencies first; stages in file order where the graph leaves a choice.
  const ordered: StagePlan[] = [];
  const placed = new Set<number>();
  const place = (index: number): void => {
    if (placed.has(index)) return;
    placed.add(index);
    for (const dep of plans[index]?.dependsOn ?? []) place(dep);
    ordered.push(plans[index] as StagePlan);
  };
  for (const p of plans) if (needed.has(p.stage.index)) place(p.stage.index);
  return { file: parsed.file, stages: ordered, target, globalArgs };
}

/**
 * The from= values of RUN --mount flags, as flags of their own, so that the stages they name are
 * built first. Only the from= field is read here; src/build/run-mounts/parse.ts parses the rest.
 */
function runMountFroms(flags: readonly InstructionFlag[]): InstructionFlag[] {
  return flags
    .filter((f) => f.name === 'mount' && f.value !== undefined)
    .flatMap((f) => f.value!.split(',').flatMap((field) => (/^from=/i.test(field.trim()) ? [{ ...f, name: 'from', value: field.trim().slice(5) }] : [])));
}

/**
 * BuildKit's check: a depth-first walk from each stage in file order; the first stage found on a
 * cycle is named, and the error points at the COPY --from (or FROM) that closes it.
 */
function checkCycles(plans: readonly StagePlan[], edges: ReadonlyMap<string, SourceLocation>): void {
  const visited = new Set<number>();
  const onPath = new Set<number>();
  const visit = (index: number): SourceLocation | undefined => {
    if (visited.has(index)) return undefined;
    visited.add(index);
    onPath.add(index);
    for (const dep of plans[index]?.dependsOn ?? []) {
      if (onPath.has(dep)) return edges.get(`${index}>${dep}`);
      const found = visit(dep);
      if (found) return found;
    }
    onPath.delete(index);
    return undefined;
  };
  for (const p of plans) {
    const at = visit(p.stage.index);
    if (at) throw parseError(at, `circular dependency detected on stage: ${p.stage.name ?? `stage-${p.stage.index}`}`, 'INVALID_ARGUMENT');
  }
}

/** A stage index for a stage reference (a name or an index), or the image reference to read from. */
function resolveCopyFrom(flag: InstructionFlag, value: string, stageCount: number, byName: ReadonlyMap<string, number>): number | string {
  if (value === '') throw parseError(flag.loc, `--from is empty (from "${flag.value ?? ''}")`);
  if (/^\d+$/.test(value)) {
    const index = Number(value);
    if (index >= stageCount) {
      const range = stageCount === 1 ? 'the only stage is 0' : `stages are numbered 0 to ${stageCount - 1}`;
      throw parseError(flag.loc, `--from=${value}: there is no stage ${index} (${range})`, 'INVALID_ARGUMENT');
    }
    return index;
  }
  return byName.get(value.toLowerCase()) ?? value;
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
