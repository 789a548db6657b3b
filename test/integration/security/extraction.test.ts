// Extraction safety, proven on a crafted corpus (corpus.ts): every hostile layer tar is applied in
// overlay and plain whiteout modes, and the OCI/docker archives and local ADD archives built from
// them go through `tsbuild load` and a real `bud`. Each input runs inside a canary tree (canary.ts)
// that must be exactly as it was afterwards; the input gives a one-line TsbuildError naming the
// entry, or the documented safe tree.
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Header } from 'tar-stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applyTar } from '../../../src/archive/index.js';
import { isTsbuildError } from '../../../src/errors.js';
import { MediaType, hostPlatform } from '../../../src/oci/types.js';
import { craftTar, streamOf, type CraftedEntry } from '../../unit/helpers-archive.js';
import { cli, createCanary, expectOneLineError, imageEntries, type Canary } from './canary.js';
import { CORPUS, type CorpusCase, type Mode } from './corpus.js';

const WHAT = 'layer sha256:c0ffee';

describe(`layer extraction of ${CORPUS.length} crafted tars (applyTar, overlay and plain whiteout modes)`, () => {
  let canary: Canary;
  beforeEach(() => {
    canary = createCanary(mkdtempSync(path.join(os.tmpdir(), 'tsbuild-esc-')));
  });
  afterEach(() => {
    try {
      canary.check();
    } finally {
      rmSync(canary.base, { recursive: true, force: true });
    }
  });

  for (const c of CORPUS) {
    for (const mode of c.modes ?? (['overlay', 'none'] as Mode[])) {
      it(`#${c.id} ${c.title} [${mode}]`, async () => {
        const input = await c.tar(canary.base);
        const expected = typeof c.error === 'function' ? c.error(mode) : c.error;
        const outcome = await applyTar(streamOf(input), canary.root, { whiteouts: mode, what: WHAT }).then(
          () => undefined,
          (err: unknown) => err,
        );
        if (expected) {
          expect(isTsbuildError(outcome), `expected a TsbuildError, got ${String(outcome)}`).toBe(true);
          const err = outcome as Error & { code: string };
          expect(err.code).toBe(expected.code);
          expect(err.message).toMatch(expected.message);
          expect(err.message.startsWith(WHAT)).toBe(true);
          expect(err.message).not.toMatch(/[\n\r]/);
          expect(err.message.length).toBeLessThan(600);
        } else {
          if (outcome !== undefined) throw outcome;
          c.tree!(canary.root, mode, canary.base);
        }
      });
    }
  }
});

// ---- `tsbuild load` of crafted OCI and docker archives -------------------------------------------

const hex = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

interface OciParts {
  layer: Buffer;
  config: Buffer;
  manifest: Buffer;
  index: Buffer;
  members: CraftedEntry[];
}

/** A valid one-image OCI layout over `layer`, as archive members; cases add to or replace them. */
function ociParts(layer: Buffer, indexOverride?: unknown): OciParts {
  const config = Buffer.from(
    JSON.stringify({ architecture: hostPlatform().architecture, os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [`sha256:${hex(layer)}`] } }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config: { mediaType: MediaType.OciConfig, digest: `sha256:${hex(config)}`, size: config.length },
      layers: [{ mediaType: MediaType.OciLayer, digest: `sha256:${hex(layer)}`, size: layer.length }],
    }),
  );
  const index = Buffer.from(
    JSON.stringify(
      indexOverride ?? {
        schemaVersion: 2,
        manifests: [{ mediaType: MediaType.OciManifest, digest: `sha256:${hex(manifest)}`, size: manifest.length, annotations: { 'io.containerd.image.name': 'localhost/crafted:1' } }],
      },
    ),
  );
  const members: CraftedEntry[] = [
    { name: 'oci-layout', content: '{"imageLayoutVersion":"1.0.0"}' },
    { name: 'index.json', content: index },
    { name: 'blobs/sha256/', type: 'directory' },
    { name: `blobs/sha256/${hex(config)}`, content: config },
    { name: `blobs/sha256/${hex(manifest)}`, content: manifest },
    { name: `blobs/sha256/${hex(layer)}`, content: layer },
  ];
  return { layer, config, manifest, index, members };
}

interface LoadCase {
  id: string;
  title: string;
  archive(base: string): Promise<Buffer>;
  /** The one-line error, or undefined when the archive loads (its hostile members ignored). */
  error?: RegExp;
}

const goodLayer = () => craftTar([{ name: 'hello', content: 'hello\n' }]);
const without = (members: CraftedEntry[], name: string) => members.filter((m) => m.name !== name);

const LOAD_CASES: LoadCase[] = [
  {
    id: 'L01', title: 'a member named ../pwned-x beside a valid image is ignored',
    archive: async () => craftTar([...ociParts(await goodLayer()).members, { name: '../pwned-x', content: 'PWNED' }, { name: '../../../../tmp/pwned-x', content: 'PWNED' }]),
  },
  {
    id: 'L02', title: 'members with absolute names are ignored',
    archive: async (b) => craftTar([...ociParts(await goodLayer()).members, { name: '/tmp/tsbuild-pwned-load', content: 'PWNED' }, { name: path.join(b, 'pwned-abs'), content: 'PWNED' }]),
  },
  {
    id: 'L03', title: 'a blob that is a symlink to /etc/passwd',
    archive: async () => {
      const p = ociParts(await goodLayer());
      return craftTar([...without(p.members, `blobs/sha256/${hex(p.config)}`), { name: `blobs/sha256/${hex(p.config)}`, type: 'symlink', linkname: '/etc/passwd' }]);
    },
    error: /archive .*: blobs\/sha256\/[0-9a-f]{64} is missing/,
  },
  {
    id: 'L04', title: 'a blob that is a relative symlink climbing out of the archive',
    archive: async () => {
      const p = ociParts(await goodLayer());
      return craftTar([...without(p.members, `blobs/sha256/${hex(p.manifest)}`), { name: `blobs/sha256/${hex(p.manifest)}`, type: 'symlink', linkname: '../../../../../etc/passwd' }]);
    },
    error: /blobs\/sha256\/[0-9a-f]{64} is missing/,
  },
  {
    id: 'L05', title: 'a layer blob that is a hardlink to a host file',
    archive: async (b) => {
      const p = ociParts(await goodLayer());
      return craftTar([...without(p.members, `blobs/sha256/${hex(p.layer)}`), { name: `blobs/sha256/${hex(p.layer)}`, type: 'link', linkname: path.join(b, 'canary.txt') }]);
    },
    error: /blobs\/sha256\/[0-9a-f]{64} is missing/,
  },
  {
    id: 'L06', title: 'index.json naming a manifest by a digest that is a path out',
    archive: async () => craftTar(ociParts(await goodLayer(), { schemaVersion: 2, manifests: [{ mediaType: MediaType.OciManifest, digest: 'sha256:../../../../etc/passwd', size: 1 }] }).members),
    error: /invalid or unsupported digest "sha256:\.\.\/\.\.\/\.\.\/\.\.\/etc\/passwd"/,
  },
  {
    id: 'L07', title: 'two blobs that are symlinks to each other',
    archive: async () => {
      const p = ociParts(await goodLayer());
      const c = `blobs/sha256/${hex(p.config)}`;
      const other = `blobs/sha256/${'e'.repeat(64)}`;
      return craftTar([...without(p.members, c), { name: c, type: 'symlink', linkname: 'e'.repeat(64) }, { name: other, type: 'symlink', linkname: hex(p.config) }]);
    },
    error: /blobs\/sha256\/[0-9a-f]{64} is missing/,
  },
  {
    id: 'L08', title: 'a docker-archive whose Config names ../../etc/passwd',
    archive: async () => craftTar([{ name: 'manifest.json', content: JSON.stringify([{ Config: '../../etc/passwd', RepoTags: ['crafted:1'], Layers: [] }]) }]),
    error: /archive .*: \.\.\/\.\.\/etc\/passwd is missing/,
  },
  {
    id: 'L09', title: 'a docker-archive whose layer is /etc/passwd',
    archive: async () => {
      const config = Buffer.from(JSON.stringify({ os: 'linux', rootfs: { type: 'layers', diff_ids: [`sha256:${'a'.repeat(64)}`] } }));
      return craftTar([
        { name: 'manifest.json', content: JSON.stringify([{ Config: `${hex(config)}.json`, RepoTags: ['crafted:1'], Layers: ['/etc/passwd'] }]) },
        { name: `${hex(config)}.json`, content: config },
      ]);
    },
    error: /archive .*: \/etc\/passwd is missing/,
  },
  {
    id: 'L10', title: 'a docker-archive layer.tar that is a symlink out of the archive',
    archive: async () => {
      const layer = await goodLayer();
      const config = Buffer.from(JSON.stringify({ os: 'linux', rootfs: { type: 'layers', diff_ids: [`sha256:${hex(layer)}`] } }));
      return craftTar([
        { name: 'manifest.json', content: JSON.stringify([{ Config: `${hex(config)}.json`, RepoTags: ['crafted:1'], Layers: [`${hex(layer)}/layer.tar`] }]) },
        { name: `${hex(config)}.json`, content: config },
        { name: `${hex(layer)}/layer.tar`, type: 'symlink', linkname: '../../../etc/passwd' },
      ]);
    },
    error: /[0-9a-f]{64}\/layer\.tar is missing/,
  },
];

describe(`tsbuild load of ${LOAD_CASES.length} crafted image archives`, () => {
  let canary: Canary;
  afterEach(() => {
    try {
      canary.check();
    } finally {
      rmSync(canary.base, { recursive: true, force: true });
    }
  });

  for (const c of LOAD_CASES) {
    it(`#${c.id} ${c.title}`, async () => {
      const base = mkdtempSync(path.join(os.tmpdir(), 'tsbuild-esc-load-'));
      const archive = path.join(base, 'archive.tar');
      writeFileSync(archive, await c.archive(base));
      canary = createCanary(base);
      const result = await cli(canary.root, ['load', '-i', archive]);
      const images = JSON.parse((await cli(canary.root, ['images', '--json'])).stdout) as Array<{ names: string[] }>;
      if (c.error) {
        expectOneLineError(result, c.error);
        expect(images).toEqual([]);
      } else {
        expect(result.code, result.stderr).toBe(0);
        expect(images.flatMap((i) => i.names)).toEqual(['localhost/crafted:1']);
      }
      expect(readdirSync(path.join(canary.root, 'tmp'))).toEqual([]);
    });
  }

  it('#L12 an oci: layout directory whose blobs are symlinks to files outside it', async () => {
    const base = mkdtempSync(path.join(os.tmpdir(), 'tsbuild-esc-load-'));
    const p = ociParts(await goodLayer());
    const layout = path.join(base, 'layout');
    mkdirSync(path.join(layout, 'blobs', 'sha256'), { recursive: true });
    mkdirSync(path.join(base, 'outside'));
    for (const m of p.members) if (m.type !== 'directory') writeFileSync(path.join(layout, m.name), m.content!);
    // The config the index asks for lives outside the layout, with the right digest: still not the layout's.
    writeFileSync(path.join(base, 'outside', 'config.json'), p.config);
    rmSync(path.join(layout, 'blobs', 'sha256', hex(p.config)));
    symlinkSync(path.join(base, 'outside', 'config.json'), path.join(layout, 'blobs', 'sha256', hex(p.config)));
    symlinkSync('../../../outside/config.json', path.join(layout, 'blobs', 'sha256', 'e'.repeat(64)));
    canary = createCanary(base);
    const result = await cli(canary.root, ['pull', `oci:${layout}`]);
    expectOneLineError(result, /OCI layout .*: blobs\/sha256\/[0-9a-f]{64} is missing/);
    expect(JSON.parse((await cli(canary.root, ['images', '--json'])).stdout)).toEqual([]);
  });

  it('#L11 a loaded image whose layer is hostile fails on first use with a one-line error, writing nothing outside', async () => {
    const base = mkdtempSync(path.join(os.tmpdir(), 'tsbuild-esc-load-'));
    const layer = await craftTar([{ name: 'a', type: 'symlink', linkname: '../../../outside' }, { name: 'a/pwned', content: 'PWNED' }]);
    writeFileSync(path.join(base, 'archive.tar'), await craftTar(ociParts(layer).members));
    mkdirSync(path.join(base, 'ctx'));
    writeFileSync(path.join(base, 'ctx', 'Containerfile'), 'FROM localhost/crafted:1\nCOPY Containerfile /x\n');
    canary = createCanary(base);
    expect((await cli(canary.root, ['load', '-i', path.join(base, 'archive.tar')])).code).toBe(0);
    const result = await cli(canary.root, ['bud', '-t', 'localhost/after', path.join(base, 'ctx')]);
    expectOneLineError(result, /layer sha256:[0-9a-f]+.*entry "a\/pwned" escapes the root through the symlink \/a -> \.\.\/\.\.\/\.\.\/outside/);
  });
});

// ---- ADD of a local archive in a real build -------------------------------------------------------

interface AddCase {
  /** A corpus case, or an archive of its own. */
  id: string;
  title?: string;
  archive?: (base: string) => Promise<Buffer>;
  gzip?: boolean;
  error?: RegExp;
  /** Assertions on the ADD layer's entries (names relative to the image root). */
  layer?: (entries: Map<string, Header>) => void;
}

const corpus = (id: string): CorpusCase => CORPUS.find((c) => c.id === id)!;

const ADD_CASES: AddCase[] = [
  { id: '01', error: /Containerfile:2: entry "\/.*canary\.txt" escapes the root/ },
  { id: '03', error: /Containerfile:2: entry "\.\.\/canary\.txt" escapes the root/ },
  { id: '03', gzip: true, error: /Containerfile:2: entry "\.\.\/canary\.txt" escapes the root/ },
  {
    id: '09',
    layer: (e) => {
      expect(e.get('dest/a')).toMatchObject({ type: 'symlink', linkname: '/etc' });
      // Absolute symlinks in an ADD'ed archive resolve at the destination, as Docker's chrooted untar does.
      expect(e.get('dest/etc/passwd')?.type).toBe('file');
      expect(e.has('etc/passwd')).toBe(false);
    },
  },
  { id: '11', error: /Containerfile:2: entry "a\/secret" escapes the root through the symlink/ },
  { id: '12', error: /Containerfile:2: entry "l1\/canary\.txt" escapes the root/ },
  { id: '14', error: /Containerfile:2: entry "a\/x": too many levels of symbolic links/ },
  { id: '18', error: /Containerfile:2: hardlink target of "\.\.\/canary\.txt" escapes the root/ },
  { id: '20', error: /Containerfile:2: hardlink "h" -> "later" points to an entry that does not exist/ },
  { id: '21', error: /Containerfile:2: hardlink target of "s" escapes the root/ },
  { id: '26', error: /Containerfile:2: entry "\.wh\.\.\.": names starting with "\.wh\." are reserved for whiteouts/ },
  { id: '28', error: /Containerfile:2: entry "s\/\.wh\.\.wh\.\.opq"/ },
  { id: 'A1', title: 'an opaque-directory marker would hide the image\'s /dest', archive: () => craftTar([{ name: 'sub/.wh..wh..opq', content: '' }]), error: /entry "sub\/\.wh\.\.wh\.\.opq": names starting with "\.wh\." are reserved/ },
  {
    id: '36',
    layer: (e) => expect(e.get('dest/null')).toMatchObject({ type: 'character-device', devmajor: 1, devminor: 3 }),
  },
  { id: '40', error: /Containerfile:2: cannot extract "d\/d\/d\/.*…" \(5005 bytes\): ENAMETOOLONG/ },
  { id: '44', error: /Containerfile:2: entry "\.\.\/canary\.txt" escapes the root/ },
  { id: '46', error: /Containerfile:2: entry "x\/x\/.*…" \(311 bytes\) escapes the root/ },
  { id: '49', error: /Containerfile:2: entry "a\\0\/\.\.\/\.\.\/pwned" contains a NUL byte/ },
  { id: '50', error: /Containerfile:2: entry "a\\n\/\.\.\/\.\.\/pwned" escapes the root/ },
  {
    id: '51',
    layer: (e) => {
      expect((e.get('dest/suid')!.mode ?? 0) & 0o7777).toBe(0o4755);
      expect(e.get('dest/sgid')).toMatchObject({ type: 'directory', gid: 50 });
      expect((e.get('dest/sgid')!.mode ?? 0) & 0o7777).toBe(0o2775);
    },
  },
];

describe(`ADD of ${ADD_CASES.length} crafted local archives in a build`, () => {
  let canary: Canary;
  afterEach(() => {
    try {
      canary.check();
    } finally {
      rmSync(canary.base, { recursive: true, force: true });
    }
  });

  for (const c of ADD_CASES) {
    const title = c.title ?? corpus(c.id).title;
    it(`#A-${c.id}${c.gzip ? '-gz' : ''} ${title}${c.gzip ? ' (gzipped)' : ''}`, async () => {
      const base = mkdtempSync(path.join(os.tmpdir(), 'tsbuild-esc-add-'));
      const ctx = path.join(base, 'ctx');
      mkdirSync(ctx);
      const archive = await (c.archive ?? corpus(c.id).tar)(base);
      writeFileSync(path.join(ctx, 'evil.tar'), c.gzip ? gzipSync(archive) : archive);
      writeFileSync(path.join(ctx, 'Containerfile'), 'FROM scratch\nADD evil.tar /dest/\n');
      canary = createCanary(base);
      const result = await cli(canary.root, ['bud', '-t', 'localhost/added', ctx]);
      if (c.error) {
        expectOneLineError(result, c.error);
        expect(JSON.parse((await cli(canary.root, ['images', '--json'])).stdout)).toEqual([]);
        return;
      }
      expect(result.code, result.stderr).toBe(0);
      c.layer!(new Map([...(await imageEntries(canary.root, 'localhost/added', 'top'))].map(([k, v]) => [k, v.header])));
    });
  }
});
