// Layers the final commit makes anew: --squash (the new layers as one), --squash-all (the whole
// image as one) and the mtime clamp of reproducible builds (BuildKit's rewrite-timestamp), which
// re-archives a layer's snapshot with every mtime newer than the epoch set to the epoch.
import { createWriteStream } from 'node:fs';
import { chmod, lchown, link, lstat, mkdir, rm, utimes } from 'node:fs/promises';
import path from 'node:path';
import { writeLayerTar } from '../archive/index.js';
import { walkTree } from '../archive/walk.js';
import { readTreeXattrs, restoreXattrs, type XattrTable } from '../archive/xattrs.js';
import { appendLayer, ensureSnapshots, type LayerRef } from '../image/image.js';
import { withView } from '../image/view.js';
import type { Stores } from '../store/root.js';
import { commitLayerDir } from './layer-commit.js';

/** The layer archived again from its snapshot with mtimes clamped; a new blob, its snapshot made on demand. */
export async function clampLayer(stores: Stores, layer: LayerRef, parent: readonly LayerRef[], epoch: number): Promise<LayerRef[]> {
  await ensureSnapshots(stores, [...parent, layer]);
  return archiveDir(stores, stores.snapshots.fsPath(layer.chainId), parent, { mode: 'overlay-upper', clampMtime: epoch });
}

/** The whole image's filesystem as one layer (--squash-all). */
export async function squashAll(stores: Stores, layers: readonly LayerRef[], epoch: number | undefined): Promise<LayerRef[]> {
  if (layers.length === 0) return [];
  return withView(stores, layers, (root) => archiveDir(stores, root, [], { mode: 'plain', clampMtime: epoch }));
}

/**
 * `layers` above `base` merged into one layer on top of `base` (--squash): what one RUN doing all
 * their work would have left in its upper dir, whiteouts and opaque directories included.
 */
export async function squashNew(stores: Stores, base: readonly LayerRef[], layers: readonly LayerRef[], epoch: number | undefined): Promise<LayerRef[]> {
  if (layers.length <= 1 && epoch === undefined) return [...base, ...layers];
  await ensureSnapshots(stores, [...base, ...layers]);
  const dir = await stores.snapshots.prepare();
  try {
    await mergeUpperDirs(
      layers.map((l) => stores.snapshots.fsPath(l.chainId)),
      dir,
    );
    return await commitLayerDir(stores, dir, base, 'overlay-upper', { clampMtime: epoch });
  } catch (err) {
    await stores.snapshots.discard(dir);
    throw err;
  }
}

async function archiveDir(
  stores: Stores,
  dir: string,
  parent: readonly LayerRef[],
  options: { mode: 'overlay-upper' | 'plain'; clampMtime?: number },
): Promise<LayerRef[]> {
  const tmp = stores.content.tempPath();
  try {
    const { digest, size } = await writeLayerTar(dir, createWriteStream(tmp, { mode: 0o644 }), options);
    await stores.content.commitFile(tmp, digest);
    return appendLayer(parent, digest, size);
  } finally {
    await rm(tmp, { force: true });
  }
}

/**
 * Applies overlay upper dirs, lowest first, onto `into` as overlayfs would stack them: a whiteout or
 * a non-directory replaces what was there, an opaque directory hides what earlier layers put in it.
 * Non-directories are hard links to the snapshots' (immutable) inodes: nothing is copied.
 */
async function mergeUpperDirs(uppers: readonly string[], into: string): Promise<void> {
  const xattrs: XattrTable = new Map();
  const dirTimes = new Map<string, { atime: Date; mtime: Date }>();
  const removeTree = async (target: string): Promise<void> => {
    await rm(target, { recursive: true, force: true });
    for (const key of [...xattrs.keys(), ...dirTimes.keys()]) {
      if (key === target || key.startsWith(`${target}/`)) {
        xattrs.delete(key);
        dirTimes.delete(key);
      }
    }
  };
  for (const upper of uppers) {
    const [entries, table] = await Promise.all([walkTree(upper, new Set()), readTreeXattrs(upper)]);
    for (const e of entries) {
      const target = path.join(into, e.rel);
      const attrs = table.get(e.host);
      const existing = await lstat(target).catch(() => undefined);
      if (e.stat.isDirectory()) {
        const opaque = attrs?.get('trusted.overlay.opaque')?.[0] === 0x79;
        if (existing && (opaque || !existing.isDirectory())) await removeTree(target);
        if (!existing || opaque || !existing.isDirectory()) await mkdir(target);
        await lchown(target, e.stat.uid, e.stat.gid);
        await chmod(target, e.stat.mode & 0o7777);
        // A directory in an upper dir carries its merged metadata (copy-up): it replaces, not adds.
        if (attrs) xattrs.set(target, attrs);
        else xattrs.delete(target);
        dirTimes.set(target, { atime: e.stat.atime, mtime: e.stat.mtime });
      } else {
        if (existing) await removeTree(target);
        await link(e.host, target);
      }
    }
  }
  await restoreXattrs(xattrs);
  // Last: linking entries into a directory changed its mtime.
  for (const [dir, t] of dirTimes) await utimes(dir, t.atime, t.mtime);
}
