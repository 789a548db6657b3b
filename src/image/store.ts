// The image store: one record per image (records/images/<id>.json), the image ID being the config
// digest as in podman. Names move between images under one lock, so two processes tagging at once
// never leave a name on two images.
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { TsbuildError } from '../errors.js';
import { digestHex, shortId } from '../oci/types.js';
import { withLock } from '../store/lock.js';
import { listNames, readJson, writeJsonAtomic } from '../util/fs.js';
import { normalizeImageName, shortNameMatches } from './names.js';
import { byCodeUnit } from '../util/order.js';

export interface ImageRecord {
  /** sha256:<hex> of the image config. */
  id: string;
  manifestDigest: string;
  manifestMediaType: string;
  names: string[];
  created: string;
  /** "registry/repository@sha256:..." of the manifests this image was pulled as (podman's RepoDigests). */
  repoDigests?: string[];
}

export interface ImageStore {
  list(): Promise<ImageRecord[]>;
  /** Finds an image by name (short names as podman), full ID, or unique ID prefix; undefined if none. */
  find(ref: string): Promise<ImageRecord | undefined>;
  /** Like find, but a NOT_FOUND error naming the image when there is none. */
  get(ref: string): Promise<ImageRecord>;
  /** Stores an image record and gives it `names` (taken away from any other image). */
  add(record: Omit<ImageRecord, 'names'>, names: readonly string[]): Promise<ImageRecord>;
  tag(id: string, names: readonly string[]): Promise<void>;
  /** Removes one name; returns the record left (undefined when it had no other name and was deleted). */
  untag(id: string, name: string): Promise<void>;
  delete(id: string): Promise<void>;
}

export function createImageStore(options: { root: string; locksDir: string }): ImageStore {
  const dir = path.join(options.root, 'records', 'images');
  const lockFile = path.join(options.locksDir, 'images.lock');
  const recordPath = (id: string): string => path.join(dir, `${digestHex(id)}.json`);

  async function list(): Promise<ImageRecord[]> {
    const records = await Promise.all(
      listNames(dir).filter((f) => f.endsWith('.json')).map((f) => readJson<ImageRecord>(path.join(dir, f))),
    );
    return records.filter((r): r is ImageRecord => r !== undefined).sort((a, b) => byCodeUnit(b.created, a.created));
  }

  async function find(ref: string): Promise<ImageRecord | undefined> {
    const hex = ref.replace(/^sha256:/, '');
    // A full ID names its record file: no need to read every record (containers and builds ask so).
    if (/^[a-f0-9]{64}$/.test(hex)) {
      const record = await readJson<ImageRecord>(recordPath(`sha256:${hex}`));
      if (record) return record;
    }
    const images = await list();
    if (/^[a-f0-9]{3,64}$/.test(hex)) {
      const byId = images.filter((i) => digestHex(i.id).startsWith(hex));
      if (byId.length === 1) return byId[0];
      if (byId.length > 1 && hex.length < 64) {
        throw new TsbuildError('INVALID_ARGUMENT', `image ID prefix "${ref}" is ambiguous`);
      }
    }
    let normalized: string;
    try {
      normalized = normalizeImageName(ref);
    } catch {
      return undefined;
    }
    const exact = images.find((i) => i.names.includes(normalized));
    if (exact) return exact;
    // "registry/repo@sha256:..." names the image pulled as that manifest (podman's RepoDigests lookup).
    const byDigest = normalized.includes('@') ? images.find((i) => i.repoDigests?.includes(normalized)) : undefined;
    if (byDigest) return byDigest;
    const matches = images.filter((i) => i.names.some((n) => shortNameMatches(ref, n)));
    if (matches.length > 1) {
      const names = matches.flatMap((m) => m.names.filter((n) => shortNameMatches(ref, n)));
      throw new TsbuildError('INVALID_ARGUMENT', `short name "${ref}" matches several images: ${names.join(', ')}`);
    }
    return matches[0];
  }

  async function retag(id: string, add: readonly string[], remove: readonly string[]): Promise<void> {
    await withLock(lockFile, async () => {
      const images = await list();
      // The images losing a name are written before the one gaining it: a crash in between leaves
      // the name on no image (the re-run puts it back), never on two.
      const ordered = [...images.filter((i) => i.id !== id), ...images.filter((i) => i.id === id)];
      for (const image of ordered) {
        const before = image.names.length;
        const kept = image.names.filter((n) => (image.id === id ? !remove.includes(n) : !add.includes(n)));
        if (image.id === id) {
          for (const n of add) if (!kept.includes(n)) kept.push(n);
        }
        if (kept.length !== before || image.id === id) {
          await writeJsonAtomic(recordPath(image.id), { ...image, names: kept });
        }
      }
    });
  }

  return {
    list,
    find,
    async get(ref) {
      const image = await find(ref);
      if (!image) throw new TsbuildError('NOT_FOUND', `image "${ref}" not found`, { hint: 'see "tsbuild images" for local images' });
      return image;
    },
    async add(record, names) {
      const normalized = names.map(normalizeImageName);
      await withLock(lockFile, async () => {
        const existing = await readJson<ImageRecord>(recordPath(record.id));
        // Pulling one image from two places gives it two repo digests; neither forgets the other.
        const repoDigests = [...new Set([...(record.repoDigests ?? []), ...(existing?.repoDigests ?? [])])];
        const merged: ImageRecord = { ...record, names: existing?.names ?? [] };
        if (repoDigests.length > 0) merged.repoDigests = repoDigests;
        await writeJsonAtomic(recordPath(record.id), merged);
      });
      await retag(record.id, normalized, []);
      return (await readJson<ImageRecord>(recordPath(record.id)))!;
    },
    async tag(id, names) {
      await retag(id, names.map(normalizeImageName), []);
    },
    async untag(id, name) {
      await retag(id, [], [normalizeImageName(name)]);
    },
    async delete(id) {
      await withLock(lockFile, () => rm(recordPath(id), { force: true }));
    },
  };
}

export function imageDisplayId(record: ImageRecord): string {
  return shortId(record.id);
}
