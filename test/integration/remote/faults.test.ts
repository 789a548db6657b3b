// Pulls through a fault-injecting proxy in front of a real registry: transient server errors are
// retried, a connection dropped mid-blob is resumed with a Range request, a corrupted blob is a
// DIGEST_MISMATCH that stores nothing (and a later clean pull works), and every failure is one
// line naming the reference.
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startRegistry, startRegistryProxy } from '../../helpers/registry.js';
import { buildAppImage, createEnv, createRoot, skopeo, type Env, type Root } from './helpers.js';

let env: Env;
let registry: Awaited<ReturnType<typeof startRegistry>>;
let proxy: Awaited<ReturnType<typeof startRegistryProxy>>;
let source: Root;
let appId: string;
let ref: string;
const roots: Root[] = [];

async function freshRoot(): Promise<Root> {
  const root = await createRoot(env, { base: false });
  roots.push(root);
  return root;
}

/** The app's big layer blob (set once pushed): the one a fault in the middle of a download hits. */
let BIG_BLOB: RegExp;
/** The pushed manifest's layer blob digests (what a pull keeps), and the big one's. */
let layerBlobs: string[];
let bigBlob: string;

beforeAll(async () => {
  env = await createEnv();
  registry = await startRegistry();
  proxy = await startRegistryProxy(registry.url);
  source = await createRoot(env);
  appId = await buildAppImage(source, 'app', 'survived');
  await source.ok(['push', '-q', '--tls-verify=false', 'app', `${registry.host}/faults/app:1`]);
  ref = `${proxy.host}/faults/app:1`;
  const manifest = JSON.parse((await skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${registry.host}/faults/app:1`])).stdout) as { layers: Array<{ digest: string; size: number }> };
  const big = [...manifest.layers].sort((a, b) => b.size - a.size)[0]!;
  expect(big.size).toBeGreaterThan(2_000_000);
  BIG_BLOB = new RegExp(`/v2/faults/app/blobs/${big.digest}$`);
  layerBlobs = manifest.layers.map((l) => l.digest);
  bigBlob = big.digest;
});

afterEach(() => {
  proxy.setRules([]);
  proxy.reset();
});

afterAll(async () => {
  for (const r of [...roots, source]) await r?.cleanup();
  await proxy?.stop();
  await registry?.stop();
  await env?.cleanup();
});

async function imageCount(root: Root): Promise<number> {
  const { stdout } = await root.ok(['images', '-q']);
  return stdout.split('\n').filter(Boolean).length;
}

/** Files left in the content store and tmp/: a failed pull must not leave an unverified blob. */
async function storeFiles(root: Root): Promise<{ blobs: string[]; tmp: string[] }> {
  const list = (dir: string): Promise<string[]> => readdir(path.join(root.t.root, dir)).catch(() => []);
  return { blobs: await list('blobs/sha256'), tmp: await list('tmp') };
}

describe('pull through faults', () => {
  it('retries 500s and a 429 and succeeds', async () => {
    proxy.setRules([
      { method: 'GET', path: /\/manifests\//, action: { kind: 'status', status: 500 }, times: 2 },
      { method: 'GET', path: BIG_BLOB, action: { kind: 'status', status: 429, headers: { 'retry-after': '0' } }, times: 1 },
    ]);
    const root = await freshRoot();
    const pull = await root.ok(['pull', '-q', '--tls-verify=false', ref]);
    expect(pull.stdout.trim()).toBe(appId);
  });

  it('resumes a blob download that broke off, with a Range request from the bytes it had', async () => {
    proxy.setRules([{ method: 'GET', path: BIG_BLOB, action: { kind: 'drop-after', bytes: 1_000_000 }, times: 1 }]);
    const root = await freshRoot();
    const pull = await root.ok(['pull', '-q', '--tls-verify=false', ref]);
    expect(pull.stdout.trim()).toBe(appId);
    const ranged = proxy.stats().requests.filter((r) => r.method === 'GET' && BIG_BLOB.test(r.path) && r.rangeHeader !== undefined);
    expect(ranged.length).toBeGreaterThan(0);
    expect(ranged.some((r) => /^bytes=[1-9]\d*-$/.test(r.rangeHeader!))).toBe(true);
    expect((await root.ok(['run', '--rm', ref])).stdout).toBe('survived\n');
  });

  it('a corrupted blob is a DIGEST_MISMATCH naming the layer and reference, stores nothing, and a clean pull then works', async () => {
    proxy.setRules([{ method: 'GET', path: BIG_BLOB, action: { kind: 'corrupt-byte', offset: 5000 } }]);
    const root = await freshRoot();
    const failed = await root.run(['pull', '-q', '--tls-verify=false', ref]);
    expect(failed.code).toBe(1);
    const errorLines = failed.stderr.split('\n').filter((l) => l.startsWith('Error: '));
    expect(errorLines).toHaveLength(1);
    expect(errorLines[0]).toMatch(/digest/i);
    expect(errorLines[0]).toContain(ref);
    expect(errorLines[0]).toMatch(/layer \d\/\d/);
    expect(await imageCount(root)).toBe(0);
    const after = await storeFiles(root);
    expect(after.tmp).toEqual([]);
    // Layers that verified may stay (they are correct and speed up the next attempt); nothing
    // else may: not the damaged layer, no config, no manifest.
    const verified = layerBlobs.map((d) => d.slice('sha256:'.length));
    expect(after.blobs.filter((b) => !verified.includes(b))).toEqual([]);
    expect(after.blobs).not.toContain(bigBlob.slice('sha256:'.length));

    proxy.setRules([]);
    const pull = await root.ok(['pull', '-q', '--tls-verify=false', ref]);
    expect(pull.stdout.trim()).toBe(appId);
  });

  it('names the reference and the registry error for a missing tag, a missing repository and an unknown host', async () => {
    const root = await freshRoot();
    const tag = await root.run(['pull', '-q', '--tls-verify=false', `${registry.host}/faults/app:nope`]);
    expect(tag.code).toBe(1);
    expect(tag.stderr).toMatch(new RegExp(`^Error: .*${registry.host}/faults/app.*MANIFEST_UNKNOWN`, 'm'));
    const repo = await root.run(['pull', '-q', '--tls-verify=false', `${registry.host}/faults/nothing:1`]);
    expect(repo.code).toBe(1);
    expect(repo.stderr).toMatch(/NAME_UNKNOWN|MANIFEST_UNKNOWN/);
    expect(repo.stderr).toContain('faults/nothing');
    const host = await root.run(['pull', '-q', 'no-such-host.invalid/faults/app:1']);
    expect(host.code).toBe(1);
    expect(host.stderr).toContain('no-such-host.invalid');
    for (const r of [tag, repo, host]) expect(r.stderr.split('\n').filter((l) => l.startsWith('Error: '))).toHaveLength(1);
  });

  it('refuses manifests of unknown media types and Docker schema 1, naming them', async () => {
    const root = await freshRoot();
    proxy.setRules([{ method: 'GET', path: /\/manifests\//, action: { kind: 'status', status: 200, headers: { 'content-type': 'application/vnd.example.unknown+json' } } }]);
    const unknown = await root.run(['pull', '-q', '--tls-verify=false', ref]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('application/vnd.example.unknown+json');
    proxy.setRules([{ method: 'GET', path: /\/manifests\//, action: { kind: 'status', status: 200, headers: { 'content-type': 'application/vnd.docker.distribution.manifest.v1+prettyjws' } } }]);
    const schema1 = await root.run(['pull', '-q', '--tls-verify=false', ref]);
    expect(schema1.code).toBe(1);
    expect(schema1.stderr).toMatch(/schema 1/);
    expect(await imageCount(root)).toBe(0);
  });

  it('gives up on a blob whose download keeps breaking off, saying how far it got', async () => {
    proxy.setRules([{ method: 'GET', path: BIG_BLOB, action: { kind: 'drop-after', bytes: 4096 }, times: 100 }]);
    const root = await freshRoot();
    const result = await root.run(['pull', '-q', '--tls-verify=false', ref]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`^Error: layer \\d/\\d \\(sha256:[a-f0-9]{64}\\) of ${ref.replace(/[.]/g, '\\.')}: download truncated at \\d+ of \\d+ bytes after \\d attempts`, 'm'));
    expect(await imageCount(root)).toBe(0);
    expect((await storeFiles(root)).tmp).toEqual([]);
  });

  it('gives up on a registry that keeps failing, with one line naming the reference', async () => {
    proxy.setRules([{ method: 'GET', path: /\/manifests\//, action: { kind: 'status', status: 503 }, times: 100 }]);
    const root = await freshRoot();
    const result = await root.run(['pull', '-q', '--tls-verify=false', ref]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('faults/app');
    expect(result.stderr).toMatch(/503|Service Unavailable/);
  });
});
