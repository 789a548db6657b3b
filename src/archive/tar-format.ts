// The tar header format, encoded by hand: ustar headers plus PAX extended headers whose values
// are raw bytes. tar-stream decodes and encodes PAX values as UTF-8 strings, which corrupts binary
// xattrs (security.capability), and we want byte-for-byte control for deterministic layers.

export const BLOCK = 512;

export type EntryType = 'file' | 'link' | 'symlink' | 'char' | 'block' | 'dir' | 'fifo';

export interface TarHeader {
  /** Relative name, no leading "./"; directories end with "/". */
  name: string;
  type: EntryType;
  /** Permission bits including setuid/setgid/sticky (& 0o7777). */
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Seconds since the epoch. */
  mtime: number;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  /** xattr name -> raw value, written as SCHILY.xattr.<name> PAX records. */
  xattrs?: ReadonlyMap<string, Buffer>;
}

const TYPEFLAG: Record<EntryType, string> = {
  file: '0',
  link: '1',
  symlink: '2',
  char: '3',
  block: '4',
  dir: '5',
  fifo: '6',
};

const MAX_OCTAL_7 = 0o7777777;
const MAX_OCTAL_11 = 0o77777777777;
const ZERO_BLOCK = Buffer.alloc(BLOCK);

/** Zero bytes that pad `size` bytes of data up to a whole block. */
export function padding(size: number): Buffer {
  const rest = size % BLOCK;
  return rest === 0 ? ZERO_BLOCK.subarray(0, 0) : ZERO_BLOCK.subarray(0, BLOCK - rest);
}

/** Two zero blocks end an archive. */
export const END_OF_ARCHIVE = Buffer.alloc(2 * BLOCK);

/**
 * Whether `stored` is the checksum of a header block: the byte sum of the block with the checksum
 * field (bytes 148-155) counted as spaces. Some old tars summed signed chars; both sums are
 * accepted, as GNU tar does.
 */
export function headerChecksumMatches(block: Buffer, stored: number): boolean {
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const byte = i >= 148 && i < 156 ? 0x20 : block[i]!;
    unsigned += byte;
    signed += byte > 127 ? byte - 256 : byte;
  }
  return stored === unsigned || stored === signed;
}

/**
 * The header blocks of one entry: a PAX header (only when some field does not fit ustar) and the
 * ustar header. Data and padding follow separately.
 */
export function encodeHeader(h: TarHeader): Buffer {
  const pax: Array<[string, Buffer]> = [];
  const name = Buffer.from(h.name, 'utf8');
  // Only plain ASCII goes into ustar's byte fields; anything else is spelled out in PAX (UTF-8).
  const nameFits = name.length <= 100 && isAscii(h.name);
  if (!nameFits) pax.push(['path', name]);
  const link = h.linkname === undefined ? undefined : Buffer.from(h.linkname, 'utf8');
  if (link && (link.length > 100 || !isAscii(h.linkname!))) pax.push(['linkpath', link]);
  if (h.uid > MAX_OCTAL_7 || h.uid < 0) pax.push(['uid', Buffer.from(String(h.uid))]);
  if (h.gid > MAX_OCTAL_7 || h.gid < 0) pax.push(['gid', Buffer.from(String(h.gid))]);
  if (h.size > MAX_OCTAL_11) pax.push(['size', Buffer.from(String(h.size))]);
  if (h.mtime > MAX_OCTAL_11 || h.mtime < 0) pax.push(['mtime', Buffer.from(String(h.mtime))]);
  for (const [key, value] of h.xattrs ?? []) pax.push([`SCHILY.xattr.${key}`, value]);

  const ustar = ustarBlock({
    name: nameFits ? name : truncate(name, 100),
    mode: h.mode & 0o7777,
    uid: h.uid >= 0 && h.uid <= MAX_OCTAL_7 ? h.uid : 0,
    gid: h.gid >= 0 && h.gid <= MAX_OCTAL_7 ? h.gid : 0,
    size: h.size <= MAX_OCTAL_11 ? h.size : 0,
    mtime: h.mtime >= 0 && h.mtime <= MAX_OCTAL_11 ? h.mtime : 0,
    typeflag: TYPEFLAG[h.type],
    linkname: link ? truncate(link, 100) : Buffer.alloc(0),
    devmajor: h.devmajor ?? 0,
    devminor: h.devminor ?? 0,
  });
  if (pax.length === 0) return ustar;

  // Sorted keys make the bytes independent of the order xattrs were listed in.
  pax.sort((a, b) => Buffer.compare(Buffer.from(a[0]), Buffer.from(b[0])));
  const body = Buffer.concat(pax.map(([k, v]) => paxRecord(k, v)));
  const base = h.name.replace(/\/$/, '').split('/').pop() ?? '';
  const paxHeader = ustarBlock({
    name: truncate(Buffer.from(`PaxHeaders.0/${base}`, 'utf8'), 100),
    mode: 0o644,
    uid: 0,
    gid: 0,
    size: body.length,
    mtime: 0,
    typeflag: 'x',
    linkname: Buffer.alloc(0),
    devmajor: 0,
    devminor: 0,
  });
  return Buffer.concat([paxHeader, body, padding(body.length), ustar]);
}

interface UstarFields {
  name: Buffer;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  typeflag: string;
  linkname: Buffer;
  devmajor: number;
  devminor: number;
}

function ustarBlock(f: UstarFields): Buffer {
  const buf = Buffer.alloc(BLOCK);
  f.name.copy(buf, 0);
  writeOctal(buf, 100, 8, f.mode);
  writeOctal(buf, 108, 8, f.uid);
  writeOctal(buf, 116, 8, f.gid);
  writeOctal(buf, 124, 12, f.size);
  writeOctal(buf, 136, 12, f.mtime);
  buf.write(f.typeflag, 156, 'latin1');
  f.linkname.copy(buf, 157);
  buf.write('ustar\u000000', 257, 'latin1');
  // uname/gname (265, 297) stay empty: numeric ids only, as in image layers.
  writeOctal(buf, 329, 8, f.devmajor);
  writeOctal(buf, 337, 8, f.devminor);
  buf.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of buf) sum += byte;
  buf.write(`${sum.toString(8).padStart(6, '0')}\u0000 `, 148, 'latin1');
  return buf;
}

/** `width - 1` octal digits and a NUL, as GNU tar and Go write them. */
function writeOctal(buf: Buffer, offset: number, width: number, value: number): void {
  buf.write(`${value.toString(8).padStart(width - 1, '0')}\u0000`, offset, 'latin1');
}

/** "<len> <key>=<value>\n" where len counts the whole record including its own digits. */
function paxRecord(key: string, value: Buffer): Buffer {
  const rest = Buffer.byteLength(key) + value.length + 3; // space, '=', '\n'
  let len = rest + String(rest).length;
  if (String(len).length !== String(rest).length) len = rest + String(len).length;
  return Buffer.concat([Buffer.from(`${len} ${key}=`, 'utf8'), value, Buffer.from('\n')]);
}

function truncate(b: Buffer, max: number): Buffer {
  return b.length <= max ? b : b.subarray(0, max);
}

function isAscii(s: string): boolean {
  return /^[\x01-\x7f]*$/.test(s);
}
