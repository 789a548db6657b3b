// `load`: imports the images of an OCI archive (oci-layout + index.json) or a docker-archive
// (manifest.json) into the local stores. Layers are decompressed while they stream in and kept as
// uncompressed tars whose digests must equal the config's diff IDs; compressed digests are checked
// against the manifest where the archive states them. Blobs are committed only once verified and
// image records are written only after every image of the archive is in, so a bad archive leaves
// no image behind. Snapshots are not unpacked here; ensureSnapshots does that on first use.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { Transform, pipeline, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { TsbuildError, isTsbuildError } from '../../errors.js';
import { fileDigest } from '../../util/hashing-stream.js';
import {
  MediaType,
  chainIds,
  hostPlatform,
  isDigest,
  sha256Digest,
  type Descriptor,
  type ImageConfig,
  type ImageFormat,
  type Index,
  type Manifest,
} from '../../oci/types.js';
import { lease } from '../../store/lease.js';
import type { Stores } from '../../store/root.js';
import { tempName } from '../../util/fs.js';
import { inflateLimit, limitedStream } from '../../util/limited-stream.js';
import { hasExplicitDomain, normalizeImageName } from '../names.js';
import type { ImageRecord } from '../store.js';
import { DOCKER_MANIFEST, OCI_INDEX, OCI_LAYOUT, blobEntryName, hasGzipMagic, isGzipType, isIndexType } from './common.js';
import { mapLimit } from '../../util/limit.js';
import { storeImage } from './store-image.js';
import { extractArchive, notAnImageArchive, type ExtractedArchive } from './extract.js';

/** Manifests, indexes and configs are read into memory; nothing legitimate comes close to this. */
const MAX_JSON = 16 * 1024 * 1024;
const MAX_INDEX_DEPTH = 4;

interface SourceLayer {
  /** Path inside the archive. */
  name: string;
  mediaType?: string;
  /** Digest (and size) of the bytes as stored in the archive, when the archive states it. */
  digest?: string;
  size?: number;
}

interface SourceImage {
  format: ImageFormat;
  names: string[];
  /** The exact config bytes: keeping them keeps the image ID. */
  config: Buffer;
  layers: SourceLayer[];
}

export interface LoadOptions {
  /**
   * Load only the image this names (`oci-archive:FILE:REF`, `docker-archive:FILE:REF`, `oci:DIR:REF`):
   * an OCI index entry's ref.name or full name, or a docker-archive RepoTag.
   */
  reference?: string;
}

export async function loadArchive(stores: Stores, input: string, options: LoadOptions = {}): Promise<ImageRecord[]> {
  const work = tempName(stores.layout.tmp, 'load');
  await mkdir(work, { recursive: true, mode: 0o700 });
  try {
    return await importArchive(stores, await extractArchive(input, work), options);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** Imports the images of an archive that is already readable file by file (extracted, or an `oci:` directory). */
export async function importArchive(stores: Stores, archive: ExtractedArchive, options: LoadOptions = {}): Promise<ImageRecord[]> {
  const input = archive.input;
  let sources: SourceImage[];
  // Docker 25+ writes both an OCI layout and manifest.json; the OCI side is the richer one.
  if (archive.has(OCI_INDEX) && (archive.has(OCI_LAYOUT) || !archive.has(DOCKER_MANIFEST))) sources = await readOciImages(archive, options.reference);
  else if (archive.has(DOCKER_MANIFEST)) sources = await readDockerImages(archive, options.reference);
  else throw notAnImageArchive(input);
  if (sources.length === 0 && options.reference !== undefined) {
    throw new TsbuildError('NOT_FOUND', `archive ${input}: no image named "${options.reference}"`);
  }
  if (sources.length === 0) throw new TsbuildError('INVALID_ARGUMENT', `archive ${input}: contains no image`);

  const pending: Array<{ record: Omit<ImageRecord, 'names'>; names: string[] }> = [];
  for (const source of sources) {
    const imported = await importImage(stores, archive, source);
    const same = pending.find((p) => p.record.id === imported.record.id);
    if (same) same.names.push(...imported.names.filter((n) => !same.names.includes(n)));
    else pending.push(imported);
  }
  const records: ImageRecord[] = [];
  for (const p of pending) records.push(await stores.images.add(p.record, p.names));
  return records;
}

/** Whether an archive's name for an image (ref.name, full name, RepoTag) is what `wanted` asks for. */
function namesMatch(wanted: string, candidates: ReadonlyArray<string | undefined>): boolean {
  const normal = (n: string): string | undefined => {
    try {
      return normalizeImageName(n);
    } catch {
      return undefined;
    }
  };
  const target = normal(wanted);
  return candidates.some((c) => c !== undefined && (c === wanted || (target !== undefined && normal(c) === target)));
}

async function readOciImages(archive: ExtractedArchive, reference: string | undefined): Promise<SourceImage[]> {
  const index = await readArchiveJson<Partial<Index>>(archive, OCI_INDEX);
  if (!Array.isArray(index.value.manifests)) throw notAnImageArchive(archive.input);
  const images: SourceImage[] = [];
  for (const desc of index.value.manifests as Array<Descriptor | null>) {
    if (!desc || typeof desc !== 'object') throw new TsbuildError('INVALID_ARGUMENT', `archive ${archive.input}: index.json has an invalid entry`);
    const annotations = desc.annotations ?? {};
    if (reference !== undefined && !namesMatch(reference, [annotations['org.opencontainers.image.ref.name'], annotations['io.containerd.image.name']])) continue;
    const image = await resolveManifest(archive, desc, 0);
    images.push({ ...image, names: ociNames(desc.annotations) });
  }
  return images;
}

/** Follows a descriptor to an image manifest, through nested indexes (picking this host's platform). */
async function resolveManifest(archive: ExtractedArchive, desc: Descriptor, depth: number): Promise<Omit<SourceImage, 'names'>> {
  const { value } = await readArchiveJson<Partial<Manifest> & Partial<Index>>(archive, blobName(archive, desc.digest), desc);
  const mediaType = value.mediaType ?? desc.mediaType;
  if (isIndexType(mediaType) || Array.isArray(value.manifests)) {
    if (depth >= MAX_INDEX_DEPTH) throw new TsbuildError('INVALID_ARGUMENT', `archive ${archive.input}: indexes nested too deeply`);
    return resolveManifest(archive, pickPlatform(archive, desc.digest, value.manifests ?? []), depth + 1);
  }
  if (!value.config || !Array.isArray(value.layers)) {
    throw new TsbuildError('INVALID_ARGUMENT', `archive ${archive.input}: ${desc.digest} is not an image manifest`);
  }
  const config = await readArchiveBlob(archive, blobName(archive, value.config.digest), value.config);
  const layers = value.layers.map((l) => ({ name: blobName(archive, l.digest), mediaType: l.mediaType, digest: l.digest, size: l.size }));
  return { format: mediaType === MediaType.DockerManifest ? 'docker' : 'oci', config, layers };
}

function pickPlatform(archive: ExtractedArchive, indexDigest: string, manifests: Descriptor[]): Descriptor {
  const host = hostPlatform();
  const match = manifests.find((m) => m.platform?.os === host.os && m.platform.architecture === host.architecture);
  if (match) return match;
  if (manifests.length === 1 && manifests[0] && !manifests[0].platform) return manifests[0];
  throw new TsbuildError('NOT_FOUND', `archive ${archive.input}: index ${indexDigest} has no image for ${host.os}/${host.architecture}`);
}

/** podman's rule: the full name from io.containerd.image.name, else a ref.name that is a name rather than a bare tag. */
function ociNames(annotations: Record<string, string> | undefined): string[] {
  const full = annotations?.['io.containerd.image.name'];
  const ref = annotations?.['org.opencontainers.image.ref.name'];
  const name = full ?? (ref !== undefined && /[:/]/.test(ref) ? ref : undefined);
  return name === undefined ? [] : validNames([name]);
}

async function readDockerImages(archive: ExtractedArchive, reference: string | undefined): Promise<SourceImage[]> {
  const { value } = await readArchiveJson<unknown>(archive, DOCKER_MANIFEST);
  if (!Array.isArray(value)) throw notAnImageArchive(archive.input);
  const wanted = (value as Array<{ RepoTags?: unknown }>).filter((item) => {
    if (reference === undefined) return true;
    const tags = item && Array.isArray(item.RepoTags) ? item.RepoTags.filter((t): t is string => typeof t === 'string') : [];
    return namesMatch(reference, [...tags, ...tags.map(dockerName)]);
  });
  return Promise.all(
    wanted.map(async (item: { Config?: unknown; RepoTags?: unknown; Layers?: unknown }) => {
      const layerNames = item.Layers;
      if (typeof item.Config !== 'string' || !Array.isArray(layerNames) || !layerNames.every((l) => typeof l === 'string')) {
        throw new TsbuildError('INVALID_ARGUMENT', `archive ${archive.input}: manifest.json has an entry without Config or Layers`);
      }
      const configDigest = digestInName(item.Config);
      const config = await readArchiveBlob(archive, item.Config, configDigest ? { digest: configDigest } : undefined);
      const tags = Array.isArray(item.RepoTags) ? item.RepoTags.filter((t): t is string => typeof t === 'string') : [];
      const names = validNames(tags.map(dockerName));
      const layers = (layerNames as string[]).map((name) => ({ name, digest: digestInName(name) }));
      return { format: 'docker' as const, names, config, layers };
    }),
  );
}

/** RepoTags are Docker references: a name without a registry means Docker Hub, as podman reads them. */
function dockerName(tag: string): string {
  return hasExplicitDomain(tag) ? tag : tag.includes('/') ? `docker.io/${tag}` : `docker.io/library/${tag}`;
}

/** The digest a Docker archive path names: <hex>.json configs and blobs/sha256/<hex> (Docker 25+). */
function digestInName(name: string): string | undefined {
  const hex = /^(?:\.\/)?(?:blobs\/sha256\/([a-f0-9]{64})|([a-f0-9]{64})\.json)$/.exec(name);
  return hex ? `sha256:${hex[1] ?? hex[2]}` : undefined;
}

function validNames(names: string[]): string[] {
  const valid: string[] = [];
  for (const name of names) {
    try {
      valid.push(normalizeImageName(name));
    } catch {
      // An unusable name should not cost the user the image; it is loaded without it.
    }
  }
  return valid;
}

async function importImage(
  stores: Stores,
  archive: ExtractedArchive,
  source: SourceImage,
): Promise<{ record: Omit<ImageRecord, 'names'>; names: string[] }> {
  let config: ImageConfig;
  try {
    config = JSON.parse(source.config.toString('utf8')) as ImageConfig;
  } catch (err) {
    throw new TsbuildError('INVALID_ARGUMENT', `archive ${archive.input}: image config is not valid JSON`, { cause: err });
  }
  const diffIds = config.rootfs?.diff_ids;
  if (!Array.isArray(diffIds) || !diffIds.every((d) => typeof d === 'string' && isDigest(d)) || diffIds.length !== source.layers.length) {
    throw new TsbuildError(
      'INVALID_ARGUMENT',
      `archive ${archive.input}: image config lists ${Array.isArray(diffIds) ? diffIds.length : 'no'} valid diff IDs for ${source.layers.length} layers`,
    );
  }
  // Leased before a layer already present is skipped, so no prune removes it before the record exists.
  await lease(stores.layout.root, { blobs: diffIds, snapshots: chainIds(diffIds) });
  const sizes = await mapLimit(source.layers, Math.min(4, availableParallelism()), (layer, i) =>
    ingestLayer(stores, archive, layer, diffIds[i]!, i),
  );
  const record = await storeImage(stores, { config: source.config, format: source.format, layers: diffIds.map((diffId, i) => ({ diffId, size: sizes[i]! })), created: config.created });
  return { record, names: source.names };
}

/** Streams one layer into the blob store as its uncompressed tar; returns the uncompressed size. */
async function ingestLayer(stores: Stores, archive: ExtractedArchive, layer: SourceLayer, diffId: string, i: number): Promise<number> {
  // A layer already held locally was verified when it came in; the archive's copy is not needed.
  if (await stores.content.has(diffId)) return stores.content.size(diffId);
  const what = `archive ${archive.input}: layer ${i + 1} (${layer.name})`;
  if (layer.mediaType !== undefined && /zstd/.test(layer.mediaType)) {
    throw new TsbuildError('INVALID_ARGUMENT', `${what}: unsupported media type ${layer.mediaType}`);
  }
  const file = archive.file(layer.name);
  const gzipped = isGzipType(layer.mediaType) || (await hasGzipMagic(file));
  const source = createReadStream(file);
  const stages: Transform[] = [];
  if (layer.digest !== undefined && (gzipped || layer.digest !== diffId)) stages.push(verifier(what, layer.digest, layer.size));
  if (gzipped) {
    // A decompression bomb stops at the inflate limit (see util/limited-stream.ts); ingest removes its temp file.
    const limit = inflateLimit(await archive.size(layer.name));
    const tooLarge = (): TsbuildError => new TsbuildError('INVALID_ARGUMENT', `${what}: the layer inflates to more than ${limit.bytes} bytes, the limit of ${limit.rule}; refusing a likely decompression bomb`);
    stages.push(createGunzip(), limitedStream(limit.bytes, tooLarge));
  }
  // The callback form returns the last stage (a Transform, typed loosely by @types/node); any
  // stage's error destroys it, so ingest fails and commits nothing when the stored digest is wrong.
  const input = stages.length === 0 ? source : (pipeline([source, ...stages], () => undefined) as unknown as Readable);
  const sizeCheck = !gzipped && layer.digest === diffId ? layer.size : undefined;
  try {
    return (await stores.content.ingest(input, { digest: diffId, size: sizeCheck })).size;
  } catch (err) {
    if (isTsbuildError(err) && err.message.startsWith('archive ')) throw err;
    if (isTsbuildError(err, 'DIGEST_MISMATCH')) {
      const actual = /has digest (sha256:[a-f0-9]{64})/.exec(err.message)?.[1] ?? 'another digest';
      throw new TsbuildError('DIGEST_MISMATCH', `${what}: content has ${actual}, but the image config lists diff ID ${diffId}`, { cause: err });
    }
    if (/^Z_/.test((err as { code?: string }).code ?? '')) {
      // gunzip usually trips over a damaged blob before the verifier has seen all of it; a blob
      // that differs from its manifest digest is a digest mismatch, not merely bad gzip.
      if (layer.digest !== undefined) {
        const actual = await fileDigest(file);
        if (actual !== layer.digest) {
          throw new TsbuildError('DIGEST_MISMATCH', `${what} has digest ${actual}, but the manifest says ${layer.digest}`, { cause: err });
        }
      }
      throw new TsbuildError('INVALID_ARGUMENT', `${what}: corrupt or truncated gzip data`, { cause: err });
    }
    throw err;
  }
}

/** Checks the bytes flowing by against a digest (and size) stated by the archive, failing at the end. */
function verifier(what: string, digest: string, size: number | undefined): Transform {
  const hash = createHash('sha256');
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      seen += chunk.length;
      done(null, chunk);
    },
    flush(done) {
      const actual = `sha256:${hash.digest('hex')}`;
      if (actual !== digest || (size !== undefined && size !== seen)) {
        const stated = `${digest}${size !== undefined ? ` and size ${size}` : ''}`;
        done(new TsbuildError('DIGEST_MISMATCH', `${what} has digest ${actual} and size ${seen}, but the manifest says ${stated}`));
      } else {
        done();
      }
    },
  });
}

function blobName(archive: ExtractedArchive, digest: unknown): string {
  if (typeof digest !== 'string' || !isDigest(digest)) {
    throw new TsbuildError('INVALID_ARGUMENT', `archive ${archive.input}: invalid or unsupported digest "${String(digest)}"`);
  }
  return blobEntryName(digest);
}

/** Reads a small file of the archive, verifying it against a digest (and size) when one is known. */
async function readArchiveBlob(archive: ExtractedArchive, name: string, expected?: { digest: string; size?: number }): Promise<Buffer> {
  const size = await archive.size(name);
  if (size > MAX_JSON) throw new TsbuildError('INVALID_ARGUMENT', `archive ${archive.input}: ${name} is too large (${size} bytes)`);
  const bytes = await readFile(archive.file(name));
  if (expected) {
    const actual = sha256Digest(bytes);
    if (actual !== expected.digest || (expected.size !== undefined && expected.size !== bytes.length)) {
      throw new TsbuildError('DIGEST_MISMATCH', `archive ${archive.input}: ${name} has digest ${actual}, expected ${expected.digest}`);
    }
  }
  return bytes;
}

async function readArchiveJson<T>(archive: ExtractedArchive, name: string, expected?: { digest: string; size?: number }): Promise<{ value: T; bytes: Buffer }> {
  const bytes = await readArchiveBlob(archive, name, expected);
  try {
    return { value: JSON.parse(bytes.toString('utf8')) as T, bytes };
  } catch (err) {
    throw new TsbuildError('INVALID_ARGUMENT', `archive ${archive.input}: ${name} is not valid JSON`, { cause: err });
  }
}
