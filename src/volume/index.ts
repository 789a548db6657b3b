// STUB (skeleton for issue 5): the volume helper replaces this file with the real store.
import type { Stores } from '../store/root.js';
import type { MountSpec } from '../container/types.js';
import type { SpecMount } from '../runtime/index.js';

export interface VolumeRecord {
  name: string;
  driver: 'local';
  /** Host directory holding the data: volumes/<name>/_data. */
  mountpoint: string;
  labels: Record<string, string>;
  options: Record<string, string>;
  anonymous: boolean;
  created: string;
}

export interface VolumeStore {
  create(name?: string, options?: { labels?: Record<string, string>; anonymous?: boolean }): Promise<VolumeRecord>;
  get(name: string): Promise<VolumeRecord | undefined>;
  list(): Promise<VolumeRecord[]>;
  /** IN_USE error when a container (any state) uses it, unless force. */
  remove(name: string, options?: { force?: boolean }): Promise<void>;
  prune(): Promise<string[]>;
}

export function createVolumeStore(_stores: Stores): VolumeStore {
  throw new Error('volume store not merged yet');
}

/**
 * At create: named volumes are created on first use, anonymous ones (-v /path and the image's
 * VOLUME paths not otherwise mounted) get generated names; bind sources must exist.
 */
export async function resolveMounts(_stores: Stores, _requested: readonly MountSpec[], _imageVolumes: readonly string[]): Promise<MountSpec[]> {
  throw new Error('volume store not merged yet');
}

/**
 * At each start: mount points created inside the rootfs (clamped to it), an empty volume filled
 * from the image's content at its target on first mount, and the runtime-spec mounts returned.
 */
export async function specMounts(_stores: Stores, _mounts: readonly MountSpec[], _rootfs: string): Promise<SpecMount[]> {
  throw new Error('volume store not merged yet');
}

/** -v/--volume, --mount and --tmpfs values (podman syntax) as mount specs; INVALID_ARGUMENT naming the bad value. */
export function parseMountFlags(_flags: { volume?: readonly string[]; mount?: readonly string[]; tmpfs?: readonly string[] }): MountSpec[] {
  throw new Error('volume store not merged yet');
}
