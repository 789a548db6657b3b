// One layer of a push. The local blob is the uncompressed tar, so the cheapest way to get it to the
// registry is not to send it: a compressed variant remembered in the blob-info cache is first
// looked for in the destination repository (HEAD), then mounted from another repository of the
// same registry that is known to hold it; only then is the layer compressed (in parallel, into a
// temp file that is hashed in the same pass) and uploaded, and the result remembered.
import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { TsbuildError } from '../errors.js';
import type { Logger } from '../log.js';
import { shortId, type Descriptor } from '../oci/types.js';
import type { Stores } from '../store/root.js';
import type { BlobInfoCache } from './blob-info.js';
import { compressFile, type Compression } from './compression.js';
import type { Progress, RegistryClient } from './types.js';

export interface LayerPush {
  stores: Stores;
  client: RegistryClient;
  /** The registry host as contacted and the destination repository. */
  registry: string;
  repository: string;
  diffId: string;
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

export async function pushLayer(job: LayerPush): Promise<PushedLayer> {
  const { client, repository, diffId, blobInfo, progress } = job;
  const here = { registry: job.registry, repository };
  const known = (await blobInfo.variants(diffId)).filter((v) => v.compression === job.compression);
  for (const variant of known) {
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
  return compressAndUpload(job);
}

async function compressAndUpload(job: LayerPush): Promise<PushedLayer> {
  const { stores, diffId, progress } = job;
  const file = stores.content.tempPath();
  const rawSize = await stores.content.size(diffId);
  const compressId = `layer ${shortId(diffId)}`;
  try {
    progress.start(compressId, `Compressing layer ${shortId(diffId)} with ${job.compression} -${job.level}`, rawSize);
    const compressed = await compressFile(stores.content.blobPath(diffId), file, {
      compression: job.compression,
      level: job.level,
      signal: job.signal,
      onBytes: (n) => progress.advance(compressId, n),
    });
    progress.finish(compressId, 'compressed');
    const variant = { digest: compressed.digest, size: compressed.size, mediaType: job.mediaType, compression: job.compression, level: job.level };
    const desc = { mediaType: job.mediaType, digest: compressed.digest, size: compressed.size };
    const id = `blob ${shortId(compressed.digest)}`;
    // The same bytes may be there already (pushed by someone else, or from an earlier attempt).
    if ((await job.client.headBlob(job.repository, compressed.digest)) === compressed.size) {
      progress.finish(id, 'skipped: already exists');
    } else {
      progress.start(id, `Copying ${id}`, compressed.size);
      // The client reports bytes as they go out, and only forward: a retried upload does not count twice.
      await job.client.uploadBlob(job.repository, compressed.digest, compressed.size, () => createReadStream(file), {
        chunkSize: job.chunkSize,
        onBytes: (n) => progress.advance(id, n),
      });
      progress.finish(id, 'done');
    }
    await remember(job, variant, { registry: job.registry, repository: job.repository });
    return { desc, how: 'uploaded' };
  } catch (err) {
    if (err instanceof TsbuildError) throw err;
    throw new TsbuildError('IO', `layer ${diffId}: ${(err as Error).message}`, { cause: err });
  } finally {
    await rm(file, { force: true });
  }
}

async function remember(
  job: LayerPush,
  variant: { digest: string; size: number; mediaType: string; compression: Compression; level?: number },
  where: { registry: string; repository: string },
): Promise<void> {
  const plain = { digest: variant.digest, size: variant.size, mediaType: variant.mediaType, compression: variant.compression, level: variant.level };
  // Losing a cache entry costs one compression later; it is never worth failing a push for.
  await job.blobInfo.record(job.diffId, plain, where).catch((err: unknown) => job.logger.warn({ err, diffId: job.diffId }, 'cannot remember the compressed layer'));
}
