// Promise wrappers over the callback fs API for the per-file hot paths of the archive code.
// fs/promises allocates a FileHandle object per open file; with tens of thousands of small files
// that object churn (creation, GC, close bookkeeping) costs more than the syscalls themselves.
import fs from 'node:fs';
import { promisify } from 'node:util';

export const openFd = promisify(fs.open) as (path: string, flags: number, mode?: number) => Promise<number>;
export const closeFd = promisify(fs.close) as (fd: number) => Promise<void>;
export const fchown = promisify(fs.fchown);
export const fchmod = promisify(fs.fchmod) as (fd: number, mode: number) => Promise<void>;
export const futimes = promisify(fs.futimes) as (fd: number, atime: number, mtime: number) => Promise<void>;

/** Reads exactly `length` bytes at `position` into a new buffer; fewer bytes available -> undefined. */
export function readAt(fd: number, length: number, position: number): Promise<Buffer | undefined> {
  const buf = Buffer.allocUnsafe(length);
  return new Promise((resolve, reject) => {
    const step = (filled: number) => {
      if (filled === length) return resolve(buf);
      fs.read(fd, buf, filled, length - filled, position + filled, (err, n) => {
        if (err) reject(err);
        else if (n === 0) resolve(undefined);
        else step(filled + n);
      });
    };
    step(0);
  });
}

/** Writes all of `chunk` (write(2) may write less than asked). */
export function writeAll(fd: number, chunk: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    const step = (off: number) => {
      if (off === chunk.length) return resolve();
      fs.write(fd, chunk, off, chunk.length - off, null, (err, n) => (err ? reject(err) : step(off + n)));
    };
    step(0);
  });
}
