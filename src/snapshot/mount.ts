// Overlay mounts over snapshot stacks. Mount points live under <root>/mounts/<pid>-<n> so that a
// crashed process's mounts can be found and removed by the next start (see store/recovery.ts).
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { TsbuildError } from '../errors.js';
import * as sys from '../sys/helper.js';
import { removeEmptyDir } from '../util/fs.js';

export interface OverlayMount {
  /** The merged root filesystem. */
  readonly target: string;
  unmount(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export interface MountRequest {
  /** Snapshot directories, topmost first (overlay lowerdir order). */
  lowers: string[];
  /** Writable upper dir; omitted for a read-only view. Its work dir is created beside it. */
  upper?: string;
  mountsDir: string;
  /**
   * A fixed mount point instead of a fresh one under mountsDir, for mounts that outlive this process
   * (a detached container's rootfs); whoever owns it unmounts it, recovery does not.
   */
  target?: string;
  /**
   * Mount with overlay's `volatile` option: the unmount skips syncing the upper filesystem, which
   * otherwise writes back everything dirty on that filesystem (a just-copied 500 MB context cost a
   * RUN step 0.7 s of umount; even an idle system pays a journal commit and a disk flush). Only for
   * throwaway writers whose upper dir gets no durability promise anyway: a build's RUN step (its
   * layer is not fsynced either) and a `run --rm` container, whose rootfs is deleted when it exits
   * and cannot outlive a crash (podman mounts --rm containers volatile for the same reason; volumes
   * and bind mounts are other file systems, where fsync keeps its meaning). Never for a container
   * that is kept.
   */
  volatile?: boolean;
}

// The kernel limits mount options to one page; relative lowerdir paths (resolved against the cwd the
// system helper mounts from) keep long stacks within it.
const MAX_OPTIONS_LENGTH = 4000;

export async function mountOverlay(request: MountRequest): Promise<OverlayMount> {
  // Synchronous: a few directory operations, cheaper than thread-pool round trips (util/fs.ts).
  mkdirSync(request.mountsDir, { recursive: true });
  // Named <pid>-<random> so recovery can tell which process owns it.
  const target = request.target ?? path.join(request.mountsDir, `${process.pid}-${randomBytes(6).toString('hex')}`);
  mkdirSync(target, { recursive: request.target !== undefined });
  let workDir: string | undefined;
  let lowers = request.lowers;
  try {
    if (lowers.length === 0 || (lowers.length === 1 && !request.upper)) {
      // overlay needs two layers without an upper dir, or one lower with an upper: add an empty lower.
      const empty = path.join(request.mountsDir, '.empty');
      mkdirSync(empty, { recursive: true, mode: 0o755 });
      lowers = [...lowers, empty];
    }
    const common = commonDir(lowers);
    const relLowers = lowers.map((l) => path.relative(common, l));
    const opts = [`lowerdir=${relLowers.join(':')}`];
    if (request.upper) {
      workDir = overlayWorkDir(request.upper);
      // A volatile mount that was never unmounted (a crash) marks its work dir, and overlay then
      // refuses to mount with it again; the work dir is overlay's scratch space, so start it afresh.
      if (request.volatile) rmSync(workDir, { recursive: true, force: true });
      mkdirSync(workDir, { recursive: true });
      opts.push(`upperdir=${request.upper}`, `workdir=${workDir}`);
      if (request.volatile) opts.push('volatile');
    }
    opts.push('index=off', 'metacopy=off');
    const optionString = opts.join(',');
    if (optionString.length > MAX_OPTIONS_LENGTH) {
      throw new TsbuildError('RUNTIME', `too many layers (${lowers.length}) to mount in one overlay`);
    }
    await sys.mountOverlay(common, target, optionString);
  } catch (err) {
    removeMountDirs(target, workDir);
    throw err;
  }
  let mounted = true;
  const unmount = async (): Promise<void> => {
    if (!mounted) return;
    mounted = false;
    // Busy (a process still holds it): detached lazily, so nothing stays visible.
    await sys.unmount(target);
    removeMountDirs(target, workDir);
  };
  return { target, unmount, [Symbol.asyncDispose]: unmount };
}

/** The work dir overlay gets beside an upper dir. */
export function overlayWorkDir(upper: string): string {
  return `${upper}.work`;
}

/** After an unmount (or a mount that failed): the empty mount point and the work dir go. */
export function removeMountDirs(target: string, workDir: string | undefined): void {
  removeEmptyDir(target);
  // The work dir holds nothing but overlay's scratch space: small.
  if (workDir) rmSync(workDir, { recursive: true, force: true });
}

function commonDir(paths: readonly string[]): string {
  const split = paths.map((p) => path.resolve(p).split(path.sep));
  const first = split[0] ?? [];
  let n = first.length;
  for (const parts of split) {
    let i = 0;
    while (i < n && parts[i] === first[i]) i++;
    n = i;
  }
  // Never use a lower dir itself as the cwd: its relative path would be "" which overlay rejects.
  const common = first.slice(0, n).join(path.sep) || path.sep;
  return paths.includes(common) ? path.dirname(common) : common;
}
