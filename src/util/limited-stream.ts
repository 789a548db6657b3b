// Size limits for bytes that come from somewhere untrusted: how far a compressed stream may inflate
// (pulled layers, ADD'ed archives) and how big a download may be (ADD <url>), and the pass-through
// transform that enforces a limit while streaming, so a bomb costs bounded memory and at most the
// limit in temp space (which its caller removes) instead of filling the disk.
//
// Why a ratio with a floor, and not an absolute cap alone: a gzip layer can inflate at most ~1032x
// (deflate's limit), zstd, xz and bzip2 by far more, and real layers inflate 2-10x; layers of
// highly compressible text reach ~20x. A fixed cap large enough for real images (CUDA layers are
// several GiB) would let a few MiB of download write that much before it fires; a ratio alone would
// refuse small, legitimately sparse layers. So a stream may always inflate to the floor
// (TSBUILD_MAX_INFLATE_SIZE, default 1 GiB) and beyond it to at most RATIO x its compressed size
// (TSBUILD_MAX_INFLATE_RATIO, default 200; 0 turns the ratio off, leaving the floor as a cap).
// For a pull the compressed size is the bytes received so far, never the size a manifest claims
// (which the registry chooses). containerd and BuildKit have no such limit; an image that needs
// more (a layer of zero-filled disk images) can raise either variable.
import { stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { TsbuildError } from '../errors.js';
import { parseByteSize } from './size.js';

export const DEFAULT_INFLATE_FLOOR = 1024 ** 3;
export const DEFAULT_INFLATE_RATIO = 200;
/** ADD <url> bodies: large enough for any real download, small enough to stop an endless body well before a disk fills. */
export const DEFAULT_MAX_DOWNLOAD = 16 * 1024 ** 3;

/** "64MiB", "1g", "1048576" -> bytes (binary units, as podman's sizes). */
export function parseSize(text: string, what: string): number {
  const bytes = parseByteSize(text);
  if (bytes === undefined) throw new TsbuildError('INVALID_ARGUMENT', `${what}: invalid size "${text}": expected bytes or a number with k, m, g or t (e.g. 64MiB)`);
  return bytes;
}

function envNumber(env: NodeJS.ProcessEnv, name: string, fallback: number, parse: (text: string) => number): number {
  const value = env[name];
  return value === undefined || value.trim() === '' ? fallback : parse(value);
}

export interface InflateLimit {
  /** The most bytes the stream may inflate to. */
  bytes: number;
  /** For messages: how the limit was reached ("200 x 12345 compressed bytes", "1073741824 bytes"). */
  rule: string;
}

export interface InflatePolicy {
  floor: number;
  ratio: number;
  /** How far `compressedSize` bytes may inflate. */
  limit(compressedSize: number): InflateLimit;
}

/** The environment's TSBUILD_MAX_INFLATE_* settings. */
export function inflatePolicy(env: NodeJS.ProcessEnv = process.env): InflatePolicy {
  const floor = envNumber(env, 'TSBUILD_MAX_INFLATE_SIZE', DEFAULT_INFLATE_FLOOR, (t) => parseSize(t, 'TSBUILD_MAX_INFLATE_SIZE'));
  const ratio = envNumber(env, 'TSBUILD_MAX_INFLATE_RATIO', DEFAULT_INFLATE_RATIO, (t) => {
    const n = Number(t);
    if (!Number.isFinite(n) || n < 0) throw new TsbuildError('INVALID_ARGUMENT', `TSBUILD_MAX_INFLATE_RATIO: invalid ratio "${t}": expected a number, 0 for none`);
    return n;
  });
  return {
    floor,
    ratio,
    limit(compressedSize) {
      const scaled = ratio * Math.max(0, compressedSize);
      if (scaled > floor) return { bytes: Math.floor(scaled), rule: `${ratio} times its compressed size of ${compressedSize} bytes (TSBUILD_MAX_INFLATE_RATIO)` };
      return { bytes: floor, rule: `${floor} bytes (TSBUILD_MAX_INFLATE_SIZE)` };
    },
  };
}

/** How far `compressedSize` bytes (of a file whose size is known, not claimed) may inflate. */
export function inflateLimit(compressedSize: number, env: NodeJS.ProcessEnv = process.env): InflateLimit {
  return inflatePolicy(env).limit(compressedSize);
}

/** The most bytes an ADD <url> download may have (TSBUILD_MAX_DOWNLOAD_SIZE). */
export function downloadLimit(env: NodeJS.ProcessEnv = process.env): number {
  return envNumber(env, 'TSBUILD_MAX_DOWNLOAD_SIZE', DEFAULT_MAX_DOWNLOAD, (t) => parseSize(t, 'TSBUILD_MAX_DOWNLOAD_SIZE'));
}

/**
 * A pass-through that fails with `exceeded()` as soon as more than `limit` bytes went through: the
 * chunk that crosses the limit is not passed on, so a consumer never sees (or writes) more.
 */
export function limitedStream(limit: number, exceeded: () => Error): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback) {
      seen += chunk.length;
      if (seen > limit) return done(exceeded());
      done(null, chunk);
    },
  });
}

/** A decompressor's output as its user sees it: the stream, when it is finished, how to stop it early. */
export interface Decompression {
  stream: Readable;
  done: Promise<void>;
  stop(): void;
}

/**
 * `open()`'s decompression of the file `compressedFile`, its output cut off at the file's inflate
 * limit: past it, the stream and `done` fail with one error naming `what` (whatever the
 * decompressor itself says when it is cut off), and the decompressor is stopped.
 */
export async function inflateLimited<T extends Decompression>(compressedFile: string, what: string, open: () => T): Promise<T> {
  const limit = inflateLimit((await stat(compressedFile)).size);
  const tooLarge = new TsbuildError('INVALID_ARGUMENT', `${what}: ${compressedFile}: the archive inflates to more than ${limit.bytes} bytes, the limit of ${limit.rule}; refusing a likely decompression bomb`, {
    hint: 'if the archive is trusted, raise TSBUILD_MAX_INFLATE_SIZE or TSBUILD_MAX_INFLATE_RATIO (see the README)',
  });
  let exceeded = false;
  let refuse: (err: Error) => void = () => undefined;
  // Rejects the moment the limit is crossed, so a caller awaiting `done` with its reader gets this
  // error first, rather than whatever the reader or the decompressor make of being cut off.
  const refused = new Promise<never>((_resolve, reject) => (refuse = reject));
  const source = open();
  const limiter = limitedStream(limit.bytes, () => {
    exceeded = true;
    refuse(tooLarge);
    return tooLarge;
  });
  // Its failure reaches the reader through `limiter`; past the limit the decompressor is stopped too.
  pipeline(source.stream, limiter).catch(() => {
    if (exceeded) source.stop();
  });
  const stop = (): void => {
    source.stop();
    limiter.destroy();
  };
  const finished = source.done.then(
    () => {
      if (exceeded) throw tooLarge;
    },
    (err: unknown) => {
      throw exceeded ? tooLarge : err;
    },
  );
  const done = Promise.race([finished, refused]);
  done.catch(() => undefined); // awaited by the caller
  return { ...source, stream: limiter, done, stop };
}
