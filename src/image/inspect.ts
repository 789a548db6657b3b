// The `inspect` view of an image, shaped like podman's image inspect so scripts carry over.
import type { Manifest } from '../oci/types.js';
import type { Stores } from '../store/root.js';
import { loadImage } from './image.js';
import type { ImageRecord } from './store.js';

export async function inspectImage(stores: Stores, record: ImageRecord): Promise<Record<string, unknown>> {
  const image = await loadImage(stores, record);
  const manifest = await stores.content.readJson<Manifest>(record.manifestDigest);
  const { config } = image;
  return {
    Id: record.id.replace(/^sha256:/, ''),
    Digest: record.manifestDigest,
    RepoTags: record.names,
    RepoDigests: record.repoDigests ?? [],
    Created: config.created ?? record.created,
    Author: config.author ?? '',
    Config: config.config,
    Architecture: config.architecture,
    Os: config.os,
    Size: image.layers.reduce((n, l) => n + l.size, 0),
    Labels: config.config.Labels ?? {},
    RootFS: { Type: 'layers', Layers: config.rootfs.diff_ids },
    History: config.history ?? [],
    ManifestType: manifest.mediaType ?? record.manifestMediaType,
    Layers: manifest.layers,
  };
}
