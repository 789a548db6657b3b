// Manifest resolution for pull: what a tag or digest points at, following an image index (or Docker
// manifest list) to the manifest of the wanted platform. Schema 1 and unknown media types are
// refused with the reference in the message; digests are checked here whatever the client did.
import { TsbuildError } from '../errors.js';
import { MediaType, hostPlatform, sha256Digest, type Descriptor, type Index, type Manifest, type Platform } from '../oci/types.js';
import { referenceString } from './reference.js';
import type { ImageReference, ManifestResponse, RegistryClient } from './types.js';

export interface ResolvedManifest {
  manifest: Manifest;
  mediaType: string;
  /** Digest of the image manifest. */
  digest: string;
  /** Digest of what the tag (or digest) pointed at: the index for multi-platform images, else the manifest's. */
  topDigest: string;
}

const SCHEMA1 = ['application/vnd.docker.distribution.manifest.v1+json', 'application/vnd.docker.distribution.manifest.v1+prettyjws'];
const IMAGE_TYPES: string[] = [MediaType.OciManifest, MediaType.DockerManifest];
const INDEX_TYPES: string[] = [MediaType.OciIndex, MediaType.DockerManifestList];

export async function resolveManifest(client: RegistryClient, ref: ImageReference, name: string, platform: string | undefined): Promise<ResolvedManifest> {
  const top = await client.getManifest(ref.repository, referenceString(ref));
  const topDigest = sha256Digest(top.bytes);
  if (ref.digest !== undefined && topDigest !== ref.digest) {
    throw new TsbuildError('DIGEST_MISMATCH', `${name}: the registry returned a manifest with digest ${topDigest}`);
  }
  const first = classify(top, name);
  if (first.kind === 'manifest') {
    if (platform !== undefined) checkNoIndexPlatform(platform);
    return { manifest: first.manifest, mediaType: first.mediaType, digest: topDigest, topDigest };
  }
  const chosen = choosePlatform(first.index.manifests ?? [], platform, name);
  const instance = await client.getManifest(ref.repository, chosen.digest);
  const digest = sha256Digest(instance.bytes);
  if (digest !== chosen.digest) {
    throw new TsbuildError('DIGEST_MISMATCH', `${name}: the manifest for ${formatPlatform(chosen.platform)} has digest ${digest}, but the index says ${chosen.digest}`);
  }
  const second = classify(instance, name);
  if (second.kind !== 'manifest') throw new TsbuildError('REGISTRY', `${name}: an image index points at another index (${chosen.digest}); nested indexes are not supported`);
  return { manifest: second.manifest, mediaType: second.mediaType, digest, topDigest };
}

type Classified = { kind: 'manifest'; manifest: Manifest; mediaType: string } | { kind: 'index'; index: Index };

function classify(response: ManifestResponse, name: string): Classified {
  let doc: (Omit<Partial<Manifest>, "schemaVersion"> & Omit<Partial<Index>, "schemaVersion"> & { schemaVersion?: number }) | undefined;
  try {
    doc = JSON.parse(response.bytes.toString('utf8')) as typeof doc;
  } catch {
    doc = undefined;
  }
  // The media type inside the document wins over the Content-Type header: registries are lax with headers.
  const header = (response.mediaType ?? '').split(';')[0]!.trim();
  // A generic Content-Type says nothing; the document's shape decides then.
  const generic = header === '' || header === 'application/json' || header === 'text/plain' || header === 'application/octet-stream';
  const mediaType = (typeof doc?.mediaType === 'string' ? doc.mediaType : undefined) ?? (generic && doc !== undefined ? '' : header);
  if (SCHEMA1.includes(mediaType) || doc?.schemaVersion === 1) {
    throw new TsbuildError('REGISTRY', `${name}: the manifest is Docker schema 1 (${mediaType}), which is deprecated and not supported`, {
      hint: 'push the image again with a current tool to get a schema 2 or OCI manifest',
    });
  }
  if (mediaType !== '' && !INDEX_TYPES.includes(mediaType) && !IMAGE_TYPES.includes(mediaType)) {
    throw new TsbuildError('REGISTRY', `${name}: unsupported manifest media type "${mediaType}"`, {
      hint: 'only OCI and Docker schema 2 images (and their indexes) can be pulled',
    });
  }
  if (doc === undefined || typeof doc !== 'object' || doc === null) throw new TsbuildError('REGISTRY', `${name}: the manifest is not valid JSON`);
  if (INDEX_TYPES.includes(mediaType) || (mediaType === '' && Array.isArray(doc.manifests))) {
    if (!Array.isArray(doc.manifests)) throw new TsbuildError('REGISTRY', `${name}: the image index has no manifests`);
    return { kind: 'index', index: doc as Index };
  }
  if (!doc.config || !Array.isArray(doc.layers)) throw new TsbuildError('REGISTRY', `${name}: the manifest has no config or layers`);
  return { kind: 'manifest', manifest: doc as Manifest, mediaType: mediaType || MediaType.OciManifest };
}

export function parsePlatform(input: string): Platform {
  const parts = input.toLowerCase().split('/');
  const [os, arch, variant] = parts;
  if (!os || !arch || parts.length > 3) throw new TsbuildError('INVALID_ARGUMENT', `invalid platform "${input}": expected os/arch[/variant], e.g. linux/amd64`);
  const aliases: Record<string, string> = { x86_64: 'amd64', aarch64: 'arm64', armhf: 'arm', armel: 'arm' };
  const platform: Platform = { os, architecture: aliases[arch] ?? arch };
  if (variant) platform.variant = variant;
  return platform;
}

export function formatPlatform(p: Partial<Platform> | undefined): string {
  if (!p) return 'unknown';
  return [p.os ?? '?', p.architecture ?? '?', ...(p.variant ? [p.variant] : [])].join('/');
}

/** A single-platform image has nothing to choose from; a bad --platform is still worth a message. */
function checkNoIndexPlatform(platform: string): void {
  parsePlatform(platform);
}

function choosePlatform(manifests: Descriptor[], platform: string | undefined, name: string): Descriptor {
  const wanted = platform !== undefined ? parsePlatform(platform) : hostPlatform();
  const images = manifests.filter((m) => m && typeof m.digest === 'string' && m.platform && m.platform.os !== 'unknown');
  const sameArch = images.filter((m) => m.platform!.os === wanted.os && m.platform!.architecture === wanted.architecture);
  // arm64 images carry variant v8 or none; either is what an arm64 host runs.
  const variantOf = (p: Platform): string | undefined => p.variant ?? (p.architecture === 'arm64' ? 'v8' : undefined);
  const match = wanted.variant === undefined ? sameArch[0] : sameArch.find((m) => variantOf(m.platform!) === variantOf(wanted));
  if (match) return match;
  const available = [...new Set(images.map((m) => formatPlatform(m.platform)))].join(', ') || 'none';
  throw new TsbuildError('NOT_FOUND', `${name}: no image for platform ${formatPlatform(wanted)} (available: ${available})`, {
    hint: 'choose one with --platform os/arch[/variant]',
  });
}
