// What a dead tsbuild process can leave behind, found by name: temp files and dirs are named
// `.<kind>-<pid>-<rand>` (util/fs.ts tempName), in tmp/ and, for atomic record writes, beside the
// record they replace; lock files hold their owner's pid. Shared by start-up recovery (which removes
// them) and `system check` (which reports them), so the two never disagree about what is stale.
import { readdirSync, type Dirent } from 'node:fs';
import path from 'node:path';
import { lockHolder, processAlive } from './lock.js';
import type { RootLayout } from './root.js';
import { listNames } from '../util/fs.js';

// A prefix: what is made from a temp name carries it too (an overlay work dir `<upper>.work`).
const TEMP_OWNER = /^\.[a-z]+(?:-[a-z]+)*-(\d+)-/;
const MOUNT_OWNER = /^(\d+)-/;
const BUILD_CONTAINER_OWNER = /^tsbuild-(\d+)-/;

/** The pid a temp name (`.<kind>-<pid>-<rand>`) carries, if it is one. */
export function tempOwner(name: string): number | undefined {
  const owner = TEMP_OWNER.exec(name)?.[1];
  return owner === undefined ? undefined : Number(owner);
}

/** The pid a mount point name under mounts/ (`<pid>-<rand>`) carries, if it is one. */
export function mountOwner(name: string): number | undefined {
  const owner = MOUNT_OWNER.exec(name)?.[1];
  return owner === undefined ? undefined : Number(owner);
}

/** The pid a build's runc container name (`tsbuild-<pid>-<rand>`) carries, if it is one. */
export function buildContainerOwner(id: string): number | undefined {
  const owner = BUILD_CONTAINER_OWNER.exec(id)?.[1];
  return owner === undefined ? undefined : Number(owner);
}

export interface Leftover {
  path: string;
  pid: number;
}

/**
 * Directories that may hold temp files: tmp/, and every directory whose records are replaced
 * atomically (the temp file sits beside the record until it is renamed over it).
 */
async function tempDirs({ root, runMounts }: Pick<RootLayout, 'root' | 'runMounts'>): Promise<string[]> {
  // Listed synchronously: store open runs this for every command (util/fs.ts says why).
  const sub = (dir: string): string[] => {
    let entries: Dirent[];
    try {
      entries = readdirSync(path.join(root, dir), { withFileTypes: true });
    } catch {
      return [];
    }
    return entries.filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => path.join(root, dir, e.name));
  };
  const [records, containers, cache] = [sub('records'), sub('containers'), sub('cache')];
  return [
    path.join(root, 'tmp'),
    path.join(root, 'locks'),
    path.join(root, 'cache'),
    path.join(root, 'volumes'),
    path.join(root, 'networks'),
    ...records,
    ...cache.filter((d) => d !== runMounts),
    ...containers,
  ];
}

/** Temp files and dirs of processes that no longer run. */
export async function deadTempFiles(layout: Pick<RootLayout, 'root' | 'runMounts'>): Promise<Leftover[]> {
  const found: Leftover[] = [];
  for (const dir of await tempDirs(layout)) {
    for (const name of listNames(dir)) {
      const pid = tempOwner(name);
      if (pid !== undefined && !processAlive(pid)) found.push({ path: path.join(dir, name), pid });
    }
  }
  return found;
}

/** Lock files (locks/*.lock) whose holder no longer runs. */
export async function staleLocks(locksDir: string): Promise<Leftover[]> {
  const found: Leftover[] = [];
  for (const name of listNames(locksDir)) {
    if (!name.endsWith('.lock')) continue;
    const pid = await lockHolder(path.join(locksDir, name));
    if (pid !== undefined && !processAlive(pid)) found.push({ path: path.join(locksDir, name), pid });
  }
  return found;
}
