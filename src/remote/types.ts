// The contracts between the parts of src/remote: image references, registry configuration
// (registries.conf), credentials, and the registry client that speaks the OCI distribution API.
// Pull and push are built on these; the CLI only sees pull/push/login/logout functions.
import type { Readable } from 'node:stream';
import type { Logger } from '../log.js';

/** A fully qualified reference, as containers/image normalises it. */
export interface ImageReference {
  /** Registry host[:port], e.g. "docker.io", "localhost:5000", "127.0.0.1:41235". */
  registry: string;
  /** Repository path, e.g. "library/busybox", "team/app". */
  repository: string;
  tag?: string;
  /** sha256:... when pinned by digest. */
  digest?: string;
}

/** Per-registry settings from registries.conf (v2) and flags. */
export interface RegistrySettings {
  /** Plain HTTP allowed and TLS certificates not verified (`insecure = true`, or --tls-verify=false). */
  insecure: boolean;
  /** Pulls and pushes refused (`blocked = true`). */
  blocked: boolean;
  /** The host[:port] to contact instead, after `[[registry]] location`/`prefix` rewriting (mirrors are not used). */
  location: string;
}

export interface Credentials {
  username: string;
  password: string;
}

/** Where credentials come from, in podman's order: --creds, --authfile, REGISTRY_AUTH_FILE, XDG auth.json, ~/.docker/config.json. */
export interface CredentialSources {
  creds?: string;
  authfile?: string;
}

export interface Progress {
  /** A blob transfer starts (size may be unknown: -1). */
  start(id: string, label: string, size: number): void;
  advance(id: string, bytes: number): void;
  /** e.g. "skipped: already exists", "mounted from team/base", "done". */
  finish(id: string, status: string): void;
  /** A free line, e.g. "Writing manifest to image destination". */
  note(line: string): void;
}

export interface RegistryClientOptions {
  registry: string;
  settings: RegistrySettings;
  credentials?: Credentials;
  logger: Logger;
  /** CA and client certificate directories, default /etc/containers/certs.d and /etc/docker/certs.d. */
  certsDirs?: string[];
  signal?: AbortSignal;
  /** Attempts for connection errors, 408, 429 and 5xx (default 5), with exponential backoff. */
  retries?: number;
  /** A fixed wait between attempts instead of the backoff (a Retry-After still wins). */
  retryDelayMs?: number;
}

export interface ManifestResponse {
  mediaType: string;
  digest: string;
  bytes: Buffer;
}

/**
 * One registry host. Every method handles auth challenges (anonymous, Basic, Bearer tokens fetched
 * per repository scope and refreshed), TLS settings, retries with backoff, and consumes or dumps
 * every response body. Errors are TsbuildError with the reference in the message and the registry's
 * error code (e.g. MANIFEST_UNKNOWN) when it sent one; credentials never appear in errors or logs.
 */
export interface RegistryClient {
  /** GET /v2/ with credentials: for `login` (UNAUTHORIZED on bad credentials). */
  ping(): Promise<void>;
  /** GET a manifest by tag or digest with the full Accept list; verifies the digest when fetched by digest. Bounded size (4 MiB). */
  getManifest(repository: string, reference: string): Promise<ManifestResponse>;
  /** HEAD a manifest; undefined when it does not exist. */
  headManifest(repository: string, reference: string): Promise<{ digest: string; mediaType: string; size: number } | undefined>;
  putManifest(repository: string, reference: string, bytes: Buffer, mediaType: string): Promise<string>;
  /** Size of a blob in the repository; undefined when absent. */
  headBlob(repository: string, digest: string): Promise<number | undefined>;
  /**
   * Streams a blob from `offset` (Range request; resumes are the caller's, via this offset). The
   * stream errors when the connection breaks; the caller retries from the bytes it has.
   */
  getBlob(repository: string, digest: string, offset?: number): Promise<{ stream: Readable; size: number; offset: number }>;
  /** Cross-repository mount; false when the registry answered with a normal upload session instead. */
  mountBlob(repository: string, digest: string, fromRepository: string): Promise<boolean>;
  /** Uploads a blob (POST then PUT, or chunked PATCHes of `chunkSize` when given); `open` may be called again on retry. */
  uploadBlob(repository: string, digest: string, size: number, open: () => Readable, options?: { chunkSize?: number; onBytes?: (n: number) => void }): Promise<void>;
  /**
   * Uploads a blob whose digest and size are known only once it has been sent (a layer compressed
   * on the way): streamed PATCH (or PATCHes of `chunkSize`), then PUT with the digest of what went
   * out. `open` is called again on retry. Resolves to that digest and size.
   */
  uploadStream(repository: string, open: () => Readable, options?: { chunkSize?: number; onBytes?: (n: number) => void }): Promise<{ digest: string; size: number }>;
}
