// Resolves an untrusted path inside a root directory the way the kernel would inside a chroot:
// one component at a time, following symlinks (absolute targets are re-rooted at `root`), with `..`
// never climbing above the root. Nothing here ever yields a host path outside `root`.
import { lstatSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { TsbuildError, errnoCode } from '../errors.js';

export interface ResolveOptions {
  /** Follow a symlink in the last component too (default true). False is for lstat-like use: create, replace, remove. */
  followFinal?: boolean;
  /**
   * 'clamp' (default) treats `..` at the root as the root, as a container would (COPY destinations,
   * WORKDIR, files read from an image). 'error' rejects any path or symlink that tries to leave the
   * root (layer tar entries, build context sources).
   */
  onEscape?: 'clamp' | 'error';
  /** Named in the escape error, e.g. "layer sha256:.." or "build context". */
  what?: string;
}

const MAX_SYMLINKS = 255;

/**
 * Returns the host path of `unsafePath` inside `root`. Components that do not exist are appended
 * literally (so the result may be created); symlinks found on the way are followed within the root.
 */
export async function resolveInRoot(root: string, unsafePath: string, options: ResolveOptions = {}): Promise<string> {
  const followFinal = options.followFinal ?? true;
  const onEscape = options.onEscape ?? 'clamp';
  const rootAbs = path.resolve(root);
  const pending = splitComponents(unsafePath);
  const resolved: string[] = [];
  let symlinksFollowed = 0;
  /**
   * How many resolved components lead to the first one that does not exist: below it nothing is
   * looked up (it will be created). A `..` that climbs back above it returns to paths that do
   * exist, which must be checked for symlinks again: `missing/../link` is `link`, and a link to
   * /etc taken literally would hand the caller a host path through it.
   */
  let missingDepth: number | undefined;

  const escape = (detail: string): never => {
    throw new TsbuildError('PATH_ESCAPE', `path "${unsafePath}" escapes ${options.what ?? 'its root'}${detail}`);
  };

  while (pending.length > 0) {
    const component = pending.shift()!;
    if (component === '.' || component === '') continue;
    if (component === '..') {
      if (resolved.length === 0) {
        if (onEscape === 'error') escape('');
        continue;
      }
      resolved.pop();
      if (missingDepth !== undefined && resolved.length < missingDepth) missingDepth = undefined;
      continue;
    }
    resolved.push(component);
    if (missingDepth !== undefined) continue;
    const isFinal = pending.length === 0;
    if (isFinal && !followFinal) break;
    const hostPath = path.join(rootAbs, ...resolved);
    let target: string;
    try {
      // Synchronously: one lstat per component, often hundreds per command (util/fs.ts says why).
      const st = lstatSync(hostPath);
      if (!st.isSymbolicLink()) continue;
      target = readlinkSync(hostPath);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') {
        missingDepth = resolved.length;
        continue;
      }
      throw err;
    }
    if (++symlinksFollowed > MAX_SYMLINKS) {
      throw new TsbuildError('PATH_ESCAPE', `path "${unsafePath}" has too many levels of symbolic links`);
    }
    resolved.pop();
    const targetComponents = splitComponents(target);
    if (path.posix.isAbsolute(target)) {
      // An absolute target means the same path inside the root, as it would in the container.
      resolved.length = 0;
    } else if (onEscape === 'error' && climbsAbove(resolved.length, targetComponents)) {
      escape(` through the symlink ${path.posix.join('/', ...resolved, component)} -> ${target}`);
    }
    pending.unshift(...targetComponents);
  }
  return path.join(rootAbs, ...resolved);
}

/**
 * Filesystems the runtime mounts over the rootfs of every container (runc: procfs, sysfs, a tmpfs
 * /dev whose fd, stdin, stdout and stderr are symlinks into /proc/self/fd). A path below them
 * cannot be checked in the image: at run time it is the kernel's, where /proc/self/fd/N,
 * /proc/self/cwd and /proc/<pid>/root are magic links that can lead to the host (CVE-2024-21626).
 */
const RUNTIME_MOUNTS = ['/proc', '/sys', '/dev'];

/**
 * The runtime mount (e.g. "/proc") that an image path, already resolved inside the rootfs, lies at
 * or below; undefined when there is none.
 */
export function runtimeMountOf(imagePath: string): string | undefined {
  const normal = path.posix.normalize(`/${imagePath}`);
  return RUNTIME_MOUNTS.find((m) => normal === m || normal.startsWith(`${m}/`));
}

/** Normalises an untrusted relative name without touching the disk; rejects absolute names and `..` escapes. */
export function cleanRelativePath(name: string, what: string): string {
  const normalized = path.posix.normalize(name.replace(/^\.\/+/, ''));
  if (path.posix.isAbsolute(name) || normalized === '..' || normalized.startsWith('../')) {
    throw new TsbuildError('PATH_ESCAPE', `path "${name}" escapes ${what}`);
  }
  return normalized === '.' ? '' : normalized.replace(/\/+$/, '');
}

function splitComponents(p: string): string[] {
  return p.split('/').filter((c) => c !== '' && c !== '.');
}

function climbsAbove(depth: number, components: readonly string[]): boolean {
  let d = depth;
  for (const c of components) {
    if (c === '..') {
      d -= 1;
      if (d < 0) return true;
    } else {
      d += 1;
    }
  }
  return false;
}
