// A deterministic walk of a directory tree for the layer writer: names sorted bytewise at every
// level, parents before children, one lstat per entry. The syscalls are synchronous on purpose:
// through libuv's thread pool every readdir/lstat/readlink pays a thread hand-off and a promise,
// and for a tree of small entries that overhead is the walk (20,000 entries: 0.15 s synchronous,
// 0.85 s concurrent through the pool, measured on tmpfs). It yields to the event loop every few
// thousand entries so signals, progress and other stages are not held up by a big tree.
import type { Stats } from 'node:fs';
import { lstatSync, readdirSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { yieldEvery } from '../util/yield.js';

export interface WalkEntry {
  /** Relative to the walked root, "/"-separated, no leading "./". */
  rel: string;
  host: string;
  stat: Stats;
  /** Symlink target, read during the walk. */
  linkTarget?: string;
}

export async function walkTree(root: string, exclude: ReadonlySet<string>): Promise<WalkEntry[]> {
  const out: WalkEntry[] = [];
  const pause = yieldEvery(2000);
  const walkDir = async (hostDir: string, relDir: string): Promise<void> => {
    for (const name of sortBytewise(readdirSync(hostDir))) {
      const rel = relDir ? `${relDir}/${name}` : name;
      if (exclude.has(rel)) continue;
      const host = `${hostDir}/${name}`;
      const stat = lstatSync(host);
      const entry: WalkEntry = { rel, host, stat };
      if (stat.isSymbolicLink()) entry.linkTarget = readlinkSync(host);
      out.push(entry);
      await pause();
      if (stat.isDirectory()) await walkDir(host, rel);
    }
  };
  const start = path.resolve(root);
  await walkDir(start === '/' ? '' : start, '');
  return out;
}

/**
 * Byte order of the UTF-8 names. JavaScript compares UTF-16 code units, which agrees with UTF-8
 * byte order except where surrogate pairs meet BMP characters above them; only then is the slow
 * comparison of encoded names needed.
 */
export function sortBytewise(names: string[]): string[] {
  if (!names.some((n) => /[\ud800-\udfff]/.test(n))) return names.sort();
  return names
    .map((name) => ({ name, key: Buffer.from(name, 'utf8') }))
    .sort((a, b) => Buffer.compare(a.key, b.key))
    .map((x) => x.name);
}
