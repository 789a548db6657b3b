// Where a layer's bytes are kept (image/layer-blob.ts) and the blob-info cache's trust in pulled
// variants (remote/blob-info.ts), without root: media types per format, the checks of openLayerTar
// on a kept gzip blob, and which recorded variants stay marked unverified.
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { isTsbuildError } from '../../../src/errors.js';
import { blobCompression, layerDescriptor, openLayerTar } from '../../../src/image/layer-blob.js';
import { MediaType } from '../../../src/oci/types.js';
import { createBlobInfoCache } from '../../../src/remote/blob-info.js';
import type { Stores } from '../../../src/store/root.js';

const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** A store whose content holds `blobs` (by digest) and nothing else. */
function storeOf(blobs: Buffer[]): Stores {
  const byDigest = new Map(blobs.map((b) => [sha256(b), b]));
  return { content: { openRead: (digest: string) => Readable.from([byDigest.get(digest)!]) } } as unknown as Stores;
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('layer blobs', () => {
  it('reads compression from the media types tsbuild writes, and types a layer for each manifest format', () => {
    expect(blobCompression(MediaType.OciLayerGzip)).toBe('gzip');
    expect(blobCompression(MediaType.DockerLayerGzip)).toBe('gzip');
    expect(blobCompression('application/vnd.oci.image.layer.v1.tar+zstd')).toBe('zstd');
    expect(blobCompression(MediaType.OciLayer)).toBe('none');
    const kept = { diffId: 'sha256:' + 'a'.repeat(64), size: 10, blob: { mediaType: MediaType.OciLayerGzip, digest: 'sha256:' + 'b'.repeat(64), size: 4 } };
    expect(layerDescriptor(kept, 'docker')).toEqual({ mediaType: MediaType.DockerLayerGzip, digest: kept.blob.digest, size: 4 });
    expect(layerDescriptor(kept, 'oci')).toEqual({ mediaType: MediaType.OciLayerGzip, digest: kept.blob.digest, size: 4 });
    expect(layerDescriptor({ diffId: kept.diffId, size: 10 }, 'docker')).toEqual({ mediaType: MediaType.DockerLayer, digest: kept.diffId, size: 10 });
  });

  it('inflates a kept gzip blob to its tar, and fails at the end when the tar is not the diff ID', async () => {
    const tar = Buffer.alloc(4096, 7);
    const blob = gzipSync(tar);
    const stores = storeOf([blob]);
    const layer = (diffId: string) => ({ diffId, size: blob.length, blob: { mediaType: MediaType.OciLayerGzip, digest: sha256(blob), size: blob.length } });
    expect((await readAll(openLayerTar(stores, layer(sha256(tar))))).equals(tar)).toBe(true);
    const wrong = 'sha256:' + '0'.repeat(64);
    const err = await readAll(openLayerTar(stores, layer(wrong))).catch((e: unknown) => e);
    expect(isTsbuildError(err, 'DIGEST_MISMATCH')).toBe(true);
    expect((err as Error).message).toBe(`layer ${wrong}: blob ${sha256(blob)} inflates to content with digest ${sha256(tar)}, not the diff ID the image config lists`);
  });

  it('stops a kept blob at the inflate limit', async () => {
    vi.stubEnv('TSBUILD_MAX_INFLATE_SIZE', '1MiB');
    const tar = Buffer.alloc(4 * 1024 * 1024);
    const blob = gzipSync(tar);
    const stores = storeOf([blob]);
    const err = await readAll(openLayerTar(stores, { diffId: sha256(tar), size: blob.length, blob: { mediaType: MediaType.OciLayerGzip, digest: sha256(blob), size: blob.length } })).catch((e: unknown) => e);
    expect(isTsbuildError(err, 'INVALID_ARGUMENT')).toBe(true);
    expect((err as Error).message).toMatch(/inflates to more than 1048576 bytes.*decompression bomb/);
  });
});

describe('blob-info variants a pull recorded', () => {
  let dir: string;
  let cache: ReturnType<typeof createBlobInfoCache>;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-blobinfo-'));
    await mkdir(path.join(dir, 'locks'));
    cache = createBlobInfoCache({ cacheDir: path.join(dir, 'cache'), locksDir: path.join(dir, 'locks') });
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('stay unverified until tsbuild itself made the same blob, and a pull never unmarks a verified one', async () => {
    const diffId = 'sha256:' + '1'.repeat(64);
    const variant = (digest: string) => ({ digest, size: 10, mediaType: MediaType.OciLayerGzip, compression: 'gzip' as const });
    const pulled = 'sha256:' + '2'.repeat(64);
    const pushed = 'sha256:' + '3'.repeat(64);
    await cache.record(diffId, { ...variant(pulled), unverified: true });
    expect((await cache.variants(diffId))[0]).toMatchObject({ digest: pulled, unverified: true });
    await cache.record(diffId, variant(pulled));
    expect((await cache.variants(diffId)).find((v) => v.digest === pulled)?.unverified).toBeUndefined();
    await cache.record(diffId, variant(pushed));
    await cache.record(diffId, { ...variant(pushed), unverified: true });
    expect((await cache.variants(diffId)).find((v) => v.digest === pushed)?.unverified).toBeUndefined();
  });

  it('are not rewritten when a push sends a layer to a repository that is already one of its sources', async () => {
    const diffId = 'sha256:' + '4'.repeat(64);
    const variant = { digest: 'sha256:' + '5'.repeat(64), size: 10, mediaType: MediaType.OciLayerGzip, compression: 'gzip' as const };
    const at = (repository: string) => ({ registry: 'reg:5000', repository });
    await cache.record(diffId, variant, at('base'));
    await cache.record(diffId, variant, at('app'));
    const file = path.join(dir, 'cache', 'blob-info', `${'4'.repeat(64)}.json`);
    const before = await stat(file);
    // A base layer shared by two repositories, pushed to each in turn: nothing new to learn.
    await cache.record(diffId, variant, at('base'));
    expect((await stat(file)).ino).toBe(before.ino);
    expect((await cache.variants(diffId))[0]?.sources.map((s) => s.repository)).toEqual(['app', 'base']);
    // A new place is still learnt, first.
    await cache.record(diffId, variant, at('other'));
    expect((await cache.variants(diffId))[0]?.sources.map((s) => s.repository)).toEqual(['other', 'app', 'base']);
  });
});
