// ADD's local-archive auto-extraction: recognise a tar (plain, gzip, bzip2 or xz) by its content,
// never by its name, and unpack it through the archive module. gzip is decompressed in-process;
// bzip2 and xz have no decompressor in Node, so `bzip2 -dc` / `xz -dc` run as filters (argv arrays,
// no shell, minimal environment, killed when we stop reading).
import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { headerChecksumMatches } from '../../archive/index.js';
import { TsbuildError, errnoCode } from '../../errors.js';
import { inflateLimited } from '../../util/limited-stream.js';

export type ArchiveFormat = 'tar' | 'gzip' | 'bzip2' | 'xz';

const TAR_BLOCK = 512;
const STDERR_TAIL = 2048;

/**
 * The archive format of a file, or undefined when it is not a tar archive (then ADD copies it as
 * is). A compressed file counts only when what it decompresses to starts with a valid tar header,
 * as in Docker: a gzipped text file is copied, not unpacked.
 */
export async function detectArchive(abs: string): Promise<ArchiveFormat | undefined> {
  const head = await readHead(abs, TAR_BLOCK);
  const compression = compressionOf(head);
  if (compression === undefined) return isTarHeader(head) ? 'tar' : undefined;
  const decompressed = openDecompressed(abs, compression);
  try {
    return isTarHeader(await readPrefix(decompressed.stream, TAR_BLOCK)) ? compression : undefined;
  } catch (err) {
    // A missing decompressor is the user's problem to know about; corrupt data just is not an archive.
    if (err instanceof TsbuildError) throw err;
    return undefined;
  } finally {
    decompressed.stop();
  }
}

export interface ExtractOptions {
  what: string;
  owner?: { uid: number; gid: number };
}

/** Unpacks an archive into destDir (a directory inside the new layer). */
export async function extractArchive(abs: string, format: ArchiveFormat, destDir: string, options: ExtractOptions): Promise<void> {
  // Loaded on first use: plain COPY never needs the tar machinery.
  const { applyTar } = await import('../../archive/index.js');
  const source = format === 'tar' ? { stream: createReadStream(abs), done: Promise.resolve(), stop: () => undefined } : await inflateLimited(abs, options.what, () => openDecompressed(abs, format));
  const applied = applyTar(source.stream, destDir, {
    // The destination is a layer dir: a `.wh.` name there would be a whiteout once the layer is a tar.
    whiteouts: 'refuse',
    what: options.what,
    // Owners come from the archive unless --chown names one for everything.
    ...(options.owner === undefined ? { preserveOwners: true } : { preserveOwners: false, owner: options.owner }),
  }).then(() => {
    // Drain what the tar reader left (end-of-archive padding) so the decompressor can exit cleanly.
    source.stream.resume();
  });
  applied.catch(() => undefined); // awaited below; this only keeps an early failure of `done` from leaving it unhandled
  try {
    await Promise.all([applied, source.done]);
  } finally {
    source.stop();
    if (format === 'tar') source.stream.destroy();
  }
}

function compressionOf(head: Buffer): Exclude<ArchiveFormat, 'tar'> | undefined {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 3 && head.toString('latin1', 0, 3) === 'BZh') return 'bzip2';
  if (head.length >= 6 && head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return 'xz';
  return undefined;
}

/**
 * Whether a 512-byte block is a tar header: its checksum field matches the byte sum of the block
 * (with the field itself counted as spaces). That accepts ustar, GNU and old v7 headers alike,
 * where checking only the `ustar` magic at offset 257 would miss v7 archives.
 */
export function isTarHeader(block: Buffer): boolean {
  if (block.length < TAR_BLOCK || block[0] === 0) return false;
  const field = block.toString('latin1', 148, 156).replace(/[\0 ]+$/, '').trim();
  if (!/^[0-7]{1,7}$/.test(field)) return false;
  return headerChecksumMatches(block, parseInt(field, 8));
}

async function readHead(abs: string, length: number): Promise<Buffer> {
  const handle = await open(abs, 'r');
  try {
    const buffer = Buffer.alloc(length);
    let filled = 0;
    while (filled < length) {
      const { bytesRead } = await handle.read(buffer, filled, length - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return buffer.subarray(0, filled);
  } finally {
    await handle.close();
  }
}

async function readPrefix(stream: Readable, length: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    const buf = chunk as Buffer;
    chunks.push(buf);
    total += buf.length;
    if (total >= length) break;
  }
  return Buffer.concat(chunks).subarray(0, length);
}

interface Decompressed {
  stream: Readable;
  /** Settles when the decompressor has finished; rejects when it failed. */
  done: Promise<void>;
  /** Stops early (kills the filter, closes the file); harmless after completion. */
  stop(): void;
}

function openDecompressed(abs: string, format: Exclude<ArchiveFormat, 'tar'>): Decompressed {
  const file = createReadStream(abs);
  if (format === 'gzip') {
    const gunzip = createGunzip();
    const done = pipeline(file, gunzip);
    done.catch(() => undefined); // observed through the output stream or awaited by extractArchive
    return {
      stream: gunzip,
      done,
      stop: () => {
        file.destroy();
        gunzip.destroy();
      },
    };
  }
  const command = format === 'bzip2' ? 'bzip2' : 'xz';
  const child = spawn(command, ['-dc'], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' },
  });
  let stderr = '';
  let stopped = false;
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-STDERR_TAIL);
  });
  // The filter may exit (or be killed) before reading all input: that is not our error.
  child.stdin.on('error', () => undefined);
  file.on('error', (err) => child.stdout.destroy(err));
  file.pipe(child.stdin);
  const done = new Promise<void>((resolve, reject) => {
    child.once('error', (err) => {
      const missing = errnoCode(err) === 'ENOENT';
      const error = new TsbuildError('IO', missing ? `cannot decompress ${abs}: ${command} is not installed` : `cannot run ${command}: ${err.message}`, {
        cause: err,
        ...(missing ? { hint: `ADD needs the ${command} program to unpack ${format} archives` } : {}),
      });
      child.stdout.destroy(error);
      reject(error);
    });
    child.once('close', (code, signal) => {
      if (code === 0 || stopped) return resolve();
      const detail = stderr.trim().split('\n').pop() ?? '';
      const error = new TsbuildError('IO', `${command} -dc ${abs} failed (${signal ?? `status ${code}`})${detail ? `: ${detail}` : ''}`);
      reject(error);
    });
  });
  done.catch(() => undefined);
  return {
    stream: child.stdout,
    done,
    stop: () => {
      stopped = true;
      file.destroy();
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}
