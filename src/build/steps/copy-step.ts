// COPY and ADD: sources are selected and checksummed *before* anything is copied, so a cache hit
// copies nothing. On a miss the files go straight into a fresh layer directory (no container), with
// the destination resolved against the image's own symlinks and existing parent directories keeping
// their metadata, as if the copy had happened inside the image.
import { lstat } from 'node:fs/promises';
import path from 'node:path';
import {
  checksumSelection,
  copySelection,
  selectSources,
  type DirMetadata,
  type FileDigestMemo,
  type IgnoreRules,
  type SelectedEntry,
  type SourceRoot,
} from '../context/index.js';
import { TsbuildError } from '../../errors.js';
import { appendLayer, type LayerRef } from '../../image/image.js';
import { withView } from '../../image/view.js';
import { sha256Digest } from '../../oci/types.js';
import { resolveUser } from '../../runtime/index.js';
import type { Stores } from '../../store/root.js';
import { resolveInRoot } from '../../util/resolve-in-root.js';
import type { BuildCache } from '../cache.js';
import { commitLayerDir } from '../layer-commit.js';
import { nonDirectoryOnPath } from './dest-path.js';

export interface CopySource {
  /** The build context, or the layers of a stage or image (COPY --from). */
  kind: 'context' | 'layers';
  layers?: readonly LayerRef[];
  /** Identity of a --from source for the cache key (stage key or image ID). */
  identity?: string;
}

export interface CopyRequest {
  instruction: 'COPY' | 'ADD';
  sources: string[];
  /** Destination after variable expansion; relative ones are relative to WORKDIR. */
  dest: string;
  workdir: string;
  chown?: string;
  chmod?: string;
  from: CopySource;
  where: string;
}

export interface CopyStepContext {
  stores: Stores;
  cache: BuildCache | undefined;
  contextDir: string;
  ignore: IgnoreRules;
  memo: FileDigestMemo;
}

export interface CopyResult {
  layers: LayerRef[];
  key: string;
  cached: boolean;
  created: string;
}

const GLOB = /[*?[]/;

export async function copyStep(ctx: CopyStepContext, parentKey: string, parentLayers: readonly LayerRef[], request: CopyRequest): Promise<CopyResult> {
  const mode = parseChmod(request.chmod, request.where);
  const dest = path.posix.isAbsolute(request.dest) ? request.dest : path.posix.join(request.workdir || '/', request.dest);
  const destIsDir = request.dest.endsWith('/') || request.sources.length > 1 || request.sources.some((s) => GLOB.test(s));
  const withSourceRoot = async <T>(fn: (root: SourceRoot) => Promise<T>): Promise<T> =>
    request.from.kind === 'context'
      ? fn({ dir: ctx.contextDir, kind: 'context', ignore: ctx.ignore })
      : withView(ctx.stores, request.from.layers ?? [], (dir) => fn({ dir, kind: 'rootfs' }));

  return withSourceRoot(async (root) => {
    const entries = await selectSources(root, request.sources, request.where);
    const checksum = await checksumSelection(entries, root, root.kind === 'context' ? ctx.memo : undefined);
    const key = sha256Digest(
      JSON.stringify([parentKey, request.instruction, checksum, request.from.identity ?? 'context', dest, destIsDir, request.chown ?? '', mode ?? '']),
    );
    const hit = ctx.cache ? await ctx.cache.lookup(key) : undefined;
    if (hit?.layer) return { layers: appendLayer(parentLayers, hit.layer.diffId, hit.layer.size), key, cached: true, created: hit.created };

    const layerDir = await ctx.stores.snapshots.prepare();
    let committed = false;
    try {
      const layers = await withView(ctx.stores, parentLayers, async (image) => {
        const owner = request.chown ? await resolveOwner(image, request.chown, request.where) : undefined;
        const resolved = await resolveInRoot(image, dest);
        const resolvedDest = `/${path.relative(image, resolved)}`;
        const existingDir = (await lstat(resolved).catch(() => undefined))?.isDirectory() ?? false;
        // A directory source makes the destination a directory too, so a file there is in the way.
        const blocking = await nonDirectoryOnPath(image, resolved, destIsDir || entries.some((e) => e.isDirSource));
        if (blocking !== undefined) {
          throw new TsbuildError('INVALID_ARGUMENT', `${request.where}: cannot copy to ${dest}: ${blocking} is not a directory in the image`);
        }
        await copySelection(entries, root, layerDir, resolvedDest, destIsDir || existingDir, {
          chown: owner,
          chmod: mode,
          extractArchives: request.instruction === 'ADD',
          what: request.where,
          // Directories the image already has keep their metadata, so the layer does not change them.
          existingDir: (inImage) => imageDirMetadata(image, inImage),
          createdDirMtime: newestMtime(entries),
        });
        return commitLayerDir(ctx.stores, layerDir, parentLayers, 'plain');
      });
      committed = true;
      const created = new Date().toISOString();
      const top = layers[layers.length - 1]!;
      await ctx.cache?.store(key, { layer: { diffId: top.diffId, size: top.size }, created });
      return { layers, key, cached: false, created };
    } finally {
      if (!committed) await ctx.stores.snapshots.discard(layerDir);
    }
  });
}

function parseChmod(value: string | undefined, where: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^[0-7]{3,4}$/.test(value)) {
    throw new TsbuildError('INVALID_ARGUMENT', `${where}: invalid --chmod "${value}": expected an octal mode such as 755`);
  }
  return Number.parseInt(value, 8);
}

async function resolveOwner(image: string, spec: string, where: string): Promise<{ uid: number; gid: number }> {
  try {
    const user = await resolveUser(image, spec);
    return { uid: user.uid, gid: user.gid };
  } catch (err) {
    throw new TsbuildError('INVALID_ARGUMENT', `${where}: --chown=${spec}: ${(err as Error).message}`, { cause: err });
  }
}

/** Mode, owner and mtime of a directory of the image (path already resolved), if it is one. */
async function imageDirMetadata(image: string, inImage: string): Promise<DirMetadata | undefined> {
  const st = await lstat(path.join(image, inImage)).catch(() => undefined);
  return st?.isDirectory() ? { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: st.mtimeMs / 1000 } : undefined;
}

/** Seconds since the epoch of the newest selected source (0 when there is none). */
function newestMtime(entries: readonly SelectedEntry[]): number {
  return entries.reduce((newest, e) => Math.max(newest, e.stat.mtimeMs), 0) / 1000;
}
