// Named build contexts (`bud --build-context name=VALUE`), with BuildKit's rules: a context replaces
// the image or the stage of its name in FROM and COPY --from (a stage of that name is not built at
// all), and RUN --mount from= can use it too. VALUE is a directory (read like the main context, with
// its own .dockerignore), a git repository (cloned as ADD clones one, then read like a directory),
// `docker-image://REF` (an image, local or pulled under --pull) or
// `oci-layout://DIR[:tag|@sha256:...]` (an image in an OCI layout directory, imported into the
// store without a name). Image names match as BuildKit matches them: `alpine`, `alpine:latest`,
// `docker.io/library/alpine` are one name.
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { TsbuildError, errnoCode } from '../errors.js';
import { loadImage, type Image, type LayerRef } from '../image/image.js';
import type { Descriptor, Index } from '../oci/types.js';
import { sha256Digest } from '../oci/types.js';
import { tempName } from '../util/fs.js';
import { resolveInRoot } from '../util/resolve-in-root.js';
import { findBuildImage } from './base-image.js';
import { loadIgnoreRules, type IgnoreRules } from './context/index.js';
import type { BuildSession } from './session.js';
import { fetchGit, isGitSource } from './remote-source/git.js';
import { redactUrl } from './remote-source/http.js';
import { copyStep } from './steps/copy-step.js';
import { cloneConfig, emptyConfig, type StageState } from './stage-state.js';

export type NamedContext =
  | { kind: 'dir'; dir: string }
  /** A git repository (`https://host/repo.git#ref:subdir`, `git@host:repo.git`, ...), cloned when first used. */
  | { kind: 'git'; url: string }
  | { kind: 'image'; ref: string }
  | { kind: 'oci-layout'; dir: string; tag?: string; digest?: string };

/** What a named context gives a build: files to read (a directory) or an image. */
export type NamedSource =
  | { kind: 'dir'; dir: string; ignore: IgnoreRules; identity: string }
  | { kind: 'image'; image: Image; identity: string };

/** The name a FROM or --from reference matches contexts by: BuildKit's familiar form, without `:latest`. */
export function namedContextKey(ref: string): string {
  let name = ref.toLowerCase();
  if (name.startsWith('docker.io/')) name = name.slice('docker.io/'.length);
  if (name.startsWith('index.docker.io/')) name = name.slice('index.docker.io/'.length);
  if (name.startsWith('library/') && !name.slice('library/'.length).includes('/')) name = name.slice('library/'.length);
  return name.replace(/:latest$/, '');
}

/**
 * Parses `--build-context` values (name=VALUE) into contexts by key. Directories are resolved
 * against `cwd` and must exist; a bad value is an INVALID_ARGUMENT naming the flag.
 */
export async function parseBuildContexts(values: readonly string[], cwd = process.cwd()): Promise<Map<string, NamedContext>> {
  const out = new Map<string, NamedContext>();
  for (const value of values) {
    const eq = value.indexOf('=');
    const bad = (why: string): never => {
      throw new TsbuildError('INVALID_ARGUMENT', `--build-context "${value}": ${why}`, {
        hint: 'expected name=DIR, name=<git URL>, name=docker-image://REF or name=oci-layout://DIR[:tag|@sha256:...]',
      });
    };
    if (eq <= 0 || eq === value.length - 1) bad('expected name=VALUE');
    const name = value.slice(0, eq);
    const target = value.slice(eq + 1);
    if (!/^[a-z0-9][a-z0-9._:/@-]*$/i.test(name)) bad(`"${name}" is not a valid context name`);
    let context: NamedContext;
    if (target.startsWith('docker-image://')) {
      const ref = target.slice('docker-image://'.length);
      if (ref === '') bad('docker-image:// needs an image reference');
      context = { kind: 'image', ref };
    } else if (target.startsWith('oci-layout://')) {
      const m = /^(.+?)(?:@(sha256:[a-f0-9]{64})|:([^/:@]+))?$/.exec(target.slice('oci-layout://'.length));
      if (!m) return bad('oci-layout:// needs a directory');
      context = { kind: 'oci-layout', dir: path.resolve(cwd, m[1]!), ...(m[2] && { digest: m[2] }), ...(m[3] && { tag: m[3] }) };
    } else if (isGitSource(target)) {
      context = { kind: 'git', url: target };
    } else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(target)) {
      return bad(`the ${target.slice(0, target.indexOf(':'))}:// scheme is not supported for build contexts`);
    } else {
      const dir = path.resolve(cwd, target);
      const isDir = await stat(dir).then(
        (s) => s.isDirectory(),
        () => false,
      );
      if (!isDir) bad(`${target} is not a directory`);
      context = { kind: 'dir', dir };
    }
    out.set(namedContextKey(name), context);
  }
  return out;
}

/** The key of the named context a FROM or --from reference means, if the build has one. */
export function findNamedContext(contexts: ReadonlyMap<string, NamedContext> | undefined, ref: string): string | undefined {
  if (contexts === undefined || contexts.size === 0) return undefined;
  const key = namedContextKey(ref);
  return contexts.has(key) ? key : undefined;
}

// Per build, not per session object: each stage works on its own copy of the session, and they all
// share the build's stageResults map, so that is what resolutions and clean-ups hang on.
type BuildKey = BuildSession['stageResults'];
const resolved = new WeakMap<BuildKey, Map<string, Promise<NamedSource>>>();
const cleanups = new WeakMap<BuildKey, Array<() => Promise<void>>>();

/** Removes what resolving the build's named contexts fetched (git clones); the builder calls it when the build ends. */
export async function releaseNamedSources(session: BuildSession): Promise<void> {
  const pending = cleanups.get(session.stageResults) ?? [];
  cleanups.delete(session.stageResults);
  await Promise.all(pending.map((release) => release().catch(() => undefined)));
}

/** What a `--from` reads (COPY --from, RUN --mount from=): files of a named context directory, or layers. */
export type FromSource =
  | { kind: 'dir'; dir: string; ignore: IgnoreRules; identity: string }
  /** `identity` (context, stage key or image ID) goes into cache keys; `name` into messages. */
  | { kind: 'layers'; layers: LayerRef[]; identity: string; name: string };

/**
 * A `--from` reference as BuildKit resolves it: a named build context first (it wins over a stage of
 * that name), then a stage by name or index (the planner has built it), else an image, local or
 * pulled under the build's --pull policy. `what` names the flag in messages ("COPY --from").
 */
export async function resolveFromSource(session: BuildSession, ref: string, where: string, what: string): Promise<FromSource> {
  const byIndex = /^\d+$/.test(ref);
  const named = byIndex ? undefined : await resolveNamedSource(session, ref, where);
  if (named?.kind === 'dir') return named;
  if (named?.kind === 'image') return { kind: 'layers', layers: named.image.layers, identity: named.identity, name: `build context ${ref}` };
  const index = byIndex ? Number(ref) : session.stageNames.get(ref.toLowerCase());
  const stage = index === undefined ? undefined : session.stageResults.get(index);
  if (stage) return { kind: 'layers', layers: stage.layers, identity: stage.key, name: `stage ${ref}` };
  const record = await findBuildImage(session, ref, `${where}: ${what}: no stage named so, and image`);
  const image = await loadImage(session.stores, record);
  return { kind: 'layers', layers: image.layers, identity: record.id, name: `image ${ref}` };
}

/**
 * The named context `name` means in this build (undefined when there is none), resolved once per
 * build: for COPY --from, FROM and RUN --mount from=.
 */
export async function resolveNamedSource(session: BuildSession, name: string, where: string): Promise<NamedSource | undefined> {
  const contexts = session.options.buildContexts;
  const key = findNamedContext(contexts, name);
  if (key === undefined) return undefined;
  let perBuild = resolved.get(session.stageResults);
  if (!perBuild) resolved.set(session.stageResults, (perBuild = new Map()));
  let pending = perBuild.get(key);
  if (!pending) {
    pending = openNamedSource(session, key, contexts!.get(key)!, `${where}: build context "${key}"`);
    perBuild.set(key, pending);
  }
  return pending;
}

async function openNamedSource(session: BuildSession, key: string, context: NamedContext, what: string): Promise<NamedSource> {
  const { stores } = session;
  if (context.kind === 'dir') {
    return { kind: 'dir', dir: context.dir, ignore: await loadIgnoreRules(context.dir), identity: `context:${key}` };
  }
  if (context.kind === 'git') {
    const fetched = await fetchGit({ url: context.url, tmpDir: stores.layout.tmp, where: what, signal: session.options.signal });
    if (!cleanups.has(session.stageResults)) cleanups.set(session.stageResults, []);
    cleanups.get(session.stageResults)!.push(fetched.release);
    const dir = await resolveInRoot(fetched.dir, fetched.pattern, { onEscape: 'error', what: 'the repository' });
    if (!(await stat(dir).then((s) => s.isDirectory(), () => false))) {
      throw new TsbuildError('NOT_FOUND', `${what}: ${fetched.pattern} is not a directory of ${redactUrl(context.url)}`);
    }
    // Its content is the identity: copies from it hit the cache whatever the clone's temp path.
    return { kind: 'dir', dir, ignore: await loadIgnoreRules(dir), identity: `git-context:${key}` };
  }
  const record = context.kind === 'image' ? await findBuildImage(session, context.ref, `${what}: image`) : await importOciLayout(session, context, what);
  const image = await loadImage(stores, record);
  return { kind: 'image', image, identity: record.id };
}

/** The state a stage starts from when its FROM (or the stage itself) is a named context. */
export async function namedContextState(session: BuildSession, name: string, where: string): Promise<StageState> {
  const source = await resolveNamedSource(session, name, where);
  if (source === undefined) throw new TsbuildError('INTERNAL', `${where}: build context "${name}" vanished`);
  if (source.kind === 'image') {
    const config = cloneConfig(source.image.config);
    config.history ??= [];
    const created = config.created ?? new Date(0).toISOString();
    return { config, layers: source.image.layers, key: sha256Digest(`image:${source.identity}`), args: new Map(), created };
  }
  // A directory as a base is a filesystem of its files and nothing else, as in BuildKit.
  const result = await copyStep(
    { stores: session.stores, cache: session.cache, contextDir: source.dir, ignore: source.ignore, memo: session.memo, signal: session.options.signal },
    sha256Digest('scratch'),
    [],
    { instruction: 'COPY', sources: ['.'], dest: '/', workdir: '/', from: source, where },
  );
  const config = emptyConfig();
  config.history = [{ created: result.created, created_by: `build context ${name}` }];
  return { config, layers: result.layers, key: result.key, args: new Map(), created: result.created };
}

/**
 * Imports the image an oci-layout context names: its `@digest`, its `:tag` (ref.name), or the
 * layout's only image. It is read through the same verifying import as `load`, from an index that
 * holds just that entry without names, so the store gains the layers but no image name.
 */
async function importOciLayout(session: BuildSession, context: Extract<NamedContext, { kind: 'oci-layout' }>, what: string) {
  // Loaded here: the archive code (and tar-stream under it) is 19 modules no other build needs.
  const [{ importArchive }, { openOciDir }] = await Promise.all([import('../image/archive/load.js'), import('../image/archive/oci-dir.js')]);
  const layout = await openOciDir(context.dir);
  const json = async <T>(file: string): Promise<T> => {
    try {
      return JSON.parse(await readFile(file, 'utf8')) as T;
    } catch (err) {
      throw new TsbuildError('INVALID_ARGUMENT', `${what}: OCI layout ${context.dir}: ${path.basename(file)} is not valid JSON`, { cause: err });
    }
  };
  const index = await json<Partial<Index>>(layout.file('index.json'));
  const manifests = Array.isArray(index.manifests) ? index.manifests : [];
  const refName = (d: Descriptor): string | undefined => d.annotations?.['org.opencontainers.image.ref.name'];
  let chosen: Descriptor | undefined;
  if (context.digest !== undefined) {
    chosen = manifests.find((d) => d.digest === context.digest);
    if (chosen === undefined && layout.has(`blobs/sha256/${context.digest.slice(7)}`)) {
      const file = layout.file(`blobs/sha256/${context.digest.slice(7)}`);
      const body = await json<{ mediaType?: string }>(file);
      chosen = { mediaType: body.mediaType ?? 'application/vnd.oci.image.manifest.v1+json', digest: context.digest, size: (await stat(file)).size };
    }
  } else if (context.tag !== undefined) {
    chosen = manifests.find((d) => refName(d) === context.tag || refName(d)?.endsWith(`:${context.tag}`));
  } else {
    chosen = manifests.length === 1 ? manifests[0] : manifests.find((d) => refName(d) === 'latest');
  }
  if (chosen === undefined) {
    const wanted = context.digest ?? (context.tag !== undefined ? `tag ${context.tag}` : 'a single image (name one with :tag or @sha256:...)');
    throw new TsbuildError('NOT_FOUND', `${what}: OCI layout ${context.dir} has no ${wanted}`);
  }
  const indexFile = tempName(session.stores.layout.tmp, 'ociindex');
  const single: Index = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [{ ...chosen, annotations: undefined }] };
  await writeFile(indexFile, JSON.stringify(single));
  try {
    const archive = {
      ...layout,
      file: (name: string) => (name === 'index.json' ? indexFile : layout.file(name)),
      size: async (name: string) => (await stat(name === 'index.json' ? indexFile : layout.file(name))).size,
    };
    const [record] = await importArchive(session.stores, archive);
    if (!record) throw new TsbuildError('NOT_FOUND', `${what}: OCI layout ${context.dir} holds no image`);
    return record;
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') throw new TsbuildError('NOT_FOUND', `${what}: ${(err as Error).message}`, { cause: err });
    throw err;
  } finally {
    await rm(indexFile, { force: true });
  }
}
