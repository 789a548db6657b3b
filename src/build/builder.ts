// The build driver: parse, plan, then run each needed stage's steps in dependency order. Every step
// derives a cache key from its parent's; RUN and COPY/ADD consult the cache before doing any work.
// Only the final image gets names; a failure leaves earlier layers as cache and tags nothing.
import path from 'node:path';
import { loadIgnoreRules, openFileDigestMemo } from './context/index.js';
import { parseContainerfile, parseInstructionLine, planBuild, type Instruction, type SourceLocation, type StagePlan } from '../containerfile/index.js';
import { TsbuildError, withSourceExcerpt } from '../errors.js';
import { commitImage, loadImage } from '../image/image.js';
import { normalizeImageName } from '../image/names.js';
import { hostPlatform, sha256Digest, shortId } from '../oci/types.js';
import type { ContainerRuntime } from '../runtime/index.js';
import type { Stores } from '../store/root.js';
import { findBuildImage } from './base-image.js';
import { openBuildCache } from './cache.js';
import { runInstruction } from './instructions.js';
import { findNamedContext, namedContextState, releaseNamedSources } from './named-context.js';
import { exportRootfs } from './output.js';
import type { BuildOptions, BuildResult, BuildSession } from './session.js';
import type { StageFlags } from './steps/metadata.js';
import { cloneConfig, emptyConfig, platformArgs, type StageState } from './stage-state.js';

export type { BuildOptions, BuildResult } from './session.js';

export async function build(stores: Stores, runtime: ContainerRuntime, options: BuildOptions): Promise<BuildResult> {
  // A bad -t is the user's typo: say so before building anything, not after the last step.
  for (const tag of options.tags) normalizeImageName(tag);
  const parsed = parseContainerfile(options.containerfile.text, options.containerfile.file);
  if (parsed.directives.syntax !== undefined) {
    options.stderr.write(`[Warning] ${parsed.file}: ignoring "# syntax=${parsed.directives.syntax}": tsbuild builds with its own Dockerfile frontend\n`);
  }
  // The automatic platform ARGs are usable in FROM lines without a declaration (BuildKit, buildah).
  const plan = planBuild(parsed, {
    target: options.target,
    buildArgs: options.buildArgs,
    builtinArgs: platformArgs(),
    namedContext: (ref) => findNamedContext(options.buildContexts, ref),
  });
  const memo = await openFileDigestMemo(path.join(stores.layout.cache, 'file-digests.json'));
  const session: BuildSession = {
    stores,
    runtime,
    options,
    cache: openBuildCache(stores, options),
    ignore: await loadIgnoreRules(options.contextDir, { ignorefile: options.ignorefile }),
    memo,
    stageResults: new Map(),
    escapeChar: parsed.escapeChar,
    stageNames: new Map(parsed.stages.flatMap((s) => (s.name ? [[s.name, s.index] as const] : []))),
    consumedArgs: new Set(),
    globalArgs: plan.globalArgs,
    step: 0,
    totalSteps: plan.stages.reduce((n, s) => n + 1 + s.stage.instructions.length, 0),
    stageCount: plan.stages.length,
    pulls: new Map(),
    log: (line) => {
      if (!options.quiet) options.stdout.write(`${line}\n`);
    },
  };
  try {
    for (const stagePlan of plan.stages) {
      session.stageResults.set(stagePlan.stage.index, await buildStage(session, stagePlan));
    }
  } catch (err) {
    throw withSourceExcerpt(err, parsed.file, parsed.lines);
  } finally {
    await memo.save().catch(() => undefined);
    await releaseNamedSources(session);
    await session.cache?.close?.();
  }
  warnUnusedArgs(session);

  const final = session.stageResults.get(plan.target)!;
  const config = cloneConfig(final.config);
  if (Object.keys(options.labels).length > 0) config.config.Labels = { ...config.config.Labels, ...options.labels };
  config.rootfs = { type: 'layers', diff_ids: final.layers.map((l) => l.diffId) };
  config.created = final.created;
  const image = await commitImage(stores, { config, layers: final.layers }, { format: options.format, names: options.tags });
  if (options.output) await exportRootfs(stores, final.layers, options.output);
  session.log(`COMMIT ${options.tags.join(', ')}`.trimEnd());
  session.log(`--> ${shortId(image.id)}`);
  for (const name of image.names) session.log(`Successfully tagged ${name}`);
  options.stdout.write(`${image.id.replace(/^sha256:/, '')}\n`);
  return { image };
}

async function buildStage(session: BuildSession, plan: StagePlan): Promise<StageState> {
  const { stage } = plan;
  const where = (loc: SourceLocation): string => `${loc.file}:${loc.line}`;
  stepLine(session, plan, stage.from.text);
  checkPlatform(plan);
  let state = await baseState(session, plan);
  const flags: StageFlags = { cmdSet: false };

  const instructions: Instruction[] = [];
  for (const trigger of state.config.config.OnBuild ?? []) {
    instructions.push(parseInstructionLine(trigger, `ONBUILD trigger of ${stage.from.image}`, 1));
  }
  if (state.config.config.OnBuild?.length) state.config.config.OnBuild = null;
  const triggerCount = instructions.length;
  instructions.push(...stage.instructions);

  for (const [i, instruction] of instructions.entries()) {
    if (i >= triggerCount) stepLine(session, plan, instruction.text);
    else session.log(`--> Running ONBUILD trigger: ${instruction.text}`);
    state = await runInstruction(session, state, instruction, where(instruction.loc), flags);
  }
  return state;
}

/**
 * FROM --platform may only name the host's platform: there is no emulation and no pull of another
 * platform's image, and building the host's image under another platform's name would be a lie.
 */
function checkPlatform(plan: StagePlan): void {
  if (plan.platform === undefined) return;
  const host = hostPlatform();
  const [os, arch, variant] = plan.platform.toLowerCase().split('/');
  const archAliases: Record<string, string> = { x86_64: 'amd64', aarch64: 'arm64' };
  const matches = os === host.os && (arch === undefined || (archAliases[arch] ?? arch) === host.architecture) && (variant === undefined || variant === '');
  if (!matches) {
    const loc = plan.stage.from.loc;
    throw new TsbuildError('INVALID_ARGUMENT', `${loc.file}:${loc.line}: FROM --platform=${plan.platform}: only the host platform (${host.os}/${host.architecture}) can be built`);
  }
}

async function baseState(session: BuildSession, plan: StagePlan): Promise<StageState> {
  const { stores } = session;
  const base = plan.base;
  if (base.kind === 'scratch') {
    return { config: emptyConfig(), layers: [], key: sha256Digest('scratch'), args: new Map(), created: new Date(0).toISOString() };
  }
  if (base.kind === 'stage') {
    const parent = session.stageResults.get(base.index)!;
    return { ...parent, config: cloneConfig(parent.config), args: new Map() };
  }
  const loc = plan.stage.from.loc;
  if (base.kind === 'context') return namedContextState(session, base.name, `${loc.file}:${loc.line}`);
  const record = await findBuildImage(session, base.ref, `${loc.file}:${loc.line}: base image`);
  const image = await loadImage(stores, record);
  const config = cloneConfig(image.config);
  config.history ??= [];
  return { config, layers: image.layers, key: sha256Digest(`image:${record.id}`), args: new Map(), created: image.config.created ?? new Date(0).toISOString() };
}

function stepLine(session: BuildSession, plan: StagePlan, text: string): void {
  session.step += 1;
  const prefix = session.stageCount > 1 ? `[${plan.stage.name ?? plan.stage.index}] ` : '';
  session.log(`${prefix}STEP ${session.step}/${session.totalSteps}: ${text}`);
}

function warnUnusedArgs(session: BuildSession): void {
  const unused = [...session.options.buildArgs.keys()].filter((k) => !session.consumedArgs.has(k) && !session.globalArgs.has(k));
  if (unused.length > 0) {
    session.options.stderr.write(`[Warning] one or more build args were not consumed: [${unused.join(' ')}]\n`);
  }
}
