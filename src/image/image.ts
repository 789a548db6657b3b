// Images as the builder and runtime see them: a config plus an ordered list of layers. Loading reads
// a stored image; ensureSnapshots unpacks any layer whose snapshot is missing (images that were
// pulled or loaded) from its blob; commitImage writes config and manifest blobs and names the image.
import { applyTar } from '../archive/index.js';
import { TsbuildError } from '../errors.js';
import {
  MediaType,
  chainIds,
  shortId,
  type Descriptor,
  type ImageConfig,
  type ImageFormat,
  type Manifest,
} from '../oci/types.js';
import type { Stores } from '../store/root.js';
import { layerBlobDigest, layerDescriptor, openLayerTar } from './layer-blob.js';
import type { ImageRecord } from './store.js';

export interface LayerRef {
  /** Digest of the uncompressed layer tar; also the digest of the local blob, unless `blob` is set. */
  diffId: string;
  chainId: string;
  /** Size of the local blob. */
  size: number;
  /** The compressed local blob that holds the layer, for a layer pulled compressed (see layer-blob.ts). */
  blob?: Descriptor;
}

export interface Image {
  record?: ImageRecord;
  config: ImageConfig;
  layers: LayerRef[];
}

export async function loadImage(stores: Stores, record: ImageRecord): Promise<Image> {
  const manifest = await stores.content.readJson<Manifest>(record.manifestDigest);
  const config = await stores.content.readJson<ImageConfig>(manifest.config.digest);
  const diffIds = config.rootfs?.diff_ids ?? [];
  if (diffIds.length !== manifest.layers.length) {
    throw new TsbuildError('PARSE', `image ${shortId(record.id)}: manifest has ${manifest.layers.length} layers but config lists ${diffIds.length}`);
  }
  const chain = chainIds(diffIds);
  const layers = diffIds.map((diffId, i): LayerRef => {
    const desc = manifest.layers[i]!;
    const layer: LayerRef = { diffId, chainId: chain[i]!, size: desc.size };
    if (desc.digest !== diffId) layer.blob = { mediaType: desc.mediaType, digest: desc.digest, size: desc.size };
    return layer;
  });
  return { record, config, layers };
}

/** Appends a layer to a chain, computing its chain ID. */
export function appendLayer(layers: readonly LayerRef[], diffId: string, size: number): LayerRef[] {
  const chain = chainIds([...layers.map((l) => l.diffId), diffId]);
  return [...layers, { diffId, size, chainId: chain[chain.length - 1]! }];
}

/** Makes sure every layer has a snapshot, unpacking the local layer blob where one is missing. */
export async function ensureSnapshots(stores: Stores, layers: readonly LayerRef[]): Promise<void> {
  for (const layer of layers) {
    if (await stores.snapshots.has(layer.chainId)) continue;
    if (!(await stores.content.has(layerBlobDigest(layer)))) {
      throw new TsbuildError('NOT_FOUND', `layer ${layer.diffId} is missing from the store`, {
        hint: 'the image is damaged; remove it with "tsbuild rmi" and load or build it again',
      });
    }
    const dir = await stores.snapshots.prepare();
    try {
      await applyTar(openLayerTar(stores, layer), dir, { whiteouts: 'overlay', what: `layer ${layer.diffId}` });
      await stores.snapshots.commit(dir, layer.chainId);
    } catch (err) {
      await stores.snapshots.discard(dir);
      throw err;
    }
  }
}

/** Snapshot directories of an image's layers in overlay lowerdir order (topmost first). */
export function lowerDirs(stores: Stores, layers: readonly LayerRef[]): string[] {
  return layers.map((l) => stores.snapshots.fsPath(l.chainId)).reverse();
}

export interface CommitOptions {
  format: ImageFormat;
  names: readonly string[];
  /** Manifest annotations; OCI manifests only (Docker schema 2 has no field for them). */
  annotations?: Record<string, string>;
}

export async function commitImage(stores: Stores, image: Image, options: CommitOptions): Promise<ImageRecord> {
  const docker = options.format === 'docker';
  // The image ID is the config digest, and a record has one manifest: were the two formats' configs
  // identical, building one format would silently turn the other's image into it. Docker-format
  // configs carry container_config, a copy of config, as buildah writes them; that keeps them apart.
  const configBytes = JSON.stringify(docker ? { ...image.config, container_config: image.config.config } : image.config);
  const configDesc = await stores.content.put(configBytes, docker ? MediaType.DockerConfig : MediaType.OciConfig);
  const manifest: Manifest = {
    schemaVersion: 2,
    mediaType: docker ? MediaType.DockerManifest : MediaType.OciManifest,
    config: configDesc,
    layers: image.layers.map((l) => layerDescriptor(l, options.format)),
  };
  if (!docker && options.annotations && Object.keys(options.annotations).length > 0) manifest.annotations = { ...options.annotations };
  const manifestDesc = await stores.content.put(JSON.stringify(manifest), manifest.mediaType!);
  return stores.images.add(
    {
      id: configDesc.digest,
      manifestDigest: manifestDesc.digest,
      manifestMediaType: manifestDesc.mediaType,
      created: image.config.created ?? new Date().toISOString(),
    },
    options.names,
  );
}
