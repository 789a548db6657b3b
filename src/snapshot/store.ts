// Layer snapshots: one directory per layer, named by chain ID, holding that layer's files in
// overlayfs "upper dir" form (whiteouts as 0/0 character devices, opaque dirs by xattr) so a stack of
// snapshots is directly usable as overlay lower dirs. Committed snapshots are immutable; new ones are
// built in a temp dir and renamed into place, so a crash never leaves a partial snapshot visible.
import { mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { errnoCode } from '../errors.js';
import { digestHex } from '../oci/types.js';
import { pathExists, removeTree, tempName } from '../util/fs.js';
import { lease } from '../store/lease.js';

export interface SnapshotStore {
  /** Directory of a committed snapshot's files. */
  fsPath(chainId: string): string;
  has(chainId: string): Promise<boolean>;
  /** A fresh, empty directory for building a new layer; commit() or discard() it. */
  prepare(): Promise<string>;
  /** Makes a prepared directory the snapshot `chainId`. Committing an existing snapshot is success. */
  commit(preparedDir: string, chainId: string): Promise<void>;
  discard(preparedDir: string): Promise<void>;
  remove(chainId: string): Promise<void>;
  /** The root all snapshot directories live under (overlay lowerdir paths are relative to it). */
  readonly dir: string;
}

export function createSnapshotStore(options: { root: string; tmpDir: string }): SnapshotStore {
  const dir = path.join(options.root, 'snapshots');
  const fsPath = (chainId: string): string => path.join(dir, digestHex(chainId));

  return {
    dir,
    fsPath,
    has: (chainId) => pathExists(fsPath(chainId)),
    async prepare() {
      await mkdir(options.tmpDir, { recursive: true });
      const prepared = tempName(options.tmpDir, 'snap');
      await mkdir(prepared, { mode: 0o755 });
      return prepared;
    },
    async commit(preparedDir, chainId) {
      await lease(options.root, { snapshots: [chainId] }); // nothing references it yet: see store/lease.ts
      await mkdir(dir, { recursive: true });
      try {
        await rename(preparedDir, fsPath(chainId));
      } catch (err) {
        const code = errnoCode(err);
        if (code !== 'EEXIST' && code !== 'ENOTEMPTY') throw err;
        // Another build committed the same layer first; identical content by construction.
        await rm(preparedDir, { recursive: true, force: true });
      }
    },
    async discard(preparedDir) {
      await rm(preparedDir, { recursive: true, force: true });
    },
    async remove(chainId) {
      await removeTree(fsPath(chainId), options.tmpDir);
    },
  };
}
