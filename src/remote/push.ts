// `push`: a local image to a registry (or to an oci:, oci-archive: or docker-archive: location).
// Layers are compressed only here, in parallel and at most once per layer and compression: the
// blob-info cache remembers what each compression produced and where it went, so pushing the same
// image again uploads no layer and compresses nothing (see push-layer.ts). The config bytes are
// sent as stored, keeping the image ID; the manifest is OCI or Docker schema 2 (the image's own
// format unless --format says otherwise) and is written last, by tag or by digest.
import { writeFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { TsbuildError } from '../errors.js';
import { loadImage } from '../image/image.js';
import type { Logger } from '../log.js';
import { MediaType, sha256Digest, shortId, type Descriptor, type ImageFormat, type Manifest } from '../oci/types.js';
import { leaseImage } from '../store/references.js';
import type { Stores } from '../store/root.js';
import { mapLimit } from '../util/limit.js';
import { createBlobInfoCache } from './blob-info.js';
import { checkLevel, defaultLevel, layerMediaType, type Compression } from './compression.js';
import { naming, withConnection, type RegistryFlags } from './connect.js';
import { silentProgress } from './progress.js';
import { pushLayer, rememberedInRepository } from './push-layer.js';
import { formatReference, isShortName, parseReference, referenceString } from './reference.js';
import { parseLocation } from './transports.js';
import type { Progress } from './types.js';

export interface PushOptions extends RegistryFlags {
  /** Manifest format; default the image's own. */
  format?: ImageFormat;
  compressionFormat?: Compression;
  compressionLevel?: number;
  /** Write the manifest digest to this file. */
  digestfile?: string;
  progress?: Progress;
  signal?: AbortSignal;
  logger: Logger;
  /** Upload blobs in PATCH chunks of this size instead of one request. */
  chunkSize?: number;
}

/** Layers pushed at once; each one's compression is itself parallel, so more would only queue. */
const LAYER_CONCURRENCY = 4;

/** Pushes `source` (a local image name or ID) to `destination` (default: `source`); returns the manifest digest. */
export async function pushImage(stores: Stores, source: string, destination: string | undefined, options: PushOptions): Promise<string> {
  const record = await stores.images.get(source);
  // Leased for the whole push, so a prune running meanwhile cannot take its blobs away (store/lease.ts).
  await leaseImage(stores, record, `image "${source}"`);
  if (destination === undefined && isShortName(source)) {
    throw new TsbuildError('INVALID_ARGUMENT', `"${source}" does not name a registry; give a destination`, {
      hint: `e.g. tsbuild push ${source} registry.example.com/${source.replace(/^localhost\//, '')}`,
    });
  }
  const location = parseLocation(destination ?? source);
  let digest: string;
  if (location.transport === 'docker') {
    digest = await pushToRegistry(stores, record.id, location.reference, options);
  } else if (location.transport === 'oci') {
    // The archive writers (and tar-stream) load only for these destinations, not for a registry push.
    const { writeOciDir } = await import('../image/archive/index.js');
    digest = await writeOciDir(stores, record.id, location.path, { reference: location.reference });
  } else {
    const { saveImages } = await import('../image/archive/index.js');
    const [written] = await saveImages(stores, [record.id], { format: location.transport, output: location.path, reference: location.reference });
    digest = written ?? record.manifestDigest;
  }
  if (options.digestfile !== undefined) await writeFile(options.digestfile, digest);
  return digest;
}

async function pushToRegistry(stores: Stores, imageId: string, destination: string, options: PushOptions): Promise<string> {
  const ref = parseReference(destination);
  const name = formatReference(ref);
  const progress = options.progress ?? silentProgress;
  const record = await stores.images.get(imageId);
  const stored = await stores.content.readJson<Manifest>(record.manifestDigest);
  const format: ImageFormat = options.format ?? (stored.mediaType === MediaType.DockerManifest ? 'docker' : 'oci');
  const compression = options.compressionFormat ?? 'gzip';
  const level = options.compressionLevel ?? defaultLevel(compression);
  checkLevel(compression, level);
  const mediaType = layerMediaType(compression, format);
  const image = await loadImage(stores, record);
  const config = await stores.content.read(record.id);
  const blobInfo = createBlobInfoCache({ cacheDir: stores.layout.cache, locksDir: stores.layout.locks });

  const manifestOf = (layers: Descriptor[]): { manifest: Manifest; bytes: Buffer; digest: string } => {
    const manifest: Manifest = {
      schemaVersion: 2,
      mediaType: format === 'docker' ? MediaType.DockerManifest : MediaType.OciManifest,
      config: { mediaType: format === 'docker' ? MediaType.DockerConfig : MediaType.OciConfig, digest: record.id, size: config.length },
      layers,
      ...(format === 'oci' && stored.annotations ? { annotations: stored.annotations } : {}),
    };
    const bytes = Buffer.from(JSON.stringify(manifest));
    return { manifest, bytes, digest: sha256Digest(bytes) };
  };

  return naming(name, () => withConnection(ref, options, async ({ client, ref: target }) => {
    const repo = target.repository;
    progress.note(`Pushing ${shortId(record.id)} to ${name}`);
    // Pushed here before: when the cache remembers every layer in this repository, the manifest a
    // push would write is known before any request, and a tag that already names it is the whole
    // push done (go-containerregistry's writer skips the same way). The registry keeps the blobs
    // of a manifest it holds, so blob HEADs and the manifest PUT would only repeat what it says.
    const remembered = await Promise.all(
      image.layers.map((layer) => rememberedInRepository({ registry: target.registry, repository: repo, diffId: layer.diffId, blob: layer.blob, compression, mediaType, blobInfo })),
    );
    if (remembered.every((d): d is Descriptor => d !== undefined)) {
      const { digest } = manifestOf(remembered);
      // Any failure here leaves it to the full push below, which reports it if it persists.
      const there = await client.headManifest(repo, referenceString(target)).catch(() => undefined);
      if (there?.digest === digest && (target.digest === undefined || target.digest === digest)) {
        for (const d of [{ digest: record.id, kind: 'config' }, ...remembered.map((l) => ({ digest: l.digest, kind: 'blob' }))]) {
          progress.finish(`${d.kind} ${shortId(d.digest)}`, 'skipped: already exists');
        }
        options.logger.info({ ref: name, digest, uploaded: 0, layers: remembered.length }, 'pushed: the destination has the manifest already');
        progress.note(`Pushed ${name} (manifest ${digest}, unchanged)`);
        return digest;
      }
    }
    // The config is independent of the layers: it is checked (and sent) while they are.
    const configDone = (async () => {
      const configId = `config ${shortId(record.id)}`;
      if ((await client.headBlob(repo, record.id)) === config.length) {
        progress.finish(configId, 'skipped: already exists');
      } else {
        progress.start(configId, `Copying ${configId}`, config.length);
        await client.uploadBlob(repo, record.id, config.length, () => Readable.from([config]));
        progress.finish(configId, 'done');
      }
    })();
    // Settled before the connection closes, also when a layer fails first.
    const configSettled = configDone.then(() => undefined, () => undefined);
    const layers = await mapLimit(image.layers, LAYER_CONCURRENCY, (layer) =>
      pushLayer({
        stores,
        client,
        registry: target.registry,
        repository: repo,
        diffId: layer.diffId,
        blob: layer.blob,
        compression,
        level,
        mediaType,
        blobInfo,
        progress,
        logger: options.logger,
        chunkSize: options.chunkSize,
        signal: options.signal,
      }).catch((err: unknown) => {
        throw err instanceof TsbuildError && !err.message.includes(name)
          ? new TsbuildError(err.code, `push ${name}: layer ${layer.diffId}: ${err.message}`, { cause: err, hint: err.hint, exitCode: err.exitCode })
          : err;
      }),
    ).finally(() => configSettled);
    await configDone;

    const { manifest, bytes, digest } = manifestOf(layers.map((l) => l.desc));
    if (target.digest !== undefined && target.digest !== digest) {
      throw new TsbuildError('INVALID_ARGUMENT', `push ${name}: the manifest to push has digest ${digest}, not the one in the destination`, {
        hint: 'push by tag, or use the digest tsbuild reports (--digestfile)',
      });
    }
    progress.note('Writing manifest to image destination');
    await client.putManifest(repo, referenceString(target), bytes, manifest.mediaType!);
    const uploaded = layers.filter((l) => l.how === 'uploaded').length;
    options.logger.info({ ref: name, digest, uploaded, layers: layers.length }, 'pushed');
    progress.note(`Pushed ${name} (manifest ${digest})`);
    return digest;
  }), 'push ');
}
