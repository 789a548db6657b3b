// tsbuild and skopeo against one registry: what tsbuild pushes (OCI and Docker manifests, parallel
// multi-member gzip) skopeo reads and decompresses, and what skopeo pushes tsbuild pulls and builds on.
import { readFile, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRegistry } from '../../helpers/registry.js';
import { sha256Digest } from '../../../src/oci/types.js';
import { buildAppImage, createEnv, createRoot, makeContext, skopeo, type Env, type Root } from './helpers.js';

let env: Env;
let registry: Awaited<ReturnType<typeof startRegistry>>;
let source: Root;
let appId: string;
const roots: Root[] = [];
const dirs: string[] = [];

beforeAll(async () => {
  await skopeo(['--version']); // fails loudly when skopeo is missing
  env = await createEnv();
  registry = await startRegistry();
  source = await createRoot(env);
  appId = await buildAppImage(source, 'app', 'built by tsbuild');
});

afterAll(async () => {
  for (const r of [...roots, source]) await r?.cleanup();
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  await registry?.stop();
  await env?.cleanup();
});

describe('skopeo reads what tsbuild pushes', () => {
  for (const format of ['oci', 'docker'] as const) {
    it(`inspects and copies (decompressing every layer) a ${format} image`, async () => {
      const ref = `${registry.host}/interop/app:${format}`;
      await source.ok(['push', '-q', '--tls-verify=false', '--format', format, 'app', ref]);
      const raw = JSON.parse((await skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${ref}`])).stdout) as { mediaType: string; config: { digest: string } };
      expect(raw.mediaType).toBe(format === 'oci' ? 'application/vnd.oci.image.manifest.v1+json' : 'application/vnd.docker.distribution.manifest.v2+json');
      expect(raw.config.digest).toBe(`sha256:${appId}`);
      const inspect = JSON.parse((await skopeo(['inspect', '--tls-verify=false', `docker://${ref}`])).stdout) as { Layers: string[]; Architecture: string };

      // --dest-decompress makes Go's gzip reader inflate each layer; the result must be the diff IDs.
      const dir = path.join(env.dir, `copy-${format}`);
      dirs.push(dir);
      await skopeo(['copy', '-q', '--src-tls-verify=false', '--dest-decompress', `docker://${ref}`, `dir:${dir}`]);
      const config = JSON.parse(await readFile(path.join(dir, appId), 'utf8')) as { rootfs: { diff_ids: string[] } };
      expect(inspect.Layers).toHaveLength(config.rootfs.diff_ids.length);
      const files = await readdir(dir);
      for (const diffId of config.rootfs.diff_ids) {
        const hex = diffId.slice('sha256:'.length);
        expect(files).toContain(hex);
        expect(sha256Digest(await readFile(path.join(dir, hex)))).toBe(diffId);
      }
    });
  }
});

describe('tsbuild reads what skopeo pushes', () => {
  it('pulls an image skopeo copied from a tsbuild oci-archive (gzipped by skopeo), and builds FROM it', async () => {
    const archive = path.join(env.dir, 'app.tar');
    await source.ok(['save', '--format', 'oci-archive', '-o', archive, 'app']);
    const ref = `${registry.host}/interop/by-skopeo:1`;
    await skopeo(['copy', '-q', '--dest-tls-verify=false', `oci-archive:${archive}`, `docker://${ref}`]);
    const raw = JSON.parse((await skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${ref}`])).stdout) as { layers: Array<{ mediaType: string }> };
    expect(raw.layers[0]?.mediaType).toBe('application/vnd.oci.image.layer.v1.tar+gzip');

    const target = await createRoot(env, { base: false });
    roots.push(target);
    expect((await target.ok(['pull', '-q', '--tls-verify=false', ref])).stdout.trim()).toBe(appId);
    const context = await makeContext({ Containerfile: `FROM ${ref}\nRUN echo "and built on by tsbuild" >> /marker\n` });
    dirs.push(context);
    await target.ok(['bud', '-q', '--tls-verify=false', '-t', 'on-top', context]);
    const run = await target.ok(['run', '--rm', 'on-top']);
    expect(run.stdout).toBe('built by tsbuild\nand built on by tsbuild\n');
  });
});
