// One layer of a push. The cheapest way to get a layer to the registry is not to send it: a
// compressed variant remembered in the blob-info cache (or the compressed blob a pull kept) is first
// looked for in the destination repository (HEAD), then mounted from another repository of the
// same registry that is known to hold it. Then a layer kept compressed as wanted is uploaded as it
// is; only otherwise is the layer's tar compressed (in parallel) straight into a streamed upload
// that hashes what it sends, and the result remembered.
import { rm } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { TsbuildError } from '../errors.js';
import { blobCompression, layerTarFile } from '../image/layer-blob.js';
import type { Logger } from '../log.js';
import { shortId, type Descriptor } from '../oci/types.js';
import type { Stores } from '../store/root.js';
import type { BlobInfoCache, BlobVariant } from './blob-info.js';
import { compressStream, type Compression } from './compression.js';
import { forwardProgress } from './progress.js';
import type { Progress, RegistryClient } from './types.js';

export interface LayerPush {
  stores: Stores;
  client: RegistryClient;
  /** The registry host as contacted and the destination repository. */
  registry: string;
  repository: string;
  diffId: string;
  /** The compressed local blob that holds the layer, if it is kept compressed (image/layer-blob.ts). */
  blob?: Descriptor;
  compression: Compression;
  level: number;
  mediaType: string;
  blobInfo: BlobInfoCache;
  progress: Progress;
  logger: Logger;
  chunkSize?: number;
  signal?: AbortSignal;
}

export interface PushedLayer {
  desc: Descriptor;
  /** How it got there, for tests and logs. */
  how: 'exists' | 'mounted' | 'uploaded';
}

type LayerWanted = Pick<LayerPush, 'diffId' | 'blob' | 'compression' | 'mediaType' | 'blobInfo'>;

/** The compressed blob this image keeps the layer in, when it is in the compression wanted. */
function keptBlob(job: LayerWanted): Descriptor | undefined {
  return job.blob !== undefined && blobCompression(job.blob.mediaType) === job.compression ? job.blob : undefined;
}

/** The compressed variants that may stand for the layer, the most recently used first. */
async function candidates(job: LayerWanted): Promise<BlobVariant[]> {
  // An unverified variant is only this layer if it is the very blob this image holds it in.
  const known = (await job.blobInfo.variants(job.diffId)).filter((v) => v.compression === job.compression && (!v.unverified || v.digest === job.blob?.digest));
  const local = keptBlob(job);
  if (local !== undefined && !known.some((v) => v.digest === local.digest)) {
    known.push({ digest: local.digest, size: local.size, mediaType: job.mediaType, compression: job.compression, sources: [] });
  }
  return known;
}

/**
 * The layer's descriptor as the destination repository is remembered to hold it (the blob-info
 * cache, from an earlier push or pull there), or undefined: what a push there would send, known
 * without asking the registry.
 */
export async function rememberedInRepository(job: LayerWanted & { registry: string; repository: string }): Promise<Descriptor | undefined> {
  const variant = (await candidates(job)).find((v) => v.sources.some((s) => s.registry === job.registry && s.repository === job.repository));
  return variant && { mediaType: job.mediaType, digest: variant.digest, size: variant.size };
}

export async function pushLayer(job: LayerPush): Promise<PushedLayer> {
  const { client, repository, progress } = job;
  const here = { registry: job.registry, repository };
  const local = keptBlob(job);
  for (const variant of await candidates(job)) {
    const id = `blob ${shortId(variant.digest)}`;
    const desc = { mediaType: job.mediaType, digest: variant.digest, size: variant.size };
    const size = await client.headBlob(repository, variant.digest);
    if (size !== undefined) {
      if (size !== variant.size) {
        job.logger.warn({ digest: variant.digest, size, expected: variant.size }, 'registry reports another size for a known blob; ignoring it');
        continue;
      }
      progress.finish(id, 'skipped: already exists');
      await remember(job, variant, here);
      return { desc, how: 'exists' };
    }
    for (const source of variant.sources) {
      if (source.registry !== job.registry || source.repository === repository) continue;
      if (await client.mountBlob(repository, variant.digest, source.repository).catch(() => false)) {
        progress.finish(id, `mounted from ${source.repository}`);
        await remember(job, variant, here);
        return { desc, how: 'mounted' };
      }
    }
  }
  return local !== undefined ? uploadKept(job, local) : compressAndUpload(job);
}

/** Uploads the compressed blob a pull kept, byte for byte. */
async function uploadKept(job: LayerPush, blob: Descriptor): Promise<PushedLayer> {
  const { stores, progress } = job;
  const id = `blob ${shortId(blob.digest)}`;
  progress.start(id, `Copying ${id}`, blob.size);
  await job.client.uploadBlob(job.repository, blob.digest, blob.size, () => stores.content.openRead(blob.digest), {
    chunkSize: job.chunkSize,
    onBytes: (n) => progress.advance(id, n),
  });
  progress.finish(id, 'done');
  await remember(job, { digest: blob.digest, size: blob.size, mediaType: job.mediaType, compression: job.compression }, { registry: job.registry, repository: job.repository });
  return { desc: { mediaType: job.mediaType, digest: blob.digest, size: blob.size }, how: 'uploaded' };
}

async function compressAndUpload(job: LayerPush): Promise<PushedLayer> {
  const { stores, diffId, progress } = job;
  const id = `blob ${shortId(diffId)}`;
  const temps: string[] = [];
  try {
    // A layer kept in another compression is inflated to a temp file first: the parallel
    // compressor reads its input by offset.
    const { file, size: rawSize } = await layerTarFile(stores, { diffId, blob: job.blob }, temps, job.signal);
    // Compressed straight into the upload: no temp file, and the upload keeps pace with the
    // compression instead of waiting for it. The registry is told the digest at the end (PUT).
    progress.start(id, `Copying blob ${shortId(diffId)} (compressing with ${job.compression} -${job.level})`, rawSize);
    // Progress counts uncompressed bytes read, and only forward: a retried upload compresses again.
    const advance = forwardProgress((n) => progress.advance(id, n));
    const open = (): Readable => {
      let read = 0;
      return compressStream(file, {
        compression: job.compression,
        level: job.level,
        signal: job.signal,
        onBytes: (n) => advance((read += n)),
      });
    };
    const compressed = await job.client.uploadStream(job.repository, open, { chunkSize: job.chunkSize });
    progress.finish(id, 'done');
    const variant = { digest: compressed.digest, size: compressed.size, mediaType: job.mediaType, compression: job.compression, level: job.level };
    const desc = { mediaType: job.mediaType, digest: compressed.digest, size: compressed.size };
    await remember(job, variant, { registry: job.registry, repository: job.repository });
    return { desc, how: 'uploaded' };
  } catch (err) {
    if (err instanceof TsbuildError) throw err;
    throw new TsbuildError('IO', `layer ${diffId}: ${(err as Error).message}`, { cause: err });
  } finally {
    for (const temp of temps) await rm(temp, { force: true });
  }
}

async function remember(
  job: LayerPush,
  variant: { digest: string; size: number; mediaType: string; compression: Compression; level?: number },
  where: { registry: string; repository: string },
): Promise<void> {
  const plain: Omit<BlobVariant, 'sources'> = { digest: variant.digest, size: variant.size, mediaType: variant.mediaType, compression: variant.compression, level: variant.level };
  // Sending the blob a pull kept checks nothing about what it inflates to.
  if (variant.digest === job.blob?.digest) plain.unverified = true;
  // Losing a cache entry costs one compression later; it is never worth failing a push for.
  await job.blobInfo.record(job.diffId, plain, where).catch((err: unknown) => job.logger.warn({ err, diffId: job.diffId }, 'cannot remember the compressed layer'));
}
