// Reproducible builds: with --timestamp (buildah) or SOURCE_DATE_EPOCH (BuildKit; build arg or
// environment) the image's dates are the epoch and new layers' mtimes are clamped to it, so two
// builds of the same inputs, cache or not, give the same image ID. Without them nothing changes.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildahAvailable, buildBoth, readOciArchive, type ImageView } from '../../helpers/buildah.js';
import { Contexts, budOk, inspectJson, setupRoot, sh, steps, teardownRoot, type TestRoot } from './helpers.js';

const EPOCH = 1700000000;
// RFC 3339 without fractional seconds, as buildah and BuildKit write it.
const DATE = '2023-11-14T22:13:20Z';

const CONTAINERFILE = [
  'FROM busybox-base',
  'RUN mkdir -p /out && echo same > /out/same.txt && rm /etc/group',
  'COPY file.txt /copied/',
  'WORKDIR /made/by/workdir',
  'RUN touch /out/touched',
  'ENV X=1',
].join('\n');

let t: TestRoot;
const contexts = new Contexts();
let ctx: string;

beforeAll(async () => {
  t = await setupRoot();
  ctx = await contexts.make({ Containerfile: CONTAINERFILE, 'file.txt': 'from the context\n' });
});

afterAll(async () => {
  await contexts.cleanup();
  await teardownRoot(t);
});

async function imageId(args: string[], env?: NodeJS.ProcessEnv): Promise<string> {
  const result = await t.run(['bud', '-q', ...args, ctx], { env });
  if (result.code !== 0) throw new Error(`bud failed:\n${result.stderr}`);
  return result.stdout.trim();
}

async function view(image: string): Promise<ImageView> {
  const archive = path.join(t.root, `${image}.tar`);
  await t.ok(['save', '--format', 'oci-archive', '-o', archive, image]);
  return readOciArchive(archive);
}

describe('reproducible builds', () => {
  it('--timestamp: two builds without cache give identical image IDs and manifest digests, dated by the epoch', async () => {
    const first = await imageId(['--no-cache', '--timestamp', String(EPOCH), '-t', 'repro']);
    const firstManifest = await inspectJson(t, 'repro', 'Digest');
    // A second later: every new mtime differs from the first build's.
    await new Promise((r) => setTimeout(r, 1100));
    const second = await imageId(['--no-cache', '--timestamp', String(EPOCH), '-t', 'repro']);
    expect(second).toBe(first);
    expect(await inspectJson(t, 'repro', 'Digest')).toBe(firstManifest);
    expect(await inspectJson(t, 'repro', 'Created')).toBe(DATE);
  });

  it('clamps new layers\' mtimes to the epoch and dates only the new history entries', async () => {
    await budOk(t, ctx, ['--timestamp', String(EPOCH), '-t', 'repro-view']);
    const image = await view('repro-view');
    const base = await view('busybox-base');
    expect(image.config.created).toBe(DATE);
    const history = image.config.history as { created: string }[];
    const baseHistory = base.config.history as { created: string }[];
    expect(history.slice(0, baseHistory.length)).toEqual(baseHistory);
    expect(history.slice(baseHistory.length).every((h) => h.created === DATE)).toBe(true);
    for (const p of ['out', 'out/same.txt', 'out/touched', 'made/by/workdir', 'copied']) {
      expect(image.files.get(p)?.mtime, p).toBe(EPOCH);
    }
    expect(image.files.has('etc/group')).toBe(false);
    // The rewritten layers' snapshots are made on demand: the image runs.
    expect(await sh(t, 'repro-view', 'cat /out/same.txt /copied/file.txt; test -e /etc/group || echo no group')).toBe('same\nfrom the context\nno group\n');
  });

  it('a cached rebuild with an epoch archives nothing again and gives the same image', async () => {
    const first = await budOk(t, ctx, ['--timestamp', String(EPOCH), '-t', 'repro-cached']);
    const again = await budOk(t, ctx, ['--timestamp', String(EPOCH), '-t', 'repro-cached']);
    expect(steps(again.stdout).filter((s) => s.text.startsWith('RUN')).every((s) => s.cached)).toBe(true);
    expect(again.stdout.trim().split('\n').pop()).toBe(first.stdout.trim().split('\n').pop());
  });

  it('SOURCE_DATE_EPOCH as a build arg or in the environment gives the same image as --timestamp', async () => {
    const byTimestamp = await imageId(['--timestamp', String(EPOCH)]);
    expect(await imageId(['--build-arg', `SOURCE_DATE_EPOCH=${EPOCH}`])).toBe(byTimestamp);
    expect(await imageId([], { SOURCE_DATE_EPOCH: String(EPOCH) })).toBe(byTimestamp);
  });

  it('a multi-stage build copying files another stage wrote is reproducible too', async () => {
    const multi = await contexts.make({
      Containerfile: ['FROM busybox-base AS gen', 'RUN mkdir /gen && echo generated > /gen/file', 'FROM busybox-base', 'COPY --from=gen /gen /gen'].join('\n'),
    });
    const id = async () => (await t.ok(['bud', '-q', '--no-cache', '--timestamp', String(EPOCH), multi])).stdout.trim();
    const first = await id();
    await new Promise((r) => setTimeout(r, 1100));
    expect(await id()).toBe(first);
  });

  it('--squash-all with --timestamp is reproducible too', async () => {
    const first = await imageId(['--no-cache', '--squash-all', '--timestamp', String(EPOCH)]);
    await new Promise((r) => setTimeout(r, 1100));
    expect(await imageId(['--no-cache', '--squash-all', '--timestamp', String(EPOCH)])).toBe(first);
  });

  it('without an epoch the image is dated now', async () => {
    const before = Date.now() - 1000;
    await budOk(t, ctx, ['--no-cache', '-t', 'dated-now']);
    expect(Date.parse(await inspectJson<string>(t, 'dated-now', 'Created'))).toBeGreaterThanOrEqual(before);
  });
});

describe.runIf(buildahAvailable() || process.env.CI === 'true')('side by side with buildah', () => {
  it('--timestamp dates the image and its history as buildah does', async () => {
    const { tsbuild, buildah } = await buildBoth(ctx, ['--timestamp', String(EPOCH)], t, 'localhost/compare-timestamp');
    expect(tsbuild.config.created).toBe(buildah.config.created);
    const dates = (v: ImageView) => (v.config.history as { created: string }[]).slice(-3).map((h) => h.created);
    expect(dates(tsbuild)).toEqual(dates(buildah));
    // buildah sets every file's mtime in new layers to the timestamp; BuildKit (the reference) and
    // tsbuild clamp: only newer mtimes become the epoch. A file made now is the epoch in both.
    expect(tsbuild.files.get('out/same.txt')?.mtime).toBe(buildah.files.get('out/same.txt')?.mtime);
  });
});
