// Turns a finished layer directory (a RUN's overlay upper dir, or a COPY's fresh dir) into a stored
// layer: one streaming pass writes the uncompressed tar blob and computes its digest, then the dir
// itself becomes the snapshot for that chain ID (no re-extraction).
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { writeLayerTar } from '../archive/index.js';
import { appendLayer, type LayerRef } from '../image/image.js';
import type { Stores } from '../store/root.js';

export async function commitLayerDir(
  stores: Stores,
  dir: string,
  parent: readonly LayerRef[],
  mode: 'overlay-upper' | 'plain',
  options: { clampMtime?: number } = {},
): Promise<LayerRef[]> {
  const tmp = stores.content.tempPath();
  try {
    const { digest, size } = await writeLayerTar(dir, createWriteStream(tmp, { mode: 0o644 }), { mode, clampMtime: options.clampMtime });
    await stores.content.commitFile(tmp, digest);
    const layers = appendLayer(parent, digest, size);
    await stores.snapshots.commit(dir, layers[layers.length - 1]!.chainId);
    return layers;
  } finally {
    await rm(tmp, { force: true });
  }
}
