// The working directory of a container (RUN step or `tsbuild run`): created when the image lacks it,
// as runc would, but by us so that symlinks resolve inside the rootfs. A file in the way is the
// user's mistake and gets a message in image terms, not a host path. A directory that resolves into
// /proc, /sys or /dev is refused: the runtime mounts the kernel's filesystems there, whose magic
// links (/proc/self/fd/N, /proc/self/cwd) can lead out of the container (CVE-2024-21626), and we do
// not rely on runc's own check.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { TsbuildError, errnoCode } from '../errors.js';
import { resolveInRoot, runtimeMountOf } from '../util/resolve-in-root.js';

/** Creates the working directory in the rootfs; returns it resolved (no symlinks), as a path in the container. */
export async function prepareWorkingDir(rootfs: string, cwd: string): Promise<string> {
  const resolved = await resolveInRoot(rootfs, cwd);
  const inContainer = `/${path.relative(path.resolve(rootfs), resolved)}`;
  const mounted = runtimeMountOf(inContainer);
  if (mounted !== undefined) {
    throw new TsbuildError('INVALID_ARGUMENT', `working directory ${cwd}: ${inContainer} is mounted by the runtime at run time (${mounted}), so it cannot be a working directory`);
  }
  try {
    await mkdir(resolved, { recursive: true });
  } catch (err) {
    if (errnoCode(err) === 'EEXIST' || errnoCode(err) === 'ENOTDIR') {
      throw new TsbuildError('INVALID_ARGUMENT', `working directory ${cwd} is not a directory in the container`, { cause: err });
    }
    throw err;
  }
  return inContainer;
}
