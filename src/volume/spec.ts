// What each start does with a container's mounts: the mount points are made inside the rootfs
// (targets resolved with resolveInRoot, so a symlink in the image such as /data -> /../../etc is
// clamped to the rootfs and never reaches a host path), an unpopulated empty volume receives the
// image's content at its target, and the runtime-spec mounts for runc are returned, parents first.
import { chmod, lstat, mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { TsbuildError, errnoCode } from '../errors.js';
import type { MountSpec } from '../container/types.js';
import type { SpecMount } from '../runtime/index.js';
import { withLock } from '../store/lock.js';
import type { Stores } from '../store/root.js';
import { resolveInRoot } from '../util/resolve-in-root.js';
import { copyUp } from './copy-up.js';
import { checkBindSource } from './resolve.js';
import { createVolume, readVolume, volumePaths, writeVolume } from './store.js';
import { listNames } from '../util/fs.js';

const PROPAGATION = new Set(['shared', 'slave', 'private', 'rshared', 'rslave', 'rprivate']);
const PASS_THROUGH = new Set(['exec', 'noexec', 'suid', 'nosuid', 'dev', 'nodev']);

export async function specMounts(stores: Stores, mounts: readonly MountSpec[], rootfs: string): Promise<SpecMount[]> {
  const root = path.resolve(rootfs);
  const out: SpecMount[] = [];
  // Parents before children, so /data is mounted before /data/cache (runc mounts in order).
  const ordered = [...mounts].sort((a, b) => depth(a.target) - depth(b.target));
  for (const m of ordered) {
    const hostTarget = await resolveInRoot(root, m.target);
    const destination = `/${path.relative(root, hostTarget)}`;
    if (destination === '/') {
      throw new TsbuildError('INVALID_ARGUMENT', `mount destination ${m.target} resolves to the container's root`, { exitCode: 125 });
    }
    if (m.type === 'bind') {
      await checkBindSource(m.source);
      const isDir = (await stat(m.source)).isDirectory();
      await makeMountPoint(hostTarget, isDir, m.target);
      out.push({ destination, type: 'bind', source: m.source, options: bindOptions(m, m.options.includes('bind') ? 'bind' : 'rbind') });
    } else if (m.type === 'volume') {
      await makeMountPoint(hostTarget, true, m.target);
      const data = await volumeData(stores, m, hostTarget);
      out.push({ destination, type: 'bind', source: data, options: bindOptions(m, 'rbind') });
    } else {
      await makeMountPoint(hostTarget, true, m.target);
      // runc gives a tmpfs the mode of the directory it covers, so a mode= is applied there too.
      const mode = m.options.find((o) => o.startsWith('mode='));
      if (mode !== undefined) await chmod(hostTarget, parseInt(mode.slice(5), 8));
      out.push({ destination, type: 'tmpfs', source: 'tmpfs', options: tmpfsOptions(m) });
    }
  }
  return out;
}

function depth(target: string): number {
  return target.split('/').filter((c) => c !== '').length;
}

function bindOptions(m: MountSpec, kind: 'bind' | 'rbind'): string[] {
  const propagation = m.options.find((o) => PROPAGATION.has(o)) ?? 'rprivate';
  return [kind, m.readonly ? 'ro' : 'rw', propagation, ...m.options.filter((o) => PASS_THROUGH.has(o))];
}

function tmpfsOptions(m: MountSpec): string[] {
  const defaults = ['nosuid', 'nodev'].filter((d) => !m.options.includes(d.slice(2)));
  return [...defaults, ...m.options, m.readonly ? 'ro' : 'rw'];
}

/** Creates the mount point (a directory, or an empty file for a file bind source) unless it exists with the right kind. */
async function makeMountPoint(hostTarget: string, dir: boolean, target: string): Promise<void> {
  const existing = await lstat(hostTarget).catch((err: unknown) => {
    if (errnoCode(err) === 'ENOENT') return undefined;
    if (errnoCode(err) === 'ENOTDIR') throw mountPointError(target, 'a parent of it is not a directory', err);
    throw err;
  });
  if (existing) {
    if (existing.isDirectory() !== dir) {
      throw mountPointError(target, dir ? 'it is a file in the image and the source is a directory' : 'it is a directory in the image and the source is a file');
    }
    return;
  }
  try {
    await mkdir(path.dirname(hostTarget), { recursive: true, mode: 0o755 });
    if (dir) await mkdir(hostTarget, { mode: 0o755 });
    else await writeFile(hostTarget, '', { flag: 'wx', mode: 0o644 });
  } catch (err) {
    throw mountPointError(target, errnoCode(err) === 'ENOTDIR' ? 'a parent of it is not a directory' : String((err as Error).message), err);
  }
}

function mountPointError(target: string, why: string, cause?: unknown): TsbuildError {
  return new TsbuildError('INVALID_ARGUMENT', `cannot create mount point ${target} in the container: ${why}`, { exitCode: 125, cause });
}

/**
 * The volume's _data dir, copied up first when due. A volume removed with `volume rm -f` while
 * its container was stopped is made again (empty) rather than failing the start.
 */
async function volumeData(stores: Stores, m: MountSpec, hostTarget: string): Promise<string> {
  let record = await readVolume(stores, m.source);
  if (!record) {
    stores.logger.warn({ volume: m.source }, 'volume is missing; creating it again');
    record = (await createVolume(stores, m.source, { anonymous: m.anonymous ?? false, ifMissing: true })).record;
  }
  const p = volumePaths(stores, m.source);
  if (record.populated || m.options.includes('nocopy')) return p.data;
  await withLock(p.lock, async () => {
    const current = await readVolume(stores, m.source);
    if (!current || current.populated) return;
    const source = await lstat(hostTarget);
    // Docker's rule: an empty image directory still hands its owner and mode to the volume (the
    // empty, postgres-owned VOLUME of a database image).
    if (source.isDirectory() && (await readdir(p.data)).length === 0) {
      stores.logger.debug({ volume: m.source, target: m.target }, 'copying image content into the volume');
      try {
        await copyUp(hostTarget, p.data, stores.logger, { keepRootOwner: /\b(uid|gid)=/.test(current.options.o ?? '') });
      } catch (err) {
        // Half a copy would pass for user data at the next start: empty the volume again.
        await emptyDir(p.data);
        throw new TsbuildError('IO', `cannot copy the image's ${m.target} into volume ${m.source}: ${(err as Error).message}`, { exitCode: 125, cause: err });
      }
    }
    await writeVolume(stores, { ...current, mountpoint: p.data, populated: true });
  });
  return p.data;
}

async function emptyDir(dir: string): Promise<void> {
  for (const name of listNames(dir)) await rm(path.join(dir, name), { recursive: true, force: true });
}
