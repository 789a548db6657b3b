// One layer of a pull: download the compressed blob from the registry into a temp file while, in
// the same moment, a decoder follows that file as it grows, decompresses it and hashes the tar it
// yields into a second temp file. A broken connection resumes with a Range request from the bytes
// already on disk (the decoder does not notice: the file only ever grows), a server that ignores
// Range has the bytes we already hold skipped. Only when the compressed digest and size match the
// manifest and the uncompressed digest matches the config's diff ID is the tar committed to the
// content store; every temp file goes in finally.
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { open, rm, type FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { TsbuildError, isTsbuildError } from '../errors.js';
import type { Logger } from '../log.js';
import { shortId, type Descriptor } from '../oci/types.js';
import type { Stores } from '../store/root.js';
import { tempName } from '../util/fs.js';
import { hashingStream } from '../util/hashing-stream.js';
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
}

export interface PulledLayer {
  /** Uncompressed size (the local blob). */
  size: number;
  /** What was downloaded; undefined when the layer was already in the store. */
  compression?: Compression | 'none';
}

/** Attempts at one blob in all, and attempts in a row that received nothing, before giving up. */
const MAX_ATTEMPTS = 8;
const MAX_IDLE_ATTEMPTS = 3;
const READ_CHUNK = 1024 * 1024;
const SNIFF_BYTES = 8;
const WRITE_BATCH = 1024 * 1024;

export async function pullLayer(job: LayerPull): Promise<PulledLayer> {
  const { stores, desc, diffId, progress } = job;
  const id = `blob ${shortId(desc.digest)}`;
  // Layers are stored uncompressed: one we have, from any image, is verified already.
  if (await stores.content.has(diffId)) {
    progress.finish(id, 'already exists');
    return { size: await stores.content.size(diffId) };
  }
  progress.start(id, `Copying ${id}`, desc.size);
  const compressed = tempName(stores.layout.tmp, 'pull');
  const mark = new Watermark();
  // 0644: an uncompressed layer is committed as this very file.
  const sink = await open(compressed, 'wx', 0o644);
  let decoded: string | undefined;
  try {
    const downloading = download(job, sink, mark, id).then(
      (v) => (mark.finish(), v),
      (err: unknown) => {
        mark.fail(err);
        throw err;
      },
    );
    // Settled below or by the error path; this keeps an early rejection from counting as unhandled.
    downloading.catch(() => undefined);
    const head = await mark.head(4);
    const compression = sniffCompression(head);
    if (compression === 'none' && desc.digest === diffId) {
      // An uncompressed layer is its own blob: once its digest checks out it can be committed as is.
      await downloading;
      await sink.close();
      await stores.content.commitFile(compressed, diffId);
      progress.finish(id, 'done');
      return { size: desc.size, compression };
    }
    decoded = stores.content.tempPath();
    const decoding = decode(job, compressed, decoded, mark, compression);
    const [got, tar] = await Promise.allSettled([downloading, decoding]);
    // The compressed digest is the better diagnosis: a damaged blob usually trips the decoder first.
    if (got.status === 'rejected') throw got.reason;
    if (tar.status === 'rejected') throw decodeError(job, compression, tar.reason);
    if (tar.value.digest !== diffId) {
      throw new TsbuildError('DIGEST_MISMATCH', `${job.what}: uncompressed content has digest ${tar.value.digest}, but the image config lists diff ID ${diffId}`);
    }
    await stores.content.commitFile(decoded, diffId);
    progress.finish(id, 'done');
    return { size: tar.value.size, compression };
  } catch (err) {
    progress.finish(id, 'failed');
    throw err;
  } finally {
    await sink.close().catch(() => undefined);
    await rm(compressed, { force: true });
    if (decoded !== undefined) await rm(decoded, { force: true });
  }
}

/** Downloads the blob into `sink` (positional writes), resuming after broken connections; verifies digest and size. */
async function download(job: LayerPull, sink: FileHandle, mark: Watermark, id: string): Promise<void> {
  const { client, repository, desc, signal } = job;
  const hash = createHash('sha256');
  let written = 0;
  let attempts = 0;
  let idle = 0;
  for (;;) {
    signal?.throwIfAborted();
    attempts += 1;
    const before = written;
    try {
      // The request itself is the client's to retry; a failure here is final.
      const response = await client.getBlob(repository, desc.digest, written > 0 ? written : undefined);
      let skip = written - response.offset;
      if (skip < 0) throw new TsbuildError('REGISTRY', `${job.what}: the registry answered a request for byte ${written} with bytes from ${response.offset}`);
      // Network chunks are small (16-64 KiB); writing them in batches saves most of the syscalls.
      let pending: Buffer[] = [];
      let pendingBytes = 0;
      const flush = async (): Promise<void> => {
        if (pendingBytes === 0) return;
        const data = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
        pending = [];
        pendingBytes = 0;
        await sink.write(data, 0, data.length, written);
        if (mark.firstBytes.length < SNIFF_BYTES) mark.firstBytes = Buffer.concat([mark.firstBytes, data.subarray(0, SNIFF_BYTES - mark.firstBytes.length)]);
        hash.update(data);
        written += data.length;
        mark.update(written);
        job.progress.advance(id, data.length);
      };
      try {
        for await (const chunk of response.stream as AsyncIterable<Buffer>) {
          let data = chunk;
          if (skip > 0) {
            // The server ignored Range and started over: the bytes up to `written` are on disk already.
            if (data.length <= skip) {
              skip -= data.length;
              continue;
            }
            data = data.subarray(skip);
            skip = 0;
          }
          if (written + pendingBytes + data.length > desc.size) {
            throw new TsbuildError('DIGEST_MISMATCH', `${job.what}: the registry sent more than the ${desc.size} bytes the manifest states`);
          }
          pending.push(data);
          pendingBytes += data.length;
          if (pendingBytes >= WRITE_BATCH) await flush();
        }
        await flush();
      } catch (err) {
        response.stream.destroy();
        if (isTsbuildError(err) || signal?.aborted) throw err;
        // What arrived before the break is good: keep it, so the resume starts after it.
        await flush();
        throw new StreamBroken(err);
      }
      if (written === desc.size) break;
      throw new StreamBroken(new Error(`connection closed after ${written} of ${desc.size} bytes`));
    } catch (err) {
      if (!(err instanceof StreamBroken)) throw err;
      idle = written > before ? 0 : idle + 1;
      if (attempts >= MAX_ATTEMPTS || idle >= MAX_IDLE_ATTEMPTS) {
        throw new TsbuildError('REGISTRY', `${job.what}: download truncated at ${written} of ${desc.size} bytes after ${attempts} attempts (${err.cause instanceof Error ? err.cause.message : String(err.cause)})`, { cause: err.cause });
      }
      job.logger.info({ digest: desc.digest, offset: written, attempt: attempts }, 'blob download broke off; resuming');
      await sleep(Math.min(2000, 100 * 2 ** idle), undefined, { signal });
    }
  }
  const digest = `sha256:${hash.digest('hex')}`;
  if (digest !== desc.digest) {
    throw new TsbuildError('DIGEST_MISMATCH', `${job.what}: downloaded blob has digest ${digest}, but the manifest says ${desc.digest}`);
  }
}

class StreamBroken extends Error {
  constructor(cause: unknown) {
    super('stream broken', { cause });
  }
}

/** Decompresses the growing file into `output`, hashing the tar on the way. */
async function decode(job: LayerPull, input: string, output: string, mark: Watermark, compression: Compression | 'none') {
  const hashing = hashingStream();
  const stages = [Readable.from(follow(input, mark)), decompressor(compression, job.signal), hashing.stream, createWriteStream(output, { flags: 'wx', mode: 0o644 })];
  await pipeline(stages.filter((s) => s !== undefined) as unknown as [Readable, NodeJS.WritableStream]);
  return { digest: hashing.digest(), size: hashing.size() };
}

function decodeError(job: LayerPull, compression: Compression | 'none', err: unknown): unknown {
  if (isTsbuildError(err) && err.code !== 'INVALID_ARGUMENT') return err;
  const code = (err as { code?: string }).code ?? '';
  if (/^Z_/.test(code) || isTsbuildError(err, 'INVALID_ARGUMENT')) {
    return new TsbuildError('REGISTRY', `${job.what}: corrupt ${compression} data (${(err as Error).message})`, { cause: err });
  }
  return err;
}

/** Reads a file that another task is still appending to, up to its watermark, until it is finished. */
async function* follow(file: string, mark: Watermark): AsyncGenerator<Buffer> {
  const handle = await open(file, 'r');
  let position = 0;
  try {
    for (;;) {
      if (position < mark.written) {
        const buffer = Buffer.allocUnsafe(Math.min(READ_CHUNK, mark.written - position));
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
        position += bytesRead;
        yield buffer.subarray(0, bytesRead);
        continue;
      }
      if (mark.error !== undefined) throw mark.error;
      if (mark.done) return;
      await mark.changed();
    }
  } finally {
    await handle.close();
  }
}

/** How much of the file is written, and whether it is complete or failed; waiters wake on each change. */
class Watermark {
  written = 0;
  done = false;
  error: unknown = undefined;
  private waiters: Array<() => void> = [];

  update(written: number): void {
    this.written = written;
    this.wake();
  }
  finish(): void {
    this.done = true;
    this.wake();
  }
  fail(err: unknown): void {
    this.error = err ?? new Error('download failed');
    this.wake();
  }
  changed(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }
  /** The first bytes of the blob, kept by the downloader so that sniffing never reads a file being written. */
  firstBytes = Buffer.alloc(0);
  /** Waits for the first `n` bytes (or the end of the blob) and returns them. */
  async head(n: number): Promise<Buffer> {
    while (this.written < n && !this.done && this.error === undefined) await this.changed();
    if (this.error !== undefined && this.written < n) throw this.error;
    return this.firstBytes.subarray(0, n);
  }
  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}
