// Helpers shared by image save and load: media-type conversion between Docker and OCI, gzip
// detection, a small concurrency limiter, and the fixed metadata of archive entries.
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { Transform } from 'node:stream';
import { MediaType } from '../../oci/types.js';

/** Archive entries get a fixed mtime so saving one image twice gives byte-identical archives. */
export const ENTRY_MTIME = new Date(0);

export const OCI_LAYOUT = 'oci-layout';
export const OCI_INDEX = 'index.json';
export const DOCKER_MANIFEST = 'manifest.json';

/** The blob path of a digest inside an OCI layout (digests are validated before they get here). */
export function blobEntryName(digest: string): string {
  return `blobs/sha256/${digest.replace(/^sha256:/, '')}`;
}

/** Docker and OCI layer types mean the same bytes; only the names differ. */
export function toOciLayerType(mediaType: string): string {
  if (mediaType === MediaType.DockerLayer) return MediaType.OciLayer;
  if (mediaType === MediaType.DockerLayerGzip) return MediaType.OciLayerGzip;
  return mediaType;
}

export function isIndexType(mediaType: string | undefined): boolean {
  return mediaType === MediaType.OciIndex || mediaType === MediaType.DockerManifestList;
}

export function isGzipType(mediaType: string | undefined): boolean {
  return mediaType !== undefined && /gzip$/.test(mediaType);
}

/** True when the file starts with the gzip magic 1f 8b; media types in archives are not always honest. */
export async function hasGzipMagic(file: string): Promise<boolean> {
  const handle = await open(file, 'r');
  try {
    const head = Buffer.alloc(2);
    const { bytesRead } = await handle.read(head, 0, 2, 0);
    return bytesRead === 2 && head[0] === 0x1f && head[1] === 0x8b;
  } finally {
    await handle.close();
  }
}

/**
 * Runs `fn` over `items` with at most `limit` in flight; results keep the input order. After a failure
 * no new item starts, and the first error is thrown only once every running task has settled, so a
 * caller's cleanup never races a task that is still creating temp files.
 */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i]!, i);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  const settled = await Promise.allSettled(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  const rejected = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (rejected) throw rejected.reason;
  return results;
}

export { hashingStream } from '../../util/hashing-stream.js';
