// Image names as podman keeps them locally: "domain/path:tag". A name without a registry domain is
// stored under "localhost/", the default tag is "latest", and short names resolve the way podman's
// local lookup does.
import { TsbuildError } from '../errors.js';

export interface ImageName {
  domain: string;
  path: string;
  tag?: string;
  digest?: string;
}

const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;

/** Parses "name[:tag][@digest]"; `domain` is "localhost" when none is given (podman's convention). */
export function parseImageName(input: string): ImageName {
  const bad = (why: string): never => {
    throw new TsbuildError('INVALID_ARGUMENT', `invalid image name "${input}": ${why}`);
  };
  if (input === '') bad('empty name');
  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!/^sha256:[a-f0-9]{64}$/.test(digest)) bad('bad digest');
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) bad(`bad tag "${tag}"`);
  }
  const parts = rest.split('/');
  let domain = 'localhost';
  const first = parts[0] ?? '';
  if (parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost')) {
    domain = first;
    parts.shift();
  }
  if (parts.length === 0 || parts.some((p) => !PATH_COMPONENT.test(p))) {
    bad('repository names must be lowercase letters, digits and separators');
  }
  return { domain, path: parts.join('/'), tag, digest };
}

/** The canonical stored form, "domain/path:tag" (tag defaults to latest unless a digest is given). */
export function formatImageName(name: ImageName): string {
  const base = `${name.domain}/${name.path}`;
  if (name.digest && !name.tag) return `${base}@${name.digest}`;
  return `${base}:${name.tag ?? 'latest'}`;
}

export function normalizeImageName(input: string): string {
  return formatImageName(parseImageName(input));
}

/** True when the user wrote a registry domain ("localhost/x", "reg:5000/x"), not a short name. */
export function hasExplicitDomain(input: string): boolean {
  const first = input.split('/')[0] ?? '';
  return input.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
}

/** True when stored name `candidate` is what a user means by `input`, e.g. "busybox-base" for "localhost/busybox-base:latest". */
export function shortNameMatches(input: string, candidate: string): boolean {
  let wanted: ImageName;
  let have: ImageName;
  try {
    wanted = parseImageName(input);
    have = parseImageName(candidate);
  } catch {
    return false;
  }
  if (hasExplicitDomain(input)) return formatImageName(wanted) === formatImageName(have);
  if ((wanted.tag ?? 'latest') !== (have.tag ?? 'latest')) return false;
  return have.path === wanted.path || have.path.endsWith(`/${wanted.path}`);
}
