// One layer of a pull, as one streaming pipeline with backpressure from the disk to the socket: the
// blob is downloaded, hashed and checked against the manifest. An image pull keeps a compressed
// layer as it was served (image/layer-blob.ts: the diff ID is checked, and a bomb stopped, when it
// is first inflated), so it writes half the bytes and inflates nothing. A cache import, whose
// entries name the uncompressed tar, inflates it in the same pass, hashes it again and writes the
// tar; it is committed only when the uncompressed digest matches the config's diff ID. A broken
// connection resumes with a Range request from the bytes already taken, which the decompressor
// never notices: it only sees one stream. A server that ignores Range has the bytes already taken
// skipped. The temp file goes in finally.
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { Readable, Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { TsbuildError, errnoCode, isTsbuildError, noSpaceError } from '../errors.js';
import { layerMediaTypeFor } from '../image/layer-blob.js';
import type { Logger } from '../log.js';
import { shortId, type Descriptor } from '../oci/types.js';
import type { Stores } from '../store/root.js';
import { inflatePolicy } from '../util/limited-stream.js';
import { decompressor, sniffCompression, type Compression } from './compression.js';
import type { Progress, RegistryClient } from './types.js';

export interface LayerPull {
  stores: Stores;
  client: RegistryClient;
  repository: string;
  desc: Descriptor;
  diffId: string;
  /** e.g. "layer 2/3 (sha256:…) of 127.0.0.1:5000/team/base:1.2", for messages. */
  what: string;
  progress: Progress;
  logger: Logger;
  signal?: AbortSignal;
  /** Keep a compressed layer as the registry served it (an image pull) rather than as its uncompressed tar (a cache import). */
  keepCompressed: boolean;
}

export interface PulledLayer {
  /** Size of the local blob. */
  size: number;
  /** The compressed local blob that holds the layer; undefined when it is the uncompressed tar (named by the diff ID). */
  blob?: Descriptor;
  /** What was downloaded; undefined when the layer was already in the store. */
  compression?: Compression | 'none';
}

/** Attempts at one blob in all, and attempts in a row that received nothing, before giving up. */
const MAX_ATTEMPTS = 8;
const MAX_IDLE_ATTEMPTS = 3;
const SNIFF_BYTES = 4;
/** Network chunks are small (16-64 KiB); the decompressor gets them in batches, one thread-pool trip each. */
const BATCH = 1024 * 1024;

export async function pullLayer(job: LayerPull): Promise<PulledLayer> {
  const { stores, desc, diffId, progress } = job;
  const id = `blob ${shortId(desc.digest)}`;
  // An uncompressed tar named by the diff ID is the layer, verified when it came, from any image.
  if (await stores.content.has(diffId)) {
    progress.finish(id, 'already exists');
    return { size: await stores.content.size(diffId) };
  }
  // The same compressed blob, kept by an earlier pull. Whether it is this image's layer (its config
  // may name other content for it) is checked when it is inflated, as for a downloaded one.
  const keptCompression = job.keepCompressed ? await localCompression(stores, desc.digest) : undefined;
  if (keptCompression !== undefined && keptCompression !== 'none') {
    progress.finish(id, 'already exists');
    return { size: desc.size, blob: keptBlob(desc, keptCompression) };
  }
  progress.start(id, `Copying ${id}`, desc.size);
  const temp = stores.content.tempPath();
  const download = downloadChunks(job, id);
  let downloaded = false;
  let downloadError: unknown;
  try {
    // The first bytes say what the blob is; they are fed to the pipeline like the rest.
    const head: Buffer[] = [];
    let headBytes = 0;
    while (headBytes < SNIFF_BYTES) {
      const next = await download.next();
      if (next.done) {
        downloaded = true;
        break;
      }
      head.push(next.value);
      headBytes += next.value.length;
    }
    const compression = sniffCompression(Buffer.concat(head, headBytes));
    let received = 0;
    async function* compressed(): AsyncGenerator<Buffer> {
      for (const chunk of head) {
        received += chunk.length;
        yield chunk;
      }
      while (!downloaded) {
        let next: IteratorResult<Buffer>;
        try {
          next = await download.next();
        } catch (err) {
          downloadError = err;
          throw err;
        }
        if (next.done) downloaded = true;
        else {
          received += next.value.length;
          yield next.value;
        }
      }
    }
    const sink = (): Writable => createWriteStream(temp, { flags: 'wx', mode: 0o644, highWaterMark: 8 * 1024 * 1024 });
    // The bytes say what the blob is, whatever its media type claims.
    if (job.keepCompressed && compression !== 'none') {
      await pipeline(Readable.from(compressed()), sink());
      await stores.content.commitFile(temp, desc.digest);
      progress.finish(id, 'done');
      return { size: desc.size, blob: keptBlob(desc, compression), compression };
    }
    if (compression === 'none' && desc.digest === diffId) {
      // An uncompressed layer is its own blob: once its digest checks out it is committed as is.
      await pipeline(Readable.from(compressed()), sink());
      await stores.content.commitFile(temp, diffId);
      progress.finish(id, 'done');
      return { size: desc.size, compression };
    }
    // A layer that inflates past its limit (a decompression bomb) stops the pipeline at the limit:
    // no more is written to the temp file, which goes in finally. The limit grows with the
    // compressed bytes received, not with the size the manifest claims: a registry that claims a
    // huge layer would otherwise buy its bomb a huge allowance before the truncation shows.
    const policy = inflatePolicy();
    const tar = tarHashing(
      (size) => size > policy.floor && size > policy.ratio * received,
      () => {
        const limit = policy.limit(received);
        return new TsbuildError('REGISTRY', `${job.what}: the layer inflates to more than ${limit.bytes} bytes, the limit of ${limit.rule}; refusing a likely decompression bomb`, {
          hint: 'if the image is trusted, raise TSBUILD_MAX_INFLATE_SIZE or TSBUILD_MAX_INFLATE_RATIO (see the README)',
        });
      },
    );
    const stages = [Readable.from(compressed()), decompressor(compression, job.signal), tar.stream, sink()].filter((s) => s !== undefined);
    try {
      await pipeline(stages as unknown as [Readable, Writable]);
    } catch (err) {
      if (downloadError !== undefined) throw downloadError;
      if (tar.exceeded()) throw err;
      // A full disk is not the blob's fault: no point fetching the rest to check its digest.
      if (errnoCode(err) === 'ENOSPC' || errnoCode(err) === 'EDQUOT') throw noSpaceError(err, job.what);
      // A damaged blob usually trips the decoder first, but the compressed digest is the better
      // diagnosis: the rest of the blob is still fetched (and thrown away) to check it.
      if (!downloaded && !job.signal?.aborted) {
        for (;;) {
          const next = await download.next();
          if (next.done) break;
        }
      }
      throw decodeError(job, compression, err);
    }
    if (tar.digest() !== diffId) {
      throw new TsbuildError('DIGEST_MISMATCH', `${job.what}: uncompressed content has digest ${tar.digest()}, but the image config lists diff ID ${diffId}`);
    }
    await stores.content.commitFile(temp, diffId);
    progress.finish(id, 'done');
    return { size: tar.size(), compression };
  } catch (err) {
    progress.finish(id, 'failed');
    throw noSpaceError(err, job.what);
  } finally {
    // Ends a download still in flight (an error elsewhere): its response body is destroyed.
    await download.return(undefined).catch(() => undefined);
    await rm(temp, { force: true });
  }
}

/** What the first bytes of a local blob say it is; undefined when there is no such blob. */
async function localCompression(stores: Stores, digest: string): Promise<Compression | 'none' | undefined> {
  let file;
  try {
    file = await open(stores.content.blobPath(digest), 'r');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const head = Buffer.alloc(SNIFF_BYTES);
    const { bytesRead } = await file.read(head, 0, SNIFF_BYTES, 0);
    return sniffCompression(head.subarray(0, bytesRead));
  } finally {
    await file.close();
  }
}

function keptBlob(desc: Descriptor, compression: Compression): Descriptor {
  return { mediaType: layerMediaTypeFor(compression, 'oci'), digest: desc.digest, size: desc.size };
}

/**
 * The blob's bytes, in order, across as many requests as it takes (resuming after broken
 * connections); the digest and size are checked against the manifest before the last chunk is
 * acknowledged (the generator throws instead of finishing), so a consumer that ran to the end has
 * verified bytes.
 */
async function* downloadChunks(job: LayerPull, id: string): AsyncGenerator<Buffer> {
  const { client, repository, desc, signal } = job;
  const hash = createHash('sha256');
  let taken = 0;
  let attempts = 0;
  let idle = 0;
  for (;;) {
    signal?.throwIfAborted();
    attempts += 1;
    const before = taken;
    // The request itself is the client's to retry; a failure here is final.
    const response = await client.getBlob(repository, desc.digest, taken > 0 ? taken : undefined);
    let broken: StreamBroken | undefined;
    try {
      let skip = taken - response.offset;
      if (skip < 0) throw new TsbuildError('REGISTRY', `${job.what}: the registry answered a request for byte ${taken} with bytes from ${response.offset}`);
      let pending: Buffer[] = [];
      let pendingBytes = 0;
      const batch = (): Buffer => {
        const data = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
        pending = [];
        pendingBytes = 0;
        hash.update(data);
        taken += data.length;
        job.progress.advance(id, data.length);
        return data;
      };
      try {
        for await (const chunk of response.stream as AsyncIterable<Buffer>) {
          let data = chunk;
          if (skip > 0) {
            // The server ignored Range and started over: the bytes up to `taken` are ours already.
            if (data.length <= skip) {
              skip -= data.length;
              continue;
            }
            data = data.subarray(skip);
            skip = 0;
          }
          if (taken + pendingBytes + data.length > desc.size) {
            throw new TsbuildError('DIGEST_MISMATCH', `${job.what}: the registry sent more than the ${desc.size} bytes the manifest states`);
          }
          pending.push(data);
          pendingBytes += data.length;
          if (pendingBytes >= BATCH) yield batch();
        }
      } catch (err) {
        if (isTsbuildError(err) || signal?.aborted) throw err;
        broken = new StreamBroken(err);
      }
      // What arrived before a break is good: it is passed on, so the resume starts after it.
      if (pendingBytes > 0) yield batch();
      if (broken === undefined && taken !== desc.size) broken = new StreamBroken(new Error(`connection closed after ${taken} of ${desc.size} bytes`));
    } finally {
      response.stream.destroy();
    }
    if (broken === undefined) break;
    idle = taken > before ? 0 : idle + 1;
    if (attempts >= MAX_ATTEMPTS || idle >= MAX_IDLE_ATTEMPTS) {
      const cause = broken.cause;
      throw new TsbuildError('REGISTRY', `${job.what}: download truncated at ${taken} of ${desc.size} bytes after ${attempts} attempts (${cause instanceof Error ? cause.message : String(cause)})`, { cause });
    }
    job.logger.info({ digest: desc.digest, offset: taken, attempt: attempts }, 'blob download broke off; resuming');
    await sleep(Math.min(2000, 100 * 2 ** idle), undefined, { signal });
  }
  const digest = `sha256:${hash.digest('hex')}`;
  if (digest !== desc.digest) {
    throw new TsbuildError('DIGEST_MISMATCH', `${job.what}: downloaded blob has digest ${digest}, but the manifest says ${desc.digest}`);
  }
}

/**
 * Hashes and counts the tar on its way to the disk, failing once `tooMuch(size so far)`. Unlike util's hashing stream it buffers a few
 * MiB, so that inflate (the one serial stage of a pull) never waits for a single write to finish.
 */
function tarHashing(tooMuch: (size: number) => boolean, tooLarge: () => Error): { stream: Transform; digest(): string; size(): number; exceeded(): boolean } {
  const hash = createHash('sha256');
  let size = 0;
  let digest: string | undefined;
  let exceeded = false;
  const stream = new Transform({
    highWaterMark: 8 * 1024 * 1024,
    transform(chunk: Buffer, _enc, done) {
      size += chunk.length;
      // The count is the check: no extra stage on the hot path of every pull.
      if (tooMuch(size)) {
        exceeded = true;
        return done(tooLarge());
      }
      hash.update(chunk);
      done(null, chunk);
    },
  });
  return { stream, digest: () => (digest ??= `sha256:${hash.digest('hex')}`), size: () => size, exceeded: () => exceeded };
}

class StreamBroken extends Error {
  constructor(cause: unknown) {
    super('stream broken', { cause });
  }
}

function decodeError(job: LayerPull, compression: Compression | 'none', err: unknown): unknown {
  if (isTsbuildError(err) && err.code !== 'INVALID_ARGUMENT') return err;
  const code = (err as { code?: string }).code ?? '';
  if (/^Z_/.test(code) || isTsbuildError(err, 'INVALID_ARGUMENT')) {
    return new TsbuildError('REGISTRY', `${job.what}: corrupt ${compression} data (${(err as Error).message})`, { cause: err });
  }
  return err;
}
