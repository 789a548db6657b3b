// The size limits of util/limited-stream.ts and the full-disk error of errors.ts, without a root.
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { TsbuildError, noSpaceError } from '../../../src/errors.js';
import { redactUrlsIn } from '../../../src/build/remote-source/http.js';
import { DEFAULT_INFLATE_FLOOR, downloadLimit, inflateLimit, limitedStream, parseSize } from '../../../src/util/limited-stream.js';

describe('parseSize', () => {
  it('reads bytes and binary units', () => {
    expect(parseSize('1048576', 'X')).toBe(1048576);
    expect(parseSize('64MiB', 'X')).toBe(64 * 1024 ** 2);
    expect(parseSize('1g', 'X')).toBe(1024 ** 3);
    expect(parseSize('1.5k', 'X')).toBe(1536);
  });
  it('refuses what is not a size, naming the setting', () => {
    expect(() => parseSize('lots', 'TSBUILD_MAX_INFLATE_SIZE')).toThrow(/TSBUILD_MAX_INFLATE_SIZE: invalid size "lots"/);
    expect(() => parseSize('-1', 'X')).toThrow(TsbuildError);
    expect(() => parseSize('10 parsecs', 'X')).toThrow(TsbuildError);
  });
});

describe('inflateLimit', () => {
  it('allows the floor, and beyond it the ratio times the compressed size', () => {
    expect(inflateLimit(1000, {}).bytes).toBe(DEFAULT_INFLATE_FLOOR);
    expect(inflateLimit(100 * 1024 ** 2, {}).bytes).toBe(200 * 100 * 1024 ** 2);
    expect(inflateLimit(1000, { TSBUILD_MAX_INFLATE_SIZE: '1MiB', TSBUILD_MAX_INFLATE_RATIO: '10' }).bytes).toBe(1024 ** 2);
    expect(inflateLimit(1024 ** 2, { TSBUILD_MAX_INFLATE_SIZE: '1MiB', TSBUILD_MAX_INFLATE_RATIO: '10' }).bytes).toBe(10 * 1024 ** 2);
  });
  it('with ratio 0 leaves only the size', () => {
    expect(inflateLimit(1024 ** 3, { TSBUILD_MAX_INFLATE_RATIO: '0' }).bytes).toBe(DEFAULT_INFLATE_FLOOR);
  });
  it('refuses a bad ratio', () => {
    expect(() => inflateLimit(1, { TSBUILD_MAX_INFLATE_RATIO: 'x' })).toThrow(/TSBUILD_MAX_INFLATE_RATIO/);
  });
  it('reads the download limit', () => {
    expect(downloadLimit({ TSBUILD_MAX_DOWNLOAD_SIZE: '2k' })).toBe(2048);
  });
});

describe('limitedStream', () => {
  it('passes up to the limit and fails past it, never passing the chunk that crosses', async () => {
    const seen: Buffer[] = [];
    const collect = async (source: AsyncIterable<Buffer>): Promise<void> => {
      for await (const chunk of source) seen.push(chunk);
    };
    await pipeline(Readable.from([Buffer.alloc(4), Buffer.alloc(4)]), limitedStream(8, () => new Error('too big')), collect);
    expect(Buffer.concat(seen).length).toBe(8);
    seen.length = 0;
    await expect(pipeline(Readable.from([Buffer.alloc(4), Buffer.alloc(4), Buffer.alloc(1)]), limitedStream(8, () => new Error('too big')), collect)).rejects.toThrow('too big');
    // What was in flight may be dropped with the error; never more than the limit gets through.
    expect(Buffer.concat(seen).length).toBeLessThanOrEqual(8);
  });
});

describe('noSpaceError', () => {
  const enospc = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' });
  it('names where and the path, with a hint', () => {
    const withPath = Object.assign(new Error('ENOSPC: no space left on device, open'), { code: 'ENOSPC', path: '/root/tmp/.blob-1' });
    const err = noSpaceError(withPath, 'Containerfile:3', 'RUN make') as TsbuildError;
    expect(err).toBeInstanceOf(TsbuildError);
    expect(err.code).toBe('NO_SPACE');
    expect(err.message).toBe('Containerfile:3: RUN make: no space left on device (writing /root/tmp/.blob-1)');
    expect(err.hint).toMatch(/free space/);
    expect((noSpaceError(enospc) as TsbuildError).message).toBe('no space left on device');
  });
  it('finds a full disk in the cause chain or in a message from a worker, keeping a message that says what failed', () => {
    const wrapped = new TsbuildError('IO', 'Containerfile:2: cannot write /x', { cause: enospc });
    expect((noSpaceError(wrapped, 'Containerfile:2') as TsbuildError).message).toBe('Containerfile:2: cannot write /x: no space left on device');
    const fromWorker = new TsbuildError('IO', 'Containerfile:2: cannot write /x from /y: ENOSPC: no space left on device, copyfile');
    expect((noSpaceError(fromWorker, 'Containerfile:2') as TsbuildError).code).toBe('NO_SPACE');
  });
  it('leaves other errors alone', () => {
    const other = new TsbuildError('IO', 'broken');
    expect(noSpaceError(other, 'x')).toBe(other);
    const plain = new Error('EACCES');
    expect(noSpaceError(plain)).toBe(plain);
  });
});

describe('redactUrlsIn', () => {
  it('hides the password of every URL in a text, keeping the rest', () => {
    expect(redactUrlsIn('ADD https://alice:s3cret@example.com/f.tgz /x')).toBe('ADD https://alice:***@example.com/f.tgz /x');
    expect(redactUrlsIn('ADD http://a:b@h/1 git://c:d@h/2 /x')).toBe('ADD http://a:***@h/1 git://c:***@h/2 /x');
    expect(redactUrlsIn('ADD https://example.com/a@b /x')).toBe('ADD https://example.com/a@b /x');
    expect(redactUrlsIn('RUN echo user:pass@host')).toBe('RUN echo user:pass@host');
  });
});
