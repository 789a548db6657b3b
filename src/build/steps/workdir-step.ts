// WORKDIR creates its directory when the image lacks it, as a small layer of its own (buildah and
// BuildKit both make the directory exist for later steps and in the final image). The directory is
// resolved inside the image; one that lands in /proc, /sys or /dev (directly or through the image's
// symlinks) is refused, since at run time the kernel's filesystems are there (CVE-2024-21626).
import { lstat, mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { LayerRef } from '../../image/image.js';
import { withView } from '../../image/view.js';
import { sha256Digest } from '../../oci/types.js';
import type { Stores } from '../../store/root.js';
import { resolveInRoot, runtimeMountOf } from '../../util/resolve-in-root.js';
import type { BuildCache } from '../cache.js';
import { commitLayerDir } from '../layer-commit.js';
import type { StageState } from '../stage-state.js';
import { appendLayer } from '../../image/image.js';
import { TsbuildError } from '../../errors.js';
import { nonDirectoryOnPath } from './dest-path.js';

export interface WorkdirResult {
  key: string;
  layers: LayerRef[];
  created: string;
}

export async function workdirStep(
  ctx: { stores: Stores; cache: BuildCache | undefined },
  state: StageState,
  dir: string,
  where: string,
): Promise<WorkdirResult> {
  const key = sha256Digest(JSON.stringify([state.key, 'WORKDIR', dir]));
  const hit = ctx.cache ? await ctx.cache.lookup(key) : undefined;
  if (hit) {
    return { key, created: hit.created, layers: hit.layer ? appendLayer(state.layers, hit.layer.diffId, hit.layer.size) : state.layers };
  }
  const layers = await withView(ctx.stores, state.layers, async (image) => {
    const resolved = await resolveInRoot(image, dir);
    const inImage = `/${path.relative(image, resolved)}`;
    const mounted = runtimeMountOf(inImage);
    if (mounted !== undefined) {
      // A RUN must never get a cwd the image cannot vouch for; runc's own check is not relied on.
      throw new TsbuildError(
        'INVALID_ARGUMENT',
        `${where}: WORKDIR ${dir}: ${inImage} is mounted by the runtime at run time (${mounted}), so it cannot be a working directory`,
      );
    }
    const blocking = await nonDirectoryOnPath(image, resolved, true);
    if (blocking !== undefined) {
      throw new TsbuildError('INVALID_ARGUMENT', `${where}: WORKDIR ${dir}: ${blocking} is not a directory in the image`);
    }
    if (await lstat(resolved).catch(() => undefined)) return state.layers;
    const layerDir = await ctx.stores.snapshots.prepare();
    try {
      await mkdir(path.join(layerDir, path.relative(image, resolved)), { recursive: true, mode: 0o755 });
      return await commitLayerDir(ctx.stores, layerDir, state.layers, 'plain');
    } catch (err) {
      await ctx.stores.snapshots.discard(layerDir);
      throw err;
    }
  });
  const created = new Date().toISOString();
  const top = layers.length !== state.layers.length ? layers[layers.length - 1] : undefined;
  await ctx.cache?.store(key, { layer: top && { diffId: top.diffId, size: top.size }, created });
  return { key, layers, created };
}
