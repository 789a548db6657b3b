// Where the bytes of a layer are kept locally. A layer tsbuild makes, loads from an archive or
// receives uncompressed is kept as its uncompressed tar: the blob named by its diff ID. A layer
// pulled compressed is kept as the registry served it, under its compressed digest (a LayerRef's
// `blob`), as containerd's content store keeps it: the pull writes half the bytes and inflates
// nothing, and a push of it sends the same bytes again. The pull checked that blob against the
// manifest, not against the config's diff ID: every reader that inflates it does that (and stops
// a decompression bomb), so a snapshot is only ever committed under the chain ID of what it holds.
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { TsbuildError } from '../errors.js';
import { MediaType, type Descriptor, type ImageFormat } from '../oci/types.js';
import { decompressor, type Compression } from '../remote/compression.js';
import type { Stores } from '../store/root.js';
import { inflateLimit } from '../util/limited-stream.js';

export type LayerCompression = Compression | 'none';

/** What a layer is, for finding its bytes: its diff ID and, when kept compressed, that blob. */
export interface LayerBlobRef {
  diffId: string;
  size: number;
  blob?: Descriptor;
}

const ZSTD_LAYER = 'application/vnd.oci.image.layer.v1.tar+zstd';

/** The compression of a local layer blob, from the media type tsbuild wrote for it. */
export function blobCompression(mediaType: string | undefined): LayerCompression {
  if (mediaType === undefined) return 'none';
  if (/[+.]zstd$/.test(mediaType)) return 'zstd';
  if (/[+.]gzip$/.test(mediaType)) return 'gzip';
  return 'none';
}

/**
 * The media type of a layer in a manifest of `format`. Docker schema 2 has no zstd type; a zstd
 * layer in a local Docker-format manifest keeps the OCI one (push writes its own manifest).
 */
export function layerMediaTypeFor(compression: LayerCompression, format: ImageFormat): string {
  if (compression === 'zstd') return ZSTD_LAYER;
  const docker = format === 'docker';
  if (compression === 'gzip') return docker ? MediaType.DockerLayerGzip : MediaType.OciLayerGzip;
  return docker ? MediaType.DockerLayer : MediaType.OciLayer;
}

/** The descriptor of the local blob that holds a layer, typed for a manifest of `format`. */
export function layerDescriptor(layer: LayerBlobRef, format: ImageFormat): Descriptor {
  if (layer.blob === undefined) return { mediaType: layerMediaTypeFor('none', format), digest: layer.diffId, size: layer.size };
  return { mediaType: layerMediaTypeFor(blobCompression(layer.blob.mediaType), format), digest: layer.blob.digest, size: layer.blob.size };
}

/** The digest of the local blob that holds a layer. */
export function layerBlobDigest(layer: LayerBlobRef): string {
  return layer.blob?.digest ?? layer.diffId;
}

/** Every blob digest a list of layers may be kept in (diff IDs and compressed blobs), for leases. */
export function layerBlobDigests(layers: readonly LayerBlobRef[]): string[] {
  return [...new Set(layers.flatMap((l) => (l.blob ? [l.diffId, l.blob.digest] : [l.diffId])))];
}

const DAMAGED_HINT = 'the image or its registry is damaged; remove it with "tsbuild rmi" and pull it again';

/**
 * The layer's uncompressed tar as a stream. A layer kept compressed is inflated and checked on the
 * way: past its inflate limit the stream fails at once, and at its end it fails unless the tar's
 * digest is the diff ID (so only a consumer that reads to the end, as the tar reader does, has a
 * verified layer).
 */
export function openLayerTar(stores: Stores, layer: Pick<LayerBlobRef, 'diffId' | 'blob'>, signal?: AbortSignal): Readable {
  const { blob } = layer;
  if (blob === undefined) return stores.content.openRead(layer.diffId);
  const compression = blobCompression(blob.mediaType);
  const inflate = decompressor(compression, signal);
  const check = verifyTar(layer.diffId, blob);
  // The pipeline's own promise is not the result: its errors reach the consumer through `check`,
  // and a consumer that stops early (destroys it) closes the file.
  const stages = [stores.content.openRead(blob.digest), inflate, check].filter((s) => s !== undefined);
  pipeline(stages as unknown as [Readable, Transform]).catch(() => undefined);
  return check;
}

/** Hashes and counts the inflated tar, failing past the inflate limit or, at the end, on a digest that is not the diff ID. */
function verifyTar(diffId: string, blob: Descriptor): Transform {
  const hash = createHash('sha256');
  const limit = inflateLimit(blob.size);
  let size = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      size += chunk.length;
      if (size > limit.bytes) {
        return done(
          new TsbuildError('INVALID_ARGUMENT', `layer ${diffId}: blob ${blob.digest} inflates to more than ${limit.bytes} bytes, the limit of ${limit.rule}; refusing a likely decompression bomb`, {
            hint: 'if the image is trusted, raise TSBUILD_MAX_INFLATE_SIZE or TSBUILD_MAX_INFLATE_RATIO (see the README)',
          }),
        );
      }
      hash.update(chunk);
      done(null, chunk);
    },
    flush(done) {
      const digest = `sha256:${hash.digest('hex')}`;
      if (digest === diffId) return done();
      done(new TsbuildError('DIGEST_MISMATCH', `layer ${diffId}: blob ${blob.digest} inflates to content with digest ${digest}, not the diff ID the image config lists`, { hint: DAMAGED_HINT }));
    },
  });
}

/**
 * The layer's uncompressed tar as a file, for writers that need one (the Docker archive format's
 * layer.tar, a push that compresses in parallel chunks): the blob itself, or a temp file inflated
 * from the compressed blob, which the caller removes (it is pushed to `temps`).
 */
export async function layerTarFile(stores: Stores, layer: Pick<LayerBlobRef, 'diffId' | 'blob'>, temps: string[], signal?: AbortSignal): Promise<{ file: string; size: number }> {
  if (layer.blob === undefined) return { file: stores.content.blobPath(layer.diffId), size: await stores.content.size(layer.diffId) };
  const file = stores.content.tempPath();
  temps.push(file);
  const out = createWriteStream(file, { flags: 'wx', mode: 0o600 });
  await pipeline(openLayerTar(stores, layer, signal), out);
  return { file, size: out.bytesWritten };
}
