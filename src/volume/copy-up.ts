// Copy-up: the image's content at a volume's target copied into the (empty) volume on its first
// mount, as docker does, so `-v pgdata:/var/lib/postgresql` starts with what the image put there.
// Owners, modes, times, symlinks (as links, never followed), hard links and xattrs (best effort)
// are kept. The source is inside a container rootfs the caller has already resolved; nothing here
// follows a symlink, so a link in the image can never make us read or write a host path.
import { constants } from 'node:fs';
import { chmod, chown, copyFile, lchown, link, lstat, lutimes, mkdir, readdir, readlink, symlink, utimes } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../log.js';
import { readTreeXattrs, restoreXattrs, type XattrTable } from '../archive/xattrs.js';

/** Copies the contents of directory `src` into the existing directory `dst` (and `src`'s own owner and mode onto `dst`). */
export async function copyUp(src: string, dst: string, logger: Logger): Promise<void> {
  const inodes = new Map<string, string>();
  await copyChildren(src, dst, inodes, logger);
  const st = await lstat(src);
  await chown(dst, st.uid, st.gid);
  await chmod(dst, st.mode & 0o7777);
  await copyXattrs(src, dst, logger);
}

async function copyChildren(src: string, dst: string, inodes: Map<string, string>, logger: Logger): Promise<void> {
  for (const name of await readdir(src)) {
    const from = path.join(src, name);
    const to = path.join(dst, name);
    const st = await lstat(from);
    if (st.isDirectory()) {
      await mkdir(to, { mode: 0o700 });
      await copyChildren(from, to, inodes, logger);
      await chown(to, st.uid, st.gid);
      // After chown, which clears set-id bits.
      await chmod(to, st.mode & 0o7777);
      await utimes(to, st.atime, st.mtime);
    } else if (st.isSymbolicLink()) {
      await symlink(await readlink(from), to);
      await lchown(to, st.uid, st.gid);
      await lutimes(to, st.atime, st.mtime);
    } else if (st.isFile()) {
      const key = `${st.dev}:${st.ino}`;
      const first = st.nlink > 1 ? inodes.get(key) : undefined;
      if (first !== undefined) {
        await link(first, to);
        continue;
      }
      await copyFile(from, to, constants.COPYFILE_EXCL);
      await chown(to, st.uid, st.gid);
      await chmod(to, st.mode & 0o7777);
      await utimes(to, st.atime, st.mtime);
      if (st.nlink > 1) inodes.set(key, to);
    } else {
      // Devices, fifos and sockets: Node cannot make them, and a volume rarely wants them.
      logger.debug({ path: from }, 'copy-up skips a special file');
    }
  }
}

/** xattrs of the copied tree (security.capability, user.*), re-rooted at dst; failures only logged. */
async function copyXattrs(src: string, dst: string, logger: Logger): Promise<void> {
  try {
    const table = await readTreeXattrs(path.resolve(src));
    const moved: XattrTable = new Map();
    for (const [file, attrs] of table) {
      const rel = path.relative(path.resolve(src), file);
      // Overlay's own attributes are not the image's.
      const kept = new Map([...attrs].filter(([name]) => !name.startsWith('trusted.overlay.') && !name.startsWith('security.selinux')));
      if (kept.size > 0) moved.set(path.join(dst, rel), kept);
    }
    await restoreXattrs(moved);
  } catch (err) {
    logger.debug({ err, src }, 'copy-up could not copy extended attributes');
  }
}
