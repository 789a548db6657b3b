// The working directory of a container (RUN step or `tsbuild run`): created when the image lacks it,
// as runc would, but by us so that symlinks resolve inside the rootfs. A file in the way is the
// user's mistake and gets a message in image terms, not a host path.
import { mkdir } from 'node:fs/promises';
import { TsbuildError, errnoCode } from '../errors.js';
import { resolveInRoot } from '../util/resolve-in-root.js';

export async function prepareWorkingDir(rootfs: string, cwd: string): Promise<void> {
  const resolved = await resolveInRoot(rootfs, cwd);
  try {
    await mkdir(resolved, { recursive: true });
  } catch (err) {
    if (errnoCode(err) === 'EEXIST' || errnoCode(err) === 'ENOTDIR') {
      throw new TsbuildError('INVALID_ARGUMENT', `working directory ${cwd} is not a directory in the container`, { cause: err });
    }
    throw err;
  }
}
