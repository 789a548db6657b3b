// push and pull against a real docker-registry on loopback: round trips keep the image ID, a second
// push sends no layer and compresses nothing, and bud/run pull what they do not have.
import { readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRegistry, startRegistryProxy } from '../../helpers/registry.js';
import { silentLogger } from '../../../src/log.js';
import { pushImage } from '../../../src/remote/index.js';
import { openStores } from '../../../src/store/root.js';
import { buildAppImage, createEnv, createRoot, imageId, makeContext, skopeo, type Env, type Root } from './helpers.js';

type Registry = Awaited<ReturnType<typeof startRegistry>>;
type Proxy = Awaited<ReturnType<typeof startRegistryProxy>>;

let env: Env;
let registry: Registry;
let proxy: Proxy;
let source: Root;
let appId: string;
const roots: Root[] = [];

async function freshRoot(base = false): Promise<Root> {
  const root = await createRoot(env, { base });
  roots.push(root);
  return root;
}

beforeAll(async () => {
  env = await createEnv();
  registry = await startRegistry();
  proxy = await startRegistryProxy(registry.url);
  source = await createRoot(env);
  appId = await buildAppImage(source, 'app');
});

afterAll(async () => {
  for (const r of [...roots, source]) await r?.cleanup();
  await Promise.all(contexts.map((d) => rm(d, { recursive: true, force: true })));
  await proxy?.stop();
  await registry?.stop();
  await env?.cleanup();
});

describe('push and pull', () => {
  it('pushes an image and pulls it into a fresh root with the same image ID, and it runs', async () => {
    const ref = `${registry.host}/team/app:1.0`;
    const push = await source.ok(['push', '--tls-verify=false', '--digestfile', path.join(env.dir, 'digest'), 'app', ref]);
    expect(push.stderr).toMatch(/Copying blob [a-f0-9]{12}/);
    const digest = await readFile(path.join(env.dir, 'digest'), 'utf8');
    expect(digest).toMatch(/^sha256:[a-f0-9]{64}$/);
    expect(push.stderr).toContain(digest);

    const target = await freshRoot();
    const pull = await target.ok(['pull', '--tls-verify=false', ref]);
    expect(pull.stdout.trim()).toBe(appId);
    expect(pull.stderr).toContain(`manifest ${digest}`);
    expect(await imageId(target, ref)).toBe(appId);
    expect((await target.ok(['inspect', '-f', '{{json .RepoDigests}}', ref])).stdout.trim()).toBe(JSON.stringify([`${registry.host}/team/app@${digest}`]));
    const run = await target.ok(['run', '--rm', ref]);
    expect(run.stdout).toBe('hello from the registry\n');
  });

  it('a second push of the same image uploads no layer bytes and compresses nothing', async () => {
    const ref = `${proxy.host}/team/again:1`;
    const first = await source.ok(['push', '--tls-verify=false', 'app', ref]);
    expect(first.stderr).toMatch(/compressing with gzip -\d/);
    const firstUpload = proxy.stats().uploadedBytes;
    expect(firstUpload).toBeGreaterThan(1_000_000);
    proxy.reset();
    const again = await source.ok(['push', '--tls-verify=false', 'app', ref]);
    expect(again.stderr).not.toMatch(/compressing/i);
    expect(again.stderr).toContain('skipped: already exists');
    expect(again.stderr).toContain(', unchanged)');
    // The tag names the very manifest this push would write: one HEAD of it, nothing sent.
    expect(proxy.stats().requests.map((r) => `${r.method} ${r.path}`)).toEqual(['HEAD /v2/team/again/manifests/1']);
    expect(proxy.stats().uploadedBytes).toBe(0);
  });

  it('a push again to a tag that names another image moves the tag back', async () => {
    const ref = `${proxy.host}/team/moved:1`;
    await source.ok(['push', '-q', '--tls-verify=false', '--digestfile', path.join(env.dir, 'moved-app'), 'app', ref]);
    const otherCtx = await contextOf('FROM busybox-base\nRUN echo other > /other\n');
    await source.ok(['bud', '-q', '-t', 'other', otherCtx]);
    await source.ok(['push', '-q', '--tls-verify=false', 'other', ref]);
    proxy.reset();
    const again = await source.ok(['push', '--tls-verify=false', '--digestfile', path.join(env.dir, 'moved-again'), 'app', ref]);
    expect(again.stderr).not.toContain(', unchanged)');
    const digest = await readFile(path.join(env.dir, 'moved-again'), 'utf8');
    expect(digest).toBe(await readFile(path.join(env.dir, 'moved-app'), 'utf8'));
    expect(proxy.stats().requests.filter((r) => r.method === 'PUT').map((r) => r.path)).toEqual(['/v2/team/moved/manifests/1']);
    const target = await freshRoot();
    expect((await target.ok(['pull', '-q', '--tls-verify=false', ref])).stdout.trim()).toBe(appId);
  });

  it('pushing a pulled image to another repository of the registry mounts its layers instead of uploading them', async () => {
    // Through the proxy both times: a registry is known by the host name it was reached by.
    const pulled = `${proxy.host}/team/again:1`;
    const target = await freshRoot();
    await target.ok(['pull', '-q', '--tls-verify=false', pulled]);
    proxy.reset();
    const push = await target.ok(['push', '--tls-verify=false', pulled, `${proxy.host}/other/app:1`]);
    expect(push.stderr).not.toMatch(/compressing/i);
    expect(push.stderr).toContain('mounted from team/again');
    expect(proxy.stats().uploadedBytes).toBeLessThan(4096);
  });

  it('pushes Docker schema 2 and zstd-compressed OCI images that pull back to the same image', async () => {
    const docker = `${registry.host}/team/app:docker`;
    await source.ok(['push', '-q', '--tls-verify=false', '--format', 'docker', 'app', docker]);
    const zstd = `${registry.host}/team/app:zstd`;
    const pushed = await source.ok(['push', '--tls-verify=false', '--compression-format', 'zstd', 'app', zstd]);
    expect(pushed.stderr).toContain('zstd');
    const target = await freshRoot();
    expect((await target.ok(['pull', '-q', '--tls-verify=false', zstd])).stdout.trim()).toBe(appId);
    expect((await target.ok(['run', '--rm', zstd])).stdout).toBe('hello from the registry\n');
    const other = await freshRoot();
    expect((await other.ok(['pull', '-q', '--tls-verify=false', docker])).stdout.trim()).toBe(appId);
    expect((await other.ok(['inspect', '-f', '{{.ManifestType}}', docker])).stdout.trim()).toBe('application/vnd.docker.distribution.manifest.v2+json');
  });

  it('pushes by digest to the digest it reports', async () => {
    await source.ok(['push', '-q', '--tls-verify=false', '--digestfile', path.join(env.dir, 'd2'), 'app', `${registry.host}/team/bydigest:t`]);
    const digest = await readFile(path.join(env.dir, 'd2'), 'utf8');
    await source.ok(['push', '-q', '--tls-verify=false', 'app', `${registry.host}/team/pinned@${digest}`]);
    const target = await freshRoot();
    expect((await target.ok(['pull', '-q', '--tls-verify=false', `docker://${registry.host}/team/pinned@${digest}`])).stdout.trim()).toBe(appId);
  });

  it('writes oci: directories and oci-archive: files that pull back into a fresh root', async () => {
    const layout = path.join(env.dir, 'layout');
    const archive = path.join(env.dir, 'app-oci.tar');
    await source.ok(['push', 'app', `oci:${layout}:v1`]);
    await source.ok(['push', 'busybox-base', `oci:${layout}:base`]);
    await source.ok(['push', 'app', `oci-archive:${archive}:v1`]);
    expect(JSON.parse(await readFile(path.join(layout, 'index.json'), 'utf8')).manifests).toHaveLength(2);
    const target = await freshRoot();
    expect((await target.ok(['pull', '-q', `oci:${layout}:v1`])).stdout.trim()).toBe(appId);
    const other = await freshRoot();
    expect((await other.ok(['pull', '-q', `oci-archive:${archive}:v1`])).stdout.trim()).toBe(appId);
    expect((await other.ok(['run', '--rm', appId])).stdout).toBe('hello from the registry\n');
    expect((await stat(archive)).isFile()).toBe(true);
  });

  it('pulls the host platform from an image index, and lists the platforms when none matches', async () => {
    await source.ok(['push', '-q', '--tls-verify=false', '--digestfile', path.join(env.dir, 'd3'), 'app', `${registry.host}/team/multi:single`]);
    const digest = await readFile(path.join(env.dir, 'd3'), 'utf8');
    const { stdout: raw } = await source.ok(['inspect', '-f', '{{.Architecture}}', 'app']);
    const arch = raw.trim();
    const other = arch === 'arm64' ? 'amd64' : 'arm64';
    const size = (await fetch(`${registry.url}/v2/team/multi/manifests/${digest}`, { method: 'HEAD', headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } })).headers.get('content-length');
    const entry = (a: string) => ({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest, size: Number(size), platform: { os: 'linux', architecture: a } });
    const index = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [entry(other), entry(arch)] };
    const put = await fetch(`${registry.url}/v2/team/multi/manifests/all`, {
      method: 'PUT',
      headers: { 'content-type': 'application/vnd.oci.image.index.v1+json' },
      body: JSON.stringify(index),
    });
    expect(put.status).toBe(201);
    const target = await freshRoot();
    const ref = `${registry.host}/team/multi:all`;
    expect((await target.ok(['pull', '-q', '--tls-verify=false', ref])).stdout.trim()).toBe(appId);
    expect((await target.ok(['pull', '-q', '--tls-verify=false', '--platform', `linux/${other}`, ref])).stdout.trim()).toBe(appId);
    const none = await target.run(['pull', '-q', '--tls-verify=false', '--platform', 'linux/s390x', ref]);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain(`no image for platform linux/s390x (available: linux/${other}, linux/${arch})`);
  });

  it('follows registries.conf: short names via unqualified-search-registries, insecure without flags, blocked refused', async () => {
    const conf = path.join(env.dir, 'search.conf');
    await writeFile(conf, [
      `unqualified-search-registries = ["${registry.host}"]`,
      '[[registry]]',
      `location = "${registry.host}"`,
      'insecure = true',
      '[[registry]]',
      `location = "${proxy.host}"`,
      'blocked = true',
    ].join('\n'));
    const target = await freshRoot();
    const withConf = { env: { ...env.env, CONTAINERS_REGISTRIES_CONF: conf } };
    const pulled = await target.t.run(['pull', '-q', 'team/app:1.0'], withConf);
    expect(pulled.stderr).toBe('');
    expect(pulled.stdout.trim()).toBe(appId);
    expect(await imageId(target, `${registry.host}/team/app:1.0`)).toBe(appId);
    const blocked = await target.t.run(['pull', '-q', `${proxy.host}/team/app:1.0`], withConf);
    expect(blocked.code).toBe(1);
    expect(blocked.stderr).toContain(`registry ${proxy.host} is blocked in registries.conf`);
  });

  it('uploads in PATCH chunks when the library is given a chunk size, and the image pulls back', async () => {
    const fresh = await startRegistry();
    const front = await startRegistryProxy(fresh);
    try {
      const stores = await openStores({ root: source.t.root, logger: silentLogger() });
      const ref = `${front.host}/chunked/app:1`;
      const digest = await pushImage(stores, 'app', ref, { tlsVerify: false, chunkSize: 1024 * 1024, logger: silentLogger() });
      const patches = front.stats().requests.filter((r) => r.method === 'PATCH');
      expect(patches.length).toBeGreaterThan(3);
      const target = await freshRoot();
      const pulled = await target.ok(['pull', '--tls-verify=false', ref]);
      expect(pulled.stdout.trim()).toBe(appId);
      expect(pulled.stderr).toContain(digest);
    } finally {
      await front.stop();
      await fresh.stop();
    }
  });

  it('refuses to push a local-only name without a destination', async () => {
    const result = await source.run(['push', 'app']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('give a destination');
  });
});

// image/layer-blob.ts: a pull keeps compressed layers as they were served and unpacks them on first use.
describe('pulled images keep their compressed layers', () => {
  const manifestOf = async (ref: string): Promise<{ layers: Array<{ digest: string; size: number }> }> =>
    JSON.parse((await skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${ref}`])).stdout) as { layers: Array<{ digest: string; size: number }> };

  it('stores the blobs as served, runs from them, and pushes them elsewhere byte for byte without compressing', async () => {
    const ref = `${registry.host}/kept/app:1`;
    await source.ok(['push', '-q', '--tls-verify=false', 'app', ref]);
    const served = (await manifestOf(ref)).layers.map((l) => l.digest);
    // No busybox-base: its layers would be found locally (uncompressed) instead of pulled.
    const target = await freshRoot(false);
    await target.ok(['pull', '-q', '--tls-verify=false', ref]);
    const blobs = await readdir(path.join(target.t.root, 'blobs', 'sha256'));
    for (const digest of served) expect(blobs).toContain(digest.slice('sha256:'.length));
    const diffIds = JSON.parse((await target.ok(['inspect', '-f', '{{json .RootFS.Layers}}', ref])).stdout) as string[];
    for (const diffId of diffIds) expect(blobs).not.toContain(diffId.slice('sha256:'.length));
    expect((await target.ok(['run', '--rm', ref])).stdout).toBe('hello from the registry\n');

    // Through the proxy the registry has another name: nothing is known there, so the kept blobs go up.
    const copy = `${proxy.host}/kept/copy:1`;
    const push = await target.ok(['push', '--tls-verify=false', ref, copy]);
    expect(push.stderr).not.toMatch(/compressing/i);
    expect((await manifestOf(copy)).layers.map((l) => l.digest)).toEqual(served);
    const check = await target.run(['system', 'check']);
    expect(check.code, check.stdout).toBe(0);
  });

  it('compresses again only for another compression, and saves a Docker archive with the uncompressed tars', async () => {
    const ref = `${registry.host}/kept/app:1`;
    const target = await freshRoot();
    await target.ok(['pull', '-q', '--tls-verify=false', ref]);
    const zstd = `${registry.host}/kept/app:zstd`;
    const push = await target.ok(['push', '--tls-verify=false', '--compression-format', 'zstd', ref, zstd]);
    expect(push.stderr).toMatch(/compressing with zstd/);
    const archive = path.join(env.dir, 'kept-docker.tar');
    await target.ok(['save', '--format', 'docker-archive', '-o', archive, ref]);
    expect(await readdir(path.join(target.t.root, 'tmp'))).toEqual([]);
    for (const args of [['pull', '-q', '--tls-verify=false', zstd], ['load', '-q', '-i', archive]]) {
      const other = await freshRoot(false);
      await other.ok(args);
      expect((await other.ok(['run', '--rm', appId])).stdout).toBe('hello from the registry\n');
    }
  });
});

describe('bud and run pull what they need', () => {
  it('bud FROM a registry image pulls it (--pull=missing) and the build runs on it', async () => {
    const ref = `${registry.host}/team/app:1.0`;
    const target = await freshRoot();
    const context = await contextOf(`FROM ${ref}\nRUN cat /marker > /copied\nCMD ["cat", "/copied"]\n`);
    const built = await target.ok(['bud', '--tls-verify=false', '-t', 'derived', context]);
    expect(built.stderr).toMatch(/Copying blob/);
    expect((await target.ok(['run', '--rm', 'derived'])).stdout).toBe('hello from the registry\n');
    // Now local: a second build pulls nothing.
    const again = await target.ok(['bud', '--tls-verify=false', '-t', 'derived2', context]);
    expect(again.stderr).not.toMatch(/Copying blob/);
  });

  it('bud --pull=never fails for an image that is not local, naming it', async () => {
    const target = await freshRoot();
    const ref = `${registry.host}/team/app:1.0`;
    const context = await contextOf(`FROM ${ref}\n`);
    const result = await target.run(['bud', '--pull=never', '--tls-verify=false', context]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(`base image "${ref}" not found in local storage (--pull=never)`);
  });

  it('bud --pull (always) fetches the manifest again even when the image is local, and COPY --from pulls too', async () => {
    const ref = `${proxy.host}/team/again:1`;
    const target = await freshRoot(true);
    await target.ok(['pull', '-q', '--tls-verify=false', ref]);
    proxy.reset();
    // busybox-base is local-only (localhost/): --pull never sends anyone to a registry for it.
    const context = await contextOf(`FROM busybox-base\nCOPY --from=${ref} /marker /m\nCMD ["cat", "/m"]\n`);
    await target.ok(['bud', '--pull', '--tls-verify=false', '-t', 'copied', context]);
    expect(manifestRequests(proxy)).toBeGreaterThan(0);
    expect((await target.ok(['run', '--rm', 'copied'])).stdout).toBe('hello from the registry\n');
  });

  it('--pull=newer keeps the local image while the tag is unchanged and pulls when it moved', async () => {
    const ref = `${registry.host}/team/moving:1`;
    await source.ok(['push', '-q', '--tls-verify=false', 'busybox-base', ref]);
    const target = await freshRoot();
    const baseId = (await target.ok(['pull', '-q', '--tls-verify=false', ref])).stdout.trim();
    const context = await contextOf(`FROM ${ref}\n`);
    const same = await target.ok(['bud', '-q', '--pull=newer', '--tls-verify=false', context]);
    expect(same.stderr).not.toMatch(/Copying blob/);
    expect(same.stdout.trim()).toBe(baseId);
    await source.ok(['push', '-q', '--tls-verify=false', 'app', ref]);
    const moved = await target.ok(['bud', '-q', '--pull=newer', '--tls-verify=false', context]);
    expect(moved.stdout.trim()).toBe(appId);
    expect(await imageId(target, ref)).toBe(appId);
  });

  it('run --pull=always and run of a missing image pull it first', async () => {
    const ref = `${registry.host}/team/app:1.0`;
    const target = await freshRoot();
    const result = await target.ok(['run', '--rm', '--tls-verify=false', ref]);
    expect(result.stdout).toBe('hello from the registry\n');
    expect(result.stderr).toMatch(/Copying blob/);
    const always = await target.ok(['run', '--rm', '--pull=always', '--tls-verify=false', ref, 'cat', '/marker']);
    expect(always.stdout).toBe('hello from the registry\n');
    expect(always.stderr).toMatch(/already exists/);
    const never = await freshRoot();
    const refused = await never.run(['run', '--rm', '--pull=never', ref]);
    expect(refused.code).toBe(125);
    expect(refused.stderr).toContain('not found in local storage');
  });
});

const contexts: string[] = [];

async function contextOf(containerfile: string): Promise<string> {
  const dir = await makeContext({ Containerfile: containerfile });
  contexts.push(dir);
  return dir;
}

/** Manifest requests the proxy has seen since its last reset. */
function manifestRequests(p: Proxy): number {
  return p.stats().requests.filter((r) => /\/manifests\//.test(r.path)).length;
}
