// A pull-based tar parser (ustar, GNU long names, PAX) over a Readable. It keeps PAX values as
// raw bytes so binary xattrs survive, and it pulls source chunks only when the consumer asks for
// more, so a slow disk write slows the download instead of filling memory.
import type { Readable } from 'node:stream';
import { TsbuildError } from '../errors.js';
import { showName } from './show.js';
import { BLOCK, headerChecksumMatches, type EntryType } from './tar-format.js';

export interface TarEntry {
  /** The name as stored (after PAX/GNU long names), not yet cleaned. */
  name: string;
  type: EntryType;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  linkname: string;
  devmajor: number;
  devminor: number;
  xattrs: Map<string, Buffer>;
}

/** PAX and GNU long-name bodies are held in memory; anything this big is not a real header. */
const MAX_META = 16 * 1024 * 1024;

const TYPES: Record<string, EntryType> = {
  '0': 'file',
  '\u0000': 'file',
  '7': 'file', // contiguous file: a regular file everywhere that matters
  '1': 'link',
  '2': 'symlink',
  '3': 'char',
  '4': 'block',
  '5': 'dir',
  '6': 'fifo',
};

export class TarReader {
  private readonly source: AsyncIterator<unknown>;
  private chunks: Buffer[] = [];
  private buffered = 0;
  private sourceDone = false;
  /** Data bytes of the current entry not yet consumed, and the padding after them. */
  private remaining = 0;
  private pad = 0;

  constructor(
    input: Readable,
    private readonly what: string,
  ) {
    this.source = input[Symbol.asyncIterator]();
  }

  /** The next entry, or undefined at the end of the archive. Skips unread data of the previous one. */
  async next(): Promise<TarEntry | undefined> {
    await this.skipData();
    let pax: Map<string, Buffer> | undefined;
    let longName: string | undefined;
    let longLink: string | undefined;
    for (;;) {
      const block = await this.read(BLOCK, true);
      if (!block || block.every((b) => b === 0)) {
        await this.drain();
        return undefined;
      }
      const h = this.parseBlock(block);
      if (h.typeflag === 'x' || h.typeflag === 'g' || h.typeflag === 'L' || h.typeflag === 'K') {
        if (h.size > MAX_META) this.fail(`has a ${h.size}-byte extended header`);
        const body = (await this.read(h.size)) ?? Buffer.alloc(0);
        await this.read(padLength(h.size));
        if (h.typeflag === 'x') pax = new Map([...(pax ?? []), ...parsePax(body, this.what)]);
        // Global PAX headers carry archive-wide defaults no layer tool relies on; they are ignored.
        else if (h.typeflag === 'L') longName = cString(body);
        else if (h.typeflag === 'K') longLink = cString(body);
        continue;
      }
      const type = TYPES[h.typeflag];
      if (!type) this.fail(`has an entry "${longName ?? h.name}" of unsupported type '${h.typeflag}'`);
      const entry: TarEntry = {
        name: longName ?? h.name,
        type,
        mode: h.mode,
        uid: h.uid,
        gid: h.gid,
        size: h.size,
        mtime: h.mtime,
        linkname: longLink ?? h.linkname,
        devmajor: h.devmajor,
        devminor: h.devminor,
        xattrs: new Map(),
      };
      for (const [key, value] of pax ?? []) applyPax(entry, key, value, this.what);
      // Pre-POSIX archives mark directories only by a trailing slash.
      if (entry.type === 'file' && entry.name.endsWith('/')) entry.type = 'dir';
      checkNumbers(entry, this.what);
      this.remaining = entry.size;
      this.pad = padLength(entry.size);
      return entry;
    }
  }

  /** The current entry's data, chunk by chunk, as it arrives. */
  async *data(): AsyncGenerator<Buffer> {
    while (this.remaining > 0) {
      const chunk = await this.readSome(this.remaining);
      this.remaining -= chunk.length;
      yield chunk;
    }
    if (this.pad > 0) {
      await this.read(this.pad);
      this.pad = 0;
    }
  }

  /** Stops reading; the source stream is destroyed if it has not ended. */
  async close(): Promise<void> {
    if (!this.sourceDone) {
      this.sourceDone = true;
      await this.source.return?.();
    }
  }

  private async skipData(): Promise<void> {
    for await (const _ of this.data()) {
      // discarded
    }
  }

  /** Reads to the end of the source so that whoever pipes into us sees a normal finish. */
  private async drain(): Promise<void> {
    this.chunks = [];
    this.buffered = 0;
    while (!this.sourceDone) {
      const r = await this.source.next();
      if (r.done) this.sourceDone = true;
    }
  }

  private async fill(n: number): Promise<boolean> {
    while (this.buffered < n && !this.sourceDone) {
      const r = await this.source.next();
      if (r.done) {
        this.sourceDone = true;
        break;
      }
      const chunk = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value as Uint8Array);
      if (chunk.length === 0) continue;
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    return this.buffered >= n;
  }

  /** Exactly n bytes; at a clean end of input (allowed only when `eofOk`) undefined. */
  private async read(n: number, eofOk = false): Promise<Buffer | undefined> {
    if (n === 0) return Buffer.alloc(0);
    if (!(await this.fill(n))) {
      if (eofOk && this.buffered === 0) return undefined;
      this.fail('is truncated');
    }
    const first = this.chunks[0]!;
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let off = 0;
      while (off < n) {
        const c = this.chunks[0]!;
        const take = Math.min(c.length, n - off);
        c.copy(out, off, 0, take);
        off += take;
        if (take === c.length) this.chunks.shift();
        else this.chunks[0] = c.subarray(take);
      }
    }
    this.buffered -= n;
    return out;
  }

  /** Between 1 and max bytes, without copying. */
  private async readSome(max: number): Promise<Buffer> {
    if (!(await this.fill(1))) this.fail('is truncated');
    const first = this.chunks[0]!;
    const take = Math.min(first.length, max);
    if (take === first.length) this.chunks.shift();
    else this.chunks[0] = first.subarray(take);
    this.buffered -= take;
    return first.subarray(0, take);
  }

  private parseBlock(b: Buffer) {
    if (!headerChecksumMatches(b, parseNumber(b, 148, 8))) this.fail('is not a valid tar archive (bad header checksum)');
    const isUstar = b.toString('latin1', 257, 263) === 'ustar\u0000';
    let name = cString(b.subarray(0, 100));
    // Only POSIX ustar has a name prefix; GNU headers keep other data at that offset.
    if (isUstar && b[345] !== 0) name = `${cString(b.subarray(345, 500))}/${name}`;
    return {
      name,
      mode: parseNumber(b, 100, 8) & 0o7777,
      uid: parseNumber(b, 108, 8),
      gid: parseNumber(b, 116, 8),
      size: parseNumber(b, 124, 12),
      mtime: parseNumber(b, 136, 12),
      typeflag: String.fromCharCode(b[156]!),
      linkname: cString(b.subarray(157, 257)),
      devmajor: parseNumber(b, 329, 8),
      devminor: parseNumber(b, 337, 8),
    };
  }

  private fail(detail: string): never {
    throw new TsbuildError('INVALID_ARGUMENT', `${this.what} ${detail}`);
  }
}

/** uid/gid fit a 32-bit id (not -1, which means "unchanged" to chown); mtimes stay within what utimes takes. */
const MAX_ID = 0xfffffffe;
const MAX_MTIME = 2 ** 40;

/**
 * Ids and times as the file system will take them: a PAX `uid=abc` or `mtime=1e300` (or a GNU
 * base-256 field out of range) is a broken header, reported as such instead of failing later in
 * chown or utimes with a Node argument error.
 */
function checkNumbers(entry: TarEntry, what: string): void {
  const bad = (field: string, value: number): never => {
    throw new TsbuildError('INVALID_ARGUMENT', `${what} has an entry ${showName(entry.name)} with an invalid ${field} (${value})`);
  };
  for (const field of ['uid', 'gid'] as const) {
    if (!Number.isSafeInteger(entry[field]) || entry[field] < 0 || entry[field] > MAX_ID) bad(field, entry[field]);
  }
  if (!Number.isFinite(entry.mtime) || Math.abs(entry.mtime) > MAX_MTIME) bad('mtime', entry.mtime);
}

function padLength(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

function cString(b: Buffer): string {
  const end = b.indexOf(0);
  return b.toString('utf8', 0, end === -1 ? b.length : end);
}

/** Octal (space/NUL padded) or GNU base-256 (high bit set). */
function parseNumber(b: Buffer, offset: number, width: number): number {
  const field = b.subarray(offset, offset + width);
  if (field[0]! & 0x80) {
    const negative = field[0] === 0xff;
    let v = negative ? -1 : field[0]! & 0x7f;
    for (let i = 1; i < field.length; i++) v = v * 256 + (negative ? field[i]! - 255 : field[i]!);
    return v;
  }
  const text = field.toString('latin1').replace(/\0.*$/s, '').trim();
  return text === '' ? 0 : parseInt(text, 8);
}

function parsePax(body: Buffer, what: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let off = 0;
  while (off < body.length) {
    const space = body.indexOf(0x20, off);
    const len = space === -1 ? NaN : parseInt(body.toString('latin1', off, space), 10);
    if (!Number.isInteger(len) || len <= 0 || off + len > body.length || body[off + len - 1] !== 0x0a) {
      // NUL padding after the last record is tolerated; anything else is a broken header.
      if (body.subarray(off).every((x) => x === 0)) break;
      throw new TsbuildError('INVALID_ARGUMENT', `${what} has a malformed PAX header`);
    }
    const record = body.subarray(space + 1, off + len - 1);
    const eq = record.indexOf(0x3d);
    if (eq > 0) out.set(record.toString('utf8', 0, eq), record.subarray(eq + 1));
    off += len;
  }
  return out;
}

function applyPax(entry: TarEntry, key: string, value: Buffer, what: string): void {
  const text = () => value.toString('utf8');
  const num = () => Math.floor(Number(text()));
  if (key === 'path') entry.name = text();
  else if (key === 'linkpath') entry.linkname = text();
  else if (key === 'size') entry.size = num();
  else if (key === 'uid') entry.uid = num();
  else if (key === 'gid') entry.gid = num();
  else if (key === 'mtime') entry.mtime = num();
  else if (key.startsWith('SCHILY.xattr.')) entry.xattrs.set(key.slice('SCHILY.xattr.'.length), value);
  else if (key.startsWith('LIBARCHIVE.xattr.')) {
    // bsdtar: URL-encoded name, base64 value.
    entry.xattrs.set(decodeURIComponent(key.slice('LIBARCHIVE.xattr.'.length)), Buffer.from(text(), 'base64'));
  } else if (key.startsWith('GNU.sparse.')) {
    throw new TsbuildError('INVALID_ARGUMENT', `${what} has a sparse file "${entry.name}", which is not supported`);
  }
  if (!Number.isFinite(entry.size) || entry.size < 0) {
    throw new TsbuildError('INVALID_ARGUMENT', `${what} has an entry with an invalid size`);
  }
}
