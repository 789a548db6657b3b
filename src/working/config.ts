// `config`: edits of a working container's image config with buildah's semantics: --cmd and
// --entrypoint take a JSON array or a string (a --cmd string is split into words, an --entrypoint
// string runs under /bin/sh -c), `--env K-` / `--label k-` / `--port 80-` / `--volume /p-` remove,
// and --created-by / --comment describe the history entry of the next commit.
import path from 'node:path';
import { exposedPorts, isValidSignal } from '../build/steps/config-values.js';
import { setEnv } from '../build/stage-state.js';
import { containerPaths } from '../container/paths.js';
import { TsbuildError } from '../errors.js';
import type { ImageConfig } from '../oci/types.js';
import type { Stores } from '../store/root.js';
import { readJson, writeJsonAtomic } from '../util/fs.js';

export interface ConfigEdits {
  env?: string[];
  labels?: string[];
  cmd?: string;
  entrypoint?: string;
  ports?: string[];
  user?: string;
  workingDir?: string;
  volumes?: string[];
  author?: string;
  stopSignal?: string;
  shell?: string;
  createdBy?: string;
  comment?: string;
}

/** What the next commit writes into its history entry (from `config --created-by/--comment`). */
export interface PendingHistory {
  createdBy?: string;
  comment?: string;
  /** What the last copy/add/run did, buildah's created_by when --created-by was not given. */
  lastAction?: string;
}

export function pendingHistoryPath(stores: Stores, id: string): string {
  return path.join(containerPaths(stores, id).dir, 'pending-history.json');
}

export async function readPendingHistory(stores: Stores, id: string): Promise<PendingHistory> {
  return (await readJson<PendingHistory>(pendingHistoryPath(stores, id))) ?? {};
}

export async function savePendingHistory(stores: Stores, id: string, edits: ConfigEdits): Promise<void> {
  if (edits.createdBy === undefined && edits.comment === undefined) return;
  const pending = await readPendingHistory(stores, id);
  if (edits.createdBy !== undefined) pending.createdBy = edits.createdBy;
  if (edits.comment !== undefined) pending.comment = edits.comment;
  await writeJsonAtomic(pendingHistoryPath(stores, id), pending);
}

export async function recordLastAction(stores: Stores, id: string, action: string): Promise<void> {
  const pending = await readPendingHistory(stores, id);
  await writeJsonAtomic(pendingHistoryPath(stores, id), { ...pending, lastAction: action });
}

/** Applies the edits to `config` in place; bad values throw INVALID_ARGUMENT naming the flag. */
export function applyConfigEdits(config: ImageConfig, edits: ConfigEdits): void {
  const c = config.config;
  for (const entry of edits.env ?? []) {
    const eq = entry.indexOf('=');
    if (eq < 0 && entry.endsWith('-')) {
      const name = entry.slice(0, -1);
      c.Env = (c.Env ?? []).filter((e) => e !== name && !e.startsWith(`${name}=`));
    } else if (eq < 0) {
      // `--env NAME` takes the value from our own environment, as buildah does.
      const value = process.env[entry];
      if (value === undefined) throw new TsbuildError('INVALID_ARGUMENT', `--env ${entry}: no value given and "${entry}" is not set in the environment`);
      setEnv(config, entry, value);
    } else {
      if (eq === 0) throw new TsbuildError('INVALID_ARGUMENT', `--env ${entry}: a variable needs a name`);
      setEnv(config, entry.slice(0, eq), entry.slice(eq + 1));
    }
  }
  for (const entry of edits.labels ?? []) {
    const eq = entry.indexOf('=');
    c.Labels = { ...c.Labels };
    if (eq < 0 && entry.endsWith('-')) delete c.Labels[entry.slice(0, -1)];
    else if (eq < 0) c.Labels[entry] = '';
    else if (eq === 0) throw new TsbuildError('INVALID_ARGUMENT', `--label ${entry}: a label needs a name`);
    else c.Labels[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  if (edits.cmd !== undefined) c.Cmd = edits.cmd.trim() === '' ? null : (jsonArray(edits.cmd, '--cmd') ?? shellWords(edits.cmd, '--cmd'));
  if (edits.entrypoint !== undefined) {
    c.Entrypoint = edits.entrypoint.trim() === '' ? null : (jsonArray(edits.entrypoint, '--entrypoint') ?? [...(c.Shell ?? ['/bin/sh', '-c']), edits.entrypoint]);
  }
  for (const spec of edits.ports ?? []) {
    c.ExposedPorts = { ...c.ExposedPorts };
    if (spec.endsWith('-')) {
      const port = spec.slice(0, -1);
      for (const key of port.includes('/') ? [port] : [`${port}/tcp`, port]) delete c.ExposedPorts[key];
      continue;
    }
    let ports: string[];
    try {
      ports = exposedPorts(spec);
    } catch (err) {
      throw new TsbuildError('INVALID_ARGUMENT', `--port ${spec}: ${(err as Error).message}`);
    }
    for (const port of ports) c.ExposedPorts[port] = {};
  }
  if (edits.user !== undefined) c.User = edits.user;
  if (edits.workingDir !== undefined) {
    if (edits.workingDir !== '' && !path.posix.isAbsolute(edits.workingDir)) {
      throw new TsbuildError('INVALID_ARGUMENT', `--workingdir ${edits.workingDir}: the working directory must be an absolute path`);
    }
    c.WorkingDir = edits.workingDir;
  }
  for (const volume of edits.volumes ?? []) {
    c.Volumes = { ...c.Volumes };
    if (volume.endsWith('-')) delete c.Volumes[volume.slice(0, -1)];
    else if (!path.posix.isAbsolute(volume)) throw new TsbuildError('INVALID_ARGUMENT', `--volume ${volume}: a volume must be an absolute path`);
    else c.Volumes[volume] = {};
  }
  if (edits.author !== undefined) config.author = edits.author;
  if (edits.stopSignal !== undefined) {
    if (!isValidSignal(edits.stopSignal)) throw new TsbuildError('INVALID_ARGUMENT', `--stop-signal: invalid signal "${edits.stopSignal}"`);
    c.StopSignal = edits.stopSignal;
  }
  if (edits.shell !== undefined) {
    const shell = jsonArray(edits.shell, '--shell') ?? shellWords(edits.shell, '--shell');
    if (shell.length === 0) throw new TsbuildError('INVALID_ARGUMENT', '--shell needs a command');
    c.Shell = shell;
  }
}

/** A JSON array of strings, undefined when the text is not JSON at all. */
function jsonArray(text: string, flag: string): string[] | undefined {
  const trimmed = text.trim();
  if (!trimmed.startsWith('[')) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(trimmed);
  } catch {
    return undefined;
  }
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) {
    throw new TsbuildError('INVALID_ARGUMENT', `${flag} ${text}: a JSON value must be an array of strings`);
  }
  return value as string[];
}

/** Splits a command line into words as a POSIX shell would (quotes and backslashes; no expansion). */
export function shellWords(text: string, flag: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quote === "'") {
      if (ch === "'") quote = undefined;
      else word += ch;
    } else if (quote === '"') {
      if (ch === '"') quote = undefined;
      else if (ch === '\\' && i + 1 < text.length && '"\\$`'.includes(text[i + 1]!)) word += text[++i];
      else word += ch;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      inWord = true;
    } else if (ch === '\\' && i + 1 < text.length) {
      word += text[++i];
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += ch;
      inWord = true;
    }
  }
  if (quote !== undefined) throw new TsbuildError('INVALID_ARGUMENT', `${flag} ${text}: unterminated ${quote} quote`);
  if (inWord) words.push(word);
  return words;
}
