// The build driver: parse, plan, then run the needed stages, each as soon as the stages it reads are
// done and up to --jobs at once (scheduler.ts), each stage's steps in order. Every step derives a
// cache key from its parent's; RUN and COPY/ADD consult the cache before doing any work. Only the
// final image gets names (final-image.ts); a failure leaves earlier layers as cache and tags nothing.
import path from 'node:path';
import { loadIgnoreRules, openFileDigestMemo } from './context/index.js';
import { parseContainerfile, parseInstructionLine, planBuild, type Instruction, type ParsedContainerfile, type SourceLocation, type StagePlan } from '../containerfile/index.js';
import { TsbuildError, noSpaceError, withSourceExcerpt } from '../errors.js';
import { loadImage } from '../image/image.js';
import { layerBlobDigests } from '../image/layer-blob.js';
import { normalizeImageName } from '../image/names.js';
import { DEFAULT_PATH, sha256Digest, shortId } from '../oci/types.js';
import type { ContainerRuntime } from '../runtime/index.js';
import { lease } from '../store/lease.js';
import type { Stores } from '../store/root.js';
import { findBuildImage } from './base-image.js';
import { openBuildCache, type BuildCache } from './cache.js';
import { runInstruction } from './instructions.js';
import { findNamedContext, namedContextState, releaseNamedSources } from './named-context.js';
import { exportRootfs } from './output.js';
import type { BuildOptions, BuildResult, BuildSession } from './session.js';
import type { StageFlags } from './steps/metadata.js';
import { cloneConfig, emptyConfig, envMap, isProxyArg, platformArgs, setEnv, type StageState } from './stage-state.js';
import { commitFinalImage } from './final-image.js';
import { hostTargetPlatform } from './platform.js';
import { runGraph } from './scheduler.js';
import { PrefixedLines } from './stage-output.js';
import { redactUrlsIn } from './remote-source/http.js';

export type { BuildOptions, BuildResult } from './session.js';

export async function build(stores: Stores, runtime: ContainerRuntime, options: BuildOptions): Promise<BuildResult> {
  // A bad -t is the user's typo: say so before building anything, not after the last step.
  for (const tag of options.tags) normalizeImageName(tag);
  const target = options.platform === undefined ? undefined : hostTargetPlatform(options.platform, `--platform ${options.platform}`);
  const parsed = parseContainerfile(options.containerfile.text, options.containerfile.file);
  if (parsed.directives.syntax !== undefined) {
    options.stderr.write(`[Warning] ${parsed.file}: ignoring "# syntax=${parsed.directives.syntax}": tsbuild builds with its own Dockerfile frontend\n`);
  }
  const builtinArgs = platformArgs(target, targetStageName(parsed.stages, options.target));
  // The automatic platform ARGs are usable in FROM lines without a declaration (BuildKit, buildah).
  const plan = planBuild(parsed, {
    target: options.target,
    buildArgs: options.buildArgs,
    builtinArgs,
    namedContext: (ref) => findNamedContext(options.buildContexts, ref),
    allStages: options.allStages,
  });
  const uncached = noCacheStages(parsed, options.noCacheFilter);
  const memo = await openFileDigestMemo(path.join(stores.layout.cache, 'file-digests.json'));
  const session: BuildSession = {
    stores,
    runtime,
    options,
    cache: openBuildCache(stores, options),
    ignore: await loadIgnoreRules(options.contextDir, { ignorefile: options.ignorefile, containerfile: options.containerfile.file }),
    memo,
    stageResults: new Map(),
    escapeChar: parsed.escapeChar,
    stageNames: new Map(parsed.stages.flatMap((s) => (s.name ? [[s.name, s.index] as const] : []))),
    consumedArgs: new Set(),
    globalArgs: plan.globalArgs,
    builtinArgs,
    step: 0,
    totalSteps: plan.stages.reduce((n, s) => n + 1 + s.stage.instructions.length, 0),
    stageCount: plan.stages.length,
    pulls: new Map(),
    log: (line) => {
      if (!options.quiet) options.stdout.write(`${line}\n`);
    },
  };
  // Every ready stage at once by default, as BuildKit: with more CPU-bound stages than cores, a
  // limit of the core count leaves a core idle while the last stage runs alone (3 stages on 2 cores:
  // 2 stage-times instead of 1.5); the kernel shares the cores fairly among them.
  const jobs = options.jobs ?? Infinity;
  try {
    await runGraph(
      plan.stages.map((p) => ({ ...p, id: p.stage.index })),
      { jobs, signal: options.signal },
      async (stagePlan, signal) => {
        const stage = stageSession(session, stagePlan, signal);
        if (uncached.has(stagePlan.stage.index)) stage.cache = lookupless(stage.cache);
        try {
          session.stageResults.set(stagePlan.stage.index, await buildStage(session, stage, stagePlan));
        } finally {
          stage.flushOutput?.();
        }
      },
    );
  } catch (err) {
    throw withSourceExcerpt(err, parsed.file, parsed.lines);
  } finally {
    await memo.save().catch(() => undefined);
    await releaseNamedSources(session);
    await session.cache?.close?.();
  }
  warnUnusedArgs(session);

  const final = session.stageResults.get(plan.target)!;
  const { image, layers } = await commitFinalImage(session, final);
  if (options.output) await exportRootfs(stores, layers, options.output);
  session.log(`COMMIT ${options.tags.join(', ')}`.trimEnd());
  session.log(`--> ${shortId(image.id)}`);
  for (const name of image.names) session.log(`Successfully tagged ${name}`);
  options.stdout.write(`${image.id.replace(/^sha256:/, '')}\n`);
  return { image };
}

/** --no-cache-filter: the stages it names (by name or index); a name that is no stage is a typo. */
function noCacheStages(parsed: ParsedContainerfile, filter: readonly string[] | undefined): Set<number> {
  const out = new Set<number>();
  for (const ref of filter ?? []) {
    const stage = /^\d+$/.test(ref) ? parsed.stages[Number(ref)] : parsed.stages.find((s) => s.name === ref.toLowerCase());
    if (!stage) throw new TsbuildError('INVALID_ARGUMENT', `--no-cache-filter ${ref}: ${parsed.file} has no stage of that name or index`);
    out.add(stage.index);
  }
  return out;
}

/** A cache that finds nothing but is still filled, as buildx treats the stages of --no-cache-filter. */
function lookupless(cache: BuildCache | undefined): BuildCache | undefined {
  return cache && { lookup: async () => undefined, store: (key, entry) => cache.store(key, entry) };
}

/** TARGETSTAGE: the --target stage, else the last stage; "default" for an unnamed one, as BuildKit names it. */
function targetStageName(stages: readonly { name?: string }[], target: string | undefined): string {
  return target?.toLowerCase() ?? stages[stages.length - 1]?.name ?? 'default';
}

async function buildStage(root: BuildSession, session: BuildSession, plan: StagePlan): Promise<StageState> {
  const { stage } = plan;
  const where = (loc: SourceLocation): string => `${loc.file}:${loc.line}`;
  stepLine(root, session, stage.from.text);
  checkPlatform(plan);
  let state = await baseState(session, plan);
  // A stage built on another inherits its ARGs (BuildKit); the chain's base counts stay those of
  // the first image, for --squash and --timestamp.
  if (plan.base.kind === 'stage') state.args = new Map(root.stageResults.get(plan.base.index)!.args);
  state.baseLayerCount ??= state.layers.length;
  state.baseHistoryCount ??= state.config.history?.length ?? 0;
  state.proxies = new Map([...root.options.buildArgs].filter(([name]) => isProxyArg(name)));
  // Every stage has a PATH in its config, as BuildKit and buildah give one to a base without it.
  if (!envMap(state.config).has('PATH')) setEnv(state.config, 'PATH', DEFAULT_PATH);
  const flags: StageFlags = { cmdSet: false };

  const instructions: Instruction[] = [];
  for (const trigger of state.config.config.OnBuild ?? []) {
    instructions.push(parseInstructionLine(trigger, `ONBUILD trigger of ${stage.from.image}`, 1));
  }
  if (state.config.config.OnBuild?.length) state.config.config.OnBuild = null;
  const triggerCount = instructions.length;
  instructions.push(...stage.instructions);

  for (const [i, instruction] of instructions.entries()) {
    session.options.signal?.throwIfAborted();
    if (i >= triggerCount) stepLine(root, session, instruction.text);
    else session.log(`--> Running ONBUILD trigger: ${instruction.text}`);
    // A full disk names the step that filled it (the write that failed often has no path).
    state = await runInstruction(session, state, instruction, where(instruction.loc), flags).catch((err: unknown) => {
      throw noSpaceError(err, where(instruction.loc), instruction.text);
    });
    // A cache hit's layers are kept from here on (store/lease.ts); a snapshot swept before this is unpacked again.
    await lease(session.stores.layout.root, { blobs: layerBlobDigests(state.layers), snapshots: state.layers.map((l) => l.chainId) });
  }
  return state;
}

/**
 * The session as one stage sees it: its own abort signal and, in a build of several stages, every
 * line it prints (step lines, RUN output) prefixed with the stage, so concurrent stages stay readable.
 * Shared state (results, caches, pulls, consumed args) is the root session's own objects.
 */
function stageSession(root: BuildSession, plan: StagePlan, signal: AbortSignal): BuildSession & { flushOutput?: () => void } {
  const { options } = root;
  if (root.stageCount === 1) return { ...root, options: { ...options, signal } };
  const prefix = `[${plan.stage.name ?? plan.stage.index}] `;
  const stdout = new PrefixedLines(options.stdout, prefix);
  const stderr = new PrefixedLines(options.stderr, prefix);
  return {
    ...root,
    options: { ...options, stdout, stderr, signal },
    log: (line) => {
      if (!options.quiet) stdout.line(line);
    },
    // A RUN's last line without a newline still goes out whole when the stage ends.
    flushOutput: () => {
      stdout.flushPartial();
      stderr.flushPartial();
    },
  };
}

/** FROM --platform may only name the host's platform (see platform.ts). */
function checkPlatform(plan: StagePlan): void {
  if (plan.platform === undefined) return;
  const loc = plan.stage.from.loc;
  hostTargetPlatform(plan.platform, `${loc.file}:${loc.line}: FROM --platform=${plan.platform}`);
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

function stepLine(root: BuildSession, session: BuildSession, text: string): void {
  root.step += 1;
  session.log(`STEP ${root.step}/${root.totalSteps}: ${redactUrlsIn(text)}`);
}

function warnUnusedArgs(session: BuildSession): void {
  const unused = [...session.options.buildArgs.keys()].filter(
    (k) => !session.consumedArgs.has(k) && !session.globalArgs.has(k) && !isProxyArg(k) && k !== 'SOURCE_DATE_EPOCH' && k !== 'BUILDKIT_DOCKERFILE_CHECK',
  );
  if (unused.length > 0) {
    session.options.stderr.write(`[Warning] one or more build args were not consumed: [${unused.join(' ')}]\n`);
  }
}
