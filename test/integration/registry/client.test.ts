// The registry client against real registries (docker-registry on loopback): plain, TLS, htpasswd
// and token auth, and behind a fault-injecting proxy for retries, dropped connections and corrupt
// bytes. Assertions are on what callers see: returned values, error codes and error text.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TsbuildError } from '../../../src/errors.js';
import { silentLogger } from '../../../src/log.js';
import { MediaType } from '../../../src/oci/types.js';
import { parseChallenges, scopeGrants } from '../../../src/remote/auth-challenge.js';
import { createRegistryClient, type ClosableRegistryClient } from '../../../src/remote/client.js';
import type { RegistryClientOptions } from '../../../src/remote/types.js';
import { freePort, startRegistry, startRegistryProxy, type RegistryProxy, type TestRegistry } from '../../helpers/registry.js';

function blob(size: number): { data: Buffer; digest: string } {
  const data = randomBytes(size);
  return { data, digest: `sha256:${createHash('sha256').update(data).digest('hex')}` };
}

const sha256 = (data: Buffer): string => `sha256:${createHash('sha256').update(data).digest('hex')}`;

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Reads until the stream ends or breaks; returns what arrived and the error, if any. */
async function readUntilError(stream: Readable): Promise<{ data: Buffer; error?: unknown }> {
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    return { data: Buffer.concat(chunks) };
  } catch (error) {
    return { data: Buffer.concat(chunks), error };
  }
}

async function caught(promise: Promise<unknown>): Promise<TsbuildError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(TsbuildError);
    return error as TsbuildError;
  }
  throw new Error('expected a TsbuildError, but the call succeeded');
}

function manifestFor(config: { digest: string; size: number }, layer: { digest: string; size: number }): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config: { mediaType: MediaType.OciConfig, digest: config.digest, size: config.size },
      layers: [{ mediaType: MediaType.OciLayer, digest: layer.digest, size: layer.size }],
    }),
  );
}

const clients: ClosableRegistryClient[] = [];

/** A client for `host`; plain-HTTP registries and the proxy need `insecure` (HTTPS first, then HTTP). */
function client(host: string, options: Partial<RegistryClientOptions> & { insecure?: boolean } = {}): ClosableRegistryClient {
  const { insecure = false, ...rest } = options;
  const c = createRegistryClient({
    registry: host,
    settings: { insecure, blocked: false, location: host },
    logger: silentLogger(),
    certsDirs: [],
    retries: 3,
    ...rest,
  });
  clients.push(c);
  return c;
}

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
});

/** Every error message and hint seen by the auth tests, checked for secrets at the end. */
const seenErrors: TsbuildError[] = [];
/** The real passwords of the auth registries: they must not show up in any error either. */
const knownSecrets: string[] = [];
async function authError(promise: Promise<unknown>): Promise<TsbuildError> {
  const error = await caught(promise);
  seenErrors.push(error);
  return error;
}

describe('registry client on a plain registry', () => {
  let registry: TestRegistry;
  let c: ClosableRegistryClient;
  const layer = blob(300_000);
  const config = blob(1_234);

  beforeAll(async () => {
    registry = await startRegistry();
    c = client(registry.host, { insecure: true });
  });
  afterAll(async () => {
    await registry?.stop();
  });

  it('answers a ping anonymously', async () => {
    await expect(c.ping()).resolves.toBeUndefined();
  });

  it('uploads a blob in one PUT, reporting every byte once, and headBlob finds it', async () => {
    let reported = 0;
    let opened = 0;
    const open = (): Readable => {
      opened++;
      // Several chunks, so that progress is reported as the body goes out, not once at the end.
      return Readable.from([layer.data.subarray(0, 100_000), layer.data.subarray(100_000, 200_000), layer.data.subarray(200_000)]);
    };
    await c.uploadBlob('team/app', layer.digest, layer.data.length, open, { onBytes: (n) => (reported += n) });
    expect(opened).toBe(1);
    expect(reported).toBe(layer.data.length);
    expect(await c.headBlob('team/app', layer.digest)).toBe(layer.data.length);
  });

  it('uploads a blob in chunks', async () => {
    const chunked = blob(250_000);
    let reported = 0;
    await c.uploadBlob('team/app', chunked.digest, chunked.data.length, () => Readable.from([chunked.data]), {
      chunkSize: 64 * 1024,
      onBytes: (n) => (reported += n),
    });
    expect(reported).toBe(chunked.data.length);
    expect(await c.headBlob('team/app', chunked.digest)).toBe(chunked.data.length);
    const back = await c.getBlob('team/app', chunked.digest);
    expect(sha256(await readAll(back.stream))).toBe(chunked.digest);
  });

  it('uploads an empty blob in chunks', async () => {
    const empty = blob(0);
    await c.uploadBlob('team/app', empty.digest, 0, () => Readable.from([]), { chunkSize: 1024 });
    expect(await c.headBlob('team/app', empty.digest)).toBe(0);
  });

  it('uploads a stream of unknown size, whole or in chunks, and returns the digest and size the registry stored', async () => {
    for (const chunkSize of [undefined, 64 * 1024]) {
      const streamed = blob(300_000);
      let reported = 0;
      const open = (): Readable => Readable.from([streamed.data.subarray(0, 123_456), streamed.data.subarray(123_456)]);
      const result = await c.uploadStream('team/app', open, { chunkSize, onBytes: (n) => (reported += n) });
      expect(result).toEqual({ digest: streamed.digest, size: streamed.data.length });
      expect(reported).toBe(streamed.data.length);
      expect(await c.headBlob('team/app', streamed.digest)).toBe(streamed.data.length);
      const back = await c.getBlob('team/app', streamed.digest);
      expect(sha256(await readAll(back.stream))).toBe(streamed.digest);
    }
  });

  it('reports an upload whose bytes do not match its digest as DIGEST_MISMATCH', async () => {
    const claimed = blob(100).digest;
    const error = await caught(c.uploadBlob('team/app', claimed, 100, () => Readable.from([randomBytes(100)])));
    expect(error.code).toBe('DIGEST_MISMATCH');
    expect(error.message).toBe(`${registry.host}/team/app@${claimed}: provided digest did not match uploaded content (DIGEST_INVALID)`);
  });

  it('fails an upload whose stream is shorter than the declared size, without retrying', async () => {
    let opened = 0;
    const data = blob(100);
    const error = await caught(
      c.uploadBlob('team/app', data.digest, 200, () => {
        opened++;
        return Readable.from([data.data]);
      }),
    );
    expect(error.code).toBe('IO');
    expect(opened).toBe(1);
  });

  it('streams a blob back whole, and from an offset with a Range request', async () => {
    const whole = await c.getBlob('team/app', layer.digest);
    expect(whole.offset).toBe(0);
    expect(whole.size).toBe(layer.data.length);
    expect((await readAll(whole.stream)).equals(layer.data)).toBe(true);

    const rest = await c.getBlob('team/app', layer.digest, 123_456);
    expect(rest.offset).toBe(123_456);
    expect(rest.size).toBe(layer.data.length);
    expect((await readAll(rest.stream)).equals(layer.data.subarray(123_456))).toBe(true);
  });

  it('returns undefined from headBlob and headManifest for what does not exist', async () => {
    expect(await c.headBlob('team/app', blob(10).digest)).toBeUndefined();
    expect(await c.headManifest('team/app', 'no-such-tag')).toBeUndefined();
  });

  it('mounts a blob from another repository, and says false when the source lacks it', async () => {
    expect(await c.mountBlob('team/other', layer.digest, 'team/app')).toBe(true);
    expect(await c.headBlob('team/other', layer.digest)).toBe(layer.data.length);
    expect(await c.mountBlob('team/other', blob(10).digest, 'team/app')).toBe(false);
  });

  it('round-trips a manifest through putManifest, getManifest and headManifest', async () => {
    await c.uploadBlob('team/app', config.digest, config.data.length, () => Readable.from([config.data]));
    const bytes = manifestFor({ digest: config.digest, size: config.data.length }, { digest: layer.digest, size: layer.data.length });
    const digest = await c.putManifest('team/app', '1.2', bytes, MediaType.OciManifest);
    expect(digest).toBe(sha256(bytes));

    const byTag = await c.getManifest('team/app', '1.2');
    expect(byTag).toEqual({ mediaType: MediaType.OciManifest, digest, bytes });
    const byDigest = await c.getManifest('team/app', digest);
    expect(byDigest.digest).toBe(digest);
    expect(byDigest.bytes.equals(bytes)).toBe(true);

    expect(await c.headManifest('team/app', '1.2')).toEqual({ digest, mediaType: MediaType.OciManifest, size: bytes.length });
  });

  it('reports a missing manifest as NOT_FOUND with the registry error code', async () => {
    const error = await caught(c.getManifest('team/app', 'nope'));
    expect(error.code).toBe('NOT_FOUND');
    expect(error.message).toBe(`${registry.host}/team/app:nope: manifest unknown (MANIFEST_UNKNOWN)`);
  });

  it('reports a missing blob as NOT_FOUND naming the digest', async () => {
    const missing = blob(5).digest;
    const error = await caught(c.getBlob('team/app', missing));
    expect(error.code).toBe('NOT_FOUND');
    expect(error.message).toContain(`${registry.host}/team/app@${missing}`);
    expect(error.message).toContain('BLOB_UNKNOWN');
  });

  it('refuses a registry that speaks plain HTTP when TLS is required, saying so', async () => {
    const strict = client(registry.host, { insecure: false });
    const error = await caught(strict.ping());
    expect(error.code).toBe('REGISTRY');
    expect(error.message).toContain(`cannot reach ${registry.host}`);
    expect(error.message).toMatch(/plain HTTP/);
  });

  it('falls back to plain HTTP for an insecure registry and keeps using it', async () => {
    const insecure = client(registry.host, { insecure: true });
    await insecure.ping();
    expect(await insecure.headBlob('team/app', layer.digest)).toBe(layer.data.length);
  });
});

describe('registry client with htpasswd auth', () => {
  let registry: TestRegistry;
  const layer = blob(50_000);

  beforeAll(async () => {
    registry = await startRegistry({ auth: 'htpasswd' });
    knownSecrets.push(registry.password!);
  });
  afterAll(async () => {
    await registry?.stop();
  });

  it('refuses without credentials: authentication required', async () => {
    const error = await authError(client(registry.host, { insecure: true }).ping());
    expect(error.code).toBe('UNAUTHORIZED');
    expect(error.message).toBe(`authentication required for ${registry.host}`);
  });

  it('refuses a wrong password with the registry message', async () => {
    const c = client(registry.host, { insecure: true, credentials: { username: registry.username!, password: 'wrong-password-123' } });
    const ping = await authError(c.ping());
    expect(ping.code).toBe('UNAUTHORIZED');
    expect(ping.message).toBe(`${registry.host}: unauthorized: authentication required (UNAUTHORIZED)`);
    const get = await authError(c.getManifest('team/app', 'latest'));
    expect(get.code).toBe('UNAUTHORIZED');
    expect(get.message).toContain(`${registry.host}/team/app: unauthorized:`);
  });

  it('works with the right password', async () => {
    const c = client(registry.host, { insecure: true, credentials: { username: registry.username!, password: registry.password! } });
    await c.ping();
    await c.uploadBlob('team/app', layer.digest, layer.data.length, () => Readable.from([layer.data]));
    expect(await c.headBlob('team/app', layer.digest)).toBe(layer.data.length);
    expect((await readAll((await c.getBlob('team/app', layer.digest)).stream)).equals(layer.data)).toBe(true);
  });
});

describe('registry client with token auth', () => {
  let registry: TestRegistry;
  const layer = blob(40_000);

  beforeAll(async () => {
    registry = await startRegistry({ auth: 'token' });
    knownSecrets.push(registry.password!);
  });
  afterAll(async () => {
    await registry?.stop();
  });

  const tokenScopes = (): string[][] => registry.tokenRequests!().map((r) => r.scope);

  it('fetches one pull token for a repository and reuses it for the next request', async () => {
    const c = client(registry.host, { insecure: true, credentials: { username: registry.username!, password: registry.password! } });
    const before = registry.tokenRequests!().length;
    expect(await c.headBlob('team/app', layer.digest)).toBeUndefined();
    expect(await c.headManifest('team/app', 'latest')).toBeUndefined();
    const requests = registry.tokenRequests!().slice(before);
    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatchObject({ scope: ['repository:team/app:pull'], service: 'tsbuild-test-registry', authorized: true });
  });

  it('asks for pull,push to upload, and that token serves later pulls too', async () => {
    const c = client(registry.host, { insecure: true, credentials: { username: registry.username!, password: registry.password! } });
    const before = registry.tokenRequests!().length;
    await c.uploadBlob('team/app', layer.digest, layer.data.length, () => Readable.from([layer.data]));
    expect(await c.headBlob('team/app', layer.digest)).toBe(layer.data.length);
    expect(tokenScopes().slice(before)).toEqual([['repository:team/app:pull,push']]);
  });

  it('asks for push on the target and pull on the source to mount', async () => {
    const c = client(registry.host, { insecure: true, credentials: { username: registry.username!, password: registry.password! } });
    const before = registry.tokenRequests!().length;
    expect(await c.mountBlob('team/copy', layer.digest, 'team/app')).toBe(true);
    expect(tokenScopes().slice(before)).toEqual([['repository:team/copy:pull,push', 'repository:team/app:pull']]);
  });

  it('refuses anonymous access with the registry message', async () => {
    const error = await authError(client(registry.host, { insecure: true }).getManifest('team/app', 'latest'));
    expect(error.code).toBe('UNAUTHORIZED');
    expect(error.message).toMatch(new RegExp(`^${registry.host}/team/app: unauthorized: .+\\(UNAUTHORIZED\\)$`));
  });

  it('refuses a wrong password with the token server message', async () => {
    const c = client(registry.host, { insecure: true, credentials: { username: registry.username!, password: 'not-the-password-9' } });
    const error = await authError(c.headBlob('team/app', layer.digest));
    expect(error.code).toBe('UNAUTHORIZED');
    expect(error.message).toBe(`${registry.host}/team/app: unauthorized: invalid username or password (UNAUTHORIZED)`);
  });
});

describe('registry client over TLS', () => {
  let registry: TestRegistry;

  beforeAll(async () => {
    registry = await startRegistry({ tls: true });
  });
  afterAll(async () => {
    await registry?.stop();
  });

  it('trusts the registry CA from a certs.d directory', async () => {
    const c = client(registry.host, { certsDirs: [registry.certsDir!] });
    await c.ping();
    const layer = blob(20_000);
    await c.uploadBlob('team/app', layer.digest, layer.data.length, () => Readable.from([layer.data]));
    expect(await c.headBlob('team/app', layer.digest)).toBe(layer.data.length);
  });

  it('trusts a directory holding the CA itself (--cert-dir)', async () => {
    await client(registry.host, { certsDirs: [path.dirname(registry.caFile!)] }).ping();
  });

  it('fails with a clear error without the CA', async () => {
    const empty = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-no-certs-'));
    try {
      const error = await caught(client(registry.host, { certsDirs: [empty] }).ping());
      expect(error.code).toBe('REGISTRY');
      expect(error.message).toMatch(new RegExp(`^cannot reach ${registry.host}: TLS certificate verification failed: `));
      expect(error.hint).toContain('certs.d');
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });

  it('works without the CA when the registry is insecure', async () => {
    await client(registry.host, { insecure: true }).ping();
  });
});

describe('registry client retries and broken connections', () => {
  let registry: TestRegistry;
  let proxy: RegistryProxy;
  let c: ClosableRegistryClient;
  const layer = blob(1_000_000);
  let manifestDigest = '';

  beforeAll(async () => {
    registry = await startRegistry();
    proxy = await startRegistryProxy(registry);
    c = client(proxy.host, { insecure: true, retries: 4 });
    const direct = client(registry.host, { insecure: true });
    const config = blob(100);
    await direct.uploadBlob('team/app', layer.digest, layer.data.length, () => Readable.from([layer.data]));
    await direct.uploadBlob('team/app', config.digest, config.data.length, () => Readable.from([config.data]));
    const bytes = manifestFor({ digest: config.digest, size: config.data.length }, { digest: layer.digest, size: layer.data.length });
    manifestDigest = await direct.putManifest('team/app', 'v1', bytes, MediaType.OciManifest);
  });
  afterAll(async () => {
    await proxy?.stop();
    await registry?.stop();
  });

  const manifestGets = (): number[] =>
    proxy
      .stats()
      .requests.filter((r) => r.method === 'GET' && r.path.includes('/manifests/'))
      .map((r) => r.status);

  it('succeeds after two 500s', async () => {
    proxy.reset();
    proxy.setRules([{ method: 'GET', path: /\/manifests\//, action: { kind: 'status', status: 500 }, times: 2 }]);
    const m = await c.getManifest('team/app', 'v1');
    expect(m.digest).toBe(manifestDigest);
    expect(manifestGets()).toEqual([500, 500, 200]);
  });

  it('retries at once after a 429 with Retry-After: 0', async () => {
    proxy.reset();
    proxy.setRules([{ method: 'GET', path: /\/manifests\//, action: { kind: 'status', status: 429, headers: { 'retry-after': '0' } } }]);
    expect((await c.getManifest('team/app', 'v1')).digest).toBe(manifestDigest);
    expect(manifestGets()).toEqual([429, 200]);
  });

  it('gives up after the attempts with the registry error', async () => {
    proxy.reset();
    proxy.setRules([{ method: 'GET', path: /\/manifests\//, action: { kind: 'status', status: 503 }, times: 10 }]);
    const error = await caught(c.getManifest('team/app', 'v1'));
    expect(error.code).toBe('REGISTRY');
    expect(error.message).toBe(`${proxy.host}/team/app:v1: injected 503 by the test proxy (UNKNOWN)`);
    expect(manifestGets()).toEqual([503, 503, 503, 503]);
    proxy.setRules([]);
  });

  it('does not retry a 404', async () => {
    proxy.reset();
    await caught(c.getManifest('team/app', 'missing'));
    expect(manifestGets()).toEqual([404]);
  });

  it('breaks the blob stream when the connection drops, and resumes from an offset', async () => {
    proxy.reset();
    proxy.setRules([{ method: 'GET', path: /\/blobs\/sha256:/, action: { kind: 'drop-after', bytes: 400_000 } }]);
    const first = await c.getBlob('team/app', layer.digest);
    expect(first.size).toBe(layer.data.length);
    const got = await readUntilError(first.stream);
    expect(got.error).toBeDefined();
    expect(got.data.length).toBeLessThan(layer.data.length);

    const rest = await c.getBlob('team/app', layer.digest, got.data.length);
    expect(rest.offset).toBe(got.data.length);
    const whole = Buffer.concat([got.data, await readAll(rest.stream)]);
    expect(sha256(whole)).toBe(layer.digest);
    expect(proxy.stats().requests.at(-1)?.rangeHeader).toBe(`bytes=${got.data.length}-`);
  });

  it('refuses a manifest whose bytes do not match the digest asked for', async () => {
    proxy.reset();
    proxy.setRules([{ method: 'GET', path: /\/manifests\//, action: { kind: 'corrupt-byte', offset: 10 } }]);
    const error = await caught(c.getManifest('team/app', manifestDigest));
    expect(error.code).toBe('DIGEST_MISMATCH');
    expect(error.message).toContain(`${proxy.host}/team/app@${manifestDigest}`);
  });

  it('refuses a schema 1 manifest', async () => {
    proxy.reset();
    proxy.setRules([
      { method: 'GET', path: /\/manifests\//, action: { kind: 'status', status: 200, headers: { 'content-type': 'application/vnd.docker.distribution.manifest.v1+prettyjws' } } },
    ]);
    const error = await caught(c.getManifest('team/app', 'old'));
    expect(error.code).toBe('REGISTRY');
    expect(error.message).toBe(`${proxy.host}/team/app:old: manifest schema 1 is not supported`);
  });

  it('follows a blob redirect to another host', async () => {
    proxy.reset();
    const storage = `${registry.url}/v2/team/app/blobs/${layer.digest}`;
    proxy.setRules([{ method: 'GET', path: /\/blobs\/sha256:/, action: { kind: 'status', status: 307, headers: { location: storage } } }]);
    const got = await c.getBlob('team/app', layer.digest);
    expect(got.size).toBe(layer.data.length);
    expect(sha256(await readAll(got.stream))).toBe(layer.digest);
    // Only the redirect went through the proxy: the bytes came from the other host.
    expect(proxy.stats().requests.map((r) => `${r.method} ${r.status}`)).toEqual(['GET 307']);
  });

  it('stops waiting when the signal aborts', async () => {
    proxy.reset();
    proxy.setRules([{ method: 'GET', path: /\/manifests\//, action: { kind: 'delay', ms: 3_000 } }]);
    const controller = new AbortController();
    const aborted = client(proxy.host, { insecure: true, signal: controller.signal });
    const started = Date.now();
    setTimeout(() => controller.abort(), 100);
    await expect(aborted.getManifest('team/app', 'v1')).rejects.toMatchObject({ name: 'AbortError' });
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('restarts a chunked upload broken by a server error from a new session', async () => {
    proxy.reset();
    proxy.setRules([{ method: 'PATCH', path: /\/blobs\/uploads\//, action: { kind: 'status', status: 500 } }]);
    const data = blob(200_000);
    let opened = 0;
    let reported = 0;
    await c.uploadBlob(
      'team/app',
      data.digest,
      data.data.length,
      () => {
        opened++;
        return Readable.from([data.data]);
      },
      { chunkSize: 64 * 1024, onBytes: (n) => (reported += n) },
    );
    expect(opened).toBe(2);
    expect(reported).toBe(data.data.length);
    expect(proxy.stats().requests.filter((r) => r.method === 'POST')).toHaveLength(2);
    expect(await c.headBlob('team/app', data.digest)).toBe(data.data.length);
  });

  it('restarts a monolithic upload after a 503 on the PUT, counting progress once', async () => {
    proxy.reset();
    proxy.setRules([{ method: 'PUT', path: /\/blobs\/uploads\//, action: { kind: 'status', status: 503 } }]);
    const data = blob(150_000);
    let opened = 0;
    let reported = 0;
    await c.uploadBlob(
      'team/app',
      data.digest,
      data.data.length,
      () => {
        opened++;
        return Readable.from([data.data]);
      },
      { onBytes: (n) => (reported += n) },
    );
    expect(opened).toBe(2);
    expect(reported).toBe(data.data.length);
    expect(await c.headBlob('team/app', data.digest)).toBe(data.data.length);
  });

  it('names the registry when nothing listens on its port, after retrying', async () => {
    const port = await freePort();
    const host = `127.0.0.1:${port}`;
    const started = Date.now();
    const error = await caught(client(host, { retries: 3 }).headBlob('team/app', layer.digest));
    expect(error.code).toBe('REGISTRY');
    expect(error.message).toBe(`cannot reach ${host}: connect ECONNREFUSED ${host}`);
    // Three attempts with backoff between them: not instant, and far from slow.
    expect(Date.now() - started).toBeGreaterThanOrEqual(100);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('names an unknown host', async () => {
    const error = await caught(client('no-such-host.invalid:5000', { retries: 2 }).ping());
    expect(error.code).toBe('REGISTRY');
    expect(error.message).toMatch(/^cannot reach no-such-host\.invalid:5000: .*ENOTFOUND/);
  });
});

describe('authentication challenges', () => {
  it('parses several challenges with quoted values holding commas', () => {
    expect(
      parseChallenges([
        'Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:a/b:pull,push"',
        'Basic realm="x, y"',
      ]),
    ).toEqual([
      { scheme: 'bearer', params: { realm: 'https://auth.example.com/token', service: 'registry.example.com', scope: 'repository:a/b:pull,push' } },
      { scheme: 'basic', params: { realm: 'x, y' } },
    ]);
    expect(parseChallenges('Basic realm="a\\"b", Bearer realm=https://t/token, error=insufficient_scope')).toEqual([
      { scheme: 'basic', params: { realm: 'a"b' } },
      { scheme: 'bearer', params: { realm: 'https://t/token', error: 'insufficient_scope' } },
    ]);
  });

  it('compares token scopes by single grants', () => {
    expect(scopeGrants(['repository:team/app:pull,push', 'repository:127.0.0.1:5000/x:pull'])).toEqual([
      'repository:127.0.0.1:5000/x:pull',
      'repository:team/app:pull',
      'repository:team/app:push',
    ]);
  });
});

describe('secrets', () => {
  it('never puts a password, credentials or a token into an error', () => {
    expect(seenErrors.length).toBeGreaterThanOrEqual(5);
    for (const error of seenErrors) {
      const text = `${error.message}\n${error.hint ?? ''}`;
      expect(text).not.toMatch(/wrong-password-123|not-the-password-9/);
      for (const secret of knownSecrets) expect(text).not.toContain(secret);
      expect(text).not.toMatch(/Basic |Bearer |eyJ[A-Za-z0-9_-]{8,}/);
      expect(text).not.toContain(Buffer.from('tsbuild:wrong-password-123').toString('base64'));
    }
  });
});
