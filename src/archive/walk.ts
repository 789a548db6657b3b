// A deterministic walk of a directory tree for the layer writer: names sorted bytewise at every
// level, parents before children, one lstat per entry. Directory listings, lstats and readlinks
// run concurrently under one small limit, so a large tree is walked at the speed of the disk
// rather than at the latency of one syscall after another.
import type { Stats } from 'node:fs';
import { readdir, readlink } from 'node:fs/promises';
import path from 'node:path';
import { lstatFast } from './fd.js';

export interface WalkEntry {
  /** Relative to the walked root, "/"-separated, no leading "./". */
  rel: string;
  host: string;
  stat: Stats;
  /** Symlink target, read during the walk. */
  linkTarget?: string;
}

const CONCURRENCY = 32;

export async function walkTree(root: string, exclude: ReadonlySet<string>): Promise<WalkEntry[]> {
  const limit = limiter(CONCURRENCY);

  const walkDir = async (hostDir: string, relDir: string): Promise<WalkEntry[]> => {
    const names = sortBytewise(await limit(() => readdir(hostDir)));
    const kept = names.filter((n) => !exclude.has(relDir ? `${relDir}/${n}` : n));
    const entries = await Promise.all(
      kept.map((name) =>
        limit(async (): Promise<WalkEntry> => {
          const host = path.join(hostDir, name);
          const stat = await lstatFast(host);
          const entry: WalkEntry = { rel: relDir ? `${relDir}/${name}` : name, host, stat };
          if (stat.isSymbolicLink()) entry.linkTarget = await readlink(host);
          return entry;
        }),
      ),
    );
    const subtrees = await Promise.all(
      entries.map((e) => (e.stat.isDirectory() ? walkDir(e.host, e.rel) : Promise.resolve([]))),
    );
    const out: WalkEntry[] = [];
    entries.forEach((e, i) => {
      out.push(e);
      for (const child of subtrees[i]!) out.push(child);
    });
    return out;
  };

  return walkDir(root, '');
}

/** Byte order of the UTF-8 names (JS string order differs for astral characters). */
export function sortBytewise(names: string[]): string[] {
  return names
    .map((name) => ({ name, key: Buffer.from(name, 'utf8') }))
    .sort((a, b) => Buffer.compare(a.key, b.key))
    .map((x) => x.name);
}

/** Runs at most `n` of the given tasks at a time. Tasks must not wait on other limited tasks. */
export function limiter(n: number): <T>(task: () => Promise<T>) => Promise<T> {
  let active = 0;
  const queue: Array<() => void> = [];
  return async <T>(task: () => Promise<T>): Promise<T> => {
    // A finishing task hands its slot straight to the next waiter, so the limit is never exceeded.
    if (active >= n) await new Promise<void>((resolve) => queue.push(resolve));
    else active++;
    try {
      return await task();
    } finally {
      const next = queue.shift();
      if (next) next();
      else active--;
    }
  };
}
