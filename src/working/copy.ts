// `copy` and `add` into a working container: buildah's model writes straight into the container's
// mounted root filesystem (so the files land in its upper dir and the next `commit` picks them up).
// Sources are host paths (relative ones to the current directory; nothing is ignored), a container's
// or image's filesystem (--from), or for `add` URLs and git repositories; `add` also unpacks local
// tar archives. Selection, copying, --chown/--chmod and archive handling are the build's COPY/ADD
// code (build/context); the destination resolves inside the container root, symlinks clamped.
import { lstat } from 'node:fs/promises';
import path from 'node:path';
import { copySelection, parseChmod, selectSources, type DirMetadata, type SelectedEntry, type SourceRoot } from '../build/context/index.js';
import { fetchRemote, refuseRemoteInCopy, remoteKind } from '../build/remote-source/index.js';
import { nonDirectoryOnPath } from '../build/steps/dest-path.js';
import { unmountRootfs } from '../container/rootfs.js';
import { isMounted } from '../util/mounts.js';
import { containerPaths } from '../container/paths.js';
import { TsbuildError } from '../errors.js';
import { openView } from '../image/view.js';
import { loadImage } from '../image/image.js';
import { resolveUser } from '../runtime/index.js';
import type { Stores } from '../store/root.js';
import { resolveInRoot } from '../util/resolve-in-root.js';
import { recordLastAction } from './config.js';
import { findAnyContainer, getWorkingContainer, readImageConfig, runInProgress, type AnyRecord } from './records.js';
import { mountContainer } from './rootfs.js';

export interface CopyOptions {
  instruction: 'COPY' | 'ADD';
  container: string;
  sources: string[];
  dest: string;
  chown?: string;
  chmod?: string;
  /** An image or container whose filesystem the sources are read from. */
  from?: string;
  /** Where relative host sources are looked up (default: the current directory). */
  cwd?: string;
  signal?: AbortSignal;
}

const GLOB = /[*?[]/;

export async function copyIntoContainer(stores: Stores, options: CopyOptions): Promise<void> {
  const verb = options.instruction.toLowerCase();
  const where = `${verb}`;
  if (options.sources.length === 0) throw new TsbuildError('INVALID_ARGUMENT', `${verb}: no source files were specified`);
  const record = await getWorkingContainer(stores, options.container);
  const imageConfig = await readImageConfig(stores, record);
  const chmod = options.chmod === undefined ? undefined : parseChmod(options.chmod, where);
  const workdir = imageConfig.config.WorkingDir || '/';
  const dest = path.posix.isAbsolute(options.dest) ? options.dest : path.posix.join(workdir, options.dest);
  const destIsDir = options.dest.endsWith('/') || options.sources.length > 1 || options.sources.some((s) => GLOB.test(s));
  const releases: Array<() => Promise<void>> = [];
  const wasMounted = await isMounted(containerPaths(stores, record.id).rootfs);
  try {
    const groups = await openSources(stores, options, where, releases);
    const rootfs = await mountContainer(stores, record);
    const resolved = await resolveInRoot(rootfs, dest);
    const target = `/${path.relative(rootfs, resolved)}`;
    const existingDir = (await lstat(resolved).catch(() => undefined))?.isDirectory() ?? false;
    const blocking = await nonDirectoryOnPath(rootfs, resolved, destIsDir || groups.some((g) => g.entries.some((e) => e.isDirSource)));
    if (blocking !== undefined) throw new TsbuildError('INVALID_ARGUMENT', `${verb}: cannot copy to ${dest}: ${blocking} is not a directory in container "${record.name}"`);
    const owner = options.chown === undefined ? undefined : await resolveOwner(rootfs, options.chown, where);
    const createdDirMtime = Date.now() / 1000;
    for (const group of groups) {
      await copySelection(group.entries, group.root, rootfs, target, destIsDir || existingDir, {
        chown: owner,
        chmod,
        extractArchives: group.extract,
        what: where,
        existingDir: (inRoot) => dirMetadata(rootfs, inRoot),
        createdDirMtime,
      });
    }
    await recordLastAction(stores, record.id, `/bin/sh -c #(nop) ${options.instruction} ${options.sources.join(' ')} ${options.dest}`);
  } finally {
    for (const release of releases.reverse()) await release().catch(() => undefined);
    // A rootfs mounted only for this copy is unmounted again; one the user mounted stays.
    if (!wasMounted && !(await runInProgress(stores, record.id))) {
      const fresh = await findAnyContainer(stores, record.id);
      if (fresh && !fresh.userMounted) await unmountRootfs(stores, record);
    }
  }
}

interface Group {
  root: SourceRoot;
  entries: SelectedEntry[];
  extract: boolean;
}

async function openSources(stores: Stores, options: CopyOptions, where: string, releases: Array<() => Promise<void>>): Promise<Group[]> {
  if (options.from !== undefined) {
    const root = await openFrom(stores, options.from, releases);
    const patterns = options.sources.map((s) => s.replace(/^\/+/, '') || '.');
    const entries = await selectSources({ dir: root, kind: 'rootfs' }, patterns, where);
    return [{ root: { dir: root, kind: 'rootfs' }, entries, extract: options.instruction === 'ADD' }];
  }
  const groups: Group[] = [];
  const cwd = options.cwd ?? process.cwd();
  const local: string[] = [];
  // Host sources are read from / (buildah copies any host path); owners become root, as from a build context.
  const hostRoot: SourceRoot = { dir: '/', kind: 'context' };
  const flushLocal = async (): Promise<void> => {
    if (local.length === 0) return;
    const patterns = local.splice(0).map((s) => path.relative('/', path.resolve(cwd, s)) || '.');
    groups.push({ root: hostRoot, entries: await selectSources(hostRoot, patterns, where), extract: options.instruction === 'ADD' });
  };
  for (const src of options.sources) {
    const kind = remoteKind(src);
    if (kind === undefined) {
      local.push(src);
      continue;
    }
    if (options.instruction === 'COPY') refuseRemoteInCopy(src, where);
    await flushLocal();
    const fetched = await fetchRemote(kind, src, { tmpDir: stores.layout.tmp, where, signal: options.signal });
    releases.push(fetched.release);
    const root: SourceRoot = { dir: fetched.dir, kind: 'context' };
    groups.push({ root, entries: await selectSources(root, [fetched.pattern], where), extract: false });
  }
  await flushLocal();
  return groups;
}

/** --from: a container's rootfs (mounted for the copy if it is not) or a read-only view of an image. */
async function openFrom(stores: Stores, ref: string, releases: Array<() => Promise<void>>): Promise<string> {
  const container: AnyRecord | undefined = await findAnyContainer(stores, ref);
  if (container) {
    const rootfs = containerPaths(stores, container.id).rootfs;
    if (!(await isMounted(rootfs))) {
      releases.push(async () => {
        if (!(await runInProgress(stores, container.id))) await unmountRootfs(stores, container);
      });
    }
    return mountContainer(stores, container);
  }
  const image = await stores.images.find(ref);
  if (!image) throw new TsbuildError('NOT_FOUND', `--from: no container or image named "${ref}"`, { exitCode: 125 });
  const view = await openView(stores, (await loadImage(stores, image)).layers);
  releases.push(() => view.release());
  return view.root;
}

/** --chown as the build's COPY applies it: a numeric user alone is also the group. */
async function resolveOwner(rootfs: string, spec: string, where: string): Promise<{ uid: number; gid: number }> {
  try {
    const user = await resolveUser(rootfs, spec);
    return { uid: user.uid, gid: /^\d+$/.test(spec) ? user.uid : user.gid };
  } catch (err) {
    throw new TsbuildError('INVALID_ARGUMENT', `${where}: --chown=${spec}: ${(err as Error).message}`, { cause: err });
  }
}

async function dirMetadata(rootfs: string, inRoot: string): Promise<DirMetadata | undefined> {
  const st = await lstat(path.join(rootfs, inRoot)).catch(() => undefined);
  return st?.isDirectory() ? { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: st.mtimeMs / 1000 } : undefined;
}
