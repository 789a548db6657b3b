// RUN --mount=type=cache: a directory that outlives the build, under <root>/cache/run-mounts/, named
// by the sha256 of its id (an id is never used as a path). It is never part of a layer or of a cache
// key. sharing=shared lets RUNs use it at once; locked makes them take turns (a lock file);
// private hands a RUN a fresh, throwaway directory while another private/locked user holds it.
// A new cache starts as mode/uid/gid say, or as a copy of `source` in `from`.
import { randomBytes } from 'node:crypto';
import { chmod, chown, lchown, lstat, mkdir, readdir, readlink, rename, rm, symlink, copyFile, utimes, lutimes } from 'node:fs/promises';
import path from 'node:path';
import { TsbuildError, errnoCode, isTsbuildError } from '../../errors.js';
import { digestHex, sha256Digest } from '../../oci/types.js';
import { acquireLock } from '../../store/lock.js';
import { resolveInRoot } from '../../util/resolve-in-root.js';
import { pathExists } from '../../util/fs.js';
import { layersView } from './bind.js';
import type { RunMount } from './parse.js';
import { bindSpec, type MountEnv, type MountSource, type PreparedMount } from './types.js';

/** A locked cache may be held by a long RUN; waiting a day is "forever" for a build. */
const LOCKED_WAIT_MS = 24 * 3600_000;

export function cacheMountDir(runMounts: string, id: string): string {
  return path.join(runMounts, digestHex(sha256Digest(id)));
}

export async function cacheMount(m: RunMount, source: MountSource | undefined, env: MountEnv, index: number): Promise<PreparedMount> {
  const dir = cacheMountDir(env.stores.layout.runMounts, m.id);
  await mkdir(path.dirname(dir), { recursive: true, mode: 0o700 });
  let use = dir;
  if (m.sharing !== 'shared') {
    try {
      const lock = await acquireLock(`${dir}.lock`, m.sharing === 'locked' ? LOCKED_WAIT_MS : 0);
      env.defer(() => lock.release());
    } catch (err) {
      if (!(m.sharing === 'private' && isTsbuildError(err, 'LOCKED'))) throw err;
      // Busy: this RUN gets a cache of its own, gone after it.
      use = path.join(env.scratch, `cache-${index}`);
    }
  }
  if (!(await pathExists(use))) await createCache(m, source, use, env);
  return { mounts: [bindSpec(use, m.target!, m.readOnly)] };
}

/** Builds the cache beside its final name and renames it into place, so a crash leaves no half-seeded cache. */
async function createCache(m: RunMount, source: MountSource | undefined, dir: string, env: MountEnv): Promise<void> {
  const tmp = `${dir}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    if (source?.kind === 'layers') {
      const view = await layersView(env.stores, source.layers, undefined, env);
      const from = await resolveInRoot(view, m.source, { onEscape: 'clamp' });
      const st = await lstat(from).catch(() => undefined);
      if (!st?.isDirectory()) {
        throw new TsbuildError('NOT_FOUND', `${env.where}: RUN --mount=type=cache: source "${m.source}" is not a directory in ${source.name}`);
      }
      await copyTree(from, tmp);
    } else {
      await mkdir(tmp);
      await chown(tmp, m.uid, m.gid);
      await chmod(tmp, m.mode);
    }
    await rename(tmp, dir).catch(async (err: unknown) => {
      // Another build made it meanwhile: theirs is as good as ours.
      if (errnoCode(err) !== 'ENOTEMPTY' && errnoCode(err) !== 'EEXIST') throw err;
    });
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** Copies a tree keeping types, modes, owners and times (the seed of a cache comes from an image). */
async function copyTree(src: string, dest: string): Promise<void> {
  const st = await lstat(src);
  if (st.isDirectory()) {
    await mkdir(dest);
    for (const name of await readdir(src)) await copyTree(path.join(src, name), path.join(dest, name));
  } else if (st.isSymbolicLink()) {
    await symlink(await readlink(src), dest);
  } else if (st.isFile()) {
    await copyFile(src, dest);
  } else {
    return; // devices, FIFOs and sockets have no place in a cache
  }
  await lchown(dest, st.uid, st.gid);
  if (!st.isSymbolicLink()) {
    await chmod(dest, st.mode & 0o7777);
    await utimes(dest, st.atime, st.mtime);
  } else {
    await lutimes(dest, st.atime, st.mtime);
  }
}
