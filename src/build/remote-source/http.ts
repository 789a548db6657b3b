// ADD <http(s) URL>: the file is streamed to a private temp dir (memory stays flat whatever its
// size), hashed on the way when there is a --checksum to verify, then copied like a context file. As
// in BuildKit it is saved with mode 0600, takes the server's Last-Modified as its mtime, and is named
// after the URL path's last component (`__unnamed__` when the path has none). A checksum mismatch
// fails before anything is committed.
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { chmod, mkdir, rm, utimes } from 'node:fs/promises';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { TsbuildError } from '../../errors.js';
import { trustExtraCasInFetch } from '../../remote/tls.js';
import { tempName } from '../../util/fs.js';
import { downloadLimit, limitedStream } from '../../util/limited-stream.js';
import type { FetchedSource } from './index.js';
import type { HttpValidators } from './validators.js';

export interface HttpFetchOptions {
  url: string;
  /** `sha256:<hex>` (or sha384/sha512), from ADD --checksum. */
  checksum?: string;
  tmpDir: string;
  where: string;
  /** Names the source in messages after `where` (default `ADD <url>`). */
  label?: string;
  /** From an earlier download: asked for conditionally, a 304 answers `notModified` with no body. */
  validators?: HttpValidators;
  signal?: AbortSignal;
}

const ALGORITHMS = new Set(['sha256', 'sha384', 'sha512']);

export function isHttpSource(src: string): boolean {
  return /^https?:\/\//i.test(src);
}

/** The file name a URL's content gets: the last component of its path, as BuildKit names it. */
export function urlFileName(url: string): string {
  const pathname = new URL(url).pathname;
  let decoded = pathname;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    // A malformed escape: the name is taken as written.
  }
  const base = path.posix.basename(decoded);
  // `..` (or an encoded `%2e%2e`) must never name a file next to the download dir.
  return base === '' || base === '.' || base === '..' || base === '/' ? '__unnamed__' : base;
}

/** The URL as messages show it: a password in it is replaced by `***`. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password === '') return url;
    parsed.password = '***';
    return parsed.toString();
  } catch {
    return url;
  }
}

/**
 * Text (an instruction as written, for a STEP line or the image history) with the password of
 * every URL in it replaced by `***`: `ADD https://user:pass@host/f /` must not put the password
 * into the image config, where everyone who pulls the image reads it.
 */
export function redactUrlsIn(text: string): string {
  return text.replace(/\b([a-z][a-z0-9+.-]*:\/\/)([^\s/?#@:]*):([^\s/?#@]*)@/gi, (_m, scheme: string, user: string) => `${scheme}${user}:***@`);
}

/** Checks an ADD --checksum value early, so a typo fails before any download. */
export function parseChecksum(value: string, where: string): { algorithm: string; hex: string } {
  const m = /^([a-z0-9]+):([a-f0-9]+)$/.exec(value);
  const lengths: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };
  if (!m || !ALGORITHMS.has(m[1]!) || m[2]!.length !== lengths[m[1]!]) {
    throw new TsbuildError('INVALID_ARGUMENT', `${where}: invalid --checksum "${value}": expected sha256:<64 hex digits> (or sha384, sha512)`);
  }
  return { algorithm: m[1]!, hex: m[2]! };
}

export async function fetchHttp(options: HttpFetchOptions): Promise<FetchedSource> {
  const { where } = options;
  const shown = redactUrl(options.url);
  const label = options.label ?? `ADD ${shown}`;
  // fetch() refuses URLs with credentials: they travel as a Basic Authorization header instead.
  const target = new URL(options.url);
  const headers: Record<string, string> = {};
  if (target.username !== '' || target.password !== '') {
    const user = decodeURIComponent(target.username);
    const password = decodeURIComponent(target.password);
    headers.authorization = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
    target.username = '';
    target.password = '';
  }
  if (options.validators?.etag !== undefined) headers['if-none-match'] = options.validators.etag;
  if (options.validators?.lastModified !== undefined) headers['if-modified-since'] = options.validators.lastModified;
  const expected = options.checksum === undefined ? undefined : parseChecksum(options.checksum, where);
  const name = urlFileName(options.url);
  const dir = tempName(options.tmpDir, 'download');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const release = (): Promise<void> => rm(dir, { recursive: true, force: true });
  try {
    // Loaded on first use: builds without URLs never pay for undici.
    const [{ fetch }] = await Promise.all([import('undici'), trustExtraCasInFetch()]);
    let response;
    try {
      response = await fetch(target, { signal: options.signal, redirect: 'follow', headers });
    } catch (err) {
      const cause = (err as { cause?: { message?: string } }).cause?.message ?? (err as Error).message;
      throw new TsbuildError('IO', `${where}: ${label}: ${cause}`, { cause: err });
    }
    if (response.status === 304 && options.validators !== undefined) {
      await response.body?.cancel().catch(() => undefined);
      await release();
      return { dir, pattern: name, release, notModified: true };
    }
    if (!response.ok || response.body === null) {
      await response.body?.cancel().catch(() => undefined);
      const code = response.status === 401 || response.status === 403 ? 'UNAUTHORIZED' : response.status === 404 || response.status === 410 ? 'NOT_FOUND' : 'IO';
      throw new TsbuildError(code, `${where}: ${label}: the server answered ${response.status} ${response.statusText}`.trimEnd());
    }
    // An endless or oversized body (a decoded Content-Encoding counts as what it decodes to) stops
    // at the limit; one announced as larger is refused before a byte is read.
    const limit = downloadLimit();
    const tooLarge = (): TsbuildError =>
      new TsbuildError('IO', `${where}: ${label}: the download is larger than ${limit} bytes, the limit of TSBUILD_MAX_DOWNLOAD_SIZE`, {
        hint: 'raise TSBUILD_MAX_DOWNLOAD_SIZE if the file is meant to be that large',
      });
    const announced = Number(response.headers.get('content-length') ?? NaN);
    if (announced > limit) {
      await response.body.cancel().catch(() => undefined);
      throw tooLarge();
    }
    const file = path.join(dir, name);
    // Hashed on the way in only when there is a checksum to verify; the copy step hashes files itself.
    const hash = expected === undefined ? undefined : createHash(expected.algorithm);
    const stages: Array<NodeJS.ReadableStream | NodeJS.WritableStream> = [Readable.fromWeb(response.body as import('node:stream/web').ReadableStream), limitedStream(limit, tooLarge)];
    if (hash !== undefined) {
      stages.push(
        new Transform({
          transform(chunk: Buffer, _enc, done) {
            hash.update(chunk);
            done(null, chunk);
          },
        }),
      );
    }
    stages.push(createWriteStream(file, { mode: 0o600 }));
    try {
      await pipeline(stages);
    } catch (err) {
      if (err instanceof TsbuildError) throw err;
      throw new TsbuildError('IO', `${where}: ${label}: download failed: ${(err as Error).message}`, { cause: err });
    }
    const actual = hash?.digest('hex');
    if (expected !== undefined && actual !== expected.hex) {
      throw new TsbuildError('DIGEST_MISMATCH', `${where}: ${label}: checksum mismatch: expected ${expected.algorithm}:${expected.hex}, got ${expected.algorithm}:${actual}`);
    }
    await chmod(file, 0o600);
    const lastModified = Date.parse(response.headers.get('last-modified') ?? '');
    if (!Number.isNaN(lastModified)) await utimes(file, lastModified / 1000, lastModified / 1000);
    const validators = { etag: response.headers.get('etag') ?? undefined, lastModified: response.headers.get('last-modified') ?? undefined };
    return { dir, pattern: name, release, validators };
  } catch (err) {
    await release();
    throw err;
  }
}
