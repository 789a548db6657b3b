// Helpers shared by image save and load: media-type conversion between Docker and OCI, gzip
// detection, and the fixed metadata of archive entries.
import { open } from 'node:fs/promises';
import { MediaType } from '../../oci/types.js';

/** Archive entries get a fixed mtime so saving one image twice gives byte-identical archives. */
export const ENTRY_MTIME = new Date(0);

export const OCI_LAYOUT = 'oci-layout';
export const OCI_INDEX = 'index.json';
export const DOCKER_MANIFEST = 'manifest.json';

/** The blob path of a digest inside an OCI layout (digests are validated before they get here). */
export function blobEntryName(digest: string): string {
  return `blobs/sha256/${digest.replace(/^sha256:/, '')}`;
}

/** Docker and OCI layer types mean the same bytes; only the names differ. */
export function toOciLayerType(mediaType: string): string {
  if (mediaType === MediaType.DockerLayer) return MediaType.OciLayer;
  if (mediaType === MediaType.DockerLayerGzip) return MediaType.OciLayerGzip;
  return mediaType;
}

export function isIndexType(mediaType: string | undefined): boolean {
  return mediaType === MediaType.OciIndex || mediaType === MediaType.DockerManifestList;
}

export function isGzipType(mediaType: string | undefined): boolean {
  return mediaType !== undefined && /gzip$/.test(mediaType);
}

/** True when the file starts with the gzip magic 1f 8b; media types in archives are not always honest. */
export async function hasGzipMagic(file: string): Promise<boolean> {
  const handle = await open(file, 'r');
  try {
    const head = Buffer.alloc(2);
    const { bytesRead } = await handle.read(head, 0, 2, 0);
    return bytesRead === 2 && head[0] === 0x1f && head[1] === 0x8b;
  } finally {
    await handle.close();
  }
}


