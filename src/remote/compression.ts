// Layer compression for push and decompression for pull and for unpacking the compressed blobs a
// pull keeps (image/layer-blob.ts): the one place layer bytes get (de)compressed.
//
// gzip is compressed in parallel: the layer is cut into fixed-size chunks, each chunk becomes an
// independent gzip member via the async zlib.gzip (which runs on libuv's thread pool, so members
// compress on all cores), and members are emitted in order, straight into the upload (push keeps
// no compressed copy). Concatenated members are one valid
// gzip stream (RFC 1952 §2.2); Go's compress/gzip (registries, containerd, skopeo) and Node's
// gunzip read them as one. Memory is bounded by a window of chunks in flight. zstd has no library
// that installs here, so Debian's `zstd` binary does both directions, streamed over pipes.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { open } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { Duplex, Readable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { createGunzip, deflateRawSync, gzip as gzipCallback, type ZlibOptions } from 'node:zlib';
import { createReadStream, createWriteStream } from 'node:fs';
import { TsbuildError } from '../errors.js';
import { MediaType } from '../oci/types.js';
import { hashingStream } from '../util/hashing-stream.js';

const gzipAsync = promisify(gzipCallback);

export type Compression = 'gzip' | 'zstd';

/**
 * gzip level 6, zlib's default. containers/image (buildah, podman, skopeo) compresses with pgzip at
 * its DefaultCompression, which klauspost/compress maps to its own level 5 (6 in later releases;
 * podman documents 5): a faster matcher than zlib's at a ratio near zlib's 6, so for the same
 * default ratio zlib needs its 6. Measured with this compressor on the 2-core
 * test machine, 256 MiB of /usr/bin and /usr/lib as a tar: level 1 took 2.7 s for 107 MiB, level 3
 * 2.8 s for 104 MiB, level 6 4.5 s for 99 MiB (single-threaded `gzip -6`: 12.9 s); zstd -3 1.6 s
 * for 94 MiB. A pushed blob is usually pulled many times over slower links than it took to
 * compress, so the smaller output wins by default; --compression-level 1 suits a registry next door.
 */
export const DEFAULT_GZIP_LEVEL = 6;
/** zstd's own default; already faster than gzip -1 at a better ratio. */
export const DEFAULT_ZSTD_LEVEL = 3;
/** Big enough that the ~20-byte member header and the reset dictionary cost nothing measurable. */
export const GZIP_CHUNK = 4 * 1024 * 1024;

export function defaultLevel(compression: Compression): number {
  return compression === 'gzip' ? DEFAULT_GZIP_LEVEL : DEFAULT_ZSTD_LEVEL;
}

export function checkLevel(compression: Compression, level: number): void {
  const [min, max] = compression === 'gzip' ? [0, 9] : [1, 19];
  if (!Number.isInteger(level) || level < min || level > max) {
    throw new TsbuildError('INVALID_ARGUMENT', `--compression-level ${level}: ${compression} levels are ${min} to ${max}`);
  }
}

export function layerMediaType(compression: Compression, format: 'oci' | 'docker'): string {
  if (compression === 'zstd') {
    if (format === 'docker') {
      throw new TsbuildError('INVALID_ARGUMENT', 'zstd-compressed layers need an OCI manifest', { hint: 'use --format oci with --compression-format zstd' });
    }
    return 'application/vnd.oci.image.layer.v1.tar+zstd';
  }
  return format === 'docker' ? MediaType.DockerLayerGzip : MediaType.OciLayerGzip;
}

export interface CompressResult {
  digest: string;
  size: number;
}

export interface CompressOptions {
  compression: Compression;
  level: number;
  signal?: AbortSignal;
  /** Uncompressed bytes consumed so far, for progress. */
  onBytes?: (n: number) => void;
}

/**
 * The file `input`, compressed, as a stream: what push uploads directly (no temp file), so the
 * compression of the layer and its upload overlap. Pulled (and read from the file) only as fast
 * as the consumer takes it; destroying the stream stops the work and closes the file.
 */
export function compressStream(input: string, options: CompressOptions): Readable {
  if (options.compression === 'gzip') return Readable.from(gzipMembers(input, options), { objectMode: false });
  const source = createReadStream(input);
  if (options.onBytes) source.on('data', (chunk) => options.onBytes!(chunk.length));
  const zstd = zstdFilter(['-T0', `-${options.level}`, '-q', '-c'], 'zstd compression', options.signal);
  // The pipeline's own promise is not the result: errors reach the consumer through `zstd`.
  pipeline(source, zstd).catch(() => undefined);
  return zstd as unknown as Readable;
}

/** Compresses the file `input` into `output` (created, must not exist), hashing the output in the same pass. */
export async function compressFile(input: string, output: string, options: CompressOptions): Promise<CompressResult> {
  const hashing = hashingStream();
  await pipeline(compressStream(input, options), hashing.stream, createWriteStream(output, { flags: 'wx', mode: 0o600 }));
  return { digest: hashing.digest(), size: hashing.size() };
}

/** The gzip members of the file `input`, compressed on the thread pool, a window ahead, yielded in order. */
async function* gzipMembers(input: string, options: CompressOptions): AsyncGenerator<Buffer> {
  // Twice the cores keeps every pool thread busy while finished members wait to be taken in order.
  const window = 2 * Math.max(1, availableParallelism());
  const source = await open(input, 'r');
  const inFlight: Array<Promise<Buffer>> = [];
  let position = 0;
  let eof = false;
  let first = true;
  try {
    const readChunk = async (): Promise<Buffer | undefined> => {
      const buffer = Buffer.allocUnsafe(GZIP_CHUNK);
      const { bytesRead } = await source.read(buffer, 0, GZIP_CHUNK, position);
      position += bytesRead;
      if (bytesRead < GZIP_CHUNK) eof = true;
      // An empty layer still needs one (empty) member: zero bytes are not a gzip stream.
      if (bytesRead === 0 && !first) return undefined;
      first = false;
      options.onBytes?.(bytesRead);
      return buffer.subarray(0, bytesRead);
    };
    for (;;) {
      while (!eof && inFlight.length < window) {
        options.signal?.throwIfAborted();
        const chunk = await readChunk();
        if (chunk === undefined) break;
        // Incompressible data (already-compressed files, media, encrypted blobs) costs zlib as much
        // as text and gains nothing: such chunks are stored (level 0, a copy plus a CRC).
        const level = options.level > 0 && looksIncompressible(chunk) ? 0 : options.level;
        // One output buffer that fits the whole member: zlib's 16 KiB default means ~256 thread-pool
        // round trips and a concatenation per 4 MiB chunk.
        const member = gzipAsync(chunk, { level, chunkSize: chunk.length + (chunk.length >> 8) + 1024 });
        // Rejections are awaited in order below; this only keeps an early one from being "unhandled".
        member.catch(() => undefined);
        inFlight.push(member);
      }
      const next = inFlight.shift();
      if (next === undefined) break;
      yield await next;
    }
  } finally {
    // Also on an early return (the consumer stopped): members still compressing are let finish.
    await Promise.allSettled(inFlight);
    await source.close();
  }
}

const SAMPLE = 32 * 1024;

/**
 * Whether deflate would gain (almost) nothing on `chunk`, judged from three 32 KiB samples
 * compressed at level 1 (~1 ms per 4 MiB chunk; compressing the chunk at level 6 takes ~80 ms).
 * zlib, unlike Go's deflate, has no fast path for such data. One sample that compresses well is
 * enough to compress the whole chunk, so mixed content keeps its ratio.
 */
export function looksIncompressible(chunk: Buffer): boolean {
  if (chunk.length < 4 * SAMPLE) return false;
  const starts = [0, Math.floor(chunk.length / 2), chunk.length - SAMPLE];
  return starts.every((start) => deflateRawSync(chunk.subarray(start, start + SAMPLE), { level: 1 }).length > SAMPLE * 0.97);
}

/** What the first bytes of a blob say it is; media types in the wild are not always honest. */
export function sniffCompression(head: Buffer): Compression | 'none' {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  return 'none';
}

/** A transform that decompresses `compression`; 'none' is a pass-through (undefined). */
export function decompressor(compression: Compression | 'none', signal?: AbortSignal): Transform | Duplex | undefined {
  // zlib's default 16 KiB output chunks mean a thread-pool round trip and a file write per 16 KiB;
  // 1 MiB chunks cut the per-chunk overhead (most of a pull's CPU time) by the same factor.
  // A few chunks of buffer on either side let inflate (the serial part of a pull) run ahead of the
  // disk instead of waiting for each 1 MiB write; Node's 16 KiB default lets it hold only one.
  if (compression === 'gzip') return createGunzip({ chunkSize: 1024 * 1024, readableHighWaterMark: 8 * 1024 * 1024, writableHighWaterMark: 4 * 1024 * 1024 } as ZlibOptions);
  if (compression === 'zstd') return zstdFilter(['-d', '-q', '-c'], 'zstd decompression', signal);
  return undefined;
}

/**
 * `zstd ARGS` as a stream transform (stdin -> stdout). The end of the output is held back until
 * the child has exited, so a failing zstd is an error (with the tail of its stderr) rather than a
 * short stream; destroying the transform (abort, a failure elsewhere in the pipeline) kills it.
 */
function zstdFilter(args: string[], what: string, signal?: AbortSignal): Duplex {
  return new ChildFilter(['zstd', ...args], what, signal);
}

class ChildFilter extends Duplex {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly exited: Promise<void>;

  constructor(argv: string[], what: string, signal?: AbortSignal) {
    super();
    const [command, ...args] = argv as [string, ...string[]];
    this.child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, signal });
    let stderr = '';
    this.child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-2048);
    });
    this.exited = new Promise<void>((resolve, reject) => {
      this.child.once('error', (err) => reject(new TsbuildError('RUNTIME', `${what}: cannot run ${command}: ${err.message}`, { cause: err })));
      this.child.once('close', (code, sig) => {
        if (code === 0) return resolve();
        const detail = stderr.trim().split('\n').pop() ?? '';
        reject(new TsbuildError('INVALID_ARGUMENT', `${what} failed (${sig ?? `exit status ${String(code)}`})${detail ? `: ${detail}` : ''}`));
      });
    });
    this.exited.catch((err: unknown) => this.destroy(err as Error));
    // EPIPE when the child quits early: its exit status is the error worth reporting.
    this.child.stdin.on('error', () => undefined);
    this.child.stdout.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) this.child.stdout.pause();
    });
    this.child.stdout.on('end', () => {
      this.exited.then(() => this.push(null), () => undefined);
    });
  }

  override _read(): void {
    this.child.stdout.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    if (this.child.stdin.write(chunk)) done();
    else this.child.stdin.once('drain', () => done());
  }

  override _final(done: (err?: Error | null) => void): void {
    this.child.stdin.end();
    done();
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    done(err);
  }
}
