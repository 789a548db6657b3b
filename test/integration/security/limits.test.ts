// Bombs and limits: decompression bombs in a pulled layer (from a real registry, stopped when the
// layer is first unpacked) and in an ADD'ed
// archive, oversized or endless manifests, indexes, configs and blobs (from a hostile fake registry
// this test serves), and oversized or endless ADD <url> bodies. Every case must end in one
// `Error:` line naming the image, layer, archive or URL, a non-zero exit, and no data left behind
// (nothing in tmp/, no blob, no image; for an unpack, no snapshot and only what the pull kept).
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { constants, gzipSync, brotliCompressSync } from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRegistry, type TestRegistry } from '../../helpers/registry.js';
import { createTestRoot, makeContext, mountsUnder, type CliResult, type TestRoot } from '../../helpers/tsbuild.js';

const LIMIT_ENV = { TSBUILD_MAX_INFLATE_SIZE: '8MiB' };
let work: string;
let registry: TestRegistry;
let env: NodeJS.ProcessEnv;
const roots: TestRoot[] = [];
const contexts: string[] = [];

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-limits-'));
  const conf = path.join(work, 'registries.conf');
  await writeFile(conf, 'unqualified-search-registries = []\n');
  env = { REGISTRY_AUTH_FILE: path.join(work, 'auth.json'), XDG_RUNTIME_DIR: work, CONTAINERS_REGISTRIES_CONF: conf };
  registry = await startRegistry();
});

afterAll(async () => {
  for (const t of roots) {
    const leaked = await mountsUnder(t.root);
    await t.cleanup();
    expect(leaked).toEqual([]);
  }
  await Promise.all(contexts.map((c) => rm(c, { recursive: true, force: true })));
  await registry?.stop();
  await rm(work, { recursive: true, force: true });
});

async function freshRoot(): Promise<TestRoot> {
  const t = await createTestRoot();
  roots.push(t);
  return t;
}

function run(t: TestRoot, args: string[], extra: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return t.run(args, { env: { ...env, ...extra } });
}

/** Files under the root's dir `sub` (recursively), e.g. leftovers in tmp/ or blobs/. */
async function filesUnder(t: TestRoot, sub: string): Promise<string[]> {
  try {
    const entries = await readdir(path.join(t.root, sub), { recursive: true, withFileTypes: true });
    return entries.filter((e) => !e.isDirectory()).map((e) => path.join(e.parentPath ?? e.path, e.name));
  } catch {
    return [];
  }
}

/** The one Error line of a failed command (and that there is exactly one, with no stack trace). */
function errorLine(result: CliResult): string {
  expect(result.code).not.toBe(0);
  const lines = result.stderr.split('\n').filter((l) => l.startsWith('Error: '));
  expect(lines, result.stderr).toHaveLength(1);
  expect(result.stderr).not.toMatch(/\n\s+at /);
  return lines[0]!;
}

const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** A tar with one regular file `name` of `size` zero bytes: the payload of a bomb. */
function zeroTar(name: string, size: number): Buffer {
  const header = Buffer.alloc(512);
  header.write(name, 0, 'latin1');
  header.write('0000644\0', 100, 'latin1');
  header.write('0000000\0', 108, 'latin1');
  header.write('0000000\0', 116, 'latin1');
  header.write(`${size.toString(8).padStart(11, '0')}\0`, 124, 'latin1');
  header.write('00000000000\0', 136, 'latin1');
  header.write('        ', 148, 'latin1');
  header.write('0', 156, 'latin1');
  header.write('ustar\u000000', 257, 'latin1');
  let sum = 0;
  for (const b of header) sum += b;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  const padding = (512 - (size % 512)) % 512;
  return Buffer.concat([header, Buffer.alloc(size + padding), Buffer.alloc(1024)]);
}

const BOMB_SIZE = 64 * 1024 * 1024;

/** Pushes an image of `layers` (compressed blobs with their diff IDs) with raw distribution API calls. */
async function pushRaw(repo: string, tag: string, layers: Array<{ blob: Buffer; diffId: string; mediaType: string }>): Promise<void> {
  const put = async (blob: Buffer): Promise<void> => {
    const start = await fetch(`${registry.url}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
    expect(start.status).toBe(202);
    const location = new URL(start.headers.get('location')!, registry.url);
    location.searchParams.set('digest', sha256(blob));
    const done = await fetch(location, { method: 'PUT', body: blob, headers: { 'content-type': 'application/octet-stream' } });
    expect(done.status).toBe(201);
  };
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) } }));
  for (const l of layers) await put(l.blob);
  await put(config);
  const manifest = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: sha256(l.blob), size: l.blob.length })),
  };
  const res = await fetch(`${registry.url}/v2/${repo}/manifests/${tag}`, {
    method: 'PUT',
    body: JSON.stringify(manifest),
    headers: { 'content-type': manifest.mediaType },
  });
  expect(res.status).toBe(201);
}

/**
 * Unpacks an image's layers the way a container start does (`from` + `mount`, which needs no binary
 * in the image); the mount point on success.
 */
async function unpack(t: TestRoot, ref: string, extra: NodeJS.ProcessEnv = {}): Promise<CliResult & { container?: string; mountpoint?: string }> {
  const from = await run(t, ['from', ref], extra);
  if (from.code !== 0) return from;
  const container = from.stdout.trim();
  const mounted = await run(t, ['mount', container], extra);
  return { ...mounted, container, mountpoint: mounted.code === 0 ? mounted.stdout.trim() : undefined };
}

// A pull keeps a compressed layer as it was served and inflates nothing (image/layer-blob.ts): the
// inflate limit and the diff ID are checked when the layer is first unpacked.
describe('decompression bombs and false diff IDs in pulled layers', () => {
  const tar = zeroTar('zeros', BOMB_SIZE);
  const diffId = sha256(tar);

  /** After a refused unpack: the pull's blobs only, no snapshot, nothing in tmp/, and a clean store. */
  async function nothingUnpacked(t: TestRoot, blob: Buffer): Promise<void> {
    expect(await filesUnder(t, 'tmp')).toEqual([]);
    expect(await filesUnder(t, 'snapshots')).toEqual([]);
    expect((await filesUnder(t, 'blobs')).map((f) => path.basename(f))).toContain(sha256(blob).slice('sha256:'.length));
    const check = await run(t, ['system', 'check']);
    expect(check.code, check.stdout + check.stderr).toBe(0);
  }

  it('stops a gzip bomb at the inflate limit when it is unpacked, naming the layer and its blob, and leaves nothing behind', async () => {
    const blob = gzipSync(tar, { level: 9 });
    expect(blob.length).toBeLessThan(BOMB_SIZE / 500);
    await pushRaw('bombs/gzip', '1', [{ blob, diffId, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' }]);
    const t = await freshRoot();
    const ref = `${registry.host}/bombs/gzip:1`;
    expect((await run(t, ['pull', '-q', '--tls-verify=false', ref], LIMIT_ENV)).code).toBe(0);
    const line = errorLine(await unpack(t, ref, LIMIT_ENV));
    expect(line).toContain(diffId);
    expect(line).toContain(sha256(blob));
    expect(line).toMatch(/inflates to more than \d+ bytes.*decompression bomb/);
    await nothingUnpacked(t, blob);
    // The same image is fine where the limit allows it: the refusal above was the limit, not the image.
    const allowed = await unpack(t, ref, { TSBUILD_MAX_INFLATE_SIZE: '128MiB' });
    expect(allowed.code, allowed.stderr).toBe(0);
    expect((await stat(path.join(allowed.mountpoint!, 'zeros'))).size).toBe(BOMB_SIZE);
    expect((await run(t, ['rm', allowed.container!])).code).toBe(0);
  });

  it('stops a zstd bomb (far past gzip ratios) at the limit too', async () => {
    const blob = execFileSync('zstd', ['-19', '-q', '-c'], { input: tar, maxBuffer: 1 << 30 });
    expect(blob.length).toBeLessThan(BOMB_SIZE / 5000);
    await pushRaw('bombs/zstd', '1', [{ blob, diffId, mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd' }]);
    const t = await freshRoot();
    const ref = `${registry.host}/bombs/zstd:1`;
    expect((await run(t, ['pull', '-q', '--tls-verify=false', ref])).code).toBe(0);
    // The default floor (1 GiB) is far above this bomb: only the ratio rule can catch it here.
    const line = errorLine(await unpack(t, ref, { TSBUILD_MAX_INFLATE_SIZE: '1MiB', TSBUILD_MAX_INFLATE_RATIO: '200' }));
    expect(line).toContain(sha256(blob));
    expect(line).toContain('decompression bomb');
    await nothingUnpacked(t, blob);
  });

  it('refuses a layer whose content is not the diff ID its config lists, committing no snapshot', async () => {
    const blob = gzipSync(zeroTar('other', 1024));
    await pushRaw('lies/diffid', '1', [{ blob, diffId, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' }]);
    const t = await freshRoot();
    const ref = `${registry.host}/lies/diffid:1`;
    expect((await run(t, ['pull', '-q', '--tls-verify=false', ref])).code).toBe(0);
    const line = errorLine(await unpack(t, ref));
    expect(line).toContain(`layer ${diffId}: blob ${sha256(blob)} inflates to content with digest ${sha256(zeroTar('other', 1024))}, not the diff ID the image config lists`);
    await nothingUnpacked(t, blob);
    // The next attempt checks again: nothing about the refused layer was remembered as good.
    expect(errorLine(await unpack(t, ref))).toContain('not the diff ID the image config lists');
  });

  it('refuses a malformed limit setting with a clear error', async () => {
    const t = await freshRoot();
    const ref = `${registry.host}/bombs/gzip:1`;
    expect((await run(t, ['pull', '-q', '--tls-verify=false', ref])).code).toBe(0);
    const line = errorLine(await unpack(t, ref, { TSBUILD_MAX_INFLATE_SIZE: 'lots' }));
    expect(line).toContain('TSBUILD_MAX_INFLATE_SIZE: invalid size "lots"');
  });
});

describe('decompression bombs in image archives', () => {
  const tar = zeroTar('zeros', BOMB_SIZE);
  const diffId = sha256(tar);

  /** A docker-archive (`docker save` layout) whose one layer is `layer`. */
  async function dockerArchive(name: string, layer: Buffer): Promise<string> {
    const dir = await mkdtemp(path.join(work, 'archive-'));
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [diffId] } }));
    // Names as `docker save` writes them (the loader keeps only those): <hex>.json and <hex>/layer.tar.
    const configName = `${sha256(config).slice(7)}.json`;
    const layerName = `${sha256(layer).slice(7)}/layer.tar`;
    await writeFile(path.join(dir, configName), config);
    await mkdir(path.join(dir, path.dirname(layerName)));
    await writeFile(path.join(dir, layerName), layer);
    await writeFile(path.join(dir, 'manifest.json'), JSON.stringify([{ Config: configName, RepoTags: ['localhost/bomb:1'], Layers: [layerName] }]));
    const file = path.join(work, name);
    execFileSync('tar', ['-cf', file, '-C', dir, 'manifest.json', configName, layerName]);
    await rm(dir, { recursive: true, force: true });
    return file;
  }

  it('stops a gzip bomb layer of a loaded (or oci-archive: pulled) archive at the limit', async () => {
    const archive = await dockerArchive('bomb-layer.tar', gzipSync(tar, { level: 9 }));
    const t = await freshRoot();
    for (const args of [['load', '-q', '-i', archive], ['pull', '-q', `docker-archive:${archive}`]]) {
      const line = errorLine(await run(t, args, LIMIT_ENV));
      expect(line).toContain(archive);
      expect(line).toMatch(/layer 1 \([0-9a-f]{64}\/layer\.tar\)/);
      expect(line).toContain('decompression bomb');
      expect(await filesUnder(t, 'tmp')).toEqual([]);
      expect(await filesUnder(t, 'blobs')).toEqual([]);
    }
    const ok = await run(t, ['load', '-q', '-i', archive], { TSBUILD_MAX_INFLATE_SIZE: '128MiB' });
    expect(ok.code, ok.stderr).toBe(0);
  });

  it('stops a gzipped archive that is itself a bomb', async () => {
    const inner = await dockerArchive('bomb-inner.tar', gzipSync(Buffer.alloc(0)));
    // The archive's own entries are padded out with a 64 MiB file of zeros that load never needs.
    const padded = Buffer.concat([readFileSync(inner).subarray(0, -1024), zeroTar('padding', BOMB_SIZE)]);
    const file = path.join(work, 'bomb-outer.tar.gz');
    await writeFile(file, gzipSync(padded, { level: 9 }));
    const t = await freshRoot();
    const line = errorLine(await run(t, ['load', '-q', '-i', file], LIMIT_ENV));
    expect(line).toContain(file);
    expect(line).toContain('decompression bomb');
    expect(await filesUnder(t, 'tmp')).toEqual([]);
  });
});

describe('decompression bombs in ADD archives', () => {
  const tar = zeroTar('zeros', BOMB_SIZE);
  const cases: Array<[string, () => Buffer]> = [
    ['gzip', () => gzipSync(tar, { level: 9 })],
    ['bzip2', () => execFileSync('bzip2', ['-1', '-c'], { input: tar, maxBuffer: 1 << 30 })],
    ['xz', () => execFileSync('xz', ['-1', '-c'], { input: tar, maxBuffer: 1 << 30 })],
  ];
  for (const [format, make] of cases) {
    it(`stops an ADD'ed ${format} bomb at the inflate limit and commits nothing`, async () => {
      const bomb = make();
      const context = await makeContext({ Containerfile: 'FROM scratch\nADD bomb.tar /unpacked/\n', 'bomb.tar': bomb });
      contexts.push(context);
      const t = await freshRoot();
      const result = await run(t, ['bud', '-t', 'bomb', context], LIMIT_ENV);
      const line = errorLine(result);
      expect(line).toContain('bomb.tar');
      expect(line).toContain('decompression bomb');
      expect(await filesUnder(t, 'tmp')).toEqual([]);
      expect(await filesUnder(t, 'blobs')).toEqual([]);
      expect((await run(t, ['images', '-q'])).stdout.trim()).toBe('');
      // Under a limit that allows it, the same archive unpacks.
      const ok = await run(t, ['bud', '-q', '-t', 'bomb', context], { TSBUILD_MAX_INFLATE_SIZE: '128MiB' });
      expect(ok.code, ok.stderr).toBe(0);
    });
  }
});

/** A tiny hostile HTTP server: handlers by path; everything else is 404. */
async function hostileServer(routes: Record<string, (req: IncomingMessage, res: ServerResponse) => void>): Promise<{ server: Server; host: string; sent: Map<string, number> }> {
  const sent = new Map<string, number>();
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const handler = routes[url.pathname];
    if (!handler) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"errors":[{"code":"NOT_FOUND","message":"not here"}]}');
      return;
    }
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, host: `127.0.0.1:${(server.address() as AddressInfo).port}`, sent };
}

/**
 * Writes `chunk` over and over (with backpressure) until the client goes away or `max` bytes went;
 * counts what was written under `key`.
 */
function endless(res: ServerResponse, sent: Map<string, number>, key: string, chunk: Buffer, max = 1024 ** 3): void {
  let total = 0;
  const pump = (): void => {
    while (total < max && !res.destroyed) {
      total += chunk.length;
      sent.set(key, total);
      if (!res.write(chunk)) return void res.once('drain', pump);
    }
    if (!res.destroyed) res.end();
  };
  res.on('close', () => sent.set(key, total));
  pump();
}

describe('a hostile registry', () => {
  let server: Server;
  let host: string;
  let sent: Map<string, number>;
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha256(Buffer.alloc(1024))] } }));
  const layerBlob = gzipSync(Buffer.alloc(1024));
  const manifestFor = (cfg: { digest: string; size: number }, layer: { digest: string; size: number }): Buffer =>
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...cfg },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...layer }],
      }),
    );
  const good = { digest: sha256(config), size: config.length };
  const goodLayer = { digest: sha256(layerBlob), size: layerBlob.length };
  const hugeConfig = manifestFor({ digest: sha256(Buffer.from('x')), size: 100 * 1024 * 1024 }, goodLayer);
  const endlessConfig = manifestFor(good, goodLayer);
  const longLayer = manifestFor(good, goodLayer);
  const instance = manifestFor(good, goodLayer);
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha256(instance), size: instance.length, platform: { os: 'linux', architecture: 'amd64' } }],
    }),
  );
  // A gzip bomb whose manifest claims a 1 GiB layer, to buy itself a 200 GiB allowance.
  const bombTar = zeroTar('zeros', BOMB_SIZE);
  const bombBlob = gzipSync(bombTar, { level: 9 });
  const bombConfig = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha256(bombTar)] } }));
  const liar = manifestFor({ digest: sha256(bombConfig), size: bombConfig.length }, { digest: sha256(bombBlob), size: 1024 ** 3 });
  const manifestHeaders = (bytes: Buffer, type = 'application/vnd.oci.image.manifest.v1+json'): Record<string, string> => ({
    'content-type': type,
    'content-length': String(bytes.length),
    'docker-content-digest': sha256(bytes),
  });

  beforeAll(async () => {
    ({ server, host, sent } = await hostileServer({
      '/v2/': (_req, res) => res.end('{}'),
      // 100 MB announced and sent (until the client hangs up).
      '/v2/big/manifests/1': (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json', 'content-length': String(100 * 1024 * 1024) });
        endless(res, sent, 'big', Buffer.alloc(64 * 1024, 0x20), 100 * 1024 * 1024);
      },
      // No Content-Length, chunked, never ending.
      '/v2/chunked/manifests/1': (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' });
        endless(res, sent, 'chunked', Buffer.alloc(64 * 1024, 0x20));
      },
      // An index whose instance manifest never ends.
      '/v2/index/manifests/1': (_req, res) => {
        res.writeHead(200, manifestHeaders(index, 'application/vnd.oci.image.index.v1+json'));
        res.end(index);
      },
      [`/v2/index/manifests/${sha256(instance)}`]: (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' });
        endless(res, sent, 'instance', Buffer.alloc(64 * 1024, 0x20));
      },
      '/v2/hugeconfig/manifests/1': (_req, res) => {
        res.writeHead(200, manifestHeaders(hugeConfig));
        res.end(hugeConfig);
      },
      [`/v2/hugeconfig/blobs/${sha256(Buffer.from('x'))}`]: (_req, res) => {
        sent.set('hugeconfig-blob', 1);
        res.end('x');
      },
      '/v2/endlessconfig/manifests/1': (_req, res) => {
        res.writeHead(200, manifestHeaders(endlessConfig));
        res.end(endlessConfig);
      },
      [`/v2/endlessconfig/blobs/${good.digest}`]: (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        res.write(config);
        endless(res, sent, 'endlessconfig', Buffer.alloc(64 * 1024, 0x20));
      },
      // An error answer whose body never ends.
      '/v2/errbomb/manifests/1': (_req, res) => {
        res.writeHead(404, { 'content-type': 'application/json' });
        endless(res, sent, 'errbomb', Buffer.alloc(64 * 1024, 0x20));
      },
      // A bearer challenge whose token server answers without end.
      '/v2/tokenbomb/manifests/1': (_req, res) => {
        res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${host}/token",service="x"` });
        res.end();
      },
      '/token': (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        endless(res, sent, 'tokenbomb', Buffer.alloc(64 * 1024, 0x20));
      },
      '/v2/liar/manifests/1': (_req, res) => {
        res.writeHead(200, manifestHeaders(liar));
        res.end(liar);
      },
      [`/v2/liar/blobs/${sha256(bombConfig)}`]: (_req, res) => res.end(bombConfig),
      [`/v2/liar/blobs/${sha256(bombBlob)}`]: (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(bombBlob.length) });
        res.end(bombBlob);
      },
      '/v2/longlayer/manifests/1': (_req, res) => {
        res.writeHead(200, manifestHeaders(longLayer));
        res.end(longLayer);
      },
      [`/v2/longlayer/blobs/${good.digest}`]: (_req, res) => res.end(config),
      [`/v2/longlayer/blobs/${goodLayer.digest}`]: (_req, res) => {
        // The real blob, then garbage without end (chunked, so the client cannot know its length).
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        res.write(layerBlob);
        endless(res, sent, 'longlayer', Buffer.alloc(64 * 1024, 0x20));
      },
    }));
  });

  afterAll(async () => {
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
  });

  const cases: Array<{ name: string; repo: string; message: RegExp; key?: string; env?: NodeJS.ProcessEnv }> = [
    { name: 'an endless error body', repo: 'errbomb', message: /HTTP 404 Not Found|not found/i, key: 'errbomb' },
    { name: 'an endless token body', repo: 'tokenbomb', message: /token server .* returned no token/, key: 'tokenbomb' },
    { name: 'a gzip bomb whose manifest claims a huge layer', repo: 'liar', message: /download truncated at \d+ of 1073741824 bytes/, env: LIMIT_ENV },
    { name: 'a manifest announced as 100 MB', repo: 'big', message: /manifest is larger than 4194304 bytes/, key: 'big' },
    { name: 'an endless chunked manifest', repo: 'chunked', message: /manifest is larger than 4194304 bytes/, key: 'chunked' },
    { name: 'an endless image manifest behind an index', repo: 'index', message: /manifest is larger than 4194304 bytes/, key: 'instance' },
    { name: 'a config descriptor of 100 MB', repo: 'hugeconfig', message: /image config is too large \(104857600 bytes/ },
    { name: 'a config blob that never ends', repo: 'endlessconfig', message: /sent more than the \d+ bytes the manifest states for the image config/, key: 'endlessconfig' },
    { name: 'a layer blob longer than its descriptor', repo: 'longlayer', message: /sent more than the \d+ bytes the manifest states/, key: 'longlayer' },
  ];
  for (const c of cases) {
    it(`refuses ${c.name}, naming the reference, and stores nothing`, async () => {
      const t = await freshRoot();
      const ref = `${host}/${c.repo}:1`;
      const line = errorLine(await run(t, ['pull', '-q', '--tls-verify=false', ref], c.env));
      expect(line).toContain(ref);
      expect(line).toMatch(c.message);
      // The client stopped reading near the limit instead of taking the whole (or an endless) body.
      if (c.key) expect(sent.get(c.key) ?? 0).toBeLessThan(64 * 1024 * 1024);
      expect(await filesUnder(t, 'tmp')).toEqual([]);
      expect(await filesUnder(t, 'blobs')).toEqual([]);
    });
  }

  it('never fetches a config blob whose descriptor is too large', () => {
    expect(sent.has('hugeconfig-blob')).toBe(false);
  });
});

describe('ADD <url> limits', () => {
  let server: Server;
  let host: string;
  let sent: Map<string, number>;
  let t: TestRoot;

  beforeAll(async () => {
    ({ server, host, sent } = await hostileServer({
      '/announced-huge': (_req, res) => {
        res.writeHead(200, { 'content-length': String(100 * 1024 ** 3) });
        endless(res, sent, 'announced', Buffer.alloc(64 * 1024, 0x41));
      },
      '/endless': (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        endless(res, sent, 'endless', Buffer.alloc(64 * 1024, 0x41));
      },
      // Says 100 bytes, sends 10 and hangs up.
      '/short': (req, res) => {
        res.writeHead(200, { 'content-length': '100' });
        res.write('0123456789');
        setTimeout(() => req.socket.destroy(), 50);
      },
      // Says 10 bytes, sends more: only the 10 announced are the body.
      '/long': (_req, res) => {
        res.writeHead(200, { 'content-length': '10' });
        res.end(Buffer.from('0123456789 and then garbage that is not part of the body'));
      },
      // A compressed transfer encoding that inflates past the limit.
      '/encoded': (_req, res) => {
        const body = brotliCompressSync(Buffer.alloc(32 * 1024 * 1024), { params: { [constants.BROTLI_PARAM_QUALITY]: 5 } });
        res.writeHead(200, { 'content-encoding': 'br', 'content-length': String(body.length) });
        res.end(body);
      },
    }));
    t = await freshRoot();
  });

  afterAll(async () => {
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
  });

  async function add(url: string, extra: NodeJS.ProcessEnv = { TSBUILD_MAX_DOWNLOAD_SIZE: '1MiB' }): Promise<CliResult> {
    const context = await makeContext({ Containerfile: `FROM scratch\nADD ${url} /file\n` });
    contexts.push(context);
    return run(t, ['bud', '--layers=false', '-t', 'download', context], extra);
  }

  it('refuses a body announced as larger than the limit before reading it', async () => {
    const url = `http://${host}/announced-huge`;
    const line = errorLine(await add(url));
    expect(line).toContain(url);
    expect(line).toContain('larger than 1048576 bytes');
    expect(sent.get('announced') ?? 0).toBeLessThan(16 * 1024 * 1024);
    expect(await filesUnder(t, 'tmp')).toEqual([]);
  });

  it('stops an endless body at the limit and removes the partial download', async () => {
    const url = `http://${host}/endless`;
    const line = errorLine(await add(url));
    expect(line).toContain(url);
    expect(line).toContain('larger than 1048576 bytes');
    expect(sent.get('endless') ?? 0).toBeLessThan(64 * 1024 * 1024);
    expect(await filesUnder(t, 'tmp')).toEqual([]);
    expect(await filesUnder(t, 'blobs')).toEqual([]);
  });

  it('stops a Content-Encoding that inflates past the limit', async () => {
    const url = `http://${host}/encoded`;
    const line = errorLine(await add(url));
    expect(line).toContain('larger than 1048576 bytes');
    expect(await filesUnder(t, 'tmp')).toEqual([]);
  });

  it('fails a body shorter than its Content-Length, leaving nothing', async () => {
    const url = `http://${host}/short`;
    const line = errorLine(await add(url));
    expect(line).toContain(url);
    expect(line).toMatch(/download failed/);
    expect(await filesUnder(t, 'tmp')).toEqual([]);
  });

  it('takes only the announced bytes of a body longer than its Content-Length', async () => {
    const result = await add(`http://${host}/long`, {});
    expect(result.code, result.stderr).toBe(0);
    // Local layer blobs are the uncompressed tars: the file's bytes are in one of them.
    const listing = (await Promise.all((await filesUnder(t, 'blobs')).map((f) => readFile(f, 'latin1')))).join('');
    expect(listing).toContain('0123456789');
    expect(listing).not.toContain('garbage');
  });
});
