// Named build contexts (`bud --build-context name=VALUE`) with BuildKit's rules: a context replaces
// the image or stage of its name in FROM and COPY --from, a stage of that name is not built at all,
// a directory is read like the main context (its own .dockerignore), and images come from local
// storage (docker-image://) or an OCI layout directory (oci-layout://).
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildahAvailable, buildBoth, comparableTree } from '../../helpers/buildah.js';
import { Contexts, bud, budOk, imageNames, inspectJson, setupRoot, sh, steps, teardownRoot, type TestRoot } from './helpers.js';

let t: TestRoot;
const contexts = new Contexts();
let layoutDir: string;

beforeAll(async () => {
  t = await setupRoot();
  const ctx = await contexts.make({ Containerfile: 'FROM busybox-base\nRUN echo from-ctx-image > /marker\nENV FROM_IMAGE=yes\nCMD ["cat", "/marker"]\n' });
  await budOk(t, ctx, ['-t', 'ctx-image']);
  layoutDir = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-layout-'));
  await t.ok(['push', 'ctx-image', `oci:${layoutDir}:v1`]);
});

afterAll(async () => {
  await contexts.cleanup();
  await rm(layoutDir, { recursive: true, force: true });
  await teardownRoot(t);
});

describe('--build-context name=DIR', () => {
  it('is read by COPY --from like the main context, with its own .dockerignore', async () => {
    const extra = await contexts.make({ 'lib/a.txt': 'a from extra\n', 'lib/secret.key': 'no\n', '.dockerignore': '**/*.key\n' });
    const ctx = await contexts.make({ Containerfile: 'FROM busybox-base\nCOPY --from=extra lib /lib-extra/\nCOPY main.txt /\n', 'main.txt': 'main\n', '.dockerignore': 'lib\n' });
    await budOk(t, ctx, ['-t', 'dir-context', '--build-context', `extra=${extra}`]);
    expect(await sh(t, 'dir-context', 'ls /lib-extra && cat /lib-extra/a.txt /main.txt')).toBe('a.txt\na from extra\nmain\n');
    expect(await sh(t, 'dir-context', "stat -c '%u:%g' /lib-extra/a.txt")).toBe('0:0\n');
    // Unchanged, the context's files give the same cache key.
    const again = await budOk(t, ctx, ['-t', 'dir-context', '--build-context', `extra=${extra}`]);
    expect(steps(again.stdout).map((s) => s.cached)).toEqual([false, true, true]);
  });

  it('replaces a stage of the same name, which is not built, and is a filesystem for FROM', async () => {
    const files = await contexts.make({ 'etc/passwd': 'root:x:0:0:root:/root:/bin/sh\n', 'data/x': 'x\n', 'data/skip.tmp': 'tmp\n', '.dockerignore': '**/*.tmp\n' });
    const ctx = await contexts.make({
      Containerfile: [
        // Would fail if it ran: the image does not exist and the RUN exits 1.
        'FROM no-such-image-anywhere AS tools',
        'RUN exit 1',
        'FROM tools AS again',
        'FROM busybox-base',
        'COPY --from=tools /data /from-stage/',
        'COPY --from=again /etc/passwd /passwd-via-stage',
      ].join('\n'),
    });
    const { stdout } = await budOk(t, ctx, ['-t', 'stage-replaced', '--build-context', `tools=${files}`, '--pull=never']);
    expect(stdout).not.toContain('RUN exit 1');
    expect(await sh(t, 'stage-replaced', 'ls /from-stage && cat /passwd-via-stage')).toBe('x\nroot:x:0:0:root:/root:/bin/sh\n');
  });
});

describe('--build-context in RUN --mount from=', () => {
  it('binds a directory context (its .dockerignore applied) and an image context, as COPY --from reads them', async () => {
    const extra = await contexts.make({ 'tool.sh': 'echo tool-from-extra\n', 'skip.key': 'no\n', '.dockerignore': '*.key\n' });
    const ctx = await contexts.make({
      Containerfile: [
        'FROM busybox-base',
        'RUN --mount=from=extra,target=/x sh /x/tool.sh > /out && ls /x >> /out',
        'RUN --mount=type=bind,from=pinned,source=/marker,target=/m cat /m >> /out',
      ].join('\n'),
    });
    await budOk(t, ctx, ['-t', 'mount-context', '--build-context', `extra=${extra}`, '--build-context', 'pinned=docker-image://ctx-image', '--pull=never']);
    expect(await sh(t, 'mount-context', 'cat /out; ls /x /m 2>&1 | wc -l')).toBe('tool-from-extra\ntool.sh\nfrom-ctx-image\n2\n');
  });
});

describe('--build-context name=<git URL>', () => {
  it('clones the repository (ref and subdir as for ADD) and reads it like a directory, removing the clone afterwards', async () => {
    const work = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-git-context-'));
    const env = { ...process.env, HOME: work, GIT_CONFIG_NOSYSTEM: '1', GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@x', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@x' };
    const git = (args: string[], cwd: string): string => execFileSync('git', args, { cwd, env, encoding: 'utf8' });
    const src = path.join(work, 'src');
    await mkdir(path.join(src, 'app'), { recursive: true });
    await writeFile(path.join(src, 'app', 'main.sh'), 'echo from git\n');
    await writeFile(path.join(src, 'app', 'notes.tmp'), 'ignored\n');
    await writeFile(path.join(src, 'app', '.dockerignore'), '*.tmp\n');
    git(['init', '-q', '-b', 'main'], src);
    git(['add', '-A'], src);
    git(['commit', '-q', '-m', 'one'], src);
    git(['tag', 'v1'], src);
    git(['clone', '-q', '--bare', src, path.join(work, 'repo.git')], work);
    git(['update-server-info'], path.join(work, 'repo.git'));
    // git's dumb HTTP protocol is static files.
    const server = createServer((req, res) => {
      readFile(path.join(work, path.normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)))).then(
        (data) => res.end(data),
        () => {
          res.writeHead(404);
          res.end();
        },
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/repo.git#v1:app`;
      const ctx = await contexts.make({ Containerfile: 'FROM busybox-base\nCOPY --from=src . /app/\n' });
      await budOk(t, ctx, ['-t', 'git-context', '--build-context', `src=${url}`]);
      expect(await sh(t, 'git-context', 'ls -A /app && sh /app/main.sh')).toBe('.dockerignore\nmain.sh\nfrom git\n');
      expect((await readdir(path.join(t.root, 'tmp'))).filter((n) => n.startsWith('.gitclone-'))).toEqual([]);
    } finally {
      await new Promise((resolve) => server.close(resolve));
      await rm(work, { recursive: true, force: true });
    }
  });
});

describe('--build-context name=docker-image://REF', () => {
  it('replaces the image of that name in FROM (familiar names and :latest match) and in COPY --from', async () => {
    const ctx = await contexts.make({
      Containerfile: 'FROM docker.io/library/pinned:latest\nCOPY --from=other /marker /copied-marker\nRUN cat /marker /copied-marker > /both\n',
    });
    await budOk(t, ctx, ['-t', 'image-context', '--build-context', 'pinned=docker-image://localhost/ctx-image', '--build-context', 'other=docker-image://ctx-image', '--pull=never']);
    expect(await sh(t, 'image-context', 'cat /both')).toBe('from-ctx-image\nfrom-ctx-image\n');
    const config = await inspectJson<{ Env: string[]; Cmd: string[] }>(t, 'image-context', 'Config');
    expect(config.Env).toContain('FROM_IMAGE=yes');
    expect(config.Cmd).toEqual(['cat', '/marker']);
  });

  it('wins over an earlier stage of the same name in COPY --from', async () => {
    const ctx = await contexts.make({ Containerfile: 'FROM busybox-base AS other\nRUN echo stage > /marker\nFROM busybox-base\nCOPY --from=other /marker /m\n' });
    await budOk(t, ctx, ['-t', 'context-wins', '--build-context', 'other=docker-image://ctx-image']);
    expect(await sh(t, 'context-wins', 'cat /m')).toBe('from-ctx-image\n');
  });
});

describe('--build-context name=oci-layout://DIR', () => {
  it('reads the image of a layout by tag or by digest, without naming it in the store', async () => {
    const index = JSON.parse(await readFile(path.join(layoutDir, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
    const digest = index.manifests[0]!.digest;
    const before = await imageNames(t);
    const ctx = await contexts.make({ Containerfile: 'FROM base\nCOPY --from=bydigest /marker /again\n' });
    await budOk(t, ctx, ['-t', 'layout-context', '--build-context', `base=oci-layout://${layoutDir}:v1`, '--build-context', `bydigest=oci-layout://${layoutDir}@${digest}`]);
    expect(await sh(t, 'layout-context', 'cat /marker /again')).toBe('from-ctx-image\nfrom-ctx-image\n');
    expect((await imageNames(t)).filter((n) => !before.includes(n))).toEqual(['localhost/layout-context:latest']);
  });

  it('reports a tag the layout does not have', async () => {
    const ctx = await contexts.make({ Containerfile: 'FROM base\n' });
    const result = await bud(t, ctx, ['-t', 'x', '--build-context', `base=oci-layout://${layoutDir}:nope`]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(`Containerfile:1: build context "base": OCI layout ${layoutDir} has no tag nope`);
  });
});

describe('--build-context errors', () => {
  it('rejects malformed values and missing directories before building', async () => {
    const ctx = await contexts.make({ Containerfile: 'FROM busybox-base\n' });
    for (const [value, message] of [
      ['novalue', '--build-context "novalue": expected name=VALUE'],
      ['x=/does/not/exist', '--build-context "x=/does/not/exist": /does/not/exist is not a directory'],
      ['x=ftp://host/x', 'the ftp:// scheme is not supported'],
    ] as const) {
      const result = await bud(t, ctx, ['--build-context', value]);
      expect(result.code, value).not.toBe(0);
      expect(result.stderr, value).toContain(message);
      expect(result.stdout, value).not.toContain('STEP');
    }
  });
});

const available = buildahAvailable() || process.env.CI === 'true';

describe.runIf(available)('side by side with buildah', () => {
  it('agrees on COPY --from a directory context and FROM an image context', async () => {
    const extra = await contexts.make({ 'conf/app.conf': 'x=1\n', 'conf/sub/more.conf': 'y=2\n' });
    const ctx = await contexts.make({ Containerfile: 'FROM pinned\nCOPY --from=extra conf /etc/app/\n' });
    const args = ['--build-context', `extra=${extra}`, '--build-context', 'pinned=docker-image://localhost/ctx-image'];
    const { tsbuild, buildah } = await buildBoth(ctx, args, t, 'localhost/compare-build-context', { bases: ['localhost/ctx-image'] });
    expect(tsbuild.config.config.Cmd).toEqual(buildah.config.config.Cmd);
    const only = (p: string): boolean => !/^(etc\/app|marker)(\/|$)/.test(p);
    expect(comparableTree(tsbuild, only)).toEqual(comparableTree(buildah, only));
  });
});
