// What RUN and COPY/ADD do with heredocs, following BuildKit's dispatchRun and dispatchCopy:
//   RUN <<EOF (the heredoc is the whole command)  the body runs as `sh -c <body>`; a body starting
//                                                 with #! is a script, mounted read-only at
//                                                 /dev/pipes/<name> and run by path
//   RUN <<EOF python3, RUN a <<A && b <<B          the line and its bodies go to the shell as written
//   COPY <<EOF /file, COPY <<A <<B /dir/          each body becomes a file named after its delimiter
//                                                 (mode 0644 unless --chmod), expanded with ARG/ENV
//                                                 unless the delimiter is quoted
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  expandHeredocBody,
  expandWord,
  flagValue,
  heredocBody,
  parseHeredocWord,
  type CommandForm,
  type CopyInstruction,
  type RunInstruction,
} from '../containerfile/index.js';
import { TsbuildError } from '../errors.js';
import { sha256Digest, shortId } from '../oci/types.js';
import type { SpecMount } from '../runtime/index.js';
import { tempName } from '../util/fs.js';
import { compileIgnoreRules, type FileDigestMemo } from './context/index.js';
import type { BuildSession } from './session.js';
import { cloneConfig, variableLookup, type StageState } from './stage-state.js';
import { copyStep } from './steps/copy-step.js';

const PIPES = '/dev/pipes';

export interface RunPlan {
  /** What runs under the stage's SHELL (or as is, for the exec form). */
  command: CommandForm;
  /** A `#!` heredoc: written to PIPES/<name> and run by path. */
  script?: { name: string; data: string };
}

/** How a RUN runs, its heredocs taken into account. */
export function planRun(instruction: RunInstruction): RunPlan {
  const heredocs = instruction.heredocs ?? [];
  const first = heredocs[0];
  if (first === undefined || instruction.command.form !== 'shell') return { command: instruction.command };
  const line = instruction.command.command;
  if (parseHeredocWord(line, instruction.loc)) {
    const data = heredocBody(first);
    if (data.startsWith('#!')) return { command: { form: 'shell', command: path.posix.join(PIPES, first.name) }, script: { name: first.name, data } };
    return { command: { form: 'shell', command: data } };
  }
  // The shell reads the heredocs itself (and strips the tabs of <<- itself).
  return { command: { form: 'shell', command: line + heredocs.map((h) => `\n${h.content}${h.name}`).join('') } };
}

/** History created_by of a RUN: the argv as buildah writes it, with a script's body after it. */
export function runCreatedBy(plan: RunPlan, args: readonly string[]): string {
  const text = plan.command.form === 'exec' ? JSON.stringify(args) : args.join(' ');
  return plan.script ? `${text}\n${plan.script.data}` : text;
}

/**
 * Runs `fn` with the mounts a RUN's script needs and a parent key that covers the script, so the
 * cache key changes with the body even though the command is only its path. The script's directory
 * is removed afterwards.
 */
export async function withRunScript<T>(
  tmpDir: string,
  plan: RunPlan,
  state: StageState,
  where: string,
  fn: (state: StageState, mounts: SpecMount[]) => Promise<T>,
): Promise<T> {
  const script = plan.script;
  if (script === undefined) return fn(state, []);
  if (!isPlainName(script.name)) throw new TsbuildError('INVALID_ARGUMENT', `${where}: heredoc name "${script.name}" cannot be a file name`);
  const dir = tempName(tmpDir, 'heredoc');
  await mkdir(dir, { mode: 0o755 });
  try {
    // 0755 whatever the umask: the RUN's user may not be root.
    await chmod(dir, 0o755);
    const file = path.join(dir, script.name);
    await writeFile(file, script.data, { mode: 0o755 });
    await chmod(file, 0o755);
    const keyed = { ...state, key: sha256Digest(JSON.stringify([state.key, 'heredoc-script', script.name, script.data])) };
    return await fn(keyed, [{ destination: PIPES, type: 'bind', source: dir, options: ['rbind', 'ro'] }]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

// Heredoc files are new inodes every build: remembering their digests would only grow the memo.
const NO_MEMO: FileDigestMemo = { lookup: () => undefined, remember: () => undefined, save: async () => undefined };

/**
 * COPY/ADD with heredoc sources. Path sources, if any, are copied first by `copyPaths` (the normal
 * COPY); the heredoc files are then written to a temp dir and copied from it as from a context, so
 * the cache key comes from their content. ADD never unpacks a heredoc, as in BuildKit.
 */
export async function copyHeredocs(
  session: BuildSession,
  state: StageState,
  instruction: CopyInstruction,
  where: string,
  copyPaths: (state: StageState, instruction: CopyInstruction) => Promise<StageState>,
): Promise<StageState> {
  const base = instruction.sources.length > 0 ? await copyPaths(state, { ...instruction, heredocs: undefined }) : state;
  const vars = variableLookup(base);
  const opts = { escapeChar: session.escapeChar, loc: instruction.loc };
  const dir = tempName(session.stores.layout.tmp, 'heredoc');
  await mkdir(dir);
  try {
    const names: string[] = [];
    for (const heredoc of instruction.heredocs ?? []) {
      if (!isPlainName(heredoc.name)) throw new TsbuildError('INVALID_ARGUMENT', `${where}: heredoc name "${heredoc.name}" cannot be a file name`);
      const body = heredocBody(heredoc);
      const file = path.join(dir, heredoc.name);
      await writeFile(file, heredoc.expand ? expandHeredocBody(body, vars, instruction.loc) : body);
      await chmod(file, 0o644);
      if (!names.includes(heredoc.name)) names.push(heredoc.name);
    }
    const chown = flagValue(instruction, 'chown');
    const chmodFlag = flagValue(instruction, 'chmod');
    const result = await copyStep(
      { stores: session.stores, cache: session.cache, contextDir: dir, ignore: compileIgnoreRules([], undefined), memo: NO_MEMO },
      base.key,
      base.layers,
      {
        instruction: 'COPY',
        sources: names,
        dest: expandWord(instruction.dest, vars, opts),
        workdir: base.config.config.WorkingDir ?? '/',
        chown: chown === undefined ? undefined : expandWord(chown, vars, opts),
        chmod: chmodFlag === undefined ? undefined : expandWord(chmodFlag, vars, opts),
        from: { kind: 'context' },
        where,
      },
    );
    if (result.cached) session.log(`--> Using cache ${shortId(result.key)}`);
    const config = cloneConfig(base.config);
    config.history = [...(config.history ?? []), { created: result.created, created_by: `/bin/sh -c #(nop) ${instruction.text}` }];
    return { ...base, config, key: result.key, layers: result.layers, created: result.created };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A single path component: heredoc names become file names in a directory of their own. */
function isPlainName(name: string): boolean {
  return name !== '' && name !== '.' && name !== '..' && !name.includes('/');
}
