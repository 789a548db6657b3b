// `save`: writes local images as an OCI image-layout tar (oci-archive) or a Docker/podman
// docker-archive. Everything is planned first (names, manifests, optional gzip into temp files) so
// the archive itself is one sequential stream of known-size entries; layers are streamed from the
// blob store, never buffered. A file output is written beside its target and renamed into place
// only when complete, so a failure never leaves a half-written archive.
import { createReadStream, createWriteStream } from 'node:fs';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import tarStream from 'tar-stream';
import { TsbuildError, errnoCode } from '../../errors.js';
import { MediaType, digestHex, sha256Digest, type Descriptor, type Index, type Manifest } from '../../oci/types.js';
import { leaseImage } from '../../store/references.js';
import type { Stores } from '../../store/root.js';
import { tempName } from '../../util/fs.js';
import { loadImage, type LayerRef } from '../image.js';
import { layerBlobDigest, layerTarFile, openLayerTar } from '../layer-blob.js';
import { normalizeImageName, parseImageName, shortNameMatches } from '../names.js';
import type { ImageRecord } from '../store.js';
import {
  DOCKER_MANIFEST,
  ENTRY_MTIME,
  OCI_INDEX,
  OCI_LAYOUT,
  blobEntryName,
  isGzipType,
  toOciLayerType,
} from './common.js';
import { hashingStream } from '../../util/hashing-stream.js';
import { mapLimit } from '../../util/limit.js';

export type ArchiveFormat = 'oci-archive' | 'docker-archive';

export interface SaveOptions {
  format: ArchiveFormat;
  /** A file path, or '-' for stdout. */
  output: string;
  /** Gzip layers not gzipped yet (oci-archive only). Off by default: copying the local blobs as they are is fastest. */
  compress?: boolean;
  /**
   * Name the (single) image by this instead of its own names, as `push oci-archive:FILE:REF` and
   * `docker-archive:FILE:REF` do: the index's ref.name for oci-archive, the RepoTag for docker-archive.
   */
  reference?: string;
}

/**
 * gzip level for `compress`: level 3 keeps most of level 6's ratio on typical layer content (binaries,
 * text) at roughly twice the speed, and save is usually on someone's critical path.
 */
export const SAVE_GZIP_LEVEL = 3;

export type PlannedEntry = { name: string; dir: true } | { name: string; data: Buffer } | { name: string; file: string; size: number };

export interface SavedImage {
  record: ImageRecord;
  names: string[];
}

/** Writes the archive; returns the digests of the manifests written (oci-archive) or stored (docker-archive). */
export async function saveImages(stores: Stores, refs: string[], options: SaveOptions): Promise<string[]> {
  if (refs.length === 0) throw new TsbuildError('INVALID_ARGUMENT', 'no image to save');
  if (options.compress && options.format !== 'oci-archive') {
    throw new TsbuildError('INVALID_ARGUMENT', 'layer compression is only supported for oci-archive');
  }
  const images = await resolveImages(stores, refs);
  if (options.reference !== undefined && images.length !== 1) {
    throw new TsbuildError('INVALID_ARGUMENT', 'a reference for the archive can only name one image');
  }
  const temps: string[] = [];
  try {
    if (options.format === 'oci-archive') {
      const plan = await planOciImages(stores, images, { compress: options.compress === true, temps, reference: options.reference });
      await writeArchive(ociLayoutEntries(plan), options.output);
      return plan.index.manifests.map((m) => m.digest).filter((d, i, all) => all.indexOf(d) === i);
    }
    const dockerNames = options.reference !== undefined ? [normalizeImageName(options.reference)] : undefined;
    await writeArchive(await planDockerArchive(stores, images, temps, dockerNames), options.output);
    return images.map((i) => i.record.manifestDigest);
  } finally {
    await Promise.all(temps.map((t) => rm(t, { force: true })));
  }
}

/** One entry per image; names are the ones the refs asked for, or all of an image's names when it was named by ID. */
export async function resolveImages(stores: Stores, refs: readonly string[]): Promise<SavedImage[]> {
  const byId = new Map<string, SavedImage>();
  for (const ref of refs) {
    const record = await stores.images.get(ref);
    // Leased until the archive is written: a prune meanwhile cannot take its blobs away (store/lease.ts).
    await leaseImage(stores, record, `image "${ref}"`);
    let wanted: string | undefined;
    try {
      wanted = normalizeImageName(ref);
    } catch {
      wanted = undefined;
    }
    const matching = record.names.filter((n) => n === wanted || shortNameMatches(ref, n));
    const names = matching.length > 0 ? matching : record.names;
    const saved = byId.get(record.id) ?? { record, names: [] };
    for (const n of names) if (!saved.names.includes(n)) saved.names.push(n);
    byId.set(record.id, saved);
  }
  return [...byId.values()];
}

/** The blobs of an OCI image layout and the index naming them; shared by archives and `oci:` directories. */
export interface OciPlan {
  blobs: PlannedEntry[];
  index: Index;
}

export async function planOciImages(
  stores: Stores,
  images: SavedImage[],
  options: { compress: boolean; temps: string[]; reference?: string },
): Promise<OciPlan> {
  const { compress, temps } = options;
  const stored = await Promise.all(
    images.map(async (image) => {
      const bytes = await stores.content.read(image.record.manifestDigest);
      const { layers } = await loadImage(stores, image.record);
      return { image, bytes, layers, manifest: JSON.parse(bytes.toString('utf8')) as Manifest };
    }),
  );
  // Layers shared between the saved images are prepared (and compressed) once.
  const unique = new Map<string, { layer: LayerRef; desc: Descriptor }>();
  for (const s of stored) for (const [i, layer] of s.layers.entries()) unique.set(layerBlobDigest(layer), { layer, desc: s.manifest.layers[i]! });
  const prepared = new Map<string, { desc: Descriptor; file: string }>();
  await mapLimit([...unique], availableParallelism(), async ([digest, { layer, desc: stored }]) => {
    if (compress && !isGzipType(stored.mediaType)) {
      prepared.set(digest, await compressLayer(stores, layer, temps));
    } else {
      const size = await stores.content.size(digest);
      const desc = { mediaType: toOciLayerType(stored.mediaType), digest, size };
      prepared.set(digest, { desc, file: stores.content.blobPath(digest) });
    }
  });

  const blobs: PlannedEntry[] = [];
  const index: Index = { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [] };
  for (const { image, bytes, manifest, layers: refs } of stored) {
    const config = await stores.content.read(manifest.config.digest);
    const layers = refs.map((l) => prepared.get(layerBlobDigest(l))!);
    let manifestBytes = bytes;
    // A Docker-format image or new layer digests need a rewritten manifest; the config bytes stay,
    // so the image ID is the same wherever the archive is loaded.
    if (compress || manifest.mediaType !== MediaType.OciManifest) {
      const converted: Manifest = {
        schemaVersion: 2,
        mediaType: MediaType.OciManifest,
        config: { mediaType: MediaType.OciConfig, digest: manifest.config.digest, size: config.length },
        layers: layers.map((l) => l.desc),
        ...(manifest.annotations ? { annotations: manifest.annotations } : {}),
      };
      manifestBytes = Buffer.from(JSON.stringify(converted));
    }
    const manifestDigest = sha256Digest(manifestBytes);
    blobs.push({ name: blobEntryName(manifestDigest), data: manifestBytes });
    blobs.push({ name: blobEntryName(manifest.config.digest), data: config });
    for (const l of layers) blobs.push({ name: blobEntryName(l.desc.digest), file: l.file, size: l.desc.size });

    const desc: Descriptor = { mediaType: MediaType.OciManifest, digest: manifestDigest, size: manifestBytes.length };
    if (options.reference !== undefined) {
      // skopeo's `oci:DIR:REF` and `oci-archive:FILE:REF`: ref.name is whatever the user wrote.
      index.manifests.push({ ...desc, annotations: { 'org.opencontainers.image.ref.name': options.reference } });
      continue;
    }
    if (image.names.length === 0) index.manifests.push(desc);
    // Annotated like podman and containerd: ref.name is the tag (what `oci-archive:FILE:tag` picks),
    // io.containerd.image.name the full name (what loaders use to name the image).
    for (const name of image.names) {
      const tag = parseImageName(name).tag;
      const annotations: Record<string, string> = { 'io.containerd.image.name': name };
      if (tag) annotations['org.opencontainers.image.ref.name'] = tag;
      index.manifests.push({ ...desc, annotations });
    }
  }
  return { blobs: dedupe(blobs), index };
}

export const OCI_LAYOUT_DATA = Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' }));

function ociLayoutEntries(plan: OciPlan): PlannedEntry[] {
  return dedupe([
    { name: OCI_LAYOUT, data: OCI_LAYOUT_DATA },
    { name: OCI_INDEX, data: Buffer.from(JSON.stringify(plan.index)) },
    { name: 'blobs/', dir: true },
    { name: 'blobs/sha256/', dir: true },
    ...plan.blobs,
  ]);
}

/** The podman/Docker layout: manifest.json, <config-hex>.json, <diff-id-hex>/layer.tar (uncompressed). */
async function planDockerArchive(stores: Stores, images: SavedImage[], temps: string[], namesOverride?: string[]): Promise<PlannedEntry[]> {
  const manifest: Array<{ Config: string; RepoTags: string[] | null; Layers: string[] }> = [];
  const files: PlannedEntry[] = [];
  const tars = new Map<string, Promise<{ file: string; size: number }>>();
  for (const { record, names: ownNames } of images) {
    const names = namesOverride ?? ownNames;
    const image = await loadImage(stores, record);
    const configDigest = record.id;
    const config = await stores.content.read(configDigest);
    const layers: string[] = [];
    for (const layer of image.layers) {
      const hex = digestHex(layer.diffId);
      // The uncompressed tar is what this format wants: the blob itself, or inflated from the
      // compressed blob a pull kept (once per layer, however many images share it).
      if (!tars.has(layer.diffId)) tars.set(layer.diffId, layerTarFile(stores, layer, temps));
      const { file, size } = await tars.get(layer.diffId)!;
      files.push({ name: `${hex}/`, dir: true });
      files.push({ name: `${hex}/layer.tar`, file, size });
      layers.push(`${hex}/layer.tar`);
    }
    files.push({ name: `${digestHex(configDigest)}.json`, data: config });
    manifest.push({ Config: `${digestHex(configDigest)}.json`, RepoTags: names.length > 0 ? names : null, Layers: layers });
  }
  return dedupe([{ name: DOCKER_MANIFEST, data: Buffer.from(JSON.stringify(manifest)) }, ...files]);
}

function dedupe(entries: PlannedEntry[]): PlannedEntry[] {
  const seen = new Set<string>();
  return entries.filter((e) => !seen.has(e.name) && seen.add(e.name));
}

async function compressLayer(stores: Stores, layer: LayerRef, temps: string[]): Promise<{ desc: Descriptor; file: string }> {
  const file = stores.content.tempPath();
  temps.push(file);
  const hash = hashingStream();
  await pipeline(openLayerTar(stores, layer), createGzip({ level: SAVE_GZIP_LEVEL }), hash.stream, createWriteStream(file, { flags: 'wx' }));
  return { desc: { mediaType: MediaType.OciLayerGzip, digest: hash.digest(), size: hash.size() }, file };
}

async function writeArchive(entries: PlannedEntry[], output: string): Promise<void> {
  if (output === '-') {
    await streamEntries(entries, process.stdout, false).catch((err: unknown) => {
      throw writeError('stdout', err);
    });
    return;
  }
  const target = path.resolve(output);
  const tmp = tempName(path.dirname(target), 'tsbuild-save');
  let handle: FileHandle;
  try {
    handle = await open(tmp, 'wx', 0o644);
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new TsbuildError('NOT_FOUND', `cannot write ${output}: directory ${path.dirname(target)} does not exist`, { cause: err });
    }
    throw new TsbuildError('IO', `cannot write ${output}: ${(err as Error).message}`, { cause: err });
  }
  try {
    // The stream owns the handle from here: it fsyncs before closing (flush), so the rename below
    // never publishes an archive whose bytes are still only in the page cache.
    await streamEntries(entries, handle.createWriteStream({ flush: true }), true);
    await rename(tmp, target);
  } catch (err) {
    await handle.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw writeError(output, err);
  }
}

function writeError(output: string, err: unknown): TsbuildError {
  if (err instanceof TsbuildError) return err;
  return new TsbuildError('IO', `cannot write archive ${output}: ${(err as Error).message}`, { cause: err });
}

async function streamEntries(entries: PlannedEntry[], sink: Writable, end: boolean): Promise<void> {
  const pack = tarStream.pack();
  const written = pipeline(pack, sink, { end });
  try {
    for (const entry of entries) await addEntry(pack, entry);
    pack.finalize();
  } catch (err) {
    pack.destroy(err as Error);
    // When the sink failed (disk full, closed pipe) its error is the one worth reporting.
    const sinkError: unknown = await written.then(
      () => undefined,
      (e: unknown) => e,
    );
    throw sinkError ?? err;
  }
  await written;
}

function addEntry(pack: tarStream.Pack, entry: PlannedEntry): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (err?: Error | null): void => (err ? reject(err) : resolve());
    if ('dir' in entry) {
      pack.entry({ name: entry.name, type: 'directory', mode: 0o755, mtime: ENTRY_MTIME }, done);
    } else if ('data' in entry) {
      pack.entry({ name: entry.name, mode: 0o644, mtime: ENTRY_MTIME }, entry.data, done);
    } else {
      const sink = pack.entry({ name: entry.name, size: entry.size, mode: 0o644, mtime: ENTRY_MTIME }, done);
      pipeline(createReadStream(entry.file), sink).catch(reject);
    }
  });
}
