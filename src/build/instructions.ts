// One Containerfile instruction applied to a stage's state: ARG and the metadata instructions change
// the config; RUN, COPY/ADD and WORKDIR go through their steps, which consult the build cache first.
// Every instruction derives the next cache key from the previous one.
import path from 'node:path';
import { expandWord, expandWords, flagEnabled, flagValue, flagValues, wordLoc, type Instruction } from '../containerfile/index.js';
import { TsbuildError } from '../errors.js';
import type { HistoryEntry } from '../oci/types.js';
import { sha256Digest, shortId } from '../oci/types.js';
import { copyHeredocs, planRun, runCreatedBy, withRunScript } from './heredoc.js';
import type { BuildSession } from './session.js';
import { resolveFromSource } from './named-context.js';
import { copyStep } from './steps/copy-step.js';
import { applyMetadata, isMetadataInstruction, type Expander, type StageFlags } from './steps/metadata.js';
import { runContainer } from './run-mounts/index.js';
import { cachedRunStep, commandArgs } from './steps/run-step.js';
import { workdirStep } from './steps/workdir-step.js';
import { cloneConfig, variableLookup, type StageState } from './stage-state.js';
import { redactUrlsIn } from './remote-source/http.js';

export async function runInstruction(
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
    word: (raw) => expandWord(raw, vars, { escapeChar, loc: wordLoc(instruction, raw) }),
    words: (raw) => expandWords(raw, vars, { escapeChar, loc: wordLoc(instruction, raw) }),
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
      // Without --build-arg or a default, a re-declaration keeps the value the stage already has
      // (declared earlier, or inherited from a parent stage), as docker and BuildKit do.
      const value =
        fromCli ??
        (arg.defaultValue !== undefined ? expand.word(arg.defaultValue) : undefined) ??
        state.args.get(arg.name) ??
        session.globalArgs.get(arg.name) ??
        session.builtinArgs.get(arg.name);
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
      const container = await runContainer(session, state, instruction, expand.word, where);
      const plan = planRun(instruction);
      const result = await withRunScript(stores.layout.tmp, plan, state, where, (keyed, extraMounts) => cachedRunStep(
        {
          stores,
          runtime: session.runtime,
          cache: session.cache,
          ...container,
          stdout: options.quiet ? options.stderr : options.stdout,
          stderr: options.stderr,
          signal: options.signal,
          stdin: options.stdin,
          where,
          text: instruction.text,
          extraMounts,
        },
        keyed,
        plan.command,
      ));
      if (result.cached) session.log(`--> Using cache ${shortId(result.key)}`);
      next.key = result.key;
      next.layers = result.layers;
      next.created = result.created;
      history(runCreatedBy(plan, commandArgs(plan.command, state.config.config.Shell)), false, next.created);
      return next;
    }
    case 'COPY':
    case 'ADD': {
      const value = (name: string): string | undefined => mapDefined(flagValue(instruction, name), expand.word);
      const fromRef = value('from');
      const unpack = instruction.flags.some((f) => f.name === 'unpack') ? flagEnabled(instruction, 'unpack') : undefined;
      if (instruction.heredocs?.length) return copyHeredocs(session, state, instruction, where, (s, i) => runInstruction(session, s, i, where, flags));
      const result = await copyStep(
        { stores, cache: session.cache, contextDir: options.contextDir, ignore: session.ignore, memo: session.memo, signal: options.signal },
        state.key,
        state.layers,
        {
          instruction: instruction.kind,
          sources: instruction.sources.map((s) => expand.word(s)),
          dest: expand.word(instruction.dest),
          workdir: state.config.config.WorkingDir ?? '/',
          chown: value('chown'),
          chmod: value('chmod'),
          from: fromRef === undefined ? { kind: 'context' } : await resolveFromSource(session, fromRef, where, 'COPY --from'),
          link: flagEnabled(instruction, 'link'),
          parents: flagEnabled(instruction, 'parents'),
          exclude: flagValues(instruction, 'exclude').map((p) => expand.word(p)),
          checksum: value('checksum'),
          keepGitDir: flagEnabled(instruction, 'keep-git-dir'),
          unpack,
          where,
        },
      );
      if (result.cached) session.log(`--> Using cache ${shortId(result.key)}`);
      next.key = result.key;
      next.layers = result.layers;
      next.created = result.created;
      // A password in an ADD URL is for the download, not for everyone who reads the history.
      history(`/bin/sh -c #(nop) ${redactUrlsIn(instruction.text)}`, false, next.created);
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

function mapDefined<T, U>(value: T | undefined, fn: (v: T) => U): U | undefined {
  return value === undefined ? undefined : fn(value);
}
