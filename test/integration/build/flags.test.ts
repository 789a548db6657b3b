// Build flags that shape the result: --build-arg-file, --annotation, --env/--unsetenv/--unsetlabel,
// --platform, --squash and --squash-all, next to the older ones (--label, --iidfile, --target), and
// side by side with buildah 1.28 where it has the flag.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildahAvailable, buildBoth, comparableTree, readOciArchive, type ImageView } from '../../helpers/buildah.js';
import { Contexts, bud, budOk, imageNames, inspectJson, setupRoot, sh, teardownRoot, type TestRoot } from './helpers.js';
import { hostPlatform } from '../../../src/oci/types.js';

let t: TestRoot;
const contexts = new Contexts();

beforeAll(async () => {
  t = await setupRoot();
  // A parent image with ENV and labels of its own, for the flags that remove inherited ones.
  const parent = await contexts.make({
    Containerfile: [
      'FROM busybox-base',
      'ENV KEEP=1 DROP=2',
      'LABEL keep=yes drop=no',
      'RUN echo parent > /parent.txt && mkdir -p /data/sub && echo base > /data/base.txt && echo deep > /data/sub/deep',
    ].join('\n'),
  });
  await budOk(t, parent, ['-t', 'flags-parent']);
});

afterAll(async () => {
  await contexts.cleanup();
  await teardownRoot(t);
});

async function view(image: string): Promise<ImageView> {
  const archive = path.join(t.root, `${image.replace(/\W/g, '_')}.tar`);
  await t.ok(['save', '--format', 'oci-archive', '-o', archive, image]);
  return readOciArchive(archive);
}

const host = hostPlatform();

describe('--build-arg-file', () => {
  it('reads KEY=VALUE lines, skips comments and blank lines, and --build-arg wins', async () => {
    const ctx = await contexts.make({
      Containerfile: ['FROM busybox-base', 'ARG A', 'ARG B', 'ARG C', 'RUN echo "$A|$B|$C" > /args.txt'].join('\n'),
      'args.conf': '# a comment\nA=from-file\n\n  B=file-b  \nC=with = sign\n',
    });
    await budOk(t, ctx, ['--build-arg-file', path.join(ctx, 'args.conf'), '--build-arg', 'B=from-flag', '-t', 'argfile']);
    expect(await sh(t, 'argfile', 'cat /args.txt')).toBe('from-file|from-flag|with = sign\n');
  });

  it('names the file and line of a malformed entry', async () => {
    const ctx = await contexts.make({ Containerfile: 'FROM busybox-base\n', 'bad.conf': 'A=1\n=oops\n' });
    const result = await bud(t, ctx, ['--build-arg-file', path.join(ctx, 'bad.conf')]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(`${path.join(ctx, 'bad.conf')}:2: expected KEY=VALUE`);
    expect(result.stderr).not.toContain('    at ');
  });
});

describe('final config flags', () => {
  it('--env adds and overrides, --unsetenv and --unsetlabel remove, also what the base image set', async () => {
    const ctx = await contexts.make({ Containerfile: ['FROM flags-parent', 'ENV OWN=3', 'LABEL own=1'].join('\n') });
    await budOk(t, ctx, [
      '--env', 'KEEP=overridden', '--env', 'NEW=added value', '--unsetenv', 'DROP', '--unsetenv', 'OWN',
      '--unsetlabel', 'drop', '--label', 'extra=x', '-t', 'edited',
    ]);
    const env = await inspectJson<string[]>(t, 'edited', 'Config.Env');
    expect(env).toContain('KEEP=overridden');
    expect(env).toContain('NEW=added value');
    expect(env.some((e) => e.startsWith('DROP=') || e.startsWith('OWN='))).toBe(false);
    expect(await inspectJson(t, 'edited', 'Config.Labels')).toEqual({ keep: 'yes', own: '1', extra: 'x' });
    expect(await sh(t, 'edited', 'echo "$KEEP|$NEW|${DROP-unset}"')).toBe('overridden|added value|unset\n');
  });

  it('--annotation puts OCI manifest annotations on the image', async () => {
    const ctx = await contexts.make({ Containerfile: 'FROM busybox-base\nLABEL a=b\n' });
    await budOk(t, ctx, ['--annotation', 'org.opencontainers.image.title=demo', '--annotation', 'x=y=z', '-t', 'annotated']);
    expect((await view('annotated')).annotations).toEqual({ 'org.opencontainers.image.title': 'demo', x: 'y=z' });
  });

  it('keeps --label, --iidfile and --target working together', async () => {
    const ctx = await contexts.make({
      Containerfile: ['FROM busybox-base AS first', 'RUN echo first > /f.txt', 'FROM busybox-base AS second', 'RUN exit 9'].join('\n'),
    });
    const iid = path.join(ctx, 'iid');
    const result = await budOk(t, ctx, ['--target', 'first', '--label', 'l=1', '--iidfile', iid, '-t', 'targeted']);
    expect(await readFile(iid, 'utf8')).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(result.stdout).not.toContain('RUN exit 9');
    expect(await inspectJson(t, 'targeted', 'Config.Labels')).toEqual({ l: '1' });
  });
});

describe('--platform', () => {
  it('builds for the host platform and sets the TARGET* args from it', async () => {
    const ctx = await contexts.make({
      Containerfile: ['FROM --platform=$TARGETPLATFORM busybox-base', 'ARG TARGETPLATFORM TARGETOS TARGETARCH', 'RUN echo "$TARGETPLATFORM|$TARGETOS|$TARGETARCH" > /p.txt'].join('\n'),
    });
    await budOk(t, ctx, ['--platform', `${host.os}/${host.architecture}`, '-t', 'platform-host']);
    expect(await sh(t, 'platform-host', 'cat /p.txt')).toBe(`${host.os}/${host.architecture}|${host.os}|${host.architecture}\n`);
  });

  it('refuses another platform with a clear error and tags nothing', async () => {
    const other = host.architecture === 'amd64' ? 'linux/arm64' : 'linux/amd64';
    const ctx = await contexts.make({ Containerfile: 'FROM busybox-base\nRUN true\n' });
    const result = await bud(t, ctx, ['--platform', other, '-t', 'platform-other']);
    expect(result.code).not.toBe(0);
    expect(result.stderr.trim()).toBe(`Error: --platform ${other}: only the host platform (${host.os}/${host.architecture}) can be built`);
    expect(await imageNames(t)).not.toContain('localhost/platform-other:latest');
    const list = await bud(t, ctx, ['--platform', `linux/${host.architecture},${other}`]);
    expect(list.stderr).toContain('one platform at a time');
  });
});

// Deletions of base files, a directory replaced twice, and a base directory made opaque in one layer
// and added to in the next (whose copy-up is not marked opaque): the squashed layer must hide it too.
const SQUASH = [
  'FROM localhost/flags-parent',
  'RUN mkdir -p /d/old && echo 1 > /d/old/a && echo one > /keep.txt',
  'RUN echo two > /keep.txt && rm /etc/group /parent.txt && echo tmp > /gone.txt',
  'RUN rm /gone.txt && rm -rf /d && mkdir -p /d && echo new > /d/b && chmod 750 /d',
  'RUN rm -rf /data && mkdir /data && echo new > /data/new.txt',
  'RUN echo later > /data/later.txt',
  'ENV E=1',
].join('\n');

describe('--squash and --squash-all', () => {
  let ctx: string;
  let plain: ImageView;
  beforeAll(async () => {
    ctx = await contexts.make({ Containerfile: SQUASH });
    await budOk(t, ctx, ['-t', 'unsquashed']);
    plain = await view('unsquashed');
  });

  it('--squash turns the new layers into one on top of the base image, with the same files', async () => {
    await budOk(t, ctx, ['--squash', '-t', 'squashed']);
    const squashed = await view('squashed');
    const baseLayers = (await inspectJson<string[]>(t, 'flags-parent', 'RootFS.Layers')).length;
    expect(squashed.config.rootfs.diff_ids).toHaveLength(baseLayers + 1);
    expect(squashed.config.rootfs.diff_ids.slice(0, baseLayers)).toEqual(plain.config.rootfs.diff_ids.slice(0, baseLayers));
    expect(comparableTree(squashed)).toEqual(comparableTree(plain));
    expect(squashed.files.has('etc/group')).toBe(false);
    expect(squashed.files.has('d/old/a')).toBe(false);
    expect([...squashed.files.keys()].filter((p) => p.startsWith('data/')).sort()).toEqual(['data/later.txt', 'data/new.txt']);
    const nonEmpty = (squashed.config.history as { empty_layer?: boolean }[]).filter((h) => !h.empty_layer);
    expect(nonEmpty).toHaveLength(baseLayers + 1);
    expect(await sh(t, 'squashed', 'cat /keep.txt /d/b; stat -c %a /d; echo $E; ls /data')).toBe('two\nnew\n750\n1\nlater.txt\nnew.txt\n');
  });

  it('--squash-all makes the whole image one layer', async () => {
    await budOk(t, ctx, ['--squash-all', '-t', 'squashed-all']);
    const all = await view('squashed-all');
    expect(all.config.rootfs.diff_ids).toHaveLength(1);
    expect(comparableTree(all)).toEqual(comparableTree(plain));
    expect(await sh(t, 'squashed-all', 'cat /keep.txt')).toBe('two\n');
  });

  it('refuses --squash with --squash-all', async () => {
    const result = await bud(t, ctx, ['--squash', '--squash-all']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('--squash and --squash-all cannot be used together');
  });
});

const available = buildahAvailable() || process.env.CI === 'true';
// buildah leaves the RUN mount points it created in the layer; the reference (BuildKit) does not.
const runLeftovers = (p: string): boolean => /^(dev|proc|sys|run|etc\/(hosts|resolv\.conf|hostname))$/.test(p);

describe.runIf(available)('side by side with buildah', () => {
  it('--env, --unsetenv and --annotation give the same config and manifest', async () => {
    const ctx = await contexts.make({ Containerfile: ['FROM localhost/flags-parent', 'ENV OWN=3', 'RUN echo x > /x'].join('\n') });
    const { tsbuild, buildah } = await buildBoth(
      ctx,
      ['--env', 'KEEP=over', '--env', 'NEW=v', '--unsetenv', 'DROP', '--annotation', 'a.b=c'],
      t,
      'localhost/compare-env',
      { bases: ['localhost/flags-parent'] },
    );
    // Sorted: buildah 1.28 moves a variable set again to the end, tsbuild keeps its place (BuildKit).
    expect([...tsbuild.config.config.Env].sort()).toEqual([...buildah.config.config.Env].sort());
    expect(tsbuild.annotations?.['a.b']).toBe('c');
    expect(buildah.annotations?.['a.b']).toBe('c');
    expect(comparableTree(tsbuild, runLeftovers)).toEqual(comparableTree(buildah, runLeftovers));
  });

  it('--platform of the host gives the same platform fields and TARGET* args', async () => {
    const ctx = await contexts.make({
      Containerfile: ['FROM localhost/busybox-base', 'ARG TARGETPLATFORM TARGETARCH', 'RUN echo "$TARGETPLATFORM $TARGETARCH" > /p.txt'].join('\n'),
    });
    const { tsbuild, buildah } = await buildBoth(ctx, ['--platform', `${host.os}/${host.architecture}`], t, 'localhost/compare-platform');
    for (const field of ['os', 'architecture']) expect(tsbuild.config[field], field).toBe(buildah.config[field]);
    expect(tsbuild.files.get('p.txt')?.sha256).toBe(buildah.files.get('p.txt')?.sha256);
  });

  it('--squash gives the same file tree; buildah 1.28 squashes the base layers too', async () => {
    const ctx = await contexts.make({ Containerfile: SQUASH });
    const { tsbuild, buildah } = await buildBoth(ctx, ['--squash'], t, 'localhost/compare-squash', { bases: ['localhost/flags-parent'] });
    // buildah's own documentation (and podman's) say --squash keeps the base image's layers, which
    // tsbuild does; buildah 1.28 makes one layer of everything, which is tsbuild's --squash-all.
    const baseLayers = (await inspectJson<string[]>(t, 'flags-parent', 'RootFS.Layers')).length;
    expect(tsbuild.config.rootfs.diff_ids).toHaveLength(baseLayers + 1);
    expect(buildah.config.rootfs.diff_ids).toHaveLength(1);
    expect(comparableTree(tsbuild, runLeftovers)).toEqual(comparableTree(buildah, runLeftovers));
  });
});

