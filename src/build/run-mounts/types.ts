// What the RUN mount modules share: where a bind/cache source comes from, and the per-RUN
// environment a mount is prepared in (stores, bud flags, the RUN's scratch dir, cleanups).
import type { FileDigestMemo, IgnoreRules } from '../context/index.js';
import type { LayerRef } from '../../image/image.js';
import type { SpecMount } from '../../runtime/index.js';
import type { Stores } from '../../store/root.js';
import type { RunFlags } from './bud-flags.js';

/** A bind/cache mount's `from`: the build context (no from) or the layers of a stage or image. */
export type MountSource =
  | { kind: 'context'; dir: string; ignore: IgnoreRules; memo: FileDigestMemo }
  | { kind: 'layers'; layers: LayerRef[]; /** Cache identity: the stage's key or the image's ID. */ identity: string; name: string };

export interface MountEnv {
  stores: Stores;
  flags: RunFlags;
  where: string;
  /** Per-RUN temp dir inside the root, removed after the RUN. */
  scratch: string;
  /** Registers a cleanup, run after the container ends (last registered first). */
  defer(cleanup: () => Promise<void>): void;
}

export interface PreparedMount {
  mounts: SpecMount[];
  /** Variables added to the RUN's environment (secret env=, SSH_AUTH_SOCK). */
  env?: string[];
  /**
   * A directory in memory (a tmpfs of this RUN's) for the runtime bundle, when the RUN's spec
   * carries a secret (an env= secret is in config.json's process.env): it must not touch the disk.
   */
  privateDir?: string;
}

export function bindSpec(source: string, target: string, readOnly: boolean, extra: readonly string[] = []): SpecMount {
  return { destination: target, type: 'bind', source, options: ['rbind', readOnly ? 'ro' : 'rw', ...(extra.length ? extra : ['rprivate'])] };
}
