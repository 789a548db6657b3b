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
import { sha256Digest } from '../oci/types.js';
import type { Stores } from '../store/root.js';
import type { BuildCache } from './cache.js';
import { commitLayerDir } from './layer-commit.js';

export interface LayerMaking {
  stores: Stores;
  /** Remembers made layers by what they were made from, so a rebuild archives nothing again. */
  cache: BuildCache | undefined;
  /** Mtimes newer than this (seconds) become this. */
  epoch?: number;
}

type Made = { diffId: string; size: number };

/** The `added` layers archived again from their snapshots with mtimes clamped to the epoch. */
export async function clampLayers(ctx: LayerMaking, base: readonly LayerRef[], added: readonly LayerRef[]): Promise<LayerRef[]> {
  let out = [...base];
  for (const layer of added) {
    const made = await cached(ctx, ['clamp', layer.diffId, ctx.epoch], async () => {
      await ensureSnapshots(ctx.stores, [layer]);
      return archiveDir(ctx.stores, ctx.stores.snapshots.fsPath(layer.chainId), { mode: 'overlay-upper', clampMtime: ctx.epoch });
    });
    out = appendLayer(out, made.diffId, made.size);
  }
  return out;
}

/** The whole image's filesystem as one layer (--squash-all). */
export async function squashAll(ctx: LayerMaking, layers: readonly LayerRef[]): Promise<LayerRef[]> {
  if (layers.length === 0) return [];
  const made = await cached(ctx, ['squash-all', layers[layers.length - 1]!.chainId, ctx.epoch], () =>
    withView(ctx.stores, layers, (root) => archiveDir(ctx.stores, root, { mode: 'plain', clampMtime: ctx.epoch })),
  );
  return appendLayer([], made.diffId, made.size);
}

/**
 * `added` merged into one layer on top of `base` (--squash): what one RUN doing all their work
 * would have left in its upper dir, whiteouts and opaque directories included.
 */
export async function squashNew(ctx: LayerMaking, base: readonly LayerRef[], added: readonly LayerRef[]): Promise<LayerRef[]> {
  if (added.length === 0) return [...base];
  if (added.length === 1) return ctx.epoch === undefined ? [...base, ...added] : clampLayers(ctx, base, added);
  const { stores } = ctx;
  const made = await cached(ctx, ['squash', added.map((l) => l.diffId), ctx.epoch], async () => {
    await ensureSnapshots(stores, [...base, ...added]);
    const dir = await stores.snapshots.prepare();
    try {
      await mergeUpperDirs(
        added.map((l) => stores.snapshots.fsPath(l.chainId)),
        dir,
      );
      const layers = await commitLayerDir(stores, dir, base, 'overlay-upper', { clampMtime: ctx.epoch });
      return layers[layers.length - 1]!;
    } catch (err) {
      await stores.snapshots.discard(dir);
      throw err;
    }
  });
  return appendLayer(base, made.diffId, made.size);
}

async function cached(ctx: LayerMaking, what: unknown[], make: () => Promise<Made>): Promise<Made> {
  const key = sha256Digest(JSON.stringify(what));
  const hit = await ctx.cache?.lookup(key);
  if (hit?.layer) return hit.layer;
  const made = await make();
  await ctx.cache?.store(key, { layer: { diffId: made.diffId, size: made.size }, created: new Date().toISOString() });
  return made;
}

async function archiveDir(stores: Stores, dir: string, options: { mode: 'overlay-upper' | 'plain'; clampMtime?: number }): Promise<Made> {
  const tmp = stores.content.tempPath();
  try {
    const { digest, size } = await writeLayerTar(dir, createWriteStream(tmp, { mode: 0o644 }), options);
    await stores.content.commitFile(tmp, digest);
    return { diffId: digest, size };
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
  const remove = async (target: string, isDir: boolean): Promise<void> => {
    await rm(target, { recursive: true, force: true });
    if (!isDir) return;
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
        const opaque = isOpaque(attrs);
        const keepsContent = existing?.isDirectory() === true && !opaque;
        // A directory an earlier layer made opaque stays so: a later copy-up of it is not marked.
        const wasOpaque = keepsContent && isOpaque(xattrs.get(target));
        if (existing && !keepsContent) await remove(target, existing.isDirectory());
        if (!keepsContent) await mkdir(target);
        await lchown(target, e.stat.uid, e.stat.gid);
        await chmod(target, e.stat.mode & 0o7777);
        // A directory in an upper dir carries its merged metadata (copy-up): it replaces, not adds.
        // overlayfs' own bookkeeping (origin, impure, ...) is left behind, except the opaque mark.
        const kept = new Map([...(attrs ?? [])].filter(([name]) => !name.startsWith('trusted.overlay.')));
        if (opaque || wasOpaque) kept.set('trusted.overlay.opaque', Buffer.from('y'));
        xattrs.set(target, kept);
        dirTimes.set(target, { atime: e.stat.atime, mtime: e.stat.mtime });
      } else {
        if (existing) await remove(target, existing.isDirectory());
        await link(e.host, target);
      }
    }
  }
  await restoreXattrs(xattrs);
  // Last: linking entries into a directory changed its mtime.
  for (const [dir, t] of dirTimes) await utimes(dir, t.atime, t.mtime);
}

function isOpaque(attrs: ReadonlyMap<string, Buffer> | undefined): boolean {
  return attrs?.get('trusted.overlay.opaque')?.[0] === 0x79; // 'y'
}
