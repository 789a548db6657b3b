// The build cache shared through a registry (--cache-from / --cache-to, as buildah has them): each
// cached step is a tiny image in the cache repository, tagged with the hex of the step's cache key,
// holding the one layer the step made (or none). CI machines that share the registry share the
// cache. What is pushed says nothing about the build but digests, sizes and the step's date: the
// manifest is OCI with the layer's diff ID as a descriptor annotation and the date as the
// manifest's created annotation, and the config has no history, no environment, no command. So a
// lookup is one manifest GET (a 404 is a miss), a hit downloads the layer and nothing else, and
// the key - a digest of what the step depends on, build args included - reveals no value.
// The registry is a helper, never a requirement: its errors become one warning per repository
// and that repository is not asked again during the build; pushes run in the background, one at
// a time, and the build waits for them at the end.
import { Readable } from 'node:stream';
import { TsbuildError, isTsbuildError } from '../errors.js';
import { MediaType, digestHex, hostPlatform, isDigest, sha256Digest, type Descriptor, type Manifest } from '../oci/types.js';
import { createBlobInfoCache } from '../remote/blob-info.js';
import { defaultLevel } from '../remote/compression.js';
import { connect, type Connection, type RegistryFlags } from '../remote/connect.js';
import { silentProgress } from '../remote/progress.js';
import { pullLayer } from '../remote/pull-layer.js';
import { pushLayer } from '../remote/push-layer.js';
import { isShortName, parseReference, splitReference } from '../remote/reference.js';
import type { Stores } from '../store/root.js';
import type { CacheEntry } from './cache.js';

/** Descriptor annotation carrying the uncompressed digest of the cached layer. */
export const DIFF_ID_ANNOTATION = 'dev.tsbuild.cache.diff-id';
const CREATED_ANNOTATION = 'org.opencontainers.image.created';

export interface RemoteCacheOptions {
  /** Repositories to look keys up in, in order (--cache-from). */
  from: readonly string[];
  /** Repositories to push cache images to (--cache-to). */
  to: readonly string[];
  flags?: RegistryFlags;
  /** One-line warnings for the user (registry errors). */
  warn(message: string): void;
  signal?: AbortSignal;
}

export interface RemoteCache {
  /**
   * The entry under `key` in the first --cache-from repository that has one whose date `fresh`
   * accepts (asked before any layer is downloaded); its layer is then in the local store.
   */
  fetch(key: string, fresh: (created: string) => boolean): Promise<{ entry: CacheEntry; repository: string } | undefined>;
  /** Queues a push of the entry to every --cache-to repository (but `skip`); `ifAbsent` asks first whether the tag is there. */
  push(key: string, entry: CacheEntry, options?: { ifAbsent?: boolean; skip?: string }): void;
  /** Waits for queued pushes and closes the connections. */
  close(): Promise<void>;
}

/**
 * Checks a --cache-from/--cache-to value and returns the repository: `REGISTRY/REPO`, or the
 * buildx form `type=registry,ref=REGISTRY/REPO`. A tag or digest is refused, since the cache keys
 * are the tags.
 */
export function parseCacheRepository(value: string, flag: string): string {
  let name = value.trim();
  if (name.includes('=')) {
    const fields = new Map(name.split(',').map((f) => [f.slice(0, f.indexOf('=')).trim(), f.slice(f.indexOf('=') + 1).trim()] as const));
    const type = fields.get('type') ?? 'registry';
    if (type !== 'registry') throw new TsbuildError('INVALID_ARGUMENT', `${flag} ${value}: cache type "${type}" is not supported; expected a registry repository`);
    const ref = fields.get('ref');
    if (!ref) throw new TsbuildError('INVALID_ARGUMENT', `${flag} ${value}: missing ref=REPOSITORY`);
    name = ref;
  }
  if (name === '') throw new TsbuildError('INVALID_ARGUMENT', `${flag}: expected a registry repository, e.g. registry.example.com/team/cache`);
  const parts = splitReference(name);
  if (parts.tag !== undefined || parts.digest !== undefined) {
    throw new TsbuildError('INVALID_ARGUMENT', `${flag} ${value}: expected a repository without tag or digest (the cache keys are the tags)`);
  }
  if (isShortName(name)) {
    throw new TsbuildError('INVALID_ARGUMENT', `${flag} ${value}: the repository must name its registry, e.g. registry.example.com/${parts.name}`);
  }
  const ref = parseReference(name);
  return `${ref.registry}/${ref.repository}`;
}

export function createRemoteCache(stores: Stores, options: RemoteCacheOptions): RemoteCache {
  const connections = new Map<string, Promise<Connection>>();
  const broken = new Set<string>();
  const blobInfo = createBlobInfoCache({ cacheDir: stores.layout.cache, locksDir: stores.layout.locks });
  let queue: Promise<void> = Promise.resolve();

  function connection(repository: string): Promise<Connection> {
    let pending = connections.get(repository);
    if (!pending) {
      pending = connect(parseReference(repository), { ...options.flags, logger: stores.logger, signal: options.signal });
      // A failed connect is reported by its caller; keep the rejection from counting as unhandled.
      pending.catch(() => undefined);
      connections.set(repository, pending);
    }
    return pending;
  }

  /** Runs fn against a repository unless it failed before; a failure is warned about once and turns the repository off. */
  async function using<T>(repository: string, what: string, fn: (c: Connection) => Promise<T>): Promise<T | undefined> {
    if (broken.has(repository) || options.signal?.aborted) return undefined;
    try {
      return await fn(await connection(repository));
    } catch (err) {
      if (options.signal?.aborted) return undefined;
      broken.add(repository);
      const message = err instanceof Error ? err.message : String(err);
      options.warn(`[Warning] build cache ${what} ${repository} failed, not using it for the rest of this build: ${message}`);
      return undefined;
    }
  }

  async function fetchFrom(repository: string, key: string, fresh: (created: string) => boolean): Promise<CacheEntry | undefined> {
    return using(repository, 'lookup in', async ({ client, ref }) => {
      const tag = digestHex(key);
      let bytes: Buffer;
      try {
        ({ bytes } = await client.getManifest(ref.repository, tag));
      } catch (err) {
        if (isTsbuildError(err, 'NOT_FOUND')) return undefined;
        throw err;
      }
      const name = `${repository}:${tag}`;
      const { layer, created } = parseCacheManifest(bytes, name);
      if (!fresh(created)) return undefined;
      if (!layer) return { created };
      // A layer already in the store (from any image) is not downloaded again.
      const { size } = await pullLayer({
        stores,
        client,
        repository: ref.repository,
        desc: layer.desc,
        diffId: layer.diffId,
        what: `cached layer ${layer.desc.digest} of ${name}`,
        progress: silentProgress,
        logger: stores.logger,
        signal: options.signal,
        // Cache entries name the uncompressed tar.
        keepCompressed: false,
      });
      return { layer: { diffId: layer.diffId, size }, created };
    });
  }

  async function pushTo(repository: string, key: string, entry: CacheEntry, ifAbsent: boolean): Promise<void> {
    await using(repository, 'push to', async ({ client, ref }) => {
      const tag = digestHex(key);
      if (ifAbsent && (await client.headManifest(ref.repository, tag))) return;
      const layers: Descriptor[] = [];
      if (entry.layer) {
        const pushed = await pushLayer({
          stores,
          client,
          registry: ref.registry,
          repository: ref.repository,
          diffId: entry.layer.diffId,
          compression: 'gzip',
          level: defaultLevel('gzip'),
          mediaType: MediaType.OciLayerGzip,
          blobInfo,
          progress: silentProgress,
          logger: stores.logger,
          signal: options.signal,
        });
        layers.push({ ...pushed.desc, annotations: { [DIFF_ID_ANNOTATION]: entry.layer.diffId } });
      }
      const config = cacheConfig(entry);
      const configDigest = sha256Digest(config);
      if ((await client.headBlob(ref.repository, configDigest)) !== config.length) {
        await client.uploadBlob(ref.repository, configDigest, config.length, () => Readable.from([config]));
      }
      const manifest: Manifest = {
        schemaVersion: 2,
        mediaType: MediaType.OciManifest,
        config: { mediaType: MediaType.OciConfig, digest: configDigest, size: config.length },
        layers,
        annotations: { [CREATED_ANNOTATION]: entry.created },
      };
      await client.putManifest(ref.repository, tag, Buffer.from(JSON.stringify(manifest)), MediaType.OciManifest);
      stores.logger.debug({ repository, tag }, 'pushed build cache entry');
    });
  }

  return {
    async fetch(key, fresh) {
      for (const repository of options.from) {
        const entry = await fetchFrom(repository, key, fresh);
        if (entry) return { entry, repository };
      }
      return undefined;
    },
    push(key, entry, { ifAbsent = false, skip } = {}) {
      const targets = options.to.filter((r) => r !== skip);
      if (targets.length === 0) return;
      queue = queue.then(async () => {
        for (const repository of targets) await pushTo(repository, key, entry, ifAbsent);
      });
    },
    async close() {
      await queue;
      for (const pending of connections.values()) {
        await pending.then((c) => c.client.close()).catch(() => undefined);
      }
    },
  };
}

/** The config of a cache image: what OCI requires and the diff ID, nothing from the build. */
function cacheConfig(entry: CacheEntry): Buffer {
  const { os, architecture } = hostPlatform();
  return Buffer.from(
    JSON.stringify({ created: entry.created, architecture, os, config: {}, rootfs: { type: 'layers', diff_ids: entry.layer ? [entry.layer.diffId] : [] } }),
  );
}

/** The layer and date of a cache image; anything else is not a tsbuild cache entry and an error. */
function parseCacheManifest(bytes: Buffer, name: string): { layer?: { desc: Descriptor; diffId: string }; created: string } {
  const bad = (why: string): TsbuildError => new TsbuildError('REGISTRY', `${name} is not a tsbuild build cache entry: ${why}`);
  let manifest: Partial<Manifest>;
  try {
    manifest = JSON.parse(bytes.toString('utf8')) as Partial<Manifest>;
  } catch {
    throw bad('the manifest is not JSON');
  }
  const created = manifest.annotations?.[CREATED_ANNOTATION];
  if (typeof created !== 'string' || Number.isNaN(Date.parse(created))) throw bad('no created date');
  const layers = Array.isArray(manifest.layers) ? manifest.layers : undefined;
  if (!layers || layers.length > 1) throw bad('expected at most one layer');
  const desc = layers[0];
  if (!desc) return { created };
  const diffId = desc.annotations?.[DIFF_ID_ANNOTATION];
  if (typeof desc.digest !== 'string' || !isDigest(desc.digest) || typeof desc.size !== 'number' || typeof diffId !== 'string' || !isDigest(diffId)) {
    throw bad('the layer descriptor lacks a digest, size or diff ID');
  }
  return { layer: { desc, diffId }, created };
}
