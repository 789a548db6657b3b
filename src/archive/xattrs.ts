// Extended attributes in bulk: one getfattr process reads a whole tree and one setfattr process
// restores everything an extraction collected. Node has no xattr API, and a process per file
// would dominate the time of a large layer. The text is getfattr's dump format with hex values.
import path from 'node:path';
import { TsbuildError } from '../errors.js';
import { execFile } from '../util/exec.js';

/** Host path -> (xattr name -> value). */
export type XattrTable = Map<string, Map<string, Buffer>>;

/** Every xattr under `dir` (which must be absolute and normalised), symlinks' own included. */
export async function readTreeXattrs(dir: string, signal?: AbortSignal): Promise<XattrTable> {
  // -h: a symlink's own attributes, never its target's (which may be a host file).
  const { stdout } = await execFile(
    ['getfattr', '-R', '-h', '-d', '-m', '-', '-e', 'hex', '--absolute-names', '--physical', dir],
    { signal },
  );
  return parseDump(stdout);
}

export function parseDump(text: string): XattrTable {
  const table: XattrTable = new Map();
  let current: Map<string, Buffer> | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('# file: ')) {
      current = new Map();
      table.set(path.normalize(unquote(line.slice('# file: '.length))), current);
      continue;
    }
    if (line === '' || line.startsWith('#') || !current) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    const name = unquote(line.slice(0, eq));
    const raw = line.slice(eq + 1);
    if (!raw.startsWith('0x')) {
      throw new TsbuildError('INTERNAL', `unexpected getfattr value for ${name}: ${raw.slice(0, 40)}`);
    }
    current.set(name, Buffer.from(raw.slice(2), 'hex'));
  }
  return table;
}

/** Sets every xattr in `table` with one `setfattr -h --restore=-`; nothing is run for an empty table. */
export async function restoreXattrs(table: XattrTable, signal?: AbortSignal): Promise<void> {
  const parts: string[] = [];
  for (const [file, attrs] of table) {
    if (attrs.size === 0) continue;
    parts.push(`# file: ${quote(file)}\n`);
    for (const [name, value] of attrs) parts.push(`${quote(name)}=0x${value.toString('hex')}\n`);
    parts.push('\n');
  }
  if (parts.length === 0) return;
  // -h: set attributes on a symlink itself; following it could reach outside the root.
  await execFile(['setfattr', '-h', '--restore=-'], { input: parts.join(''), signal });
}

/**
 * getfattr's escaping: bytes that are not printable ASCII, backslash, and (to be safe with the
 * line format) space and '=' become `\ooo`. setfattr reverses exactly this.
 */
export function quote(s: string): string {
  let out = '';
  for (const byte of Buffer.from(s, 'utf8')) {
    if (byte <= 0x20 || byte >= 0x7f || byte === 0x5c || byte === 0x3d) out += `\\${byte.toString(8).padStart(3, '0')}`;
    else out += String.fromCharCode(byte);
  }
  return out;
}

export function unquote(s: string): string {
  if (!s.includes('\\')) return s;
  const src = Buffer.from(s, 'utf8');
  const out: number[] = [];
  const isOctal = (b: number | undefined) => b !== undefined && b >= 0x30 && b <= 0x37;
  for (let i = 0; i < src.length; i++) {
    const b = src[i]!;
    if (b === 0x5c && isOctal(src[i + 1]) && isOctal(src[i + 2]) && isOctal(src[i + 3])) {
      out.push(((src[i + 1]! - 0x30) << 6) | ((src[i + 2]! - 0x30) << 3) | (src[i + 3]! - 0x30));
      i += 3;
    } else if (b === 0x5c && src[i + 1] === 0x5c) {
      out.push(0x5c);
      i += 1;
    } else {
      out.push(b);
    }
  }
  return Buffer.from(out).toString('utf8');
}
