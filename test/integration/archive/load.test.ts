// loadArchive with archives from tsbuild, skopeo and podman, and with archives that are damaged,
// tampered with, or not archives at all.
import { mkdir, readFile, readdir, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import tarStream from 'tar-stream';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { isTsbuildError } from '../../../src/errors.js';
import { loadArchive, saveImages } from '../../../src/image/archive/index.js';
import { loadImage } from '../../../src/image/image.js';
import { MediaType, sha256Digest, type Manifest } from '../../../src/oci/types.js';
import type { Stores } from '../../../src/store/root.js';
import { SKOPEO, createFixture, createTestImage, makeLayerTar, requireTools, run, type Fixture, type TestImage } from './helpers.js';

describe('loadArchive', { timeout: 60_000 }, () => {
  let fx: Fixture;
  let source: Stores;
  let target: Stores;
  let image: TestImage;
  beforeAll(requireTools);
  beforeEach(async () => {
    fx = await createFixture();
    source = await fx.openRoot('source');
    target = await fx.openRoot('target');
    image = await createTestImage(source, ['localhost/test:1']);
  });
  afterEach(async () => {
    await fx.cleanup();
  });

  const out = (name: string): string => path.join(fx.dir, name);

  /** Unpacks an archive with tar, lets `edit` change the tree, and packs it again. */
  async function rewrite(archive: string, result: string, edit: (dir: string) => Promise<void>): Promise<void> {
    const dir = out(`edit-${path.basename(result)}`);
    await mkdir(dir);
    await run(['tar', '-C', dir, '-xf', archive]);
    await edit(dir);
    await run(['tar', '-C', dir, '-cf', result, '.']);
  }

  async function expectNoImages(): Promise<void> {
    expect(await target.images.list()).toEqual([]);
    expect(await readdir(target.layout.tmp)).toEqual([]);
  }

  for (const format of ['oci-archive', 'docker-archive'] as const) {
    it(`round-trips an image through ${format} with the same ID and names`, async () => {
      await saveImages(source, ['localhost/test:1'], { format, output: out('img.tar') });
      const records = await loadArchive(target, out('img.tar'));
      expect(records.map((r) => [r.id, r.names])).toEqual([[image.record.id, ['localhost/test:1']]]);
      const loaded = await loadImage(target, records[0]!);
      expect(loaded.layers.map((l) => l.diffId)).toEqual([image.diffId]);
      expect(loaded.config.config.Cmd).toEqual(['/bin/sh', '-c', 'cat /hello.txt']);
      expect(await target.content.read(image.diffId)).toEqual(await makeLayerTar());
      expect(records[0]!.manifestMediaType).toBe(format === 'oci-archive' ? MediaType.OciManifest : MediaType.DockerManifest);
      expect(await readdir(target.layout.tmp)).toEqual([]);
    });
  }

  it('loads an oci-archive with gzip layers written by skopeo, storing the layer uncompressed', async () => {
    await saveImages(source, ['localhost/test:1'], { format: 'oci-archive', output: out('img.tar') });
    await run([SKOPEO, 'copy', `oci-archive:${out('img.tar')}`, `oci-archive:${out('sk.tar')}:localhost/copied:2`]);
    const raw = JSON.parse((await run([SKOPEO, 'inspect', '--raw', `oci-archive:${out('sk.tar')}`])).stdout) as Manifest;
    expect(raw.layers[0]!.mediaType).toBe(MediaType.OciLayerGzip);
    const [record] = await loadArchive(target, out('sk.tar'));
    expect(record).toMatchObject({ id: image.record.id, names: ['localhost/copied:2'] });
    expect(sha256Digest(await target.content.read(image.diffId))).toBe(image.diffId);
  });

  it('loads a docker-archive written by skopeo, whose layer.tar is a symlink', async () => {
    await saveImages(source, ['localhost/test:1'], { format: 'oci-archive', output: out('img.tar') });
    await run([SKOPEO, 'copy', `oci-archive:${out('img.tar')}`, `docker-archive:${out('sk.tar')}:localhost/copied:3`]);
    const [record] = await loadArchive(target, out('sk.tar'));
    expect(record).toMatchObject({ id: image.record.id, names: ['localhost/copied:3'] });
    expect((await loadImage(target, record!)).layers[0]!.diffId).toBe(image.diffId);
  });

  it('loads archives podman saved, in both formats', async () => {
    await saveImages(source, ['localhost/test:1'], { format: 'oci-archive', output: out('img.tar') });
    await fx.podman(['load', '-i', out('img.tar')]);
    for (const format of ['oci-archive', 'docker-archive']) {
      const file = out(`podman-${format}.tar`);
      await fx.podman(['save', '--format', format, '-o', file, 'localhost/test:1']);
      const fresh = await fx.openRoot(`from-${format}`);
      const [record] = await loadArchive(fresh, file);
      expect(record).toMatchObject({ id: image.record.id, names: ['localhost/test:1'] });
    }
  });

  it('decompresses gzip layer tars in a docker-archive, found by their magic bytes', async () => {
    await saveImages(source, ['localhost/test:1'], { format: 'docker-archive', output: out('img.tar') });
    await rewrite(out('img.tar'), out('gz.tar'), async (dir) => {
      const layer = path.join(dir, image.diffId.slice(7), 'layer.tar');
      await writeFile(layer, gzipSync(await readFile(layer)));
    });
    const [record] = await loadArchive(target, out('gz.tar'));
    expect(record!.id).toBe(image.record.id);
    expect(sha256Digest(await target.content.read(image.diffId))).toBe(image.diffId);
  });

  it('stores an archive image without a name as untagged', async () => {
    await saveImages(source, ['localhost/test:1'], { format: 'oci-archive', output: out('img.tar') });
    await rewrite(out('img.tar'), out('anon.tar'), async (dir) => {
      const index = JSON.parse(await readFile(path.join(dir, 'index.json'), 'utf8'));
      delete index.manifests[0].annotations;
      await writeFile(path.join(dir, 'index.json'), JSON.stringify(index));
    });
    const [record] = await loadArchive(target, out('anon.tar'));
    expect(record).toMatchObject({ id: image.record.id, names: [] });
  });

  for (const format of ['oci-archive', 'docker-archive'] as const) {
    it(`rejects a tampered layer in a ${format} with DIGEST_MISMATCH and adds no image`, async () => {
      await saveImages(source, ['localhost/test:1'], { format, output: out('img.tar') });
      await rewrite(out('img.tar'), out('bad.tar'), async (dir) => {
        const hex = image.diffId.slice(7);
        const layer = path.join(dir, format === 'oci-archive' ? `blobs/sha256/${hex}` : `${hex}/layer.tar`);
        const bytes = await readFile(layer);
        bytes[600] = bytes[600]! ^ 0xff; // inside hello.txt's content
        await writeFile(layer, bytes);
      });
      const err = await loadArchive(target, out('bad.tar')).catch((e: unknown) => e);
      expect(isTsbuildError(err, 'DIGEST_MISMATCH')).toBe(true);
      expect((err as Error).message).toContain(out('bad.tar'));
      expect((err as Error).message).toContain('layer 1');
      expect(await target.content.has(image.diffId)).toBe(false);
      await expectNoImages();
    });
  }

  it('rejects a gzip layer whose bytes differ from the manifest digest, and adds no image', async () => {
    await saveImages(source, ['localhost/test:1'], { format: 'oci-archive', output: out('img.tar'), compress: true });
    const raw = JSON.parse((await run([SKOPEO, 'inspect', '--raw', `oci-archive:${out('img.tar')}`])).stdout) as Manifest;
    const blob = raw.layers[0]!.digest;
    await rewrite(out('img.tar'), out('bad.tar'), async (dir) => {
      const file = path.join(dir, 'blobs/sha256', blob.slice(7));
      const bytes = await readFile(file);
      bytes[bytes.length - 20] = bytes[bytes.length - 20]! ^ 0x55;
      await writeFile(file, bytes);
    });
    const err = await loadArchive(target, out('bad.tar')).catch((e: unknown) => e);
    expect(isTsbuildError(err, 'DIGEST_MISMATCH')).toBe(true);
    expect((err as Error).message).toContain(`but the manifest says ${blob}`);
    expect(await target.content.has(image.diffId)).toBe(false);
    await expectNoImages();
  });

  it('rejects a file that is not an image archive with INVALID_ARGUMENT', async () => {
    await writeFile(out('notes.txt'), 'just some text, certainly not a tar\n'.repeat(40));
    const err = await loadArchive(target, out('notes.txt')).catch((e: unknown) => e);
    expect(isTsbuildError(err, 'INVALID_ARGUMENT')).toBe(true);
    expect((err as Error).message).toBe(`archive ${out('notes.txt')}: not an OCI or Docker image archive`);
    await expectNoImages();
  });

  it('rejects a tar without an image manifest with INVALID_ARGUMENT', async () => {
    await writeFile(out('hello.txt'), 'hi\n');
    await run(['tar', '-C', fx.dir, '-cf', out('plain.tar'), 'hello.txt']);
    await expect(loadArchive(target, out('plain.tar'))).rejects.toThrow('not an OCI or Docker image archive');
    await expectNoImages();
  });

  it('rejects a truncated archive with a clear error and adds no image', async () => {
    await saveImages(source, ['localhost/test:1'], { format: 'oci-archive', output: out('img.tar') });
    await truncate(out('img.tar'), 7000);
    const err = await loadArchive(target, out('img.tar')).catch((e: unknown) => e);
    expect(isTsbuildError(err, 'INVALID_ARGUMENT')).toBe(true);
    expect((err as Error).message).toMatch(/truncated/);
    await expectNoImages();
  });

  it('ignores entries with absolute, climbing or unexpected names', async () => {
    await saveImages(source, ['localhost/test:1'], { format: 'docker-archive', output: out('img.tar') });
    const pack = tarStream.pack();
    pack.entry({ name: '../escaped.txt' }, 'nope');
    pack.entry({ name: `/${fx.dir}/absolute.txt` }, 'nope');
    pack.entry({ name: 'extra/notes.txt' }, 'ignored');
    const entries: Array<{ name: string; data: Buffer }> = [];
    const extract = tarStream.extract();
    const collected = (async () => {
      for await (const entry of extract) {
        const chunks: Buffer[] = [];
        for await (const c of entry) chunks.push(c as Buffer);
        entries.push({ name: entry.header.name, data: Buffer.concat(chunks) });
      }
    })();
    extract.end(await readFile(out('img.tar')));
    await collected;
    for (const e of entries) if (!e.name.endsWith('/')) pack.entry({ name: e.name }, e.data);
    pack.finalize();
    const chunks: Buffer[] = [];
    for await (const c of pack) chunks.push(c as Buffer);
    await mkdir(out('deep/er'), { recursive: true });
    await writeFile(out('deep/er/evil.tar'), Buffer.concat(chunks));

    const [record] = await loadArchive(target, out('deep/er/evil.tar'));
    expect(record!.id).toBe(image.record.id);
    expect(await readdir(fx.dir)).not.toContain('absolute.txt');
    expect(await readdir(out('deep'))).not.toContain('escaped.txt');
    expect(await readdir(out('deep'))).toEqual(['er']);
    expect(await readdir(target.layout.tmp)).toEqual([]);
  });
});
