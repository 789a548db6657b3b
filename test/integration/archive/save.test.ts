// saveImages as other tools see its output: skopeo inspects it, umoci unpacks it, podman loads it.
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { isTsbuildError } from '../../../src/errors.js';
import { saveImages } from '../../../src/image/archive/index.js';
import type { Stores } from '../../../src/store/root.js';
import { HELLO, SKOPEO, UMOCI, createFixture, createTestImage, requireTools, run, type Fixture, type TestImage } from './helpers.js';

interface Inspect {
  Digest: string;
  Layers: string[];
  Labels: Record<string, string>;
}

describe('saveImages', { timeout: 60_000 }, () => {
  let fx: Fixture;
  let stores: Stores;
  let image: TestImage;
  beforeAll(requireTools);
  beforeEach(async () => {
    fx = await createFixture();
    stores = await fx.openRoot('root');
    image = await createTestImage(stores, ['localhost/test:1']);
  });
  afterEach(async () => {
    await fx.cleanup();
  });

  const out = (name: string): string => path.join(fx.dir, name);

  it('writes an oci-archive whose layer and config skopeo reads back', async () => {
    await saveImages(stores, ['localhost/test:1'], { format: 'oci-archive', output: out('img.tar') });
    const inspect = JSON.parse((await run([SKOPEO, 'inspect', `oci-archive:${out('img.tar')}`])).stdout) as Inspect;
    expect(inspect.Layers).toEqual([image.diffId]);
    expect(inspect.Digest).toBe(image.record.manifestDigest);
    expect(inspect.Labels).toEqual({ purpose: 'archive-test' });
    const config = JSON.parse((await run([SKOPEO, 'inspect', '--config', `oci-archive:${out('img.tar')}`])).stdout);
    expect(config.config.Cmd).toEqual(['/bin/sh', '-c', 'cat /hello.txt']);
    expect(config.rootfs.diff_ids).toEqual([image.diffId]);
  });

  it('names the image in index.json like podman and containerd, so umoci can unpack it by tag', async () => {
    await saveImages(stores, ['test:1'], { format: 'oci-archive', output: out('img.tar') });
    const layout = out('layout');
    await mkdir(layout);
    await run(['tar', '-C', layout, '-xf', out('img.tar')]);
    const index = JSON.parse(await readFile(path.join(layout, 'index.json'), 'utf8'));
    expect(index.manifests[0].annotations).toEqual({
      'io.containerd.image.name': 'localhost/test:1',
      'org.opencontainers.image.ref.name': '1',
    });
    await run([UMOCI, 'unpack', '--image', `${layout}:1`, out('bundle')]);
    expect(await readFile(out('bundle/rootfs/hello.txt'), 'utf8')).toBe(HELLO);
    expect(await readFile(out('bundle/rootfs/greeting'), 'utf8')).toBe(HELLO);
    expect(await readFile(out('bundle/rootfs/etc/motd'), 'utf8')).toBe('welcome\n');
  });

  it('gzips layers when asked and references them by their compressed digest', async () => {
    await saveImages(stores, ['localhost/test:1'], { format: 'oci-archive', output: out('gz.tar'), compress: true });
    const raw = JSON.parse((await run([SKOPEO, 'inspect', '--raw', `oci-archive:${out('gz.tar')}`])).stdout);
    expect(raw.layers[0].mediaType).toBe('application/vnd.oci.image.layer.v1.tar+gzip');
    expect(raw.layers[0].digest).not.toBe(image.diffId);
    const config = JSON.parse((await run([SKOPEO, 'inspect', '--config', `oci-archive:${out('gz.tar')}`])).stdout);
    expect(config.rootfs.diff_ids).toEqual([image.diffId]);
    // skopeo verifies every blob digest while copying.
    await run([SKOPEO, 'copy', `oci-archive:${out('gz.tar')}`, `oci:${out('layout')}:x`]);
    await run([UMOCI, 'unpack', '--image', `${out('layout')}:x`, out('bundle')]);
    expect(await readFile(out('bundle/rootfs/hello.txt'), 'utf8')).toBe(HELLO);
  });

  it('converts a docker-format image to OCI media types and keeps its image ID', async () => {
    const docker = await createTestImage(stores, ['localhost/dock:1'], 'docker');
    await saveImages(stores, ['localhost/dock:1'], { format: 'oci-archive', output: out('d.tar') });
    const raw = JSON.parse((await run([SKOPEO, 'inspect', '--raw', `oci-archive:${out('d.tar')}`])).stdout);
    expect(raw.mediaType).toBe('application/vnd.oci.image.manifest.v1+json');
    expect(raw.config).toMatchObject({ mediaType: 'application/vnd.oci.image.config.v1+json', digest: docker.record.id });
    expect(raw.layers[0]).toMatchObject({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: docker.diffId });
  });

  it('writes a docker-archive that skopeo reads, with RepoTags and <diff-id>/layer.tar', async () => {
    await saveImages(stores, ['localhost/test:1'], { format: 'docker-archive', output: out('d.tar') });
    const inspect = JSON.parse((await run([SKOPEO, 'inspect', `docker-archive:${out('d.tar')}`])).stdout) as Inspect;
    expect(inspect.Layers).toEqual([image.diffId]);
    const manifest = JSON.parse((await run(['tar', '-xOf', out('d.tar'), 'manifest.json'])).stdout);
    const hex = (d: string): string => d.slice('sha256:'.length);
    expect(manifest).toEqual([
      { Config: `${hex(image.record.id)}.json`, RepoTags: ['localhost/test:1'], Layers: [`${hex(image.diffId)}/layer.tar`] },
    ]);
  });

  it('writes archives that podman loads in both formats', async () => {
    await saveImages(stores, ['localhost/test:1'], { format: 'oci-archive', output: out('o.tar') });
    await saveImages(stores, ['localhost/test:1'], { format: 'docker-archive', output: out('d.tar') });
    for (const file of ['o.tar', 'd.tar']) {
      const loaded = await fx.podman(['load', '-i', out(file)]);
      expect(loaded.stdout).toContain('Loaded image: localhost/test:1');
      const ids = await fx.podman(['images', '--no-trunc', '--format', '{{.ID}} {{.Repository}}:{{.Tag}}']);
      expect(ids.stdout.trim()).toBe(`${image.record.id} localhost/test:1`);
      await fx.podman(['rmi', '--all', '--force']);
    }
  });

  it('streams the archive to stdout when the output is "-"', async () => {
    const script = fileURLToPath(new URL('./fixtures/save-stdout.ts', import.meta.url));
    const viteNode = fileURLToPath(new URL('../../../node_modules/.bin/vite-node', import.meta.url));
    const child = spawn(viteNode, [script, stores.layout.root, 'docker-archive', 'test:1'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise((resolve) => child.once('close', resolve));
    await pipeline(child.stdout, createWriteStream(out('stdout.tar')));
    const code = await exited;
    expect(code).toBe(0);
    const inspect = JSON.parse((await run([SKOPEO, 'inspect', `docker-archive:${out('stdout.tar')}`])).stdout) as Inspect;
    expect(inspect.Layers).toEqual([image.diffId]);
  });

  it('produces byte-identical archives when saving the same image twice', async () => {
    await saveImages(stores, ['localhost/test:1'], { format: 'oci-archive', output: out('a.tar') });
    await saveImages(stores, ['localhost/test:1'], { format: 'oci-archive', output: out('b.tar') });
    expect((await readFile(out('a.tar'))).equals(await readFile(out('b.tar')))).toBe(true);
  });

  it('rejects an unknown image with a NOT_FOUND error naming it', async () => {
    const err = await saveImages(stores, ['localhost/nope:1'], { format: 'oci-archive', output: out('x.tar') }).catch((e: unknown) => e);
    expect(isTsbuildError(err, 'NOT_FOUND')).toBe(true);
    expect((err as Error).message).toContain('localhost/nope:1');
    expect(await readdir(fx.dir)).not.toContain('x.tar');
  });

  it('fails without leaving a file behind when the output directory does not exist', async () => {
    const err = await saveImages(stores, ['localhost/test:1'], { format: 'docker-archive', output: out('missing/x.tar') }).catch(
      (e: unknown) => e,
    );
    expect(isTsbuildError(err, 'NOT_FOUND')).toBe(true);
    expect((err as Error).message).toMatch(/missing.*does not exist/);
    expect((await readdir(fx.dir)).filter((n) => n.startsWith('.'))).toEqual([]);
  });

  it('leaves neither the archive nor a temp file when a layer cannot be read midway', async () => {
    // A directory where the layer blob should be: stat succeeds, reading fails while streaming.
    const blob = stores.content.blobPath(image.diffId);
    await rm(blob);
    await mkdir(blob);
    await mkdir(out('outdir'));
    const err = await saveImages(stores, ['localhost/test:1'], { format: 'oci-archive', output: out('outdir/x.tar') }).catch((e: unknown) => e);
    expect(isTsbuildError(err, 'IO')).toBe(true);
    expect((err as Error).message).toContain(`cannot write archive ${out('outdir/x.tar')}`);
    expect(await readdir(out('outdir'))).toEqual([]);
  });
});
