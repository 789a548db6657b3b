// Image references: parsing, normalisation and formatting the way containers/image (and the
// docker/distribution reference grammar it forks) does it, so that "busybox", "docker.io/busybox"
// and "index.docker.io/library/busybox:latest" all name the same image. Short-name resolution
// (aliases, search registries) is not here but in registries-conf.ts: this module only knows the
// grammar and the docker.io defaults.
import { TsbuildError } from '../errors.js';
import type { ImageReference } from './types.js';

const DOCKER_IO = 'docker.io';
const DEFAULT_TAG = 'latest';
const NAME_TOTAL_LENGTH_MAX = 255;
const MAX_REFERENCE_LENGTH = 512;

// The grammar of docker/distribution's reference/regexp.go. Host names may carry upper case (DNS is
// case-insensitive), repository paths may not (they are case-sensitive on the registry, and
// distribution chose to forbid the ambiguity).
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN_RE = new RegExp(`^(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?$`);
// `[-]+`, not distribution's `[-]*`: Go's RE2 never backtracks, but in JavaScript an empty separator
// nests two `+` loops and a long name that fails to match takes exponential time.
const PATH_COMPONENT_RE = /^[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*$/;
const TAG_RE = /^[\w][\w.-]{0,127}$/;
const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;
// A bare 64-hex string is an image ID; distribution refuses it as a name so that "tsbuild push <id>"
// cannot silently mean docker.io/library/<id>.
const IMAGE_ID_RE = /^[a-f0-9]{64}$/;

/** The raw pieces of a reference string, not validated: name (possibly with a registry), tag, digest. */
export interface ReferenceParts {
  name: string;
  tag?: string;
  digest?: string;
}

/** Strips buildah's `docker://` transport prefix and splits off `@digest` and `:tag` (the colon after the last slash, so ports survive). */
export function splitReference(input: string): ReferenceParts {
  let rest = input.startsWith('docker://') ? input.slice('docker://'.length) : input;
  const parts: ReferenceParts = { name: '' };
  const at = rest.indexOf('@');
  if (at >= 0) {
    parts.digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    parts.tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  parts.name = rest;
  return parts;
}

/** The first path component names a registry only when it looks like a host: a dot, a port, or "localhost". */
function looksLikeRegistry(component: string): boolean {
  return component.includes('.') || component.includes(':') || component === 'localhost';
}

/** Whether `host` is a valid registry host[:port] (DNS name, IPv4 or bracketed IPv6, optional port). */
export function isValidRegistryHost(host: string): boolean {
  return DOMAIN_RE.test(host);
}

/** No registry domain given ("busybox", "team/app:1"): such names need registries.conf to resolve. */
export function isShortName(input: string): boolean {
  const { name } = splitReference(input);
  const slash = name.indexOf('/');
  return slash === -1 || !looksLikeRegistry(name.slice(0, slash));
}

/** Parses and normalises a reference; the result is always fully qualified (short names go to docker.io). */
export function parseReference(input: string): ImageReference {
  const fail = (why: string): TsbuildError => new TsbuildError('INVALID_ARGUMENT', `invalid image reference "${input}": ${why}`);

  // Longer than any valid reference (255 for the name, 128 for a tag, 71 for a digest): refused
  // before any pattern runs, so no input can make the matching slow.
  if (input.length > MAX_REFERENCE_LENGTH) {
    throw new TsbuildError('INVALID_ARGUMENT', `invalid image reference "${input.slice(0, 80)}…": longer than ${MAX_REFERENCE_LENGTH} characters`);
  }
  const parts = splitReference(input);
  if (parts.name === '' && parts.tag === undefined && parts.digest === undefined) throw fail('empty reference');
  if (IMAGE_ID_RE.test(parts.name) && parts.tag === undefined && parts.digest === undefined) {
    throw fail('a 64-character hexadecimal string is an image ID, not a repository name');
  }
  if (parts.digest !== undefined && !DIGEST_RE.test(parts.digest)) {
    throw fail(`invalid digest "${parts.digest}" (expected sha256: followed by 64 lowercase hex digits)`);
  }
  if (parts.tag !== undefined && !TAG_RE.test(parts.tag)) {
    throw fail(`invalid tag "${parts.tag}" (up to 128 letters, digits, '_', '.' or '-', not starting with '.' or '-')`);
  }

  let registry = DOCKER_IO;
  let repository = parts.name;
  const slash = parts.name.indexOf('/');
  if (slash !== -1 && looksLikeRegistry(parts.name.slice(0, slash))) {
    registry = parts.name.slice(0, slash);
    repository = parts.name.slice(slash + 1);
    if (!isValidRegistryHost(registry)) throw fail(`invalid registry host "${registry}"`);
  }
  // Docker Hub's legacy API host and its canonical name are one registry; keep one spelling so
  // credentials, registries.conf prefixes and image names all match.
  if (registry === 'index.docker.io') registry = DOCKER_IO;
  if (repository === '') throw fail('missing repository name');
  for (const component of repository.split('/')) {
    if (PATH_COMPONENT_RE.test(component)) continue;
    if (PATH_COMPONENT_RE.test(component.toLowerCase())) throw fail('repository name must be lowercase');
    throw fail(`invalid repository name component "${component}"`);
  }
  if (registry === DOCKER_IO && !repository.includes('/')) repository = `library/${repository}`;
  const fullName = `${registry}/${repository}`;
  if (fullName.length > NAME_TOTAL_LENGTH_MAX) {
    throw fail(`repository name must not be longer than ${NAME_TOTAL_LENGTH_MAX} characters`);
  }

  const ref: ImageReference = { registry, repository };
  // A digest pins the image; adding "latest" beside it would claim a tag the user never named.
  if (parts.tag !== undefined) ref.tag = parts.tag;
  else if (parts.digest === undefined) ref.tag = DEFAULT_TAG;
  if (parts.digest !== undefined) ref.digest = parts.digest;
  return ref;
}

/** "registry/repo:tag", "registry/repo@sha256:…" or "registry/repo:tag@sha256:…". */
export function formatReference(ref: ImageReference): string {
  let out = `${ref.registry}/${ref.repository}`;
  if (ref.tag !== undefined) out += `:${ref.tag}`;
  if (ref.digest !== undefined) out += `@${ref.digest}`;
  return out;
}

/** The <reference> of /v2/<name>/manifests/<reference>: the digest when pinned, else the tag. */
export function referenceString(ref: ImageReference): string {
  return ref.digest ?? ref.tag ?? DEFAULT_TAG;
}
