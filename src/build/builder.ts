// The build driver: parse, plan, then run each needed stage's steps in dependency order. Every step
// derives a cache key from its parent's; RUN and COPY/ADD consult the cache before doing any work.
// Only the final image gets names; a failure leaves earlier layers as cache and tags nothing.
import path from 'node:path';
import { loadIgnoreRules, openFileDigestMemo, type FileDigestMemo, type IgnoreRules } from './context/index.js';
import {
  expandWord,
  expandWords,
  parseContainerfile,
  parseInstructionLine,
  planBuild,
  type Instruction,
  type SourceLocation,
  type StagePlan,
} from '../containerfile/index.js';
import { TsbuildError } from '../errors.js';
import { appendLayer, commitImage, loadImage } from '../image/image.js';
import { normalizeImageName } from '../image/names.js';
import type { ImageRecord } from '../image/store.js';
import type { HistoryEntry, ImageFormat } from '../oci/types.js';
import { hostPlatform, sha256Digest, shortId } from '../oci/types.js';
import type { ContainerRuntime } from '../runtime/index.js';
import type { Stores } from '../store/root.js';
import { createBuildCache, type BuildCache } from './cache.js';
import { copyStep } from './steps/copy-step.js';
import { applyMetadata, isMetadataInstruction, type Expander, type StageFlags } from './steps/metadata.js';
import { commandArgs, runStep } from './steps/run-step.js';
import { workdirStep } from './steps/workdir-step.js';
import { cloneConfig, emptyConfig, platformArgs, runEnvironment, variableLookup, type StageState } from './stage-state.js';

export interface BuildOptions {
  /** Containerfile text and the name used in messages. */
  containerfile: { text: string; file: string };
  contextDir: string;
  tags: string[];
  buildArgs: ReadonlyMap<string, string>;
  target?: string;
  format: ImageFormat;
  /** Use and fill the build cache (podman's --layers; --no-cache turns it off). */
  layers: boolean;
  network: 'host' | 'none';
  labels: Record<string, string>;
  ignorefile?: string;
  /** Step lines and RUN output; RUN's stderr goes to `stderr`. */
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  quiet: boolean;
  signal?: AbortSignal;
}

export interface BuildResult {
  image: ImageRecord;
}

interface BuildSession {
  stores: Stores;
  runtime: ContainerRuntime;
  options: BuildOptions;
  cache: BuildCache | undefined;
  ignore: IgnoreRules;
  memo: FileDigestMemo;
  stageResults: Map<number, StageState>;
  /** The Containerfile's escape character (`# escape=`), for variable expansion. */
  escapeChar: string;
  /** Stage names (lower-case) to indexes, for COPY --from. */
  stageNames: Map<string, number>;
  consumedArgs: Set<string>;
  globalArgs: Map<string, string | undefined>;
  step: number;
  totalSteps: number;
  stageCount: number;
  log(line: string): void;
}

export async function build(stores: Stores, runtime: ContainerRuntime, options: BuildOptions): Promise<BuildResult> {
  // A bad -t is the user's typo: say so before building anything, not after the last step.
  for (const tag of options.tags) normalizeImageName(tag);
  const parsed = parseContainerfile(options.containerfile.text, options.containerfile.file);
  // The automatic platform ARGs are usable in FROM lines without a declaration (BuildKit, buildah).
  const plan = planBuild(parsed, { target: options.target, buildArgs: options.buildArgs, builtinArgs: platformArgs() });
  const memo = await openFileDigestMemo(path.join(stores.layout.cache, 'file-digests.json'));
  const session: BuildSession = {
    stores,
    runtime,
    options,
    cache: options.layers ? createBuildCache({ cacheDir: stores.layout.cache, content: stores.content }) : undefined,
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
    log: (line) => {
      if (!options.quiet) options.stdout.write(`${line}\n`);
    },
  };
  try {
    for (const stagePlan of plan.stages) {
      session.stageResults.set(stagePlan.stage.index, await buildStage(session, stagePlan));
    }
  } finally {
    await memo.save().catch(() => undefined);
  }
  warnUnusedArgs(session);

  const final = session.stageResults.get(plan.target)!;
  const config = cloneConfig(final.config);
  if (Object.keys(options.labels).length > 0) config.config.Labels = { ...config.config.Labels, ...options.labels };
  config.rootfs = { type: 'layers', diff_ids: final.layers.map((l) => l.diffId) };
  config.created = final.created;
  const image = await commitImage(stores, { config, layers: final.layers }, { format: options.format, names: options.tags });
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
  const record = await stores.images.find(base.ref);
  if (!record) {
    const loc = plan.stage.from.loc;
    throw new TsbuildError('NOT_FOUND', `${loc.file}:${loc.line}: base image "${base.ref}" not found in local storage`, {
      hint: 'build it, or load it with "tsbuild load"',
    });
  }
  const image = await loadImage(stores, record);
  const config = cloneConfig(image.config);
  config.history ??= [];
  return { config, layers: image.layers, key: sha256Digest(`image:${record.id}`), args: new Map(), created: image.config.created ?? new Date(0).toISOString() };
}

async function runInstruction(
  session: BuildSession,
  state: StageState,
  instruction: Instruction,
  where: string,
  flags: StageFlags,
): Promise<StageState> {
  const { options, stores } = session;
  const { escapeChar } = session;
  const vars = variableLookup(state);
  const expand: Expander = {
    word: (raw) => expandWord(raw, vars, { escapeChar, loc: instruction.loc }),
    words: (raw) => expandWords(raw, vars, { escapeChar, loc: instruction.loc }),
  };
  const next: StageState = { ...state, config: cloneConfig(state.config), args: new Map(state.args) };
  const history = (createdBy: string, emptyLayer: boolean, created: string): void => {
    const entry: HistoryEntry = { created, created_by: createdBy };
    if (emptyLayer) entry.empty_layer = true;
    next.config.history = [...(next.config.history ?? []), entry];
  };

  if (instruction.kind === 'ARG') {
    for (const arg of instruction.args) {
      session.consumedArgs.add(arg.name);
      const fromCli = options.buildArgs.get(arg.name);
      const value =
        fromCli ??
        (arg.defaultValue !== undefined ? expand.word(arg.defaultValue) : undefined) ??
        session.globalArgs.get(arg.name) ??
        platformArgs().get(arg.name);
      next.args.set(arg.name, value);
    }
    next.key = sha256Digest(JSON.stringify([state.key, 'ARG', [...next.args]]));
    return next;
  }

  if (isMetadataInstruction(instruction)) {
    applyMetadata(next.config, instruction, expand, where, flags);
    next.key = sha256Digest(JSON.stringify([state.key, instruction.kind, next.config.config, next.config.author ?? '']));
    history(`/bin/sh -c #(nop) ${instruction.text}`, true, state.created);
    return next;
  }

  switch (instruction.kind) {
    case 'RUN': {
      const c = next.config.config;
      const env = runEnvironment(state);
      const args = commandArgs(instruction.command, c.Shell);
      const network = runNetwork(instruction, options.network, expand, where);
      next.key = sha256Digest(JSON.stringify([state.key, 'RUN', args, env, c.User ?? '', c.WorkingDir ?? '', network]));
      const hit = session.cache ? await session.cache.lookup(next.key) : undefined;
      if (hit) {
        session.log(`--> Using cache ${shortId(next.key)}`);
        next.layers = hit.layer ? appendLayer(state.layers, hit.layer.diffId, hit.layer.size) : state.layers;
        next.created = hit.created;
      } else {
        next.layers = await runStep(
          {
            stores,
            runtime: session.runtime,
            network,
            stdout: options.quiet ? options.stderr : options.stdout,
            stderr: options.stderr,
            signal: options.signal,
            where,
            text: instruction.text,
          },
          state,
          instruction.command,
        );
        next.created = new Date().toISOString();
        const top = next.layers[next.layers.length - 1]!;
        await session.cache?.store(next.key, { layer: { diffId: top.diffId, size: top.size }, created: next.created });
      }
      const shown = instruction.command.form === 'exec' ? JSON.stringify(args) : args.join(' ');
      history(shown, false, next.created);
      return next;
    }
    case 'COPY':
    case 'ADD': {
      const flagValue = (name: string): string | undefined => instruction.flags.find((f) => f.name === name)?.value;
      for (const flag of instruction.flags) {
        if (!['from', 'chown', 'chmod'].includes(flag.name)) {
          throw new TsbuildError('INVALID_ARGUMENT', `${where}: ${instruction.kind} --${flag.name} is not supported by this version of tsbuild`);
        }
      }
      const sources = instruction.sources.map((s) => expand.word(s));
      for (const s of sources) {
        if (/^(https?|git):\/\//.test(s) || s.startsWith('git@')) {
          throw new TsbuildError('INVALID_ARGUMENT', `${where}: ${instruction.kind} from a URL ("${s}") is not supported by this version of tsbuild`);
        }
      }
      const fromRef = flagValue('from');
      const result = await copyStep(
        { stores, cache: session.cache, contextDir: options.contextDir, ignore: session.ignore, memo: session.memo },
        state.key,
        state.layers,
        {
          instruction: instruction.kind,
          sources,
          dest: expand.word(instruction.dest),
          workdir: state.config.config.WorkingDir ?? '/',
          chown: mapDefined(flagValue('chown'), expand.word),
          chmod: mapDefined(flagValue('chmod'), expand.word),
          from: fromRef === undefined ? { kind: 'context' } : await copyFromSource(session, expand.word(fromRef), where),
          where,
        },
      );
      if (result.cached) session.log(`--> Using cache ${shortId(result.key)}`);
      next.key = result.key;
      next.layers = result.layers;
      next.created = result.created;
      history(`/bin/sh -c #(nop) ${instruction.text}`, false, next.created);
      return next;
    }
    case 'WORKDIR': {
      const previous = state.config.config.WorkingDir || '/';
      const dir = path.posix.resolve(previous, expand.word(instruction.path));
      next.config.config.WorkingDir = dir;
      const result = await workdirStep({ stores, cache: session.cache }, state, dir, where);
      next.key = result.key;
      next.layers = result.layers;
      if (result.layers.length !== state.layers.length) {
        next.created = result.created;
        history(`/bin/sh -c #(nop) ${instruction.text}`, false, next.created);
      } else {
        history(`/bin/sh -c #(nop) ${instruction.text}`, true, state.created);
      }
      return next;
    }
    case 'FROM':
      throw new TsbuildError('INTERNAL', `${where}: unexpected FROM inside a stage`);
    default:
      throw new TsbuildError('PARSE', `${where}: instruction ${(instruction as Instruction).kind} is not supported`);
  }
}

/**
 * The network of one RUN: its --network flag, else the build's. Flags this version cannot honour
 * are refused: silently running without a requested mount or sandbox would build something else.
 */
function runNetwork(instruction: Extract<Instruction, { kind: 'RUN' }>, buildNetwork: 'host' | 'none', expand: Expander, where: string): 'host' | 'none' {
  let network = buildNetwork;
  for (const flag of instruction.flags) {
    const value = flag.value === undefined ? undefined : expand.word(flag.value);
    if (flag.name === 'network') {
      if (value === 'none' || value === 'host') network = value;
      else if (value !== 'default') {
        throw new TsbuildError('INVALID_ARGUMENT', `${where}: RUN --network=${value ?? ''}: expected none, host or default`);
      }
    } else if (flag.name === 'security' && value === 'sandbox') {
      // The default: nothing to do.
    } else {
      throw new TsbuildError('INVALID_ARGUMENT', `${where}: RUN --${flag.name} is not supported by this version of tsbuild`);
    }
  }
  return network;
}

/** COPY --from: an earlier stage (by name or index, resolved by the planner) or a local image. */
async function copyFromSource(session: BuildSession, ref: string, where: string) {
  const stageIndex = findStage(session, ref);
  if (stageIndex !== undefined) {
    const stage = session.stageResults.get(stageIndex)!;
    return { kind: 'layers' as const, layers: stage.layers, identity: stage.key };
  }
  const record = await session.stores.images.find(ref);
  if (!record) {
    throw new TsbuildError('NOT_FOUND', `${where}: COPY --from="${ref}": no stage or local image of that name`);
  }
  const image = await loadImage(session.stores, record);
  return { kind: 'layers' as const, layers: image.layers, identity: record.id };
}

function findStage(session: BuildSession, ref: string): number | undefined {
  const index = /^\d+$/.test(ref) ? Number(ref) : session.stageNames.get(ref.toLowerCase());
  return index !== undefined && session.stageResults.has(index) ? index : undefined;
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

function mapDefined<T, U>(value: T | undefined, fn: (v: T) => U): U | undefined {
  return value === undefined ? undefined : fn(value);
}
