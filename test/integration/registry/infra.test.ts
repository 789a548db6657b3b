// Checks the registry test infrastructure itself (test/helpers/registry*.ts) against the real
// docker-registry with an independent client, skopeo: plain HTTP, TLS with a generated CA, htpasswd
// and token auth, and the fault-injecting proxy. If these pass, a failing tsbuild registry test is
// about tsbuild, not about its fixtures. Nothing is skipped: a missing tool fails the suite.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { access, constants, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRegistry, startRegistryProxy, TEST_USERNAME, TOKEN_SERVICE, type RegistryProxy, type TestRegistry } from '../../helpers/registry.js';

const TOOLS = ['docker-registry', 'skopeo', 'htpasswd', 'openssl'];

let work: string;
let layout: string;
const registries: TestRegistry[] = [];
const proxies: RegistryProxy[] = [];

async function registry(options?: Parameters<typeof startRegistry>[0]): Promise<TestRegistry> {
  const r = await startRegistry(options);
  registries.push(r);
  return r;
}

async function proxyFor(target: TestRegistry): Promise<RegistryProxy> {
  const p = await startRegistryProxy(target);
  proxies.push(p);
  return p;
}

async function onPath(tool: string): Promise<boolean> {
  for (const dir of (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':')) {
    if (await access(path.join(dir, tool), constants.X_OK).then(() => true, () => false)) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// A tiny image written by hand as an OCI layout, so these tests depend on no image builder.

function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** A ustar archive holding one regular file (mtime 0, root-owned), the smallest honest layer. */
function tarWithOneFile(name: string, content: Buffer): Buffer {
  const header = Buffer.alloc(512);
  const field = (value: string, offset: number, length: number): void => {
    header.write(value.slice(0, length), offset, length, 'utf8');
  };
  const octal = (n: number, length: number): string => `${n.toString(8).padStart(length - 1, '0')}\0`;
  field(name, 0, 100);
  field(octal(0o644, 8), 100, 8);
  field(octal(0, 8), 108, 8);
  field(octal(0, 8), 116, 8);
  field(octal(content.length, 12), 124, 12);
  field(octal(0, 12), 136, 12);
  field('        ', 148, 8); // the checksum is computed with its own field as spaces
  field('0', 156, 1);
  field('ustar\0', 257, 6);
  field('00', 263, 2);
  field('root', 265, 32);
  field('root', 297, 32);
  let sum = 0;
  for (const byte of header) sum += byte;
  field(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8);
  const padding = Buffer.alloc((512 - (content.length % 512)) % 512);
  return Buffer.concat([header, content, padding, Buffer.alloc(1024)]);
}

/** Writes an OCI image layout at `dir` with one image tagged `tag`; returns its label value. */
async function writeTinyImage(dir: string, tag: string, marker: string): Promise<void> {
  const blobs = path.join(dir, 'blobs', 'sha256');
  await mkdir(blobs, { recursive: true });
  const put = async (data: Buffer | string): Promise<string> => {
    const digest = sha256(data);
    await writeFile(path.join(blobs, digest.slice('sha256:'.length)), data);
    return digest;
  };
  const layer = tarWithOneFile('hello.txt', Buffer.from(`${marker}\n`));
  const config = JSON.stringify({
    architecture: 'amd64',
    os: 'linux',
    config: { Labels: { 'tsbuild.test': marker }, Cmd: ['/hello.txt'] },
    rootfs: { type: 'layers', diff_ids: [sha256(layer)] },
    history: [{ created_by: 'infra.test.ts' }],
  });
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: await put(config), size: Buffer.byteLength(config) },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: await put(layer), size: layer.length }],
  });
  const manifestDigest = await put(manifest);
  await writeFile(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFile(
    path.join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: manifestDigest, size: Buffer.byteLength(manifest), annotations: { 'org.opencontainers.image.ref.name': tag } }],
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// skopeo, isolated from the machine's credentials, registries.conf and signature policy.

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function skopeo(args: readonly string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      'skopeo',
      ['--insecure-policy', ...args],
      {
        env: {
          PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
          HOME: work,
          XDG_RUNTIME_DIR: work,
          REGISTRY_AUTH_FILE: path.join(work, 'auth.json'),
          CONTAINERS_REGISTRIES_CONF: path.join(work, 'registries.conf'),
        },
        timeout: 60_000,
      },
      (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr }),
    );
  });
}

async function ok(args: readonly string[]): Promise<Run> {
  const run = await skopeo(args);
  if (run.code !== 0) throw new Error(`skopeo ${args.join(' ')} exited ${run.code}\n${run.stderr}`);
  return run;
}

interface Access {
  tlsVerify: boolean;
  certDir?: string;
  creds?: string;
}

function destFlags(a: Access): string[] {
  return [`--dest-tls-verify=${a.tlsVerify}`, ...(a.certDir ? [`--dest-cert-dir=${a.certDir}`] : []), ...(a.creds ? [`--dest-creds=${a.creds}`] : [])];
}

function srcFlags(a: Access): string[] {
  return [`--tls-verify=${a.tlsVerify}`, ...(a.certDir ? [`--cert-dir=${a.certDir}`] : []), ...(a.creds ? [`--creds=${a.creds}`] : [])];
}

function push(ref: string, a: Access): Promise<Run> {
  return skopeo(['copy', '--retry-times=0', ...destFlags(a), `oci:${layout}:v1`, `docker://${ref}`]);
}

function inspect(ref: string, a: Access, raw = false): Promise<Run> {
  return skopeo(['inspect', '--retry-times=0', ...(raw ? ['--raw'] : []), ...srcFlags(a), `docker://${ref}`]);
}

/** Pushes the tiny image and reads it back: the label proves the config made the round trip. */
async function pushAndInspect(ref: string, a: Access): Promise<void> {
  const pushed = await push(ref, a);
  expect(pushed.stderr, pushed.stderr).not.toMatch(/level=(error|fatal)/);
  expect(pushed.code, pushed.stderr).toBe(0);
  const info = JSON.parse((await ok(['inspect', ...srcFlags(a), `docker://${ref}`])).stdout) as { Labels: Record<string, string>; Layers: string[]; Architecture: string };
  expect(info.Labels['tsbuild.test']).toBe('infra');
  expect(info.Layers).toHaveLength(1);
  expect(info.Architecture).toBe('amd64');
}

/** The sum of the blob sizes a manifest names: exactly what a first push must upload. */
async function blobBytes(ref: string, a: Access): Promise<{ total: number; layer: string }> {
  const manifest = JSON.parse((await ok(['inspect', '--raw', ...srcFlags(a), `docker://${ref}`])).stdout) as { config: { size: number }; layers: Array<{ size: number; digest: string }> };
  const layer = manifest.layers[0];
  if (!layer) throw new Error('manifest without layers');
  return { total: manifest.config.size + manifest.layers.reduce((n, l) => n + l.size, 0), layer: layer.digest };
}

function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer; error?: string }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const request = http.get(url, { headers, agent: false }, (res) => {
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', (e) => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), error: e.message }));
    });
    request.on('error', (e) => resolve({ status: 0, headers: {}, body: Buffer.concat(chunks), error: e.message }));
  });
}

function connects(host: string): Promise<boolean> {
  const [hostname, port] = host.split(':');
  return new Promise((resolve) => {
    const socket = net.connect(Number(port), hostname ?? '127.0.0.1', () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

beforeAll(async () => {
  const missing: string[] = [];
  for (const tool of TOOLS) if (!(await onPath(tool))) missing.push(tool);
  if (missing.length > 0) {
    throw new Error(`registry tests need ${missing.join(', ')} (Debian packages docker-registry, skopeo, apache2-utils, openssl); they are not skipped`);
  }
  work = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-registry-infra-'));
  await writeFile(path.join(work, 'registries.conf'), 'unqualified-search-registries = []\n');
  layout = path.join(work, 'layout');
  await writeTinyImage(layout, 'v1', 'infra');
});

afterAll(async () => {
  // allSettled: one failed stop must not leave the other registries running.
  await Promise.allSettled(proxies.map((p) => p.stop()));
  await Promise.allSettled(registries.map((r) => r.stop()));
  if (work) await rm(work, { recursive: true, force: true });
});

describe('test registries', () => {
  it('a plain HTTP registry takes a push from skopeo and serves it back from its data dir', async () => {
    const r = await registry();
    expect(r.host).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(r.url).toBe(`http://${r.host}`);
    expect(r.tls).toBe(false);
    expect(r.username).toBeUndefined();
    await pushAndInspect(`${r.host}/infra/plain:v1`, { tlsVerify: false });
    expect(await readdir(path.join(r.dataDir, 'docker', 'registry', 'v2', 'repositories', 'infra'))).toEqual(['plain']);
    // The access log lists requests: tests may rely on it to see what a client did.
    expect(r.logs()).toMatch(/"PUT \/v2\/infra\/plain\/manifests\/v1 HTTP\/1\.1" 201/);
  });

  it('a TLS registry is trusted through the CA in certsDir and refused without it', async () => {
    const r = await registry({ tls: true });
    expect(r.url).toBe(`https://${r.host}`);
    expect(r.tls).toBe(true);
    const hostCerts = path.join(r.certsDir!, r.host);
    expect(r.caFile).toBe(path.join(hostCerts, 'ca.crt'));
    expect((await readFile(r.caFile!, 'utf8')).startsWith('-----BEGIN CERTIFICATE-----')).toBe(true);

    const untrusted = await push(`${r.host}/infra/tls:v1`, { tlsVerify: true });
    expect(untrusted.code).not.toBe(0);
    expect(untrusted.stderr).toMatch(/x509|certificate/i);
    await pushAndInspect(`${r.host}/infra/tls:v1`, { tlsVerify: true, certDir: hostCerts });
  });

  it('an htpasswd registry accepts the generated credentials and refuses a wrong password', async () => {
    const r = await registry({ auth: 'htpasswd' });
    expect(r.username).toBe(TEST_USERNAME);
    expect(r.password).toMatch(/^[0-9a-f]{24}$/);
    const ref = `${r.host}/infra/basic:v1`;

    const anonymous = await push(ref, { tlsVerify: false });
    expect(anonymous.code).not.toBe(0);
    expect(anonymous.stderr).toMatch(/unauthorized|authentication required/i);
    await pushAndInspect(ref, { tlsVerify: false, creds: `${r.username}:${r.password}` });
    const wrong = await inspect(ref, { tlsVerify: false, creds: `${r.username}:not-${r.password}` });
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toMatch(/unauthorized|authentication required/i);
  });

  it('a token registry grants the requested scopes to valid credentials only, and logs every token request', async () => {
    const r = await registry({ auth: 'token' });
    const ref = `${r.host}/infra/token:v1`;
    await pushAndInspect(ref, { tlsVerify: false, creds: `${r.username}:${r.password}` });
    const granted = r.tokenRequests!();
    expect(granted.length).toBeGreaterThan(0);
    // A push asks for pull and push on the repository; inspect for pull.
    expect(granted).toContainEqual({ scope: ['repository:infra/token:pull,push'], service: TOKEN_SERVICE, account: TEST_USERNAME, authorized: true });
    expect(granted).toContainEqual({ scope: ['repository:infra/token:pull'], service: TOKEN_SERVICE, account: TEST_USERNAME, authorized: true });
    expect(granted.every((t) => t.authorized)).toBe(true);

    const before = granted.length;
    const wrong = await inspect(ref, { tlsVerify: false, creds: `${r.username}:not-${r.password}` });
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toMatch(/unauthorized|invalid username\/password|authentication required/i);
    expect(r.tokenRequests!().slice(before)).toContainEqual(expect.objectContaining({ account: TEST_USERNAME, authorized: false }));

    // Anonymous clients get a token without access, so the registry refuses them with 401.
    const afterWrong = r.tokenRequests!().length;
    const anonymous = await inspect(ref, { tlsVerify: false });
    expect(anonymous.code).not.toBe(0);
    expect(anonymous.stderr).toMatch(/unauthorized|authentication required|insufficient/i);
    const anon = r.tokenRequests!().slice(afterWrong);
    expect(anon.length).toBeGreaterThan(0);
    expect(anon.every((t) => t.account === undefined && !t.authorized)).toBe(true);
  });

  it('stop() kills the registry and its token server and removes every temp dir', async () => {
    const r = await startRegistry({ auth: 'token' });
    const root = path.dirname(r.dataDir);
    const challenge = (await get(`${r.url}/v2/`)).headers['www-authenticate'] ?? '';
    const tokenHost = /realm="http:\/\/(127\.0\.0\.1:\d+)\/token"/.exec(challenge)?.[1];
    expect(tokenHost, challenge).toBeDefined();
    expect(await connects(r.host)).toBe(true);
    expect(await connects(tokenHost!)).toBe(true);
    await r.stop();
    await r.stop(); // idempotent: an afterAll may stop it again
    expect(await connects(r.host)).toBe(false);
    expect(await connects(tokenHost!)).toBe(false);
    await expect(stat(root)).rejects.toThrow(/ENOENT/);
  });
});

describe('registry proxy', () => {
  let target: TestRegistry;
  let proxy: RegistryProxy;
  let layerDigest: string;
  const plain: Access = { tlsVerify: false };

  beforeAll(async () => {
    target = await registry();
    proxy = await proxyFor(target);
  });

  it('forwards a push, keeps uploads on the proxy through rewritten Locations, and counts the uploaded bytes', async () => {
    expect(proxy.url).toBe(`http://${proxy.host}`);
    const ref = `${proxy.host}/infra/proxied:v1`;
    await pushAndInspect(ref, plain);
    const { total, layer } = await blobBytes(`${target.host}/infra/proxied:v1`, plain);
    layerDigest = layer;
    const { requests, uploadedBytes } = proxy.stats();
    // Both blobs went through the proxy exactly once: no byte of an upload bypassed it.
    expect(uploadedBytes).toBe(total);
    expect(requests).toContainEqual(expect.objectContaining({ method: 'POST', path: '/v2/infra/proxied/blobs/uploads/', status: 202 }));
    expect(requests.filter((q) => q.method === 'PUT' && /^\/v2\/infra\/proxied\/blobs\/uploads\/[^/]+$/.test(q.path) && q.status === 201)).toHaveLength(2);
    expect(requests).toContainEqual(expect.objectContaining({ method: 'PUT', path: '/v2/infra/proxied/manifests/v1', status: 201 }));

    proxy.reset();
    expect(proxy.stats()).toEqual({ requests: [], uploadedBytes: 0 });
  });

  it('a rule answering 500 once shows in the request log, and the next request goes through', async () => {
    proxy.reset();
    proxy.setRules([{ method: 'GET', path: /\/manifests\//, action: { kind: 'status', status: 500 } }]);
    const first = await inspect(`${proxy.host}/infra/proxied:v1`, plain);
    const failed = proxy.stats().requests.filter((q) => q.status === 500);
    expect(failed).toEqual([expect.objectContaining({ method: 'GET', path: '/v2/infra/proxied/manifests/v1', fault: 'status' })]);
    if (first.code !== 0) expect(first.stderr).toMatch(/500|internal server error|unknown/i);
    const second = await inspect(`${proxy.host}/infra/proxied:v1`, plain);
    expect(second.code, second.stderr).toBe(0);
    expect(proxy.stats().requests.filter((q) => q.status === 500)).toHaveLength(1);
    proxy.setRules([]);
  });

  it('rules cut off, corrupt, delay or replace only matching responses, `times` times', async () => {
    const blobUrl = `${proxy.url}/v2/infra/proxied/blobs/${layerDigest}`;
    const clean = await get(blobUrl);
    expect(clean.status).toBe(200);
    expect(sha256(clean.body)).toBe(layerDigest);
    const size = clean.body.length;
    expect(size).toBeGreaterThan(40);
    proxy.reset();

    proxy.setRules([
      { method: 'HEAD', path: /\/blobs\//, action: { kind: 'status', status: 404 }, times: 5 }, // other method: never applies
      { method: 'GET', path: /\/blobs\/sha256:/, action: { kind: 'drop-after', bytes: 20 } },
    ]);
    const dropped = await get(blobUrl);
    expect(dropped.body.length).toBe(20);
    // The client was promised `size` bytes and saw the connection end after 20: an error, not a short body.
    expect(dropped.error).toMatch(/aborted|ECONNRESET|socket hang up/i);

    proxy.setRules([{ path: /\/blobs\/sha256:/, action: { kind: 'corrupt-byte', offset: 10 } }]);
    const corrupt = await get(blobUrl);
    expect(corrupt.status).toBe(200);
    expect(corrupt.body.length).toBe(size);
    expect(corrupt.body[10]).toBe(clean.body[10]! ^ 0xff);
    expect(sha256(corrupt.body)).not.toBe(layerDigest);
    expect(sha256((await get(blobUrl)).body)).toBe(layerDigest); // times defaults to 1

    proxy.setRules([{ path: /\/blobs\//, action: { kind: 'delay', ms: 300 } }]);
    const started = Date.now();
    expect(sha256((await get(blobUrl)).body)).toBe(layerDigest);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);

    proxy.setRules([{ method: 'GET', path: /\/blobs\//, action: { kind: 'status', status: 429, headers: { 'Retry-After': '0' } }, times: 2 }]);
    const limited = [await get(blobUrl, { range: 'bytes=10-' }), await get(blobUrl), await get(blobUrl, { range: 'bytes=10-' })];
    expect(limited.map((l) => l.status)).toEqual([429, 429, 206]);
    expect(limited[0]!.headers['retry-after']).toBe('0');
    expect(limited[2]!.body.equals(clean.body.subarray(10))).toBe(true);

    const log = proxy.stats().requests;
    expect(log.map((q) => [q.status, q.fault])).toEqual([
      [200, 'drop-after'],
      [200, 'corrupt-byte'],
      [200, undefined],
      [200, 'delay'],
      [429, 'status'],
      [429, 'status'],
      [206, undefined],
    ]);
    expect(log[4]!.rangeHeader).toBe('bytes=10-');
    expect(log[5]!.rangeHeader).toBeUndefined();
    proxy.setRules([]);
  });

  it('carries TLS and token auth: credentials and challenges pass through to an https registry', async () => {
    const secure = await registry({ tls: true, auth: 'token' });
    const p = await proxyFor(secure);
    const creds = `${secure.username}:${secure.password}`;
    await pushAndInspect(`${p.host}/infra/secure:v1`, { tlsVerify: false, creds });
    const { requests, uploadedBytes } = p.stats();
    // The registry's 401 challenges reached skopeo through the proxy, and its Bearer retries went back.
    expect(requests.some((q) => q.status === 401)).toBe(true);
    expect(requests).toContainEqual(expect.objectContaining({ method: 'PUT', path: '/v2/infra/secure/manifests/v1', status: 201 }));
    const { total } = await blobBytes(`${secure.host}/infra/secure:v1`, { tlsVerify: true, certDir: path.dirname(secure.caFile!), creds });
    expect(uploadedBytes).toBe(total);
    expect(secure.tokenRequests!()).toContainEqual({ scope: ['repository:infra/secure:pull,push'], service: TOKEN_SERVICE, account: TEST_USERNAME, authorized: true });
  });
});
