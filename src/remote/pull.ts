// `pull`: an image from a registry (or an oci:/oci-archive:/docker-archive: location) into the
// local stores. Short names go through registries.conf's search list, candidates in order. The
// manifest is resolved (an index picks the wanted platform), the config fetched and verified, and
// the layers pulled in parallel, each checked against its digest and size in the manifest before it
// is stored: compressed ones as served, their diff IDs checked when first inflated (pull-layer.ts,
// image/layer-blob.ts), plain tars against the config's diff IDs now. Only then are the config and
// a local manifest written and the image named, so a failed pull leaves no image and no blob that
// failed its check; layers already stored stay and make the next attempt shorter.
import { TsbuildError } from '../errors.js';
import { loadArchive, loadOciDir, storeImage } from '../image/archive/index.js';
import type { LayerBlobRef } from '../image/layer-blob.js';
import { normalizeImageName } from '../image/names.js';
import type { ImageRecord } from '../image/store.js';
import type { Logger } from '../log.js';
import { MediaType, chainIds, isDigest, sha256Digest, shortId, type Descriptor, type ImageConfig } from '../oci/types.js';
import { lease } from '../store/lease.js';
import type { Stores } from '../store/root.js';
import { mapLimit } from '../util/limit.js';
import { createBlobInfoCache } from './blob-info.js';
import { naming, withConnection, type RegistryFlags } from './connect.js';
import { parsePlatform, resolveManifest } from './manifest.js';
import { silentProgress } from './progress.js';
import { pullLayer } from './pull-layer.js';
import { formatReference, isShortName, parseReference } from './reference.js';
import { loadRegistriesConf, type RegistriesConf } from './registries-conf.js';
import { parseLocation, type Location } from './transports.js';
import type { ImageReference, Progress, RegistryClient } from './types.js';

export interface PullOptions extends RegistryFlags {
  /** "os/arch[/variant]"; default the host's. */
  platform?: string;
  progress?: Progress;
  signal?: AbortSignal;
  logger: Logger;
}

/** Layers in flight at once: enough to fill a link, few enough not to thrash a small disk. */
const LAYER_CONCURRENCY = 4;
/** Configs are JSON read into memory; real ones are kilobytes, generous for ones with long histories. */
const MAX_CONFIG = 8 * 1024 * 1024;

export async function pullImage(stores: Stores, reference: string, options: PullOptions): Promise<ImageRecord> {
  if (options.platform !== undefined) parsePlatform(options.platform); // a typo is worth a message before any traffic
  const location = parseLocation(reference);
  if (location.transport !== 'docker') return pullLocal(stores, location);
  const conf = await loadRegistriesConf();
  const candidates = candidatesFor(conf, location.reference);
  const failures: string[] = [];
  for (const candidate of candidates) {
    try {
      return await pullFromRegistry(stores, candidate, { ...options, conf });
    } catch (err) {
      if (candidates.length === 1 || options.signal?.aborted) throw err;
      failures.push(`${formatReference(candidate)}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  throw new TsbuildError('NOT_FOUND', `short name "${location.reference}" could not be pulled from any search registry: ${failures.join('; ')}`);
}

/** The references to try for what the user wrote: itself when fully qualified, else registries.conf's candidates. */
export function candidatesFor(conf: RegistriesConf, reference: string): ImageReference[] {
  if (!isShortName(reference)) return [parseReference(reference)];
  parseReference(reference); // a malformed name is a typo, whatever registries.conf says
  const candidates = conf.resolveShortName(reference);
  if (candidates.length === 0) {
    throw new TsbuildError('NOT_FOUND', `short name "${reference}" cannot be pulled: registries.conf defines no unqualified-search-registries`, {
      hint: `use a fully qualified name, e.g. docker.io/library/${reference}, or add unqualified-search-registries to registries.conf`,
    });
  }
  return candidates;
}

async function pullFromRegistry(stores: Stores, ref: ImageReference, options: PullOptions & { conf: RegistriesConf }): Promise<ImageRecord> {
  const progress = options.progress ?? silentProgress;
  const name = formatReference(ref);
  return naming(name, () => withConnection(ref, options, async ({ client, ref: target }) => {
    const repo = target.repository;
    const resolved = await resolveManifest(client, target, name, options.platform);
    const { manifest } = resolved;
    const config = await fetchConfig(client, repo, manifest.config, name);
    const diffIds = config.parsed.rootfs?.diff_ids;
    if (!Array.isArray(diffIds) || diffIds.length !== manifest.layers.length || !diffIds.every((d) => typeof d === 'string' && isDigest(d))) {
      throw new TsbuildError('REGISTRY', `${name}: the image config lists ${Array.isArray(diffIds) ? diffIds.length : 'no'} valid diff IDs for ${manifest.layers.length} layers`);
    }
    for (const layer of manifest.layers) checkLayerDescriptor(layer, name);
    // Leased before a layer already present is skipped, so no prune removes it before the record exists.
    await lease(stores.layout.root, { blobs: [...diffIds, ...manifest.layers.map((l) => l.digest)], snapshots: chainIds(diffIds) });

    const blobInfo = createBlobInfoCache({ cacheDir: stores.layout.cache, locksDir: stores.layout.locks });
    const total = manifest.layers.length;
    const layers = await mapLimit(manifest.layers, LAYER_CONCURRENCY, async (desc, i): Promise<LayerBlobRef> => {
      const diffId = diffIds[i]!;
      const pulled = await pullLayer({
        stores,
        client,
        repository: repo,
        desc,
        diffId,
        what: `layer ${i + 1}/${total} (${desc.digest}) of ${name}`,
        progress,
        logger: options.logger,
        signal: options.signal,
        keepCompressed: true,
      });
      // Where the blob came from, for a push of this image to mount it from there.
      if (pulled.compression === 'gzip' || pulled.compression === 'zstd') {
        const variant = { digest: desc.digest, size: desc.size, mediaType: desc.mediaType, compression: pulled.compression, unverified: true as const };
        await blobInfo
          .record(diffId, variant, { registry: target.registry, repository: repo })
          .catch((err: unknown) => options.logger.warn({ err, diffId }, 'cannot remember the compressed layer'));
      }
      return { diffId, size: pulled.size, blob: pulled.blob };
    });

    progress.note('Writing manifest to image destination');
    const record = await storeImage(stores, {
      config: config.bytes,
      format: resolved.mediaType === MediaType.DockerManifest ? 'docker' : 'oci',
      layers,
      created: typeof config.parsed.created === 'string' ? config.parsed.created : undefined,
    });
    // podman keeps the digest the tag pointed at (an index's, for multi-platform images) and the
    // instance's; `--pull=newer` compares the former with what the registry says now.
    const repoName = `${ref.registry}/${ref.repository}`;
    record.repoDigests = [...new Set([`${repoName}@${resolved.topDigest}`, `${repoName}@${resolved.digest}`])];
    // By digest, the image gets no tag (as in podman): its repo digest is how it is found again.
    const names = ref.tag !== undefined ? [formatReference({ registry: ref.registry, repository: ref.repository, tag: ref.tag })] : [];
    const added = await stores.images.add(record, names);
    progress.note(`Pulled ${name} (manifest ${resolved.digest}, image ${shortId(added.id)})`);
    return added;
  }));
}

function checkLayerDescriptor(desc: Descriptor, name: string): void {
  if (!desc || typeof desc.digest !== 'string' || !isDigest(desc.digest) || typeof desc.size !== 'number' || desc.size < 0) {
    throw new TsbuildError('REGISTRY', `${name}: the manifest has an invalid layer descriptor`);
  }
  if (typeof desc.mediaType === 'string' && !/tar/.test(desc.mediaType)) {
    throw new TsbuildError('REGISTRY', `${name}: unsupported layer media type ${desc.mediaType}`);
  }
}

async function fetchConfig(client: RegistryClient, repo: string, desc: Descriptor, name: string) {
  if (!desc || typeof desc.digest !== 'string' || !isDigest(desc.digest) || typeof desc.size !== 'number' || !Number.isSafeInteger(desc.size) || desc.size < 0) {
    throw new TsbuildError('REGISTRY', `${name}: the manifest has no valid config descriptor`);
  }
  if (desc.size > MAX_CONFIG) throw new TsbuildError('REGISTRY', `${name}: the image config is too large (${desc.size} bytes; at most ${MAX_CONFIG} are accepted)`);
  const { stream } = await client.getBlob(repo, desc.digest);
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      size += chunk.length;
      // The descriptor's size is the most that is read: an endless or padded body stops here.
      if (size > desc.size) {
        throw new TsbuildError('DIGEST_MISMATCH', `${name}: the registry sent more than the ${desc.size} bytes the manifest states for the image config ${desc.digest}`);
      }
      chunks.push(chunk);
    }
  } finally {
    stream.destroy();
  }
  const bytes = Buffer.concat(chunks);
  const digest = sha256Digest(bytes);
  if (digest !== desc.digest || (desc.size !== undefined && bytes.length !== desc.size)) {
    throw new TsbuildError('DIGEST_MISMATCH', `${name}: the image config has digest ${digest} and size ${bytes.length}, but the manifest says ${desc.digest} and size ${desc.size}`);
  }
  let parsed: Partial<ImageConfig>;
  try {
    parsed = JSON.parse(bytes.toString('utf8')) as Partial<ImageConfig>;
  } catch (err) {
    throw new TsbuildError('REGISTRY', `${name}: the image config is not valid JSON`, { cause: err });
  }
  return { bytes, parsed };
}

/** `pull oci:DIR[:REF]`, `oci-archive:FILE[:REF]`, `docker-archive:FILE[:REF]`: a load, naming the image when the source did not. */
async function pullLocal(stores: Stores, location: Exclude<Location, { transport: 'docker' }>): Promise<ImageRecord> {
  const options = location.reference !== undefined ? { reference: location.reference } : {};
  const records = location.transport === 'oci' ? await loadOciDir(stores, location.path, options) : await loadArchive(stores, location.path, options);
  const record = records[0];
  if (!record) throw new TsbuildError('NOT_FOUND', `${location.path}: contains no image`);
  if (record.names.length === 0 && location.reference !== undefined) {
    const name = localName(location.reference);
    if (name !== undefined) {
      await stores.images.tag(record.id, [name]);
      return (await stores.images.find(record.id)) ?? record;
    }
  }
  return record;
}

/** A ref.name that is a full name names the image; a bare tag ("1.0") has no repository to go with, so it names nothing. */
function localName(reference: string): string | undefined {
  if (!/[/:]/.test(reference)) return undefined;
  try {
    return normalizeImageName(reference);
  } catch {
    return undefined;
  }
}
