// Unpacks an image archive (tar, optionally gzipped as a whole) into a private temp dir, because
// the entries of OCI and Docker archives may come in any order while a tar can only be read front
// to back. Only the paths image archives use are kept (blobs/sha256/<hex>, <hex>.json,
// <hex>/layer.tar, <hex>.tar, the index and manifest files); everything else is skipped unread.
// Extracted files get generated names, so no entry name is ever used as a path on disk, and
// symlinks or hard links between kept entries (skopeo's <id>/layer.tar -> ../<hex>.tar) are
// followed in memory instead of being created.
import { createReadStream, createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import tarStream from 'tar-stream';
import { TsbuildError, errnoCode } from '../../errors.js';
import { hasGzipMagic } from './common.js';
import { inflateLimit, limitedStream } from '../../util/limited-stream.js';

export interface ExtractedArchive {
  /** The archive path as the user gave it, for messages. */
  input: string;
  has(name: string): boolean;
  /** The extracted file behind an archive path (links followed); INVALID_ARGUMENT when the archive lacks it. */
  file(name: string): string;
  size(name: string): Promise<number>;
}

const KEPT = /^(?:oci-layout|index\.json|manifest\.json|repositories|blobs\/sha256\/[a-f0-9]{64}|[a-f0-9]{64}\.(?:json|tar)|[a-f0-9]{64}\/layer\.tar)$/;
const MAX_LINK_HOPS = 8;

export function notAnImageArchive(input: string, cause?: unknown): TsbuildError {
  return new TsbuildError('INVALID_ARGUMENT', `archive ${input}: not an OCI or Docker image archive`, {
    cause,
    hint: 'expected a tar written by "save", "podman save", "docker save" or "skopeo copy ... oci-archive:"',
  });
}

/** An entry name as a clean relative path, or undefined for names that are absolute or climb out. */
export function cleanArchiveName(name: string): string | undefined {
  const trimmed = name.replace(/^(?:\.\/)+/, '').replace(/\/+$/, '');
  if (trimmed === '' || trimmed.startsWith('/')) return undefined;
  const parts = trimmed.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) return undefined;
  return parts.join('/');
}

export async function extractArchive(input: string, workDir: string): Promise<ExtractedArchive> {
  let gzipped: boolean;
  try {
    if (!(await stat(input)).isFile()) throw notAnImageArchive(input);
    gzipped = await hasGzipMagic(input);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') throw new TsbuildError('NOT_FOUND', `archive ${input}: no such file`, { cause: err });
    throw err;
  }
  const files = new Map<string, string>();
  const links = new Map<string, string>();
  let entries = 0;
  let extracted = 0;
  const extract = tarStream.extract();
  const sources: Readable[] = [createReadStream(input)];
  if (gzipped) {
    // A gzipped archive that is a decompression bomb stops at the inflate limit (util/limited-stream.ts).
    const limit = inflateLimit((await stat(input)).size);
    const tooLarge = (): TsbuildError =>
      new TsbuildError('INVALID_ARGUMENT', `archive ${input}: inflates to more than ${limit.bytes} bytes, the limit of ${limit.rule}; refusing a likely decompression bomb`);
    sources.push(createGunzip(), limitedStream(limit.bytes, tooLarge));
  }
  const feeding = pipeline([...sources, extract]);
  // The iteration below reports the error; this only keeps the rejection from going unhandled.
  feeding.catch(() => undefined);
  try {
    for await (const entry of extract) {
      entries++;
      const name = cleanArchiveName(entry.header.name);
      const type = entry.header.type;
      if (name === undefined || !KEPT.test(name) || (type !== 'file' && type !== 'symlink' && type !== 'link')) {
        entry.resume();
        continue;
      }
      if (type === 'file') {
        const target = path.join(workDir, String(extracted++));
        await pipeline(entry, createWriteStream(target, { flags: 'wx', mode: 0o600 }));
        links.delete(name);
        files.set(name, target);
      } else {
        entry.resume();
        // Symlink targets are relative to the link's directory, hard-link targets to the archive root.
        const linkname = entry.header.linkname ?? '';
        const joined = type === 'symlink' ? path.posix.join(path.posix.dirname(name), linkname) : linkname;
        const target = linkname.startsWith('/') ? undefined : cleanArchiveName(path.posix.normalize(joined));
        if (target !== undefined) {
          files.delete(name);
          links.set(name, target);
        }
      }
    }
    await feeding;
  } catch (err) {
    for (const s of sources) s.destroy();
    if (err instanceof TsbuildError) throw err;
    // System errors (disk full, permissions) are about our side, not the archive.
    if (/^E[A-Z]+$/.test(errnoCode(err) ?? '')) {
      throw new TsbuildError('IO', `archive ${input}: cannot extract: ${(err as Error).message}`, { cause: err });
    }
    if (entries === 0) throw notAnImageArchive(input, err);
    throw new TsbuildError('INVALID_ARGUMENT', `archive ${input}: truncated or corrupt (${(err as Error).message})`, { cause: err });
  }

  const resolve = (name: string): string | undefined => {
    let current = cleanArchiveName(name);
    for (let hop = 0; current !== undefined && hop <= MAX_LINK_HOPS; hop++) {
      const file = files.get(current);
      if (file !== undefined) return file;
      current = links.get(current);
    }
    return undefined;
  };
  const file = (name: string): string => {
    const found = resolve(name);
    if (found === undefined) {
      throw new TsbuildError('INVALID_ARGUMENT', `archive ${input}: ${name} is missing`, {
        hint: 'the archive may be truncated or incomplete',
      });
    }
    return found;
  };
  return {
    input,
    has: (name) => resolve(name) !== undefined,
    file,
    size: async (name) => (await stat(file(name))).size,
  };
}
