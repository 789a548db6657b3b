// The crafted tar corpus of the extraction tests: hostile layer tars (and local archives for ADD),
// each built at test time with tar-stream (GNU long-name headers by hand, which tar-stream does not
// write), and what extracting it must give: a one-line TsbuildError naming the entry, or a
// documented safe tree. `base` is the directory holding the canary tree, so absolute names and
// symlinks can aim at it.
import { lstatSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import { END_OF_ARCHIVE, encodeHeader, padding } from '../../../src/archive/tar-format.js';
import { craftTar, getXattr, type CraftedEntry } from '../../unit/helpers-archive.js';

export type Mode = 'overlay' | 'none';

export interface CorpusCase {
  id: string;
  title: string;
  /** The modes the case runs in (default both). */
  modes?: Mode[];
  tar(base: string): Promise<Buffer>;
  /** An error: its code and a pattern its one-line message must match (the entry is named). */
  error?: { code: string; message: RegExp } | ((mode: Mode) => { code: string; message: RegExp } | undefined);
  /** The safe result: assertions on the extracted tree. */
  tree?: (root: string, mode: Mode, base: string) => void;
}

const pwned = 'PWNED\n';
const f = (name: string, content = pwned, extra: Partial<CraftedEntry> = {}): CraftedEntry => ({ name, content, ...extra });
const dir = (name: string, extra: Partial<CraftedEntry> = {}): CraftedEntry => ({ name, type: 'directory', ...extra });
const sym = (name: string, linkname: string): CraftedEntry => ({ name, type: 'symlink', linkname });
const hard = (name: string, linkname: string): CraftedEntry => ({ name, type: 'link', linkname });
const tar = (entries: CraftedEntry[]) => () => craftTar(entries);

export const read = (root: string, rel: string): string => readFileSync(path.join(root, rel), 'utf8');
export const kind = (root: string, rel: string): string => {
  const st = lstatSync(path.join(root, rel), { throwIfNoEntry: false });
  if (!st) return 'missing';
  if (st.isSymbolicLink()) return `symlink -> ${readlinkSync(path.join(root, rel))}`;
  if (st.isDirectory()) return 'dir';
  if (st.isCharacterDevice()) return `char ${st.rdev >> 8}:${st.rdev & 0xff}`;
  if (st.isBlockDevice()) return `block ${st.rdev >> 8}:${st.rdev & 0xff}`;
  if (st.isFIFO()) return 'fifo';
  return 'file';
};

const escape = (fragment: string) => ({ code: 'PATH_ESCAPE', message: new RegExp(`"${fragment}" escapes the root`) });
const invalid = (message: RegExp) => ({ code: 'INVALID_ARGUMENT', message });

/** One 512-byte header block with the given fields (GNU magic), checksum filled in. */
function rawHeader(name: string, typeflag: string, size: number, linkname = ''): Buffer {
  const b = Buffer.alloc(512);
  b.write(name, 0, 100, 'utf8');
  b.write('0000644\0', 100, 'latin1');
  b.write('0000000\0', 108, 'latin1');
  b.write('0000000\0', 116, 'latin1');
  b.write(`${size.toString(8).padStart(11, '0')}\0`, 124, 'latin1');
  b.write('14500000000\0', 136, 'latin1');
  b.write(typeflag, 156, 'latin1');
  b.write(linkname, 157, 100, 'utf8');
  b.write('ustar  \0', 257, 'latin1');
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of b) sum += byte;
  b.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return b;
}

/** A GNU ././@LongLink record ('L' name or 'K' link target) followed by a plain entry. */
function gnuLong(type: 'L' | 'K', value: Buffer, entry: Parameters<typeof encodeHeader>[0], data?: Buffer): Buffer {
  const parts = [rawHeader('././@LongLink', type, value.length), value, padding(value.length), encodeHeader(entry)];
  if (data) parts.push(data, padding(data.length));
  parts.push(END_OF_ARCHIVE);
  return Buffer.concat(parts);
}

const plain = { mode: 0o644, uid: 0, gid: 0, mtime: 1_700_000_000 };

export const CORPUS: CorpusCase[] = [
  // Absolute names and `..`
  { id: '01', title: 'an absolute name aimed at the canary', tar: (b) => craftTar([f(path.join(b, 'canary.txt'))]), error: () => ({ code: 'PATH_ESCAPE', message: /entry "\/.*\/canary\.txt" escapes the root/ }) },
  { id: '02', title: 'the absolute name /etc/tsbuild-pwned', tar: tar([f('/etc/tsbuild-pwned')]), error: escape('/etc/tsbuild-pwned') },
  { id: '03', title: 'a leading ../', tar: tar([f('../canary.txt')]), error: escape('../canary.txt') },
  { id: '04', title: '.. after a subdirectory', tar: tar([f('a/../../canary.txt')]), error: escape('a/../../canary.txt') },
  { id: '05', title: './.. at the start', tar: tar([f('./../up/sibling.txt')]), error: escape('./../up/sibling.txt') },
  { id: '06', title: 'a directory entry named ..', tar: tar([dir('../')]), error: escape('../') },
  { id: '07', title: 'deep .. that climbs exactly one level too far', tar: tar([f('a/b/c/../../../../pwned')]), error: escape('a/b/c/../../../../pwned') },
  {
    id: '08', title: '.. that stays inside lands inside',
    tar: tar([f('a/../b.txt', 'fine\n')]),
    tree: (root) => expect(read(root, 'b.txt')).toBe('fine\n'),
  },
  // Symlink, then write through it
  {
    id: '09', title: 'symlink a -> /etc, then a/passwd is written inside the root',
    tar: tar([sym('a', '/etc'), f('a/passwd', 'root:x:0:0::/:/bin/sh\n')]),
    tree: (root) => {
      expect(kind(root, 'a')).toBe('symlink -> /etc');
      expect(read(root, 'etc/passwd')).toBe('root:x:0:0::/:/bin/sh\n');
    },
  },
  {
    id: '10', title: 'absolute symlink to the canary dir, then a file through it',
    tar: (b) => craftTar([sym('a', path.join(b, 'outside')), f('a/secret')]),
    tree: (root, _m, b) => expect(read(root, path.join(b, 'outside', 'secret'))).toBe(pwned),
  },
  {
    id: '11', title: 'relative symlink out of the root, then a file through it',
    tar: tar([sym('a', '../../outside'), f('a/secret')]),
    error: { code: 'PATH_ESCAPE', message: /entry "a\/secret" escapes the root through the symlink \/a -> \.\.\/\.\.\/outside/ },
  },
  {
    id: '12', title: 'a chain of three symlinks ending outside, then a file through it',
    tar: tar([sym('l1', 'l2'), sym('l2', 'd/l3'), dir('d'), sym('d/l3', '../..'), f('l1/canary.txt')]),
    error: { code: 'PATH_ESCAPE', message: /entry "l1\/canary\.txt" escapes the root through the symlink/ },
  },
  {
    id: '13', title: 'a chain of symlinks ending inside is followed inside',
    tar: tar([dir('d'), sym('l2', 'd'), sym('l1', 'l2'), f('l1/x', 'x\n')]),
    tree: (root) => expect(read(root, 'd/x')).toBe('x\n'),
  },
  {
    id: '14', title: 'a symlink loop a -> b -> a, then a/x',
    tar: tar([sym('a', 'b'), sym('b', 'a'), f('a/x')]),
    error: { code: 'PATH_ESCAPE', message: /entry "a\/x": too many levels of symbolic links/ },
  },
  {
    id: '15', title: 'a self-loop symlink etc -> /etc (absolute), then a file below it',
    tar: tar([sym('etc', '/etc'), f('etc/tsbuild-pwned')]),
    error: { code: 'PATH_ESCAPE', message: /entry "etc\/tsbuild-pwned": too many levels of symbolic links/ },
  },
  {
    id: '56', title: 'a self-loop symlink, then a file below it',
    tar: tar([sym('self', 'self'), f('self/x')]),
    error: { code: 'PATH_ESCAPE', message: /entry "self\/x": too many levels of symbolic links/ },
  },
  {
    id: '16', title: 'symlinks to outside that nothing writes through are kept verbatim',
    tar: tar([sym('rel', '../../../../etc/shadow'), sym('abs', '/etc/shadow'), sym('loop', 'loop')]),
    tree: (root) => {
      expect(kind(root, 'rel')).toBe('symlink -> ../../../../etc/shadow');
      expect(kind(root, 'abs')).toBe('symlink -> /etc/shadow');
      expect(kind(root, 'loop')).toBe('symlink -> loop');
    },
  },
  {
    id: '17', title: 'symlink a/ -> /etc replaced by a real directory before a/passwd',
    tar: tar([sym('a', '/etc'), dir('a/'), f('a/passwd', 'inside\n')]),
    tree: (root) => {
      expect(kind(root, 'a')).toBe('dir');
      expect(read(root, 'a/passwd')).toBe('inside\n');
      expect(kind(root, 'etc')).toBe('missing');
    },
  },
  // Hardlinks
  { id: '18', title: 'a hardlink to ../canary.txt', tar: tar([hard('h', '../canary.txt')]), error: { code: 'PATH_ESCAPE', message: /hardlink target of "\.\.\/canary\.txt" escapes the root/ } },
  { id: '19', title: 'a hardlink to /etc/passwd', tar: tar([hard('h', '/etc/passwd')]), error: { code: 'PATH_ESCAPE', message: /hardlink target of "\/etc\/passwd" escapes the root/ } },
  {
    id: '20', title: 'a hardlink to an entry that comes later',
    tar: tar([hard('h', 'later'), f('later')]),
    error: invalid(/hardlink "h" -> "later" points to an entry that does not exist \(yet\)/),
  },
  {
    id: '21', title: 'a hardlink to a symlink that leads out',
    tar: tar([sym('s', '../../canary.txt'), hard('h', 's')]),
    error: { code: 'PATH_ESCAPE', message: /hardlink target of "s" escapes the root/ },
  },
  {
    id: '22', title: 'a hardlink to a symlink inside shares the symlink, not its target',
    tar: tar([f('t', 'target\n'), sym('s', 't'), hard('h', 's')]),
    tree: (root) => {
      expect(kind(root, 'h')).toBe('symlink -> t');
      expect(lstatSync(path.join(root, 'h')).ino).toBe(lstatSync(path.join(root, 's')).ino);
    },
  },
  {
    id: '23', title: 'a hardlink through a symlinked directory that leads out',
    tar: tar([sym('up', '../..'), hard('h', 'up/canary.txt')]),
    error: { code: 'PATH_ESCAPE', message: /hardlink target of "up\/canary\.txt" escapes the root through the symlink/ },
  },
  { id: '24', title: 'a hardlink to a directory', tar: tar([dir('d'), hard('h', 'd')]), error: invalid(/hardlink "h" -> "d" points to a directory/) },
  {
    id: '25', title: 'a hardlink through an absolute symlink is re-rooted, never a host file',
    tar: tar([sym('s', '/etc'), hard('h', 's/passwd')]),
    error: invalid(/hardlink "h" -> "s\/passwd" points to an entry that does not exist \(yet\)/),
  },
  // Whiteouts
  {
    id: '26', title: 'the whiteout .wh... (names ..)',
    tar: tar([f('.wh...', '')]),
    error: (m) => (m === 'overlay' ? { code: 'PATH_ESCAPE', message: /whiteout "\.wh\.\.\." does not name an entry inside the root/ } : undefined),
    tree: (root) => expect(read(root, '.wh...')).toBe(''),
  },
  { id: '27', title: 'the whiteout ../.wh.canary.txt', tar: tar([f('../.wh.canary.txt', '')]), error: escape('../.wh.canary.txt') },
  {
    id: '28', title: 'an opaque marker in a directory symlinked out of the root',
    tar: tar([sym('s', '../../outside'), f('s/.wh..wh..opq', '')]),
    error: { code: 'PATH_ESCAPE', message: /entry "s\/\.wh\.\.wh\.\.opq" escapes the root through the symlink/ },
  },
  {
    id: '29', title: 'an opaque marker in a directory symlinked to /etc marks the root\'s etc',
    tar: tar([sym('s', '/etc'), f('s/.wh..wh..opq', '')]),
    tree: (root, mode) => {
      expect(kind(root, 'etc')).toBe('dir');
      if (mode === 'overlay') expect(getXattr(path.join(root, 'etc'), 'trusted.overlay.opaque')).toBe('0x79');
      else expect(read(root, 'etc/.wh..wh..opq')).toBe('');
      expect(getXattr('/etc', 'trusted.overlay.opaque')).toBeUndefined();
    },
  },
  {
    id: '30', title: 'a whiteout through an absolute symlink to the canary dir',
    tar: (b) => craftTar([sym('s', path.join(b, 'outside')), f('s/.wh.secret', '')]),
    tree: (root, mode, b) => {
      const wh = path.join(b, 'outside');
      expect(kind(root, path.join(wh, mode === 'overlay' ? 'secret' : '.wh.secret'))).toBe(mode === 'overlay' ? 'char 0:0' : 'file');
    },
  },
  { id: '31', title: 'a whiteout below a whiteout', modes: ['overlay'], tar: tar([f('.wh.d/x', '')]), error: invalid(/entry "\.wh\.d\/x" is below a whiteout/) },
  // Replacements
  {
    id: '32', title: 'a regular file replaces a symlink to /etc',
    tar: tar([sym('etc', '/etc'), f('etc', 'now a file\n'), sym('passwd', '/etc/passwd'), f('passwd', 'plain\n')]),
    tree: (root) => {
      expect(kind(root, 'etc')).toBe('file');
      expect(read(root, 'passwd')).toBe('plain\n');
      expect(kind(root, 'passwd')).toBe('file');
    },
  },
  {
    id: '33', title: 'a directory replaced by a file',
    tar: tar([dir('d'), f('d/inner', 'x'), f('d', 'file now\n')]),
    tree: (root) => expect(read(root, 'd')).toBe('file now\n'),
  },
  {
    id: '34', title: 'a file replaced by a directory',
    tar: tar([f('d', 'file\n'), dir('d'), f('d/inner', 'inner\n')]),
    tree: (root) => expect(read(root, 'd/inner')).toBe('inner\n'),
  },
  { id: '35', title: 'an entry below a regular file', tar: tar([f('f', 'x'), f('f/below')]), error: invalid(/entry "f\/below" is below "f", which is not a directory/) },
  { id: '62', title: 'an entry two levels below a regular file', tar: tar([f('f', 'x'), f('f/d/below')]), error: invalid(/entry "f\/d\/below" is below "f", which is not a directory/) },
  // Device nodes: created as in the tar (we are root), as buildah does for layers and ADD
  {
    id: '36', title: 'a character device (1:3)',
    tar: tar([{ name: 'null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 }]),
    tree: (root) => expect(kind(root, 'null')).toBe('char 1:3'),
  },
  {
    id: '37', title: 'a block device (7:0)',
    tar: tar([{ name: 'loop0', type: 'block-device', devmajor: 7, devminor: 0, mode: 0o660 }]),
    tree: (root) => expect(kind(root, 'loop0')).toBe('block 7:0'),
  },
  { id: '38', title: 'a FIFO', tar: tar([{ name: 'pipe', type: 'fifo', mode: 0o600 }]), tree: (root) => expect(kind(root, 'pipe')).toBe('fifo') },
  {
    id: '39', title: 'a device node through a symlink that leads out',
    tar: tar([sym('up', '../..'), { name: 'up/pwned-null', type: 'character-device', devmajor: 1, devminor: 3 }]),
    error: { code: 'PATH_ESCAPE', message: /entry "up\/pwned-null" escapes the root through the symlink/ },
  },
  // Huge names
  {
    id: '40', title: 'a name longer than PATH_MAX (5000 bytes)',
    tar: tar([f(`${'d/'.repeat(2500)}pwned`)]),
    error: { code: 'IO', message: /cannot extract "d\/d\/d\/.*…".*(ENAMETOOLONG|name too long)/i },
  },
  {
    id: '41', title: 'a path component longer than NAME_MAX (300 bytes)',
    tar: tar([f(`${'n'.repeat(300)}/x`)]),
    error: { code: 'IO', message: /cannot extract "n+.*(ENAMETOOLONG|name too long)/i },
  },
  // Duplicates
  {
    id: '42', title: 'the same file twice: the last one wins',
    tar: tar([f('dup', 'one\n'), f('dup', 'two\n')]),
    tree: (root) => expect(read(root, 'dup')).toBe('two\n'),
  },
  {
    id: '43', title: 'the same directory twice keeps its content and takes the last mode',
    tar: tar([dir('d', { mode: 0o700 }), f('d/x', 'x'), dir('d', { mode: 0o750 })]),
    tree: (root) => {
      expect(lstatSync(path.join(root, 'd')).mode & 0o7777).toBe(0o750);
      expect(read(root, 'd/x')).toBe('x');
    },
  },
  // PAX and GNU header tricks
  { id: '44', title: 'a PAX path override with ..', tar: tar([f('harmless', pwned, { pax: { path: '../canary.txt' } })]), error: escape('../canary.txt') },
  {
    id: '45', title: 'a PAX linkpath override of a hardlink with ..',
    tar: tar([f('ok', 'ok'), { name: 'h', type: 'link', linkname: 'ok', pax: { linkpath: '../../canary.txt' } }]),
    error: { code: 'PATH_ESCAPE', message: /hardlink target of "\.\.\/\.\.\/canary\.txt" escapes the root/ },
  },
  {
    id: '46', title: 'a GNU long name with ..',
    tar: async () => gnuLong('L', Buffer.from(`${'x/'.repeat(60)}${'../'.repeat(62)}pwned\0`), { ...plain, name: 'harmless', type: 'file', size: 6 }, Buffer.from(pwned)),
    error: { code: 'PATH_ESCAPE', message: /escapes the root/ },
  },
  {
    id: '47', title: 'a GNU long link target out, then writing through the symlink',
    tar: async () => {
      const link = gnuLong('K', Buffer.from(`${'../'.repeat(40)}tmp\0`), { ...plain, name: 'lnk', type: 'symlink', size: 0, linkname: 'x' }).subarray(0, -1024);
      return Buffer.concat([link, encodeHeader({ ...plain, name: 'lnk/tsbuild-pwned', type: 'file', size: 6 }), Buffer.from(pwned), padding(6), END_OF_ARCHIVE]);
    },
    error: { code: 'PATH_ESCAPE', message: /entry "lnk\/tsbuild-pwned" escapes the root through the symlink/ },
  },
  {
    id: '48', title: 'a GNU long name with a NUL in the middle is cut at the NUL',
    tar: async () => gnuLong('L', Buffer.from('kept\0/../../../pwned\0'), { ...plain, name: 'harmless', type: 'file', size: 6 }, Buffer.from(pwned)),
    tree: (root) => expect(readdirSync(root)).toEqual(['kept']),
  },
  { id: '49', title: 'a NUL in a PAX path', tar: tar([f('x', pwned, { pax: { path: 'a\u0000/../../pwned' } })]), error: invalid(/entry "a\\0\/\.\.\/\.\.\/pwned" contains a NUL byte/) },
  {
    id: '50', title: 'a newline in a name that climbs out is reported on one line',
    tar: tar([f('a\n/../../pwned')]),
    error: { code: 'PATH_ESCAPE', message: /entry "a\\n\/\.\.\/\.\.\/pwned" escapes the root/ },
  },
  // Metadata
  {
    id: '51', title: 'setuid and setgid bits are kept as in the image',
    tar: tar([f('suid', '#!/bin/sh\n', { mode: 0o4755 }), dir('sgid', { mode: 0o2775, gid: 50 })]),
    tree: (root) => {
      expect(lstatSync(path.join(root, 'suid')).mode & 0o7777).toBe(0o4755);
      expect(lstatSync(path.join(root, 'sgid')).mode & 0o7777).toBe(0o2775);
      expect(lstatSync(path.join(root, 'sgid')).gid).toBe(50);
    },
  },
  {
    id: '52', title: 'trusted.overlay.* xattrs from the archive are dropped',
    tar: tar([dir('d', { pax: { 'SCHILY.xattr.trusted.overlay.opaque': 'y', 'SCHILY.xattr.trusted.overlay.redirect': '/etc', 'SCHILY.xattr.user.kept': 'k' } })]),
    tree: (root) => {
      expect(getXattr(path.join(root, 'd'), 'trusted.overlay.opaque')).toBeUndefined();
      expect(getXattr(path.join(root, 'd'), 'trusted.overlay.redirect')).toBeUndefined();
      expect(getXattr(path.join(root, 'd'), 'user.kept')).toBe('0x6b');
    },
  },
  { id: '53', title: 'a file entry for the root itself', tar: tar([f('.', 'x')]), error: invalid(/entry "\." names the root but is not a directory/) },
  {
    id: '54', title: 'backslashes are name characters, not separators',
    tar: tar([f('..\\..\\pwned')]),
    tree: (root) => expect(readdirSync(root)).toEqual(['..\\..\\pwned']),
  },
  { id: '57', title: 'a PAX mtime that is not a number on a directory', tar: tar([dir('d', { pax: { mtime: 'abc' } })]), error: invalid(/has an entry "d" with an invalid mtime \(NaN\)/) },
  { id: '58', title: 'a PAX mtime of 1e300 on a directory', tar: tar([dir('d', { pax: { mtime: '1e300' } })]), error: invalid(/has an entry "d" with an invalid mtime/) },
  { id: '59', title: 'a PAX uid that is not a number', tar: tar([f('f', 'x', { pax: { uid: 'root' } })]), error: invalid(/has an entry "f" with an invalid uid \(NaN\)/) },
  { id: '60', title: 'a PAX gid beyond 32 bits', tar: tar([f('f', 'x', { pax: { gid: '99999999999999' } })]), error: invalid(/has an entry "f" with an invalid gid \(99999999999999\)/) },
  { id: '61', title: 'a PAX uid of -1 (chown\'s "unchanged")', tar: tar([f('f', 'x', { pax: { uid: '-1' } })]), error: invalid(/has an entry "f" with an invalid uid \(-1\)/) },
  {
    id: '55', title: 'a truncated archive',
    tar: async () => (await craftTar([f('big', 'x'.repeat(5000))])).subarray(0, 2048),
    error: { code: 'INVALID_ARGUMENT', message: /is truncated/ },
  },
];
