// `commit CONTAINER [IMAGE]`: a container's changes as a new image, for working containers
// (buildah: config = the working image config) and run containers (podman/docker: the image's config
// with the container's own settings on top). The container's upper dir is archived as one layer on
// top of its image's layers, while it may still be running and without touching the dir: mount
// points runc created there (/proc, /dev, /sys, /etc/hosts, ... absent from the image) are left out.
// build/layer-commit.ts's commitLayerDir cannot be used as is: it turns the dir itself into the
// layer snapshot, and a container's upper dir must stay the container's. The snapshot of the new
// layer is unpacked from its blob when something first runs the image (ensureSnapshots).
import { createWriteStream } from 'node:fs';
import { lstat, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { writeLayerTar } from '../archive/index.js';
import { squashAll } from '../build/squash.js';
import { applyMetadata, isMetadataInstruction } from '../build/steps/metadata.js';
import { cloneConfig, emptyConfig, envMap } from '../build/stage-state.js';
import { containerPaths } from '../container/paths.js';
import { expandWord, parseInstructionLine } from '../containerfile/index.js';
import { TsbuildError, isTsbuildError } from '../errors.js';
import { appendLayer, commitImage, type LayerRef } from '../image/image.js';
import type { ImageRecord } from '../image/store.js';
import { withView } from '../image/view.js';
import type { ImageConfig, ImageFormat } from '../oci/types.js';
import type { Stores } from '../store/root.js';
import { readPendingHistory, pendingHistoryPath } from './config.js';
import { getContainer, readImageConfig, type AnyRecord } from './records.js';
import { containerBase } from './rootfs.js';
import { mountPointPaths } from '../build/steps/run-step.js';
import { removeWorkingContainer } from './remove.js';

export interface CommitOptions {
  container: string;
  /** Name for the image; none: an unnamed image (its ID is printed). */
  image?: string;
  format: ImageFormat;
  /** -m: the history entry's comment. */
  message?: string;
  /** -a: the image's author. */
  author?: string;
  /** -c/--change: Containerfile instructions applied to the config (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR). */
  changes: string[];
  /** --squash: the whole filesystem as one layer. */
  squash: boolean;
  /** --rm: remove the working container afterwards. */
  remove: boolean;
}

const CHANGE_KINDS = new Set(['CMD', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'LABEL', 'ONBUILD', 'STOPSIGNAL', 'USER', 'VOLUME', 'WORKDIR']);

export async function commitContainer(stores: Stores, options: CommitOptions): Promise<ImageRecord> {
  const record = await getContainer(stores, options.container);
  if (options.remove && record.kind !== 'working') {
    throw new TsbuildError('INVALID_ARGUMENT', `--rm: container "${record.name}" is not a working container; remove it with "tsbuild rm"`, { exitCode: 125 });
  }
  const base = await containerBase(stores, record);
  const config = record.kind === 'working' ? await readImageConfig(stores, record) : runContainerConfig(base.config, record);
  const pending = record.kind === 'working' ? await readPendingHistory(stores, record.id) : {};
  for (const change of options.changes) applyChange(config, change);

  const upper = containerPaths(stores, record.id).upper;
  if (!(await lstat(upper).catch(() => undefined))?.isDirectory()) {
    throw new TsbuildError('NOT_FOUND', `container "${record.name}" has no filesystem to commit (${upper} is missing)`, { exitCode: 125 });
  }
  const extraTargets = record.config.mounts.map((m) => m.target);
  const exclude = await createdMountPoints(stores, upper, base.layers, extraTargets);
  let layers = await archiveUpper(stores, upper, base.layers, exclude);
  const created = new Date().toISOString();
  if (options.squash) layers = await squashAll({ stores, cache: undefined }, layers);

  if (options.author !== undefined) config.author = options.author;
  const history = options.squash ? (config.history ?? []).map((h) => ({ ...h, empty_layer: true })) : [...(config.history ?? [])];
  const comment = options.message ?? pending.comment;
  history.push({
    created,
    created_by: pending.createdBy ?? pending.lastAction ?? (record.kind === 'container' ? record.config.args.join(' ') : ''),
    ...(config.author ? { author: config.author } : {}),
    ...(comment ? { comment } : {}),
  });
  config.history = history;
  config.created = created;
  config.rootfs = { type: 'layers', diff_ids: layers.map((l) => l.diffId) };
  const image = await commitImage(stores, { config, layers }, { format: options.format, names: options.image === undefined ? [] : [options.image] });
  if (record.kind === 'working') {
    // The next commit describes only what happens after this one.
    await rm(pendingHistoryPath(stores, record.id), { force: true });
    if (options.remove) await removeWorkingContainer(stores, record);
  }
  return image;
}

/** podman's commit: the image's config, then what the container was created with. */
function runContainerConfig(imageConfig: ImageConfig | undefined, record: AnyRecord): ImageConfig {
  const config = imageConfig ? cloneConfig(imageConfig) : emptyConfig();
  const c = config.config;
  const own = record.config;
  if (own.env.length > 0) c.Env = [...own.env];
  if (own.entrypoint.length > 0) c.Entrypoint = [...own.entrypoint];
  if (own.cmd.length > 0) c.Cmd = [...own.cmd];
  else if (own.args.length > 0 && own.entrypoint.length === 0) c.Cmd = [...own.args];
  if (own.cwd && own.cwd !== '/') c.WorkingDir = own.cwd;
  if (own.user) c.User = own.user;
  if (Object.keys(own.labels).length > 0) c.Labels = { ...c.Labels, ...own.labels };
  if (own.exposedPorts.length > 0) c.ExposedPorts = { ...c.ExposedPorts, ...Object.fromEntries(own.exposedPorts.map((p) => [p, {}])) };
  if (own.stopSignal && own.stopSignal !== 'SIGTERM') c.StopSignal = own.stopSignal;
  return config;
}

/** One -c/--change instruction, e.g. 'CMD ["x"]' or 'ENV A=1', applied as in a Containerfile. */
export function applyChange(config: ImageConfig, text: string): void {
  const where = `--change "${text}"`;
  let instruction;
  try {
    instruction = parseInstructionLine(text, '--change', 1);
  } catch (err) {
    throw new TsbuildError('INVALID_ARGUMENT', `${where}: ${isTsbuildError(err) ? err.message.replace(/^--change:1(:\d+)?: /, '') : String(err)}`, { exitCode: 125 });
  }
  if (!CHANGE_KINDS.has(instruction.kind)) {
    throw new TsbuildError('INVALID_ARGUMENT', `${where}: ${instruction.kind} is not supported by --change (use one of ${[...CHANGE_KINDS].join(', ')})`, { exitCode: 125 });
  }
  const env = envMap(config);
  const opts = { escapeChar: '\\', loc: { file: '--change', line: 1, column: 1 } };
  const expand = {
    word: (raw: string) => expandWord(raw, (name) => env.get(name), opts),
    words: (raw: string) => [expandWord(raw, (name) => env.get(name), opts)],
  };
  if (instruction.kind === 'WORKDIR') {
    config.config.WorkingDir = path.posix.resolve(config.config.WorkingDir || '/', expand.word(instruction.path));
    return;
  }
  if (!isMetadataInstruction(instruction)) throw new TsbuildError('INVALID_ARGUMENT', `${where}: not a config instruction`, { exitCode: 125 });
  applyMetadata(config, instruction, expand, where, { cmdSet: false });
}

/**
 * Mount points runc created in the upper dir (relative paths): empty files and directories (or
 * directories holding only such) that the image does not have. Anything with content stays.
 */
async function createdMountPoints(stores: Stores, upper: string, layers: readonly LayerRef[], extraTargets: readonly string[]): Promise<Set<string>> {
  const candidates = mountPointPaths(extraTargets);
  const present: string[] = [];
  for (const rel of candidates) if (await lstat(path.join(upper, rel)).catch(() => undefined)) present.push(rel);
  if (present.length === 0) return new Set();
  const inImage = await withView(stores, layers, async (root) => {
    const found = new Set<string>();
    for (const rel of present) if (await lstat(path.join(root, rel)).catch(() => undefined)) found.add(rel);
    return found;
  });
  const excluded = new Set<string>();
  const deepestFirst = present.filter((p) => !inImage.has(p)).sort((a, b) => b.split('/').length - a.split('/').length);
  for (const rel of deepestFirst) {
    const st = await lstat(path.join(upper, rel)).catch(() => undefined);
    if (st?.isFile() && st.size === 0) excluded.add(rel);
    else if (st?.isDirectory()) {
      const children = await readdir(path.join(upper, rel));
      if (children.every((c) => excluded.has(`${rel}/${c}`))) excluded.add(rel);
    }
  }
  return excluded;
}

async function archiveUpper(stores: Stores, upper: string, parent: readonly LayerRef[], exclude: ReadonlySet<string>): Promise<LayerRef[]> {
  const tmp = stores.content.tempPath();
  try {
    const { digest, size } = await writeLayerTar(upper, createWriteStream(tmp, { mode: 0o644 }), { mode: 'overlay-upper', exclude });
    await stores.content.commitFile(tmp, digest);
    return appendLayer(parent, digest, size);
  } finally {
    await rm(tmp, { force: true });
  }
}
