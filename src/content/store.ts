// The content-addressed blob store: blobs/sha256/<hex>. Every commit is verified (or produced by a
// trusted in-process writer that hashed the bytes itself) and atomic: bytes land in tmp/ first and
// are renamed into place, so a blob path either holds the whole verified blob or does not exist.
import { createReadStream, createWriteStream, readFileSync, statSync } from 'node:fs';
import { mkdir, rename, rm, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { TsbuildError, errnoCode } from '../errors.js';
import { digestHex, sha256Digest, type Descriptor } from '../oci/types.js';
import { pathExists, tempName } from '../util/fs.js';
import { hashingStream } from '../util/hashing-stream.js';
import { lease } from '../store/lease.js';

export interface ContentStore {
  blobPath(digest: string): string;
  has(digest: string): Promise<boolean>;
  size(digest: string): Promise<number>;
  read(digest: string): Promise<Buffer>;
  readJson<T>(digest: string): Promise<T>;
  openRead(digest: string): Readable;
  /** Stores bytes held in memory (configs, manifests). */
  put(data: Buffer | string, mediaType: string): Promise<Descriptor>;
  /** Streams a blob in, hashing it; rejects with DIGEST_MISMATCH when `expected` is given and differs. */
  ingest(input: Readable, expected?: { digest: string; size?: number }): Promise<{ digest: string; size: number }>;
  /** A temp file path for a trusted writer that computes the digest itself, then calls commitFile. */
  tempPath(): string;
  commitFile(tempFile: string, digest: string): Promise<void>;
  remove(digest: string): Promise<void>;
}

export function createContentStore(options: { root: string; tmpDir: string }): ContentStore {
  const blobDir = path.join(options.root, 'blobs', 'sha256');

  const blobPath = (digest: string): string => path.join(blobDir, digestHex(digest));

  async function commitFile(tempFile: string, digest: string): Promise<void> {
    // Leased first: the blob is referenced by nothing until its image or cache entry is written.
    await lease(options.root, { blobs: [digest] });
    await mkdir(blobDir, { recursive: true });
    // Committing something that exists is success: blobs are immutable and named by content.
    await rename(tempFile, blobPath(digest));
  }

  const has = (digest: string): Promise<boolean> => pathExists(blobPath(digest));

  return {
    blobPath,
    has,
    async size(digest) {
      try {
        return statSync(blobPath(digest)).size;
      } catch (err) {
        if (errnoCode(err) === 'ENOENT') throw new TsbuildError('NOT_FOUND', `blob ${digest} not found in the store`);
        throw err;
      }
    },
    // Whole blobs in memory are small ones (configs, manifests): read synchronously (util/fs.ts).
    async read(digest) {
      try {
        return readFileSync(blobPath(digest));
      } catch (err) {
        if (errnoCode(err) === 'ENOENT') throw new TsbuildError('NOT_FOUND', `blob ${digest} not found in the store`);
        throw err;
      }
    },
    async readJson<T>(digest: string): Promise<T> {
      const data = await this.read(digest);
      try {
        return JSON.parse(data.toString('utf8')) as T;
      } catch (err) {
        throw new TsbuildError('PARSE', `blob ${digest} is not valid JSON`, { cause: err });
      }
    },
    openRead(digest) {
      return createReadStream(blobPath(digest));
    },
    async put(data, mediaType) {
      const bytes = typeof data === 'string' ? Buffer.from(data) : data;
      const digest = sha256Digest(bytes);
      await lease(options.root, { blobs: [digest] }); // before has(): see store/lease.ts
      if (!(await has(digest))) {
        const tmp = tempName(options.tmpDir, 'blob');
        await mkdir(options.tmpDir, { recursive: true });
        await writeFile(tmp, bytes);
        await commitFile(tmp, digest);
      }
      return { mediaType, digest, size: bytes.length };
    },
    async ingest(input, expected) {
      await mkdir(options.tmpDir, { recursive: true });
      const tmp = tempName(options.tmpDir, 'blob');
      const hashing = hashingStream();
      try {
        await pipeline(input, hashing.stream, createWriteStream(tmp, { mode: 0o644 }));
        const digest = hashing.digest();
        const size = hashing.size();
        if (expected && (expected.digest !== digest || (expected.size !== undefined && expected.size !== size))) {
          throw new TsbuildError(
            'DIGEST_MISMATCH',
            `blob ${expected.digest}: content has digest ${digest} and size ${size}${expected.size !== undefined ? ` (expected size ${expected.size})` : ''}`,
          );
        }
        await commitFile(tmp, digest);
        return { digest, size };
      } finally {
        await rm(tmp, { force: true });
      }
    },
    tempPath() {
      return tempName(options.tmpDir, 'blob');
    },
    commitFile,
    async remove(digest) {
      await unlink(blobPath(digest)).catch((err: unknown) => {
        if (errnoCode(err) !== 'ENOENT') throw err;
      });
    },
  };
}
