// The blob-info cache: for each layer, identified by its diff ID, the compressed variants known to
// exist somewhere: digest, size, media type, compression and level, and the registry repositories
// that hold them. Pull records the variant it downloaded, push what it compressed and where it
// uploaded; the next push of the layer then asks the destination (HEAD) or mounts from a sibling
// repository instead of compressing again. A pulled variant was not inflated (image/layer-blob.ts),
// so its diff ID is only the config's word: it is marked unverified, and push uses it only for the
// layer of the image that holds that very blob.
// One JSON file per diff ID under cache/blob-info/, read-modify-written under a per-file lock and
// replaced atomically, so concurrent tsbuild processes never lose each other's entries.
import path from 'node:path';
import { digestHex } from '../oci/types.js';
import { withLock } from '../store/lock.js';
import { readJson, writeJsonAtomic } from '../util/fs.js';
import type { Compression } from './compression.js';

export interface BlobLocation {
  registry: string;
  repository: string;
}

export interface BlobVariant {
  digest: string;
  size: number;
  mediaType: string;
  compression: Compression;
  /** Unknown for variants that were pulled (the producer's level is not recorded anywhere). */
  level?: number;
  /** Set on a variant only pulled, never seen to inflate to the diff ID (pull does not inflate). */
  unverified?: true;
  sources: BlobLocation[];
}

interface BlobInfoFile {
  diffId: string;
  variants: BlobVariant[];
}

export interface BlobInfoCache {
  /** Known compressed variants of a layer, most recently used first. */
  variants(diffId: string): Promise<BlobVariant[]>;
  /** Remembers a variant (merging with what is known about its digest) and, optionally, a place that holds it. */
  record(diffId: string, variant: Omit<BlobVariant, 'sources'>, source?: BlobLocation): Promise<void>;
}

/** Enough places to find a sibling repository to mount from; old ones fall off. */
const MAX_SOURCES = 16;
const MAX_VARIANTS = 8;

/**
 * Whether recording `variant` (at `source`) would teach nothing: it is the first, the same, and
 * already holds `source`. Not only as its first source: moving a known place to the front would
 * rewrite the file (lock, fsync, rename: 10-20 ms) at every push of a base layer shared by several
 * repositories, for an order that only picks among places equally able to serve a mount.
 */
function isKnown(variants: BlobVariant[], variant: Omit<BlobVariant, 'sources'>, source: BlobLocation | undefined): boolean {
  const first = variants[0];
  if (first === undefined || first.digest !== variant.digest || first.size !== variant.size) return false;
  if (first.mediaType !== variant.mediaType || first.compression !== variant.compression) return false;
  if (variant.level !== undefined && first.level !== variant.level) return false;
  if (first.unverified && !variant.unverified) return false;
  return source === undefined || first.sources.some((at) => at.registry === source.registry && at.repository === source.repository);
}

export function createBlobInfoCache(options: { cacheDir: string; locksDir: string }): BlobInfoCache {
  const dir = path.join(options.cacheDir, 'blob-info');
  const file = (diffId: string): string => path.join(dir, `${digestHex(diffId)}.json`);
  const lock = (diffId: string): string => path.join(options.locksDir, `blob-info-${digestHex(diffId)}.lock`);

  async function read(diffId: string): Promise<BlobVariant[]> {
    // A damaged cache file only costs a compression; it must never fail a push or pull.
    const data = await readJson<BlobInfoFile>(file(diffId)).catch(() => undefined);
    return Array.isArray(data?.variants) ? data.variants.filter((v) => typeof v?.digest === 'string' && Array.isArray(v.sources)) : [];
  }

  return {
    variants: read,
    async record(diffId, variant, source) {
      // A second push of the same layer to the same place learns nothing: no lock, no write.
      if (isKnown(await read(diffId), variant, source)) return;
      await withLock(lock(diffId), async () => {
        const variants = await read(diffId);
        const existing = variants.find((v) => v.digest === variant.digest);
        const sources = existing?.sources ?? [];
        if (source) {
          const rest = sources.filter((s) => s.registry !== source.registry || s.repository !== source.repository);
          sources.splice(0, sources.length, source, ...rest.slice(0, MAX_SOURCES - 1));
        }
        const merged: BlobVariant = { ...existing, ...variant, level: variant.level ?? existing?.level, sources };
        if (merged.level === undefined) delete merged.level;
        // Verified once (compressed here, or recorded before pulls stopped inflating) stays verified.
        if (!(variant.unverified && (existing === undefined || existing.unverified))) delete merged.unverified;
        const others = variants.filter((v) => v.digest !== variant.digest);
        const data: BlobInfoFile = { diffId, variants: [merged, ...others].slice(0, MAX_VARIANTS) };
        await writeJsonAtomic(file(diffId), data);
      });
    },
  };
}
