// The on-disk layout of a tsbuild root and the one place that opens it: directories are created,
// leftovers of crashed processes are recovered, and the stores are wired together.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { createContentStore, type ContentStore } from '../content/store.js';
import { createImageStore, type ImageStore } from '../image/store.js';
import type { Logger } from '../log.js';
import { createSnapshotStore, type SnapshotStore } from '../snapshot/store.js';
import { recoverRoot, releaseOrphanedNetworks } from './recovery.js';

export const DEFAULT_ROOT = '/var/lib/tsbuild';

export interface RootLayout {
  root: string;
  tmp: string;
  mounts: string;
  locks: string;
  cache: string;
  containers: string;
  runcState: string;
  /** Build cache entries: <cache>/steps/<key>.json. */
  cacheSteps: string;
  /** RUN --mount=type=cache directories. */
  runMounts: string;
}

export interface Stores {
  layout: RootLayout;
  content: ContentStore;
  snapshots: SnapshotStore;
  images: ImageStore;
  logger: Logger;
}

export function rootLayout(root: string): RootLayout {
  const abs = path.resolve(root);
  return {
    root: abs,
    tmp: path.join(abs, 'tmp'),
    mounts: path.join(abs, 'mounts'),
    locks: path.join(abs, 'locks'),
    cache: path.join(abs, 'cache'),
    containers: path.join(abs, 'containers'),
    runcState: path.join(abs, 'runc'),
    cacheSteps: path.join(abs, 'cache', 'steps'),
    runMounts: path.join(abs, 'cache', 'run-mounts'),
  };
}

export async function openStores(options: {
  root: string;
  logger: Logger;
  /** false: leave leftovers of dead processes where they are (for tests of `system check`). */
  recover?: boolean;
}): Promise<Stores> {
  const layout = rootLayout(options.root);
  for (const d of [layout.tmp, layout.mounts, layout.locks, layout.cache, layout.containers, layout.runcState]) mkdirSync(d, { recursive: true, mode: 0o700 });
  if (options.recover !== false) await recoverRoot(layout, options.logger);
  const stores: Stores = {
    layout,
    logger: options.logger,
    content: createContentStore({ root: layout.root, tmpDir: layout.tmp }),
    snapshots: createSnapshotStore({ root: layout.root, tmpDir: layout.tmp }),
    images: createImageStore({ root: layout.root, locksDir: layout.locks }),
  };
  if (options.recover !== false) await releaseOrphanedNetworks(stores);
  return stores;
}
