// The registry client: one registry host spoken to over the OCI distribution API with undici. It
// owns the connection pool (one Agent per client), the scheme decision (HTTPS, or plain HTTP for an
// insecure registry that does not speak TLS), authentication (anonymous first, then Basic or Bearer
// tokens per repository scope), retries, and the mapping of registry answers to TsbuildErrors.
// Every response body is consumed, dumped or handed to the caller; secrets never reach a log line
// or an error message.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { Agent, request } from './undici.js';
import { TsbuildError, type ErrorCode } from '../errors.js';
import { parseChallenges, TokenCache } from './auth-challenge.js';
import { classifyNetworkError, isRetryableStatus, parseRetryAfter, RetryableError, withRetries } from './retry.js';
import { forwardProgress } from './progress.js';
import { DEFAULT_CERTS_DIRS, loadTlsMaterial, tlsConnectOptions } from './tls.js';
import type { ManifestResponse, RegistryClient, RegistryClientOptions } from './types.js';
import {
  Call,
  CONNECTIONS_PER_ORIGIN,
  digestWith,
  errorDetail,
  GENERIC_TYPES,
  headerOf,
  headerValues,
  isAbsolute,
  isDigestRef,
  loggable,
  MANIFEST_ACCEPT,
  MAX_ERROR_BODY_BYTES,
  MAX_REDIRECTS,
  MAX_TOKEN_BODY_BYTES,
  mediaTypeOf,
  Method,
  NetworkFailure,
  readLimited,
  Response,
  sameHost,
  SCHEMA1_MEDIA_TYPES,
  statusLine,
  withQuery,
} from './client-http.js';

/** A RegistryClient that owns a connection pool: close it when done (or `await using`). */
export interface ClosableRegistryClient extends RegistryClient {
  /** Closes the pool after in-flight requests finish; later calls fail. Unconsumed getBlob streams keep it open. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

// undici parses HTTP with llhttp compiled to WebAssembly. V8 compiles it quickly (Liftoff) and then
// again, optimised, on a background thread, and Node waits for that compile before the process may
// exit: measured at 0.1-0.3 s added to every push or pull on the 2-core test machine, far more than
// the optimised parser could ever save on a registry's few requests. Set before the first
// connection compiles the module; it only concerns WebAssembly, which nothing else here uses.
// Set when a client is made, not when this module loads: flags are not part of the start-up snapshot.
let liftoffOnly = false;

export function createRegistryClient(options: RegistryClientOptions): ClosableRegistryClient {
  if (!liftoffOnly) {
    setFlagsFromString('--liftoff-only');
    liftoffOnly = true;
  }
  const registry = options.registry;
  // Docker Hub's API does not live at docker.io itself (containers/image makes the same substitution).
  const named = options.settings.location || registry;
  const host = named === 'docker.io' ? 'registry-1.docker.io' : named;
  const insecure = options.settings.insecure;
  const credentials = options.credentials;
  const signal = options.signal;
  const attempts = Math.max(1, Math.floor(options.retries ?? 5));
  const log = options.logger.child({ component: 'registry-client', registry });
  const basicHeader = credentials ? `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}` : undefined;

  /** Everything that must never appear in an error message; tokens are added as they arrive. */
  const secrets = new Set<string>();
  if (credentials?.password) secrets.add(credentials.password);
  if (basicHeader) secrets.add(basicHeader.slice('Basic '.length));

  // undefined = not decided yet (insecure registries only): the first request that gets an answer decides.
  let scheme: 'https' | 'http' | undefined = insecure ? undefined : 'https';
  let authMode: { kind: 'none' } | { kind: 'basic' } | { kind: 'bearer'; realm: string; service?: string } = { kind: 'none' };
  const tokens = new TokenCache();
  const tokenFetches = new Map<string, Promise<string>>();
  let agentPromise: Promise<Agent> | undefined;
  let closed = false;

  function redact(text: string): string {
    let out = text;
    for (const secret of secrets) {
      if (secret.length >= 3) out = out.split(secret).join('[redacted]');
    }
    return out;
  }

  function fail(code: ErrorCode, message: string, extra: { hint?: string; cause?: unknown } = {}): TsbuildError {
    return new TsbuildError(code, redact(message), { hint: extra.hint === undefined ? undefined : redact(extra.hint), cause: extra.cause });
  }

  function unauthorized(authWhat: string, detail: string | undefined, status = 401): TsbuildError {
    return fail('UNAUTHORIZED', `${authWhat}: unauthorized: ${detail ?? statusLine(status)}`, {
      hint: credentials ? 'check the credentials (tsbuild login)' : 'log in first (tsbuild login) or pass --creds',
    });
  }

  async function agent(): Promise<Agent> {
    if (closed) throw new TsbuildError('INTERNAL', `registry client for ${registry} is closed`);
    agentPromise ??= (async () => {
      const tls = await loadTlsMaterial(options.certsDirs ?? DEFAULT_CERTS_DIRS, [...new Set([named, host, registry])], process.env, !insecure);
      if (tls.files.length > 0) log.debug({ files: tls.files }, 'registry TLS certificates');
      return new Agent({
        connections: CONNECTIONS_PER_ORIGIN,
        keepAliveTimeout: 30_000,
        connect: {
          timeout: 30_000,
          rejectUnauthorized: !insecure,
          ...tlsConnectOptions(tls),
        },
      });
    })();
    return agentPromise;
  }

  function base(): string {
    return `${scheme ?? 'https'}://${host}`;
  }

  function resolve(target: string, from?: string): string {
    return new URL(target, from ?? base()).href;
  }

  function isRegistryUrl(url: URL): boolean {
    return sameHost(url.host, host);
  }

  /** One request on the wire; transport failures become NetworkFailure naming the host. */
  async function sendTo(url: URL, call: Call, authorization: string | undefined): Promise<Response> {
    const dispatcher = await agent();
    const headers: Record<string, string> = { ...call.headers };
    if (authorization) headers.authorization = authorization;
    const body = call.body?.();
    try {
      const res = await request(url, { method: call.method, headers, body, dispatcher, signal });
      log.debug({ method: call.method, url: loggable(url), status: res.statusCode }, 'registry request');
      return res;
    } catch (err) {
      if (signal?.aborted) throw err;
      const info = classifyNetworkError(err);
      log.debug({ method: call.method, url: loggable(url), error: info?.reason ?? (err instanceof Error ? err.message : String(err)) }, 'registry request failed');
      throw info ? new NetworkFailure(url.host, err) : err;
    } finally {
      // A body the server did not read (early answer, failed connect) still holds a file open.
      if (body instanceof Readable && !body.readableEnded) body.destroy();
    }
  }

  /** Sends to the registry, deciding HTTPS or HTTP for an insecure registry on the first answer. */
  async function send(target: string, call: Call, authorization: string | undefined): Promise<Response> {
    if (isAbsolute(target) || scheme !== undefined) return sendTo(new URL(resolve(target)), call, authorization);
    try {
      const res = await sendTo(new URL(target, `https://${host}`), call, authorization);
      scheme ??= 'https';
      return res;
    } catch (err) {
      if (!(err instanceof NetworkFailure)) throw err;
      // podman's rule for insecure registries: when the TLS handshake fails (the server speaks plain
      // HTTP) or TLS is refused, try plain HTTP. Not on resets or timeouts: a TLS registry having a
      // bad moment must not be switched to HTTP for the rest of the client's life.
      const info = classifyNetworkError(err.cause);
      if (!info?.tls && info?.code !== 'ECONNREFUSED') throw err;
      let res: Response;
      try {
        res = await sendTo(new URL(target, `http://${host}`), call, authorization);
      } catch (httpErr) {
        if (signal?.aborted) throw httpErr;
        // Neither works: the HTTPS failure is the one worth reporting.
        throw err;
      }
      if (scheme === undefined) {
        scheme = 'http';
        log.debug({ reason: info?.reason }, 'insecure registry: using plain HTTP');
      }
      return res;
    }
  }

  async function readErrorDetail(res: Response): Promise<string | undefined> {
    try {
      return errorDetail(await readLimited(res.body, MAX_ERROR_BODY_BYTES));
    } catch {
      // The body of an error is only decoration; a broken one must not hide the status.
      return undefined;
    }
  }

  function scopesKey(realm: string, service: string | undefined, scopes: readonly string[]): string {
    return `${realm} ${service ?? ''} ${[...scopes].sort().join(' ')}`;
  }

  async function fetchToken(realm: string, service: string | undefined, scopes: readonly string[], authWhat: string): Promise<string> {
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw fail('REGISTRY', `${registry}: invalid token realm in the authentication challenge`);
    }
    if (service) url.searchParams.set('service', service);
    for (const scope of scopes) url.searchParams.append('scope', scope);
    if (credentials) url.searchParams.set('account', credentials.username);
    // The token server gets the credentials (when there are any); the registry only ever sees tokens.
    const res = await sendTo(url, { method: 'GET', target: url.href, scopes: [], what: registry, authWhat }, basicHeader);
    if (res.statusCode === 401 || res.statusCode === 403) throw unauthorized(authWhat, await readErrorDetail(res), res.statusCode);
    if (res.statusCode < 200 || res.statusCode > 299) {
      const error = fail('REGISTRY', `${registry}: token server ${url.host} answered ${(await readErrorDetail(res)) ?? statusLine(res.statusCode)}`);
      throw isRetryableStatus(res.statusCode) ? new RetryableError(error, parseRetryAfter(headerOf(res, 'retry-after'))) : error;
    }
    const body = await readLimited(res.body, MAX_TOKEN_BODY_BYTES);
    let doc: { token?: unknown; access_token?: unknown; expires_in?: unknown } = {};
    try {
      doc = body ? (JSON.parse(body.toString('utf8')) as typeof doc) : {};
    } catch {
      // Reported below as "no token".
    }
    const token = typeof doc.token === 'string' && doc.token ? doc.token : typeof doc.access_token === 'string' ? doc.access_token : undefined;
    if (!token) throw fail('REGISTRY', `${registry}: token server ${url.host} returned no token`);
    secrets.add(token);
    tokens.put(scopesKey(realm, service, []), scopes, token, typeof doc.expires_in === 'number' ? doc.expires_in : undefined);
    return token;
  }

  /** A token covering `scopes`: cached, joined with an identical fetch in flight, or fetched. */
  async function bearerToken(realm: string, service: string | undefined, scopes: readonly string[], authWhat: string, fresh: boolean): Promise<string> {
    const cacheKey = scopesKey(realm, service, []);
    if (!fresh) {
      const cached = tokens.get(cacheKey, scopes);
      if (cached) return cached;
    }
    const key = scopesKey(realm, service, scopes);
    let pending = tokenFetches.get(key);
    if (!pending) {
      pending = fetchToken(realm, service, scopes, authWhat).finally(() => tokenFetches.delete(key));
      tokenFetches.set(key, pending);
    }
    return pending;
  }

  async function authorizationFor(call: Call): Promise<string | undefined> {
    if (authMode.kind === 'basic') return basicHeader;
    if (authMode.kind === 'bearer') return `Bearer ${await bearerToken(authMode.realm, authMode.service, call.scopes, call.authWhat, false)}`;
    return undefined;
  }

  /**
   * Sends a call with authentication: anonymous (or with what earlier challenges taught), and on a
   * 401 once more with Basic credentials or a fresh bearer token. Only the registry itself gets
   * credentials; redirect targets and foreign upload locations are sent nothing.
   */
  async function exchange(call: Call): Promise<Response> {
    const toRegistry = !isAbsolute(call.target) || isRegistryUrl(new URL(call.target));
    const sent = toRegistry ? await authorizationFor(call) : undefined;
    const res = await send(call.target, call, sent);
    if (res.statusCode !== 401 || !toRegistry) return res;

    const challenges = parseChallenges(headerValues(res, 'www-authenticate'));
    const detail = await readErrorDetail(res);
    const bearer = challenges.find((c) => c.scheme === 'bearer' && c.params.realm);
    const basic = challenges.find((c) => c.scheme === 'basic');
    let next: string;
    if (bearer) {
      const realm = bearer.params.realm!;
      authMode = { kind: 'bearer', realm, service: bearer.params.service };
      // /v2/ has no scope of its own; the challenge may name one.
      const scopes = call.scopes.length > 0 ? call.scopes : bearer.params.scope ? bearer.params.scope.split(' ') : [];
      if (sent?.startsWith('Bearer ')) tokens.forget(sent.slice('Bearer '.length));
      next = `Bearer ${await bearerToken(realm, bearer.params.service, scopes, call.authWhat, sent?.startsWith('Bearer ') ?? false)}`;
      if (next === sent) throw unauthorized(call.authWhat, detail);
    } else if (basic) {
      if (!basicHeader) {
        throw fail('UNAUTHORIZED', `authentication required for ${registry}`, { hint: 'log in first (tsbuild login) or pass --creds' });
      }
      // The same credentials again would only be refused again.
      if (sent === basicHeader) throw unauthorized(call.authWhat, detail);
      authMode = { kind: 'basic' };
      next = basicHeader;
    } else {
      throw unauthorized(call.authWhat, detail);
    }
    const again = await send(call.target, call, next);
    if (again.statusCode === 401) throw unauthorized(call.authWhat, await readErrorDetail(again));
    return again;
  }

  /** Like exchange, following redirects (blob storage); the final answer is returned whatever its status. */
  async function exchangeFollowing(call: Call): Promise<Response> {
    let res = await exchange(call);
    // Resolved after the first answer: for an insecure registry that answer decided the scheme.
    let current = resolve(call.target);
    for (let hops = 0; [301, 302, 303, 307, 308].includes(res.statusCode); hops++) {
      const location = headerOf(res, 'location');
      await res.body.dump();
      if (!location) throw fail('REGISTRY', `${call.what}: redirect without a Location`);
      if (hops >= MAX_REDIRECTS) throw fail('REGISTRY', `${call.what}: too many redirects`);
      current = resolve(location, current);
      res = await exchange({ ...call, target: current });
    }
    return res;
  }

  /** The error for an unexpected status (the body is consumed); retryable statuses come wrapped. */
  async function statusError(res: Response, call: Call): Promise<Error> {
    const status = res.statusCode;
    const detail = (await readErrorDetail(res)) ?? statusLine(status);
    if (status === 401 || status === 403) return unauthorized(call.authWhat, detail, status);
    if (status === 404) return fail('NOT_FOUND', `${call.what}: ${detail}`);
    // The registry hashed what it got and disagrees with the digest we named.
    const code: ErrorCode = status === 400 && detail.includes('(DIGEST_INVALID)') ? 'DIGEST_MISMATCH' : 'REGISTRY';
    const error = fail(code, `${call.what}: ${detail}`);
    return isRetryableStatus(status) ? new RetryableError(error, parseRetryAfter(headerOf(res, 'retry-after'))) : error;
  }

  /** The error thrown once retrying is over: the registry's answer, or "cannot reach". */
  function finalError(err: unknown): unknown {
    if (err instanceof RetryableError) return err.error;
    const info = classifyNetworkError(err);
    if (info) {
      const where = err instanceof NetworkFailure ? err.host : host;
      const subject = sameHost(where, host) ? registry : `${where} (for ${registry})`;
      return fail('REGISTRY', `cannot reach ${subject}: ${info.reason}`, { hint: info.hint, cause: err });
    }
    return err;
  }

  function retrying<T>(what: string, fn: (attempt: number) => Promise<T>): Promise<T> {
    return withRetries({ attempts, delayMs: options.retryDelayMs, signal, logger: log, what, finalize: finalError }, fn);
  }

  function repoWhat(repository: string, reference?: string): string {
    if (reference === undefined) return `${registry}/${repository}`;
    return isDigestRef(reference) ? `${registry}/${repository}@${reference}` : `${registry}/${repository}:${reference}`;
  }

  const pull = (repository: string): string => `repository:${repository}:pull`;
  const push = (repository: string): string => `repository:${repository}:pull,push`;

  function call(method: Method, target: string, repository: string, what: string, scopes: string[], extra: Partial<Call> = {}): Call {
    return { method, target, scopes, what, authWhat: `${registry}/${repository}`, ...extra };
  }

  async function startUpload(repository: string, what: string, target: string, scopes: string[]): Promise<Response> {
    return exchange(call('POST', target, repository, what, scopes, { headers: { 'content-length': '0' } }));
  }

  async function uploadLocation(res: Response, what: string): Promise<string> {
    const location = headerOf(res, 'location');
    await res.body.dump();
    if (!location) throw fail('REGISTRY', `${what}: the registry did not return an upload location`);
    return resolve(location);
  }

  /** Reads a stream in pieces of exactly `size` bytes (the last may be shorter). */
  async function* pieces(source: Readable, size: number): AsyncGenerator<Buffer> {
    let buffered: Buffer[] = [];
    let length = 0;
    for await (const chunk of source as AsyncIterable<Buffer>) {
      buffered.push(chunk);
      length += chunk.length;
      while (length >= size) {
        const all = Buffer.concat(buffered);
        yield all.subarray(0, size);
        buffered = [all.subarray(size)];
        length -= size;
      }
    }
    if (length > 0) yield Buffer.concat(buffered);
  }

  /**
   * PATCHes `source` to the upload session at `location` in pieces of `chunkSize` (each with its
   * Content-Range), following the session as each answer moves it; returns the bytes sent.
   */
  async function patchPieces(
    repository: string,
    what: string,
    scopes: string[],
    start: string,
    source: Readable,
    chunkSize: number,
    progress: (sent: number) => void,
    moved: (location: string) => void,
  ): Promise<number> {
    let location = start;
    let offset = 0;
    try {
      for await (const piece of pieces(source, chunkSize)) {
        const headers = { 'content-length': String(piece.length), 'content-range': `${offset}-${offset + piece.length - 1}` };
        location = await patchUpload(repository, what, scopes, location, headers, () => piece);
        moved(location);
        offset += piece.length;
        progress(offset);
      }
    } finally {
      source.destroy();
    }
    return offset;
  }

  /**
   * One PATCH of data to the upload session at `location`; returns where the session is now (each
   * answer may move it: the state in the query changes with every chunk).
   */
  async function patchUpload(
    repository: string,
    what: string,
    scopes: string[],
    location: string,
    headers: Record<string, string>,
    body: () => Buffer | Readable,
  ): Promise<string> {
    const patchCall = call('PATCH', location, repository, what, scopes, { headers: { 'content-type': 'application/octet-stream', ...headers }, body });
    const res = await exchange(patchCall);
    if (res.statusCode < 200 || res.statusCode > 299) throw await statusError(res, patchCall);
    const next = headerOf(res, 'location');
    await res.body.dump();
    return next ? resolve(next, location) : location;
  }

  /** Closes an upload session with the digest of what was sent (PUT ?digest=, no body). */
  async function finishUpload(repository: string, what: string, scopes: string[], location: string, digest: string): Promise<void> {
    const putCall = call('PUT', withQuery(location, 'digest', digest), repository, what, scopes, { headers: { 'content-length': '0' } });
    const res = await exchange(putCall);
    if (res.statusCode < 200 || res.statusCode > 299) throw await statusError(res, putCall);
    await res.body.dump();
  }

  /** What a failed upload turns into once retries are over: failures of the caller's stream become IO errors. */
  function uploadFailure(what: string, err: unknown): unknown {
    if (err instanceof TsbuildError || signal?.aborted) return err;
    return fail('IO', `${what}: cannot read the blob to upload: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }

  const client: ClosableRegistryClient = {
    async ping() {
      const c: Call = { method: 'GET', target: '/v2/', scopes: [], what: registry, authWhat: registry };
      await retrying('ping', async () => {
        const res = await exchange(c);
        if (res.statusCode >= 200 && res.statusCode < 300) return res.body.dump();
        throw await statusError(res, c);
      });
    },

    async getManifest(repository, reference): Promise<ManifestResponse> {
      const what = repoWhat(repository, reference);
      const c = call('GET', `/v2/${repository}/manifests/${reference}`, repository, what, [pull(repository)], { headers: { accept: MANIFEST_ACCEPT } });
      const { res, bytes } = await retrying(what, async () => {
        const res = await exchange(c);
        if (res.statusCode < 200 || res.statusCode > 299) throw await statusError(res, c);
        const length = Number(headerOf(res, 'content-length'));
        if (length > MAX_MANIFEST_BYTES) {
          res.body.destroy();
          throw fail('REGISTRY', `${what}: manifest is larger than ${MAX_MANIFEST_BYTES} bytes`);
        }
        const bytes = await readLimited(res.body, MAX_MANIFEST_BYTES);
        if (!bytes) throw fail('REGISTRY', `${what}: manifest is larger than ${MAX_MANIFEST_BYTES} bytes`);
        return { res, bytes };
      });
      const mediaType = mediaTypeOf(res, bytes);
      if (SCHEMA1_MEDIA_TYPES.includes(mediaType)) throw fail('REGISTRY', `${what}: manifest schema 1 is not supported`);

      const header = headerOf(res, 'docker-content-digest')?.trim();
      const computed = digestWith('sha256', bytes)!;
      let digest = computed;
      if (isDigestRef(reference)) {
        const actual = digestWith(reference.slice(0, reference.indexOf(':')), bytes);
        if (actual !== undefined && actual !== reference) {
          throw fail('DIGEST_MISMATCH', `${what}: manifest content has digest ${actual}, not the one asked for`);
        }
        digest = reference;
      }
      if (header && isDigestRef(header)) {
        const actual = digestWith(header.slice(0, header.indexOf(':')), bytes);
        if (actual !== undefined && actual !== header) {
          throw fail('DIGEST_MISMATCH', `${what}: registry says the manifest digest is ${header}, but its content has digest ${actual}`);
        }
        if (!isDigestRef(reference) && actual !== undefined) digest = header;
      }
      return { mediaType, digest, bytes };
    },

    async headManifest(repository, reference) {
      const what = repoWhat(repository, reference);
      const c = call('HEAD', `/v2/${repository}/manifests/${reference}`, repository, what, [pull(repository)], { headers: { accept: MANIFEST_ACCEPT } });
      const found = await retrying(what, async () => {
        const res = await exchange(c);
        if (res.statusCode === 404) {
          await res.body.dump();
          return undefined;
        }
        if (res.statusCode < 200 || res.statusCode > 299) throw await statusError(res, c);
        await res.body.dump();
        return {
          digest: headerOf(res, 'docker-content-digest')?.trim(),
          mediaType: headerOf(res, 'content-type')?.split(';')[0]?.trim(),
          size: Number(headerOf(res, 'content-length') ?? -1),
        };
      });
      if (!found) return undefined;
      if (found.digest && isDigestRef(found.digest) && found.mediaType && !GENERIC_TYPES.includes(found.mediaType)) {
        return { digest: found.digest, mediaType: found.mediaType, size: found.size };
      }
      // A registry that does not say the digest on HEAD: the manifest itself does.
      const manifest = await client.getManifest(repository, reference);
      return { digest: manifest.digest, mediaType: manifest.mediaType, size: manifest.bytes.length };
    },

    async putManifest(repository, reference, bytes, mediaType) {
      const what = repoWhat(repository, reference);
      const c = call('PUT', `/v2/${repository}/manifests/${reference}`, repository, what, [push(repository)], {
        headers: { 'content-type': mediaType, 'content-length': String(bytes.length) },
        body: () => bytes,
      });
      return retrying(what, async () => {
        const res = await exchange(c);
        if (res.statusCode < 200 || res.statusCode > 299) throw await statusError(res, c);
        await res.body.dump();
        const header = headerOf(res, 'docker-content-digest')?.trim();
        return header && isDigestRef(header) ? header : digestWith('sha256', bytes)!;
      });
    },

    async headBlob(repository, digest) {
      const what = repoWhat(repository, digest);
      const c = call('HEAD', `/v2/${repository}/blobs/${digest}`, repository, what, [pull(repository)]);
      return retrying(what, async () => {
        const res = await exchangeFollowing(c);
        await res.body.dump();
        if (res.statusCode === 404) return undefined;
        if (res.statusCode < 200 || res.statusCode > 299) throw await statusError(res, c);
        const length = headerOf(res, 'content-length');
        return length === undefined ? -1 : Number(length);
      });
    },

    async getBlob(repository, digest, offset = 0) {
      const what = repoWhat(repository, digest);
      const headers: Record<string, string> = offset > 0 ? { range: `bytes=${offset}-` } : {};
      const c = call('GET', `/v2/${repository}/blobs/${digest}`, repository, what, [pull(repository)], { headers });
      return retrying(what, async () => {
        const res = await exchangeFollowing(c);
        const length = headerOf(res, 'content-length');
        if (res.statusCode === 206) {
          const range = /^bytes\s+(\d+)-(\d+)\/(\d+|\*)$/.exec(headerOf(res, 'content-range')?.trim() ?? '');
          if (!range) {
            res.body.destroy();
            throw fail('REGISTRY', `${what}: partial content without a valid Content-Range`);
          }
          const start = Number(range[1]);
          const size = range[3] === '*' ? (length === undefined ? -1 : start + Number(length)) : Number(range[3]);
          return { stream: res.body, size, offset: start };
        }
        if (res.statusCode >= 200 && res.statusCode < 300) {
          // The server ignored the Range: the whole blob comes, and the caller must start over.
          return { stream: res.body, size: length === undefined ? -1 : Number(length), offset: 0 };
        }
        throw await statusError(res, c);
      });
    },

    async mountBlob(repository, digest, fromRepository) {
      const what = repoWhat(repository, digest);
      const target = `/v2/${repository}/blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(fromRepository)}`;
      const scopes = [push(repository), pull(fromRepository)];
      const c = call('POST', target, repository, what, scopes);
      return retrying(what, async () => {
        const res = await startUpload(repository, what, target, scopes);
        if (res.statusCode === 201) {
          await res.body.dump();
          return true;
        }
        if (res.statusCode === 202) {
          // A plain upload session instead of a mount: nobody will use it, so it is given back.
          const location = headerOf(res, 'location');
          await res.body.dump();
          if (location) {
            try {
              const del = await exchange(call('DELETE', resolve(location), repository, what, scopes));
              await del.body.dump();
            } catch (err) {
              log.debug({ error: err instanceof Error ? err.message : String(err) }, 'cancelling an unused upload session failed');
            }
          }
          return false;
        }
        throw await statusError(res, c);
      });
    },

    async uploadBlob(repository, digest, size, open, uploadOptions = {}) {
      const what = repoWhat(repository, digest);
      const scopes = [push(repository)];
      const chunkSize = uploadOptions.chunkSize;
      const progress = forwardProgress(uploadOptions.onBytes);
      const streamError = (sent: number): TsbuildError => fail('IO', `${what}: the blob stream gave ${sent} bytes, ${size} were expected`);

      async function upload(): Promise<void> {
        return retrying(what, async () => {
          const postCall = call('POST', `/v2/${repository}/blobs/uploads/`, repository, what, scopes);
          const started = await startUpload(repository, what, postCall.target, scopes);
          if (started.statusCode !== 202) throw await statusError(started, postCall);
          let location = await uploadLocation(started, what);

          if (!chunkSize || chunkSize <= 0) {
            const body = (): Readable => {
              // Counts bytes as undici pulls them, i.e. as they go out; a new stream per send.
              let sent = 0;
              return Readable.from(
                (async function* () {
                  const source = open();
                  try {
                    for await (const chunk of source as AsyncIterable<Buffer>) {
                      yield chunk;
                      sent += chunk.length;
                      progress(sent);
                    }
                  } finally {
                    source.destroy();
                  }
                })(),
                { objectMode: false },
              );
            };
            const headers: Record<string, string> = { 'content-type': 'application/octet-stream' };
            if (size >= 0) headers['content-length'] = String(size);
            const putCall = call('PUT', withQuery(location, 'digest', digest), repository, what, scopes, { headers, body });
            let res: Response;
            try {
              res = await exchange(putCall);
            } catch (err) {
              // undici checks Content-Length against what the stream gave; more attempts would not help.
              if ((err as { code?: unknown }).code === 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH') {
                throw fail('IO', `${what}: the blob stream did not give the ${size} bytes declared`, { cause: err });
              }
              throw err;
            }
            if (res.statusCode < 200 || res.statusCode > 299) throw await statusError(res, putCall);
            await res.body.dump();
            return;
          }

          const offset = await patchPieces(repository, what, scopes, location, open(), chunkSize, progress, (next) => (location = next));
          if (size >= 0 && offset !== size) throw streamError(offset);
          await finishUpload(repository, what, scopes, location, digest);
        });
      }

      try {
        await upload();
      } catch (err) {
        // What is left after retries are failures of the caller's stream (a missing file, say).
        throw uploadFailure(what, err);
      }
    },

    async uploadStream(repository, open, uploadOptions = {}) {
      const what = `${registry}/${repository}`;
      const scopes = [push(repository)];
      const chunkSize = uploadOptions.chunkSize;
      const progress = forwardProgress(uploadOptions.onBytes);
      try {
        return await retrying(what, async () => {
          const postCall = call('POST', `/v2/${repository}/blobs/uploads/`, repository, what, scopes);
          const started = await startUpload(repository, what, postCall.target, scopes);
          if (started.statusCode !== 202) throw await statusError(started, postCall);
          let location = await uploadLocation(started, what);
          // The digest is of the bytes as they are sent; a new stream (a retry, a resend after an
          // auth challenge) starts the hash over.
          let hash = createHash('sha256');
          let size = 0;
          const hashed = async function* (source: Readable): AsyncGenerator<Buffer> {
            hash = createHash('sha256');
            size = 0;
            try {
              for await (const chunk of source as AsyncIterable<Buffer>) {
                hash.update(chunk);
                size += chunk.length;
                yield chunk;
                if (!chunkSize) progress(size);
              }
            } finally {
              source.destroy();
            }
          };
          if (chunkSize && chunkSize > 0) {
            await patchPieces(repository, what, scopes, location, Readable.from(hashed(open())), chunkSize, progress, (next) => (location = next));
          } else {
            // One streamed PATCH (chunked transfer encoding, no Content-Range), as containers/image
            // does when the size is not known in advance; the session is then closed with the digest.
            const body = (): Readable => Readable.from(hashed(open()), { objectMode: false });
            location = await patchUpload(repository, what, scopes, location, {}, body);
          }
          const digest = `sha256:${hash.digest('hex')}`;
          await finishUpload(repository, what, scopes, location, digest);
          return { digest, size };
        });
      } catch (err) {
        throw uploadFailure(what, err);
      }
    },

    async close() {
      if (closed) return;
      closed = true;
      const pending = agentPromise;
      if (pending) await (await pending.catch(() => undefined))?.close();
    },

    [Symbol.asyncDispose]() {
      return client.close();
    },
  };
  return client;
}

