// Checks a destination inside an image before a step writes there. A layer that put a directory
// where the image has a file (COPY x /bin/sh/y, WORKDIR /etc/passwd/d) would silently replace that
// file in the image; Docker refuses such paths, and so do we.
import { lstat } from 'node:fs/promises';
import path from 'node:path';
import { errnoCode } from '../../errors.js';

/**
 * The image path (e.g. "/etc/passwd") of the nearest existing ancestor of `hostPath` that is not a
 * directory, with `hostPath` itself included when `self` is true; undefined when there is none.
 * `hostPath` must already be resolved inside `root` (symlinks followed), so every existing ancestor
 * is a real directory or file.
 */
export async function nonDirectoryOnPath(root: string, hostPath: string, self: boolean): Promise<string | undefined> {
  const rootAbs = path.resolve(root);
  let current = self ? path.resolve(hostPath) : path.dirname(path.resolve(hostPath));
  for (;;) {
    const st = await lstat(current).catch((err: unknown) => {
      if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') return undefined;
      throw err;
    });
    if (st) return st.isDirectory() ? undefined : `/${path.relative(rootAbs, current)}`;
    if (current === rootAbs || current === path.dirname(current)) return undefined;
    current = path.dirname(current);
  }
}
