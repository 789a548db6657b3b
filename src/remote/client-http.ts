// HTTP plumbing of the registry client that holds no state: request descriptions, header and body
// helpers, registry error bodies, manifest media types. client.ts keeps the connection pool, auth
// and the API methods.
import { createHash } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { MediaType } from '../oci/types.js';
/** Error bodies are read for their message only; anything larger is cut off. */
export const MAX_ERROR_BODY_BYTES = 64 * 1024;
export const MAX_TOKEN_BODY_BYTES = 1024 * 1024;
export const MAX_REDIRECTS = 10;
export const CONNECTIONS_PER_ORIGIN = 8;

export const SCHEMA1_MEDIA_TYPES = ['application/vnd.docker.distribution.manifest.v1+prettyjws', 'application/vnd.docker.distribution.manifest.v1+json'];

/** Everything getManifest accepts; schema 1 is asked for too, so that it can be refused with a clear message. */
export const MANIFEST_ACCEPT = [
  MediaType.OciManifest,
  MediaType.OciIndex,
  MediaType.DockerManifest,
  MediaType.DockerManifestList,
  ...SCHEMA1_MEDIA_TYPES,
].join(', ');

/** Content types that say nothing about which manifest format a document is. */
export const GENERIC_TYPES = ['application/json', 'text/plain', 'application/octet-stream'];

export type Method = 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';
export type Response = Dispatcher.ResponseData;
export type RequestBody = Buffer | Readable | undefined;

/** One HTTP exchange as the client sees it: the auth layer may send it more than once. */
export interface Call {
  method: Method;
  /** A path ("/v2/...", relative to the registry) or an absolute URL (upload locations, redirects). */
  target: string;
  headers?: Record<string, string>;
  /** Called for every send, so that a body can be sent again after a 401 or on another scheme. */
  body?: () => RequestBody;
  /** Token scopes ("repository:team/app:pull"); empty for /v2/. */
  scopes: string[];
  /** Subject of error messages, e.g. "127.0.0.1:5000/team/app:1.2". */
  what: string;
  /** Subject of UNAUTHORIZED messages: "<registry>/<repository>" or "<registry>". */
  authWhat: string;
}

/** A transport failure with the host it happened on (the registry, its token server, or blob storage). */
export class NetworkFailure extends Error {
  readonly host: string;
  constructor(host: string, cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
    this.name = 'NetworkFailure';
    // The cause stays attached: classifyNetworkError finds the transport error's code through it.
    this.host = host;
  }
}

/** Tags cannot contain ':', so anything shaped algorithm:encoded is a digest. */
export function isDigestRef(reference: string): boolean {
  return /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/.test(reference);
}

/** Hashes with the digest's own algorithm; undefined when node cannot (then it is not verified). */
export function digestWith(algorithm: string, bytes: Buffer): string | undefined {
  if (algorithm !== 'sha256' && algorithm !== 'sha512') return undefined;
  return `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
}

export function headerOf(res: Response, name: string): string | undefined {
  const value = res.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

export function headerValues(res: Response, name: string): string[] {
  const value = res.headers[name];
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

/** host[:port] equality where the default ports (which URL.host drops) do not count. */
export function sameHost(a: string, b: string): boolean {
  const strip = (h: string): string => h.toLowerCase().replace(/:(443|80)$/, '');
  return strip(a) === strip(b);
}

export function isAbsolute(target: string): boolean {
  return /^https?:\/\//i.test(target);
}

/** A URL fit for logs: no query (upload state, storage signatures) and no userinfo. */
export function loggable(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}`;
}

/** Appends a query parameter without re-encoding the existing query (upload state may be signed). */
export function withQuery(url: string, name: string, value: string): string {
  const hash = url.indexOf('#');
  const base = hash === -1 ? url : url.slice(0, hash);
  const sep = base.includes('?') ? (base.endsWith('?') || base.endsWith('&') ? '' : '&') : '?';
  return `${base}${sep}${name}=${encodeURIComponent(value)}`;
}

export async function readLimited(body: Readable, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > limit) {
      // Leaving the loop destroys the stream: nothing more is read or buffered.
      return undefined;
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** "manifest unknown (MANIFEST_UNKNOWN)" from a registry's JSON error body, or from a token server's. */
export function errorDetail(body: Buffer | undefined): string | undefined {
  if (!body || body.length === 0) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
  if (!json || typeof json !== 'object') return undefined;
  const doc = json as { errors?: unknown; details?: unknown; error?: unknown; error_description?: unknown };
  if (Array.isArray(doc.errors) && doc.errors.length > 0) {
    const parts = doc.errors.map((e: unknown) => {
      const { code, message } = (e ?? {}) as { code?: unknown; message?: unknown };
      const c = typeof code === 'string' ? code : undefined;
      const m = typeof message === 'string' && message ? message : c?.toLowerCase().replace(/_/g, ' ');
      return c ? `${m} (${c})` : (m ?? 'unknown error');
    });
    return parts.join('; ');
  }
  if (typeof doc.details === 'string') return doc.details;
  if (typeof doc.error === 'string') return typeof doc.error_description === 'string' ? `${doc.error}: ${doc.error_description}` : doc.error;
  return undefined;
}

export function statusLine(status: number): string {
  return `HTTP ${status} ${STATUS_CODES[status] ?? ''}`.trim();
}

export function mediaTypeOf(res: Response, bytes: Buffer): string {
  const header = headerOf(res, 'content-type')?.split(';')[0]?.trim();
  if (header && !GENERIC_TYPES.includes(header)) return header;
  // Some registries (and static file servers) send generic types: the document says what it is.
  try {
    const doc = JSON.parse(bytes.toString('utf8')) as { mediaType?: unknown; schemaVersion?: unknown; manifests?: unknown; signatures?: unknown };
    if (typeof doc.mediaType === 'string') return doc.mediaType;
    if (doc.schemaVersion === 1) return SCHEMA1_MEDIA_TYPES[0]!;
    if (Array.isArray(doc.manifests)) return MediaType.OciIndex;
  } catch {
    // Not JSON: fall through to the header or the default.
  }
  return header || MediaType.OciManifest;
}
