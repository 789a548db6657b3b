// The push-side compressors and pull-side decompressors on real files: parallel gzip members read
// back as one stream, edge sizes around the chunk boundary, incompressible chunks stored, zstd
// through the real binary, and content sniffing.
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GZIP_CHUNK, compressFile, decompressor, sniffCompression } from '../../../src/remote/compression.js';
import { sha256Digest } from '../../../src/oci/types.js';

let dir: string;
let n = 0;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-compress-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function compress(data: Buffer, compression: 'gzip' | 'zstd', level: number): Promise<{ out: Buffer; digest: string; size: number }> {
  const input = path.join(dir, `in-${n}`);
  const output = path.join(dir, `out-${n++}`);
  await writeFile(input, data);
  const result = await compressFile(input, output, { compression, level });
  return { out: await readFile(output), ...result };
}

async function decompress(data: Buffer, compression: 'gzip' | 'zstd'): Promise<Buffer> {
  const chunks: Buffer[] = [];
  await pipeline(Readable.from([data]), decompressor(compression)!, async function* (source) {
    for await (const chunk of source) chunks.push(chunk as Buffer);
  });
  return Buffer.concat(chunks);
}

/** Text-like, compressible bytes. */
function text(size: number): Buffer {
  const line = Buffer.from('the quick brown fox jumps over the lazy dog 0123456789\n');
  const out = Buffer.alloc(size);
  for (let i = 0; i < size; i += line.length) line.copy(out, i);
  return out;
}

/** Incompressible bytes (xorshift). */
function noise(size: number): Buffer {
  const out = Buffer.alloc(size);
  let s = 0x12345678;
  for (let i = 0; i + 4 <= size; i += 4) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out.writeUInt32LE(s >>> 0, i);
  }
  return out;
}

describe('parallel gzip', () => {
  for (const size of [0, 1, GZIP_CHUNK - 1, GZIP_CHUNK, GZIP_CHUNK + 1, 3 * GZIP_CHUNK + 12345]) {
    it(`round-trips ${size} bytes, hashing exactly the bytes it wrote`, async () => {
      const data = Buffer.concat([text(Math.floor(size / 2)), noise(size - Math.floor(size / 2))]);
      const { out, digest, size: outSize } = await compress(data, 'gzip', 6);
      expect(out.length).toBe(outSize);
      expect(sha256Digest(out)).toBe(digest);
      expect(gunzipSync(out).equals(data)).toBe(true);
      expect((await decompress(out, 'gzip')).equals(data)).toBe(true);
    });
  }

  it('compresses text and stores incompressible data, at a cost of a few bytes per 64 KiB', async () => {
    const size = 2 * GZIP_CHUNK;
    expect((await compress(text(size), 'gzip', 6)).size).toBeLessThan(size / 20);
    const stored = await compress(noise(size), 'gzip', 6);
    expect(stored.size).toBeGreaterThan(size);
    expect(stored.size).toBeLessThan(size + 1024);
  });

  it('is deterministic: the same layer compresses to the same digest', async () => {
    const data = Buffer.concat([text(GZIP_CHUNK), noise(GZIP_CHUNK)]);
    expect((await compress(data, 'gzip', 6)).digest).toBe((await compress(data, 'gzip', 6)).digest);
  });
});

describe('zstd and sniffing', () => {
  it('round-trips through the zstd binary and reports a corrupt stream as an error', async () => {
    const data = Buffer.concat([text(GZIP_CHUNK), noise(100_000)]);
    const { out, digest } = await compress(data, 'zstd', 3);
    expect(sha256Digest(out)).toBe(digest);
    expect(sniffCompression(out)).toBe('zstd');
    expect((await decompress(out, 'zstd')).equals(data)).toBe(true);
    const broken = Buffer.from(out.subarray(0, out.length - 100));
    await expect(decompress(broken, 'zstd')).rejects.toThrow(/zstd decompression failed/);
  });

  it('tells gzip, zstd and plain tar apart by their first bytes', async () => {
    const gz = await compress(text(1000), 'gzip', 1);
    expect(sniffCompression(gz.out)).toBe('gzip');
    expect(sniffCompression(Buffer.from('ustar\0'))).toBe('none');
    expect(sniffCompression(Buffer.alloc(0))).toBe('none');
    const file = path.join(dir, 'plain');
    await writeFile(file, text(10));
    for await (const chunk of createReadStream(file)) expect(sniffCompression(chunk as Buffer)).toBe('none');
  });
});
