// RUN --mount=type=bind: a directory or file of the build context, a stage or an image, read-only
// unless rw (then writes land in a throwaway overlay upper dir or copy and vanish after the RUN).
// The source resolves inside its root (context dir or the stage's/image's filesystem), symlinks
// followed one component at a time and clamped, so neither `..` nor a symlink in the context or
// planted by an earlier RUN can reach the host (CVE-2024-1753 and kin).
import { copyFile, mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { TsbuildError } from '../../errors.js';
import { ensureSnapshots, lowerDirs, type LayerRef } from '../../image/image.js';
import { mountOverlay } from '../../snapshot/mount.js';
import { resolveInRoot } from '../../util/resolve-in-root.js';
import { pathExists } from '../../util/fs.js';
import { checksumSelection, copySelection, type SelectedEntry, type SourceRoot } from '../context/index.js';
import { bindSpec, type MountEnv, type MountSource, type PreparedMount } from './types.js';
import type { RunMount } from './parse.js';
import type { Stores } from '../../store/root.js';

/** The cache identity of a bind mount's content: a checksum of the context files, else the stage key or image ID. */
export async function bindIdentity(m: RunMount, source: MountSource, where: string): Promise<string> {
  if (source.kind === 'layers') return source.identity;
  const { root, entry } = await contextEntry(m, source, where);
  return checksumSelection([entry], root, source.memo);
}

export async function bindMount(m: RunMount, source: MountSource, env: MountEnv, index: number): Promise<PreparedMount> {
  const target = m.target!;
  const work = path.join(env.scratch, `bind-${index}`);
  if (source.kind === 'layers') {
    const view = await layersView(env.stores, source.layers, m.readOnly ? undefined : work, env);
    const host = await resolveInRoot(view, m.source, { onEscape: 'clamp' });
    if (!(await pathExists(host))) {
      throw new TsbuildError('NOT_FOUND', `${env.where}: RUN --mount: source "${m.source}" not found in ${source.name}`);
    }
    return { mounts: [bindSpec(host, target, m.readOnly)] };
  }
  const { root, entry } = await contextEntry(m, source, env.where);
  if (entry.stat.isDirectory() && root.ignore!.patterns.length > 0) {
    // .dockerignore applies to what a RUN sees of the context, as in BuildKit: give it a filtered
    // copy (throwaway, so rw needs nothing more).
    await mkdir(work);
    await copySelection([entry], root, work, '/', true, { what: env.where });
    return { mounts: [bindSpec(work, target, m.readOnly)] };
  }
  if (m.readOnly) return { mounts: [bindSpec(entry.abs, target, true)] };
  if (!entry.stat.isDirectory()) {
    await mkdir(work);
    const copy = path.join(work, path.basename(entry.abs));
    await copyFile(entry.abs, copy);
    return { mounts: [bindSpec(copy, target, false)] };
  }
  return { mounts: [bindSpec(await overlayOver([entry.abs], work, env), target, false)] };
}

/**
 * The build-context entry a bind mount reads. The source is a path, not a pattern, resolved inside
 * the context as BuildKit resolves it: `..` and symlinks (relative or absolute) are followed but
 * clamped at the context root, so nothing outside it is ever reached. An ignored or missing source
 * is NOT_FOUND.
 */
async function contextEntry(m: RunMount, source: Extract<MountSource, { kind: 'context' }>, where: string): Promise<{ root: SourceRoot; entry: SelectedEntry }> {
  const root: SourceRoot = { dir: source.dir, kind: 'context', ignore: source.ignore };
  const abs = await resolveInRoot(source.dir, m.source, { onEscape: 'clamp' });
  const st = await stat(abs).catch(() => undefined);
  const rel = path.relative(source.dir, abs).split(path.sep).join('/');
  if (!st || (rel !== '' && !st.isDirectory() && source.ignore.ignores(rel))) {
    throw new TsbuildError('NOT_FOUND', `${where}: RUN --mount=type=bind: source "${m.source}": no such file or directory in the build context`);
  }
  if (!st.isDirectory() && !st.isFile()) {
    // A FIFO would block the copy an rw mount makes forever; a device node is no build input.
    throw new TsbuildError('INVALID_ARGUMENT', `${where}: RUN --mount=type=bind: source "${m.source}" is not a regular file or directory`);
  }
  return { root, entry: { rel, abs, stat: st, isDirSource: st.isDirectory() } };
}

/** A view of layers: read-only, or writable into `upper` (thrown away with the scratch dir). */
export async function layersView(stores: Stores, layers: readonly LayerRef[], upper: string | undefined, env: MountEnv): Promise<string> {
  await ensureSnapshots(stores, layers);
  if (upper) await mkdir(upper, { recursive: true });
  const view = await mountOverlay({ lowers: lowerDirs(stores, layers), upper, mountsDir: stores.layout.mounts, volatile: upper !== undefined });
  env.defer(() => view.unmount());
  return view.target;
}

/** An overlay with host directories as lower layers and a throwaway upper dir: writes vanish. */
export async function overlayOver(lowers: string[], upper: string, env: MountEnv): Promise<string> {
  await mkdir(upper, { recursive: true });
  const view = await mountOverlay({ lowers, upper, mountsDir: env.stores.layout.mounts, volatile: true });
  env.defer(() => view.unmount());
  return view.target;
}
