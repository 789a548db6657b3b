// COPY and ADD: sources are selected and checksummed *before* anything is copied, so a cache hit
// copies nothing. On a miss the files go straight into a fresh layer directory (no container), with
// the destination resolved against the image's own symlinks and existing parent directories keeping
// their metadata, as if the copy had happened inside the image. --link instead copies into an empty
// tree: nothing of the parent is read, and the cache key leaves the parent out, so the layer is the
// same on any base. Sources come from the build context, a named context directory, a stage's or
// image's filesystem (--from), or, for ADD, URLs and git repositories fetched into temp dirs first.
import { lstat } from 'node:fs/promises';
import path from 'node:path';
import {
  checksumSelection,
  compileIgnoreRules,
  copySelection,
  parseChmod,
  selectSources,
  type DirMetadata,
  type FileDigestMemo,
  type IgnoreRules,
  type SelectedEntry,
  type SourceRoot,
} from '../context/index.js';
import { TsbuildError } from '../../errors.js';
import { appendLayer, type LayerRef } from '../../image/image.js';
import { openView, withView } from '../../image/view.js';
import { sha256Digest } from '../../oci/types.js';
import { resolveUser } from '../../runtime/index.js';
import type { Stores } from '../../store/root.js';
import { resolveInRoot } from '../../util/resolve-in-root.js';
import type { BuildCache } from '../cache.js';
import { commitLayerDir } from '../layer-commit.js';
import { parseChecksum, urlFileName } from '../remote-source/http.js';
import { fetchRemote, refuseRemoteInCopy, remoteKind } from '../remote-source/index.js';
import { recallDownload, rememberDownload, type HttpValidators } from '../remote-source/validators.js';
import { nonDirectoryOnPath } from './dest-path.js';

export type CopySource =
  /** The build context. */
  | { kind: 'context' }
  /** A named context directory (--build-context name=DIR): read like the build context, with its own ignore rules. */
  | { kind: 'dir'; dir: string; ignore: IgnoreRules; identity: string }
  /** The layers of a stage or image (COPY --from); `identity` (stage key or image ID) goes into the cache key. */
  | { kind: 'layers'; layers: readonly LayerRef[]; identity: string };

export interface CopyRequest {
  instruction: 'COPY' | 'ADD';
  sources: string[];
  /** Destination after variable expansion; relative ones are relative to WORKDIR. */
  dest: string;
  workdir: string;
  chown?: string;
  chmod?: string;
  from: CopySource;
  /** --link: a layer independent of the parent. */
  link?: boolean;
  /** COPY --parents: sources keep their parent directories under dest. */
  parents?: boolean;
  /** --exclude patterns (.dockerignore syntax). */
  exclude?: readonly string[];
  /** ADD --checksum for a URL (sha256:...) or git source (commit). */
  checksum?: string;
  /** ADD --keep-git-dir. */
  keepGitDir?: boolean;
  /** ADD --unpack: undefined unpacks local archives only (the default), true also URLs, false nothing. */
  unpack?: boolean;
  where: string;
}

export interface CopyStepContext {
  stores: Stores;
  cache: BuildCache | undefined;
  contextDir: string;
  ignore: IgnoreRules;
  memo: FileDigestMemo;
  signal?: AbortSignal;
}

export interface CopyResult {
  layers: LayerRef[];
  key: string;
  cached: boolean;
  created: string;
}

/** One place the sources are read from, with what was selected there. */
interface SourceGroup {
  identity: string;
  /** What the group contributes to the cache key. */
  checksum: string;
  extract: boolean;
  /** The root and its selected entries; a URL with --checksum is only downloaded when this is first called. */
  selection(): Promise<{ root: SourceRoot; entries: SelectedEntry[] }>;
}

const GLOB = /[*?[]/;

export async function copyStep(ctx: CopyStepContext, parentKey: string, parentLayers: readonly LayerRef[], request: CopyRequest): Promise<CopyResult> {
  const { where } = request;
  const chmod = request.chmod === undefined ? undefined : parseChmod(request.chmod, where);
  const dest = path.posix.isAbsolute(request.dest) ? request.dest : path.posix.join(request.workdir || '/', request.dest);
  const destIsDir = request.dest.endsWith('/') || request.sources.length > 1 || request.sources.some((s) => GLOB.test(s)) || request.parents === true;
  const exclude = request.exclude?.length ? compileIgnoreRules(request.exclude, `${where}: --exclude`) : undefined;
  const releases: Array<() => Promise<void>> = [];
  try {
    const groups = await openGroups(ctx, request, exclude, releases);
    const linkOwner = request.link && request.chown !== undefined ? await linkedOwner(ctx.stores, parentLayers, request.chown, where) : undefined;
    const key = sha256Digest(
      JSON.stringify([
        request.link ? 'link' : parentKey,
        request.instruction,
        groups.map((g) => [g.identity, g.checksum, g.extract]),
        dest,
        destIsDir,
        linkOwner ?? request.chown ?? '',
        chmod?.text ?? '',
        request.parents === true,
        exclude?.patterns ?? [],
      ]),
    );
    const hit = ctx.cache ? await ctx.cache.lookup(key) : undefined;
    if (hit?.layer) return { layers: appendLayer(parentLayers, hit.layer.diffId, hit.layer.size), key, cached: true, created: hit.created };

    const layerDir = await ctx.stores.snapshots.prepare();
    let committed = false;
    try {
      const selections = await Promise.all(groups.map(async (group) => ({ group, ...(await group.selection()) })));
      const copyInto = async (image: string | undefined): Promise<LayerRef[]> => {
        const owner = linkOwner ?? (request.chown !== undefined && image !== undefined ? await resolveOwner(image, request.chown, where) : undefined);
        let target = path.posix.normalize(dest);
        let existingDir = false;
        if (image !== undefined) {
          const resolved = await resolveInRoot(image, dest);
          target = `/${path.relative(image, resolved)}`;
          existingDir = (await lstat(resolved).catch(() => undefined))?.isDirectory() ?? false;
          // A directory source makes the destination a directory too, so a file there is in the way.
          const blocking = await nonDirectoryOnPath(image, resolved, destIsDir || selections.some((s) => s.entries.some((e) => e.isDirSource)));
          if (blocking !== undefined) throw new TsbuildError('INVALID_ARGUMENT', `${where}: cannot copy to ${dest}: ${blocking} is not a directory in the image`);
        }
        const createdDirMtime = newestMtime(selections.flatMap((s) => s.entries));
        for (const { group, root, entries } of selections) {
          await copySelection(entries, root, layerDir, target, destIsDir || existingDir, {
            chown: owner,
            chmod,
            extractArchives: group.extract,
            what: where,
            // Directories the image already has keep their metadata, so the layer does not change them.
            existingDir: image === undefined ? undefined : (inImage) => imageDirMetadata(image, inImage),
            createdDirMtime,
          });
        }
        return commitLayerDir(ctx.stores, layerDir, parentLayers, 'plain');
      };
      // --link reads nothing of the parent: no symlinks followed in dest, no existing directories.
      const layers = request.link ? await copyInto(undefined) : await withView(ctx.stores, parentLayers, copyInto);
      committed = true;
      const created = new Date().toISOString();
      const top = layers[layers.length - 1]!;
      await ctx.cache?.store(key, { layer: { diffId: top.diffId, size: top.size }, created });
      return { layers, key, cached: false, created };
    } finally {
      if (!committed) await ctx.stores.snapshots.discard(layerDir);
    }
  } finally {
    for (const release of releases.reverse()) await release().catch(() => undefined);
  }
}

/**
 * Opens every place the sources come from and selects the entries there: local sources share one
 * group (the context, a named context or --from), each remote source of ADD gets its own, in order.
 */
async function openGroups(
  ctx: CopyStepContext,
  request: CopyRequest,
  exclude: IgnoreRules | undefined,
  releases: Array<() => Promise<void>>,
): Promise<SourceGroup[]> {
  const { where } = request;
  if (request.checksum !== undefined && (request.sources.length !== 1 || remoteKind(request.sources[0]!) === undefined)) {
    throw new TsbuildError('INVALID_ARGUMENT', `${where}: --checksum needs exactly one source, a URL or git repository`);
  }
  const select = { parents: request.parents, exclude };
  const groups: SourceGroup[] = [];
  const addGroup = async (root: SourceRoot, patterns: string[], identity: string, extract: boolean): Promise<void> => {
    const entries = await selectSources(root, patterns, where, select);
    const checksum = await checksumSelection(entries, root, root.kind === 'context' ? ctx.memo : undefined);
    groups.push({ identity, checksum, extract, selection: async () => ({ root, entries }) });
  };
  const local: string[] = [];
  const flushLocal = async (): Promise<void> => {
    if (local.length === 0) return;
    const patterns = local.splice(0);
    const extract = request.instruction === 'ADD' && request.unpack !== false;
    const from = request.from;
    if (from.kind === 'context') return addGroup({ dir: ctx.contextDir, kind: 'context', ignore: ctx.ignore }, patterns, 'context', extract);
    if (from.kind === 'dir') return addGroup({ dir: from.dir, kind: 'context', ignore: from.ignore }, patterns, from.identity, extract);
    const view = await openView(ctx.stores, from.layers);
    releases.push(() => view.release());
    return addGroup({ dir: view.root, kind: 'rootfs' }, patterns, from.identity, extract);
  };
  for (const src of request.sources) {
    const kind = request.from.kind === 'context' ? remoteKind(src) : undefined;
    if (kind === undefined) {
      local.push(src);
      continue;
    }
    if (request.instruction === 'COPY') refuseRemoteInCopy(src, where);
    await flushLocal();
    const extract = kind === 'http' && request.unpack === true;
    const fetch = async (validators?: HttpValidators) => {
      const fetched = await fetchRemote(kind, src, { tmpDir: ctx.stores.layout.tmp, where, checksum: request.checksum, keepGitDir: request.keepGitDir, validators, signal: ctx.signal });
      releases.push(fetched.release);
      return fetched;
    };
    // A group whose checksum is known without the content: downloaded only if the step has to run.
    const lazyGroup = (identity: string, checksum: string): void => {
      let selected: Promise<{ root: SourceRoot; entries: SelectedEntry[] }> | undefined;
      const selection = () =>
        (selected ??= fetch().then(async (fetched) => {
          const root: SourceRoot = { dir: fetched.dir, kind: 'context' };
          return { root, entries: await selectSources(root, [fetched.pattern], where, select) };
        }));
      groups.push({ identity, checksum, extract, selection });
    };
    if (kind === 'http' && request.checksum !== undefined) {
      // The checksum is the content: the key needs no download, and a cache hit makes none.
      lazyGroup('http-checksum', JSON.stringify([urlFileName(src), parseChecksum(request.checksum, where)]));
      continue;
    }
    if (kind === 'http') {
      // What was downloaded is the content. A rebuild revalidates (If-None-Match/If-Modified-Since)
      // and on a 304 takes the checksum of the last download, so a cache hit moves no body.
      const cacheDir = ctx.stores.layout.cache;
      // Without a cache the step runs anyway: nothing to revalidate for.
      const remembered = ctx.cache === undefined ? undefined : await recallDownload(cacheDir, src);
      const fetched = await fetch(remembered);
      if (fetched.notModified && remembered) {
        lazyGroup(kind, remembered.checksum);
        continue;
      }
      await addGroup({ dir: fetched.dir, kind: 'context' }, [fetched.pattern], kind, extract);
      const validators = fetched.validators;
      if (validators?.etag !== undefined || validators?.lastModified !== undefined) {
        await rememberDownload(cacheDir, src, { ...validators, checksum: groups[groups.length - 1]!.checksum }).catch(() => undefined);
      }
      continue;
    }
    // What was fetched is the content: the URL itself is no part of the key.
    const fetched = await fetch();
    await addGroup({ dir: fetched.dir, kind: 'context' }, [fetched.pattern], kind, extract);
  }
  await flushLocal();
  return groups;
}

/**
 * --chown as BuildKit applies it: a user name takes its uid and primary group from the image's
 * /etc/passwd, a numeric user alone is also the group (`--chown=1000` is 1000:1000), and a group
 * part (name or id) overrides the group.
 */
async function resolveOwner(image: string, spec: string, where: string): Promise<{ uid: number; gid: number }> {
  try {
    const user = await resolveUser(image, spec);
    const onlyNumericUser = /^\d+$/.test(spec);
    return { uid: user.uid, gid: onlyNumericUser ? user.uid : user.gid };
  } catch (err) {
    throw new TsbuildError('INVALID_ARGUMENT', `${where}: --chown=${spec}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * The owner of a --link copy, fixed before its cache key: numeric ids need no image, names are
 * looked up in the parent (the only place they can mean anything). The ids, not the parent, go into
 * the key, so the layer stays independent of the parent's content.
 */
function linkedOwner(stores: Stores, parentLayers: readonly LayerRef[], spec: string, where: string): Promise<{ uid: number; gid: number }> {
  const numeric = /^\d+(:\d+)?$/.test(spec);
  return withView(stores, numeric ? [] : parentLayers, (image) => resolveOwner(image, spec, where));
}

/** Mode, owner and mtime of a directory of the image (path already resolved), if it is one. */
async function imageDirMetadata(image: string, inImage: string): Promise<DirMetadata | undefined> {
  const st = await lstat(path.join(image, inImage)).catch(() => undefined);
  return st?.isDirectory() ? { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: st.mtimeMs / 1000 } : undefined;
}

/** Seconds since the epoch of the newest selected source (0 when there is none). */
function newestMtime(entries: readonly SelectedEntry[]): number {
  return entries.reduce((newest, e) => Math.max(newest, e.stat.mtimeMs), 0) / 1000;
}
