// Read-only views of an image's root filesystem, for reading files out of it (COPY --from, user
// lookups, destination symlinks). A view is an overlay of the layer snapshots without an upper dir.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { mountOverlay } from '../snapshot/mount.js';
import type { Stores } from '../store/root.js';
import { ensureSnapshots, lowerDirs, type LayerRef } from './image.js';

export interface RootfsView {
  readonly root: string;
  release(): Promise<void>;
}

export async function openView(stores: Stores, layers: readonly LayerRef[]): Promise<RootfsView> {
  if (layers.length === 0) {
    const empty = path.join(stores.layout.mounts, '.empty');
    await mkdir(empty, { recursive: true, mode: 0o755 });
    return { root: empty, release: async () => undefined };
  }
  await ensureSnapshots(stores, layers);
  const mount = await mountOverlay({ lowers: lowerDirs(stores, layers), mountsDir: stores.layout.mounts });
  return { root: mount.target, release: () => mount.unmount() };
}

/** Runs fn with a view of the layers, releasing it afterwards. */
export async function withView<T>(stores: Stores, layers: readonly LayerRef[], fn: (root: string) => Promise<T>): Promise<T> {
  const view = await openView(stores, layers);
  try {
    return await fn(view.root);
  } finally {
    await view.release();
  }
}
