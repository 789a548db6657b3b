// The local form of an image that arrived from outside (an archive, an OCI layout, a registry):
// its config bytes exactly as they came, and a manifest over the local layer blobs.
import { MediaType, type ImageFormat, type Manifest } from '../../oci/types.js';
import type { Stores } from '../../store/root.js';
import { layerDescriptor, type LayerBlobRef } from '../layer-blob.js';
import type { ImageRecord } from '../store.js';

/**
 * Stores the config bytes as they came (the image ID is their digest) and a local manifest whose
 * layers are the blobs already in the store that hold them (layer-blob.ts): the same shape
 * commitImage writes. Returns the record to add; nothing is named here.
 */
export async function storeImage(
  stores: Stores,
  image: { config: Buffer; format: ImageFormat; layers: readonly LayerBlobRef[]; created?: string },
): Promise<Omit<ImageRecord, 'names'>> {
  const docker = image.format === 'docker';
  const configDesc = await stores.content.put(image.config, docker ? MediaType.DockerConfig : MediaType.OciConfig);
  const manifest: Manifest = {
    schemaVersion: 2,
    mediaType: docker ? MediaType.DockerManifest : MediaType.OciManifest,
    config: configDesc,
    layers: image.layers.map((l) => layerDescriptor(l, image.format)),
  };
  const manifestDesc = await stores.content.put(JSON.stringify(manifest), manifest.mediaType!);
  return {
    id: configDesc.digest,
    manifestDigest: manifestDesc.digest,
    manifestMediaType: manifestDesc.mediaType,
    created: image.created ?? new Date().toISOString(),
  };
}
