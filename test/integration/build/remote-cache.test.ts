// --cache-from / --cache-to: the build cache shared through a real registry (Debian's
// docker-registry on 127.0.0.1). A build on root A pushes its steps; a build of the same
// Containerfile on an empty root B finds them, runs nothing and yields the same image. What is
// pushed carries no build arg value, no file content and no command; a registry that fails is a
// warning, never a failed build.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildahAvailable, comparableTree, readOciArchive, type ImageView } from '../../helpers/buildah.js';
import { createTestRoot } from '../../helpers/tsbuild.js';
import { startRegistry, type TestRegistry } from '../../helpers/registry.js';
import { Contexts, budOk, bud, setupRoot, sh, steps, teardownRoot, type TestRoot } from './helpers.js';

const SECRET = 's3cr3t-build-arg-value';
const FILE_CONTENT = 'file-content-marker-7f3a';
// Printed only when the RUN really runs: the STEP line shows the unexpanded $((...)).
const RAN = 'ran-42';

let reg: TestRegistry;
let a: TestRoot;
const roots: TestRoot[] = [];
const contexts = new Contexts();
let ctx: string;
let firstId: string;

const containerfile = (base: string): string =>
  [
    // The ARG is named SECRET on purpose; the build check that warns about such names is beside the point here.
    '# check=skip=SecretsUsedInArgOrEnv',
    `FROM ${base}`,
    'ARG SECRET',
    'COPY data.txt /data.txt',
    'RUN echo "ran-$((40+2))" && test "$SECRET" = ' + SECRET + ' && cat /data.txt > /copy.txt',
    'WORKDIR /app',
    'RUN echo "ran-$((40+2))" && echo second > /app/second.txt',
    'ENV X=1',
    'CMD ["cat", "/copy.txt"]',
  ].join('\n');

const CACHEABLE = ['COPY data.txt /data.txt', 'RUN echo "ran-$((40+2))" && test "$SECRET"', 'RUN echo "ran-$((40+2))" && echo second'];

const imageId = (stdout: string): string => stdout.trimEnd().split('\n').pop()!;

/** Whether each cacheable step reported "--> Using cache". */
function cachedSteps(stdout: string): boolean[] {
  const reported = steps(stdout);
  return CACHEABLE.map((prefix) => {
    const step = reported.find((s) => s.text.startsWith(prefix));
    if (!step) throw new Error(`no STEP line for ${prefix} in:\n${stdout}`);
    return step.cached;
  });
}

async function emptyRoot(): Promise<TestRoot> {
  const t = await createTestRoot();
  roots.push(t);
  return t;
}

const registryArgs = (): string[] => ['--tls-verify=false', '--build-arg', `SECRET=${SECRET}`];

/** Manifests and configs the registry holds for a repository's tags, as text. */
async function pushedMetadata(repo: string): Promise<{ tags: string[]; documents: string[] }> {
  const v2 = path.join(reg.dataDir, 'docker', 'registry', 'v2');
  const blob = (digest: string): Promise<string> => {
    const hex = digest.replace(/^sha256:/, '');
    return readFile(path.join(v2, 'blobs', 'sha256', hex.slice(0, 2), hex, 'data'), 'utf8');
  };
  const tagsDir = path.join(v2, 'repositories', repo, '_manifests', 'tags');
  const tags = await readdir(tagsDir);
  const documents: string[] = [];
  for (const tag of tags) {
    const manifest = await blob((await readFile(path.join(tagsDir, tag, 'current', 'link'), 'utf8')).trim());
    documents.push(manifest, await blob((JSON.parse(manifest) as { config: { digest: string } }).config.digest));
  }
  return { tags, documents };
}

/** Requests of one kind the registry logged after `mark` characters of its log. */
const requests = (mark: number, pattern: RegExp): string[] => reg.logs().slice(mark).split('\n').filter((l) => pattern.test(l));

const exec = promisify(execFile);

/** buildah with a private store under `dir` (runc, overlay), never the machine's shared storage. */
function buildahIn(dir: string): { run(args: string[]): Promise<string>; image(name: string): Promise<ImageView>; cleanup(): Promise<void> } {
  const storage = ['--root', path.join(dir, 'root'), '--runroot', path.join(dir, 'runroot'), '--storage-driver', 'overlay'];
  const run = async (args: string[]): Promise<string> => (await exec('buildah', [...storage, ...args], { maxBuffer: 64 << 20 })).stdout;
  return {
    run,
    async image(name) {
      const archive = path.join(dir, 'image.tar');
      await run(['push', '--disable-compression', name, `oci-archive:${archive}`]);
      return readOciArchive(archive);
    },
    async cleanup() {
      await run(['rm', '--all']).catch(() => undefined);
      await exec('umount', ['-R', path.join(dir, 'root', 'overlay')]).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

beforeAll(async () => {
  reg = await startRegistry();
  a = await setupRoot();
  // The base comes from the registry on every root, so all of them build on one image ID.
  await a.ok(['push', '--tls-verify=false', 'localhost/busybox-base', `${reg.host}/base:1`]);
  ctx = await contexts.make({ Containerfile: containerfile(`${reg.host}/base:1`), 'data.txt': `${FILE_CONTENT}\n` });
  const first = await budOk(a, ctx, [...registryArgs(), '--cache-to', `${reg.host}/cache`, '-t', 'app']);
  expect(first.stdout).toContain(RAN);
  expect(cachedSteps(first.stdout)).toEqual([false, false, false]);
  firstId = imageId(first.stdout);
}, 120_000);

afterAll(async () => {
  await contexts.cleanup();
  for (const t of roots) await teardownRoot(t);
  await teardownRoot(a);
  await reg?.stop();
});

describe('remote build cache', () => {
  it('lets an empty root reuse every RUN and COPY step from the registry, running nothing, with the same image ID', async () => {
    const b = await emptyRoot();
    const mark = reg.logs().length;
    const result = await budOk(b, ctx, [...registryArgs(), '--cache-from', `${reg.host}/cache`, '-t', 'app']);
    expect(cachedSteps(result.stdout)).toEqual([true, true, true]);
    expect(result.stdout).not.toContain(RAN);
    expect(imageId(result.stdout)).toBe(firstId);
    // buildah's words for a hit found in the registry.
    expect(result.stdout).toMatch(new RegExp(`^--> Cache pulled from remote ${reg.host}/cache:[a-f0-9]{64}$`, 'm'));
    // The layers really arrived: the image runs and has the files the RUN steps made.
    expect(await sh(b, 'app', 'cat /copy.txt /app/second.txt')).toBe(`${FILE_CONTENT}\nsecond\n`);
    // Cheap lookups: one manifest GET per cached step (COPY, RUN, WORKDIR, RUN), one blob GET per layer.
    expect(requests(mark, /"GET \/v2\/cache\/manifests\//)).toHaveLength(4);
    expect(requests(mark, /"GET \/v2\/cache\/blobs\//)).toHaveLength(4);
  });

  it('tries repeated --cache-from repositories in order', async () => {
    const b = await emptyRoot();
    const mark = reg.logs().length;
    const result = await budOk(b, ctx, [...registryArgs(), '--cache-from', `${reg.host}/empty`, '--cache-from', `${reg.host}/cache`, '-t', 'app']);
    expect(cachedSteps(result.stdout)).toEqual([true, true, true]);
    expect(imageId(result.stdout)).toBe(firstId);
    expect(requests(mark, /"GET \/v2\/empty\/manifests\/.*" 404/)).toHaveLength(4);
    expect(result.stderr).not.toContain('[Warning]');
  });

  it('pushes nothing but digests, sizes and dates: no build arg value, file content or command', async () => {
    const { tags, documents } = await pushedMetadata('cache');
    expect(tags.length).toBe(4);
    for (const tag of tags) expect(tag).toMatch(/^[a-f0-9]{64}$/);
    for (const text of documents) {
      expect(text).not.toContain(SECRET);
      expect(text).not.toContain(FILE_CONTENT);
      expect(text).not.toContain('echo');
      expect(text).not.toContain('data.txt');
      expect(text).not.toContain('history');
    }
  });

  it('misses from the changed step on, and runs the steps after it', async () => {
    const changed = await contexts.make({ Containerfile: containerfile(`${reg.host}/base:1`), 'data.txt': 'other content\n' });
    const b = await emptyRoot();
    const result = await budOk(b, changed, [...registryArgs(), '--cache-from', `${reg.host}/cache`, '-t', 'app']);
    expect(cachedSteps(result.stdout)).toEqual([false, false, false]);
    expect(result.stdout).toContain(RAN);
    expect(await sh(b, 'app', 'cat /copy.txt')).toBe('other content\n');
  });

  it('pushes steps that were local cache hits to a new --cache-to repository', async () => {
    const again = await budOk(a, ctx, [...registryArgs(), '--cache-to', `${reg.host}/second`, '-t', 'app']);
    expect(cachedSteps(again.stdout)).toEqual([true, true, true]);
    const c = await emptyRoot();
    const result = await budOk(c, ctx, [...registryArgs(), '--cache-from', `${reg.host}/second`, '-t', 'app']);
    expect(cachedSteps(result.stdout)).toEqual([true, true, true]);
    expect(imageId(result.stdout)).toBe(firstId);
  });

  it('--cache-ttl ignores cached steps older than the duration, locally and in the registry', async () => {
    const c = await emptyRoot();
    const mark = reg.logs().length;
    const stale = await budOk(c, ctx, [...registryArgs(), '--cache-from', `${reg.host}/cache`, '--cache-ttl', '1ms', '-t', 'app']);
    expect(cachedSteps(stale.stdout)).toEqual([false, false, false]);
    expect(stale.stdout).toContain(RAN);
    // The date is in the manifest: a stale entry costs no layer download.
    expect(requests(mark, /"GET \/v2\/cache\/blobs\//)).toEqual([]);
    // Young enough: the entries just made on this root are used.
    const fresh = await budOk(c, ctx, [...registryArgs(), '--cache-ttl', '1h', '-t', 'app']);
    expect(cachedSteps(fresh.stdout)).toEqual([true, true, true]);
  });

  it('warns once and builds anyway when the cache registry cannot be reached', async () => {
    const c = await emptyRoot();
    const result = await bud(c, ctx, [...registryArgs(), '--cache-from', '127.0.0.1:1/cache', '--cache-to', '127.0.0.1:1/cache', '-t', 'app']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(RAN);
    const warnings = result.stderr.split('\n').filter((l) => l.startsWith('[Warning] build cache'));
    expect(warnings.map((w) => w.slice(0, 45))).toEqual(['[Warning] build cache lookup in 127.0.0.1:1/c']);
    expect(result.stderr).not.toMatch(/^Error/m);
  }, 120_000);

  it('uses the registry flags of pulls (--creds) for an authenticating cache registry', async () => {
    const secure = await startRegistry({ auth: 'htpasswd' });
    try {
      const creds = `--creds=${secure.username}:${secure.password}`;
      const one = await emptyRoot();
      const built = await budOk(one, ctx, [...registryArgs(), creds, '--cache-to', `${secure.host}/cache`, '-t', 'app']);
      const two = await emptyRoot();
      const denied = await budOk(two, ctx, [...registryArgs(), '--cache-from', `${secure.host}/cache`, '-t', 'app']);
      expect(denied.stderr).toMatch(/\[Warning\] build cache lookup in .*(unauthorized|authentication|credentials)/i);
      const three = await emptyRoot();
      const allowed = await budOk(three, ctx, [...registryArgs(), creds, '--cache-from', `${secure.host}/cache`, '-t', 'app']);
      expect(cachedSteps(allowed.stdout)).toEqual([true, true, true]);
      expect(imageId(allowed.stdout)).toBe(imageId(built.stdout));
    } finally {
      await secure.stop();
    }
  }, 180_000);

  it('trusts a TLS cache registry through --cert-dir, and warns without it', async () => {
    const tls = await startRegistry({ tls: true });
    try {
      // The base is pulled first, so the builds talk TLS to the cache registry only.
      const rootWithBase = async (): Promise<TestRoot> => {
        const r = await emptyRoot();
        await r.ok(['pull', '-q', '--tls-verify=false', `${reg.host}/base:1`]);
        return r;
      };
      const certDir = ['--cert-dir', path.join(tls.certsDir!, tls.host)];
      const args = ['--build-arg', `SECRET=${SECRET}`, '-t', 'app'];
      const built = await budOk(await rootWithBase(), ctx, [...args, ...certDir, '--cache-to', `${tls.host}/cache`]);
      expect(built.stderr).not.toContain('[Warning]');
      const untrusted = await budOk(await rootWithBase(), ctx, [...args, '--cache-from', `${tls.host}/cache`]);
      expect(cachedSteps(untrusted.stdout)).toEqual([false, false, false]);
      expect(untrusted.stderr).toMatch(/\[Warning\] build cache lookup in 127\.0\.0\.1:\d+\/cache failed/);
      const trusted = await budOk(await rootWithBase(), ctx, [...args, ...certDir, '--cache-from', `${tls.host}/cache`]);
      expect(cachedSteps(trusted.stdout)).toEqual([true, true, true]);
      expect(imageId(trusted.stdout)).toBe(imageId(built.stdout));
    } finally {
      await tls.stop();
    }
  }, 180_000);

  // Under CI a missing buildah is a set-up failure, not a reason to skip (scripts/setup.sh installs it).
  it.runIf(buildahAvailable() || process.env.CI === 'true')('reuses the same steps from a registry as buildah 1.28 does, giving the same file tree', async () => {
    // No ARG: buildah 1.28 commits an image for ARG with a new date, which changes the keys of all
    // later steps, so it finds no RUN in the registry after one (tsbuild does, see above).
    const simple = await contexts.make({
      Containerfile: [`FROM ${reg.host}/base:1`, 'COPY data.txt /data.txt', 'RUN echo "ran-$((40+2))" && cat /data.txt > /copy.txt'].join('\n'),
      'data.txt': `${FILE_CONTENT}\n`,
    });
    const tmp = (): Promise<string> => mkdtemp(path.join(os.tmpdir(), 'tsbuild-buildah-cache-'));
    const [one, two] = [buildahIn(await tmp()), buildahIn(await tmp())];
    try {
      const buildahBud = (b: typeof one, cacheFlag: string, repo: string): Promise<string> =>
        b.run(['bud', '--runtime', '/usr/sbin/runc', '--layers', '--tls-verify=false', cacheFlag, `${reg.host}/${repo}`, '-t', 'cached', simple]);
      await buildahBud(one, '--cache-to', 'buildah-cache');
      const theirs = await buildahBud(two, '--cache-from', 'buildah-cache');
      await budOk(await emptyRoot(), simple, ['--tls-verify=false', '--cache-to', `${reg.host}/side`]);
      const b = await emptyRoot();
      const ours = await budOk(b, simple, ['--tls-verify=false', '--cache-from', `${reg.host}/side`, '-t', 'cached']);
      const cached = (stdout: string): boolean[] => steps(stdout).slice(1).map((s) => s.cached);
      expect(cached(theirs)).toEqual([true, true]);
      expect(cached(ours.stdout)).toEqual(cached(theirs));
      expect(theirs).not.toContain(RAN);
      expect(ours.stdout).not.toContain(RAN);
      const archive = path.join(await contexts.make({}), 'ours.tar');
      await b.ok(['save', '--format', 'oci-archive', '-o', archive, 'cached']);
      // buildah leaves the RUN mount points it created in the layer; the reference (BuildKit) does not.
      const runLeftovers = (p: string): boolean => /^(dev|proc|sys|run|etc\/(hosts|resolv\.conf|hostname))$/.test(p);
      expect(comparableTree(await readOciArchive(archive), runLeftovers)).toEqual(comparableTree(await two.image('cached'), runLeftovers));
    } finally {
      await one.cleanup();
      await two.cleanup();
    }
  }, 240_000);

  it('refuses a tagged cache repository before building', async () => {
    const c = await emptyRoot();
    const result = await bud(c, ctx, ['--cache-to', `${reg.host}/cache:v1`]);
    expect(result.code).not.toBe(0);
    expect(result.stderr.trim()).toBe(`Error: --cache-to ${reg.host}/cache:v1: expected a repository without tag or digest (the cache keys are the tags)`);
  });

  it('warns that --cache-from is ignored with --no-cache', async () => {
    const c = await emptyRoot();
    const result = await budOk(c, ctx, [...registryArgs(), '--no-cache', '--cache-from', `${reg.host}/cache`, '-t', 'app']);
    expect(result.stdout).toContain(RAN);
    expect(result.stderr).toContain('[Warning] --cache-from and --cache-to are ignored when the build cache is off');
  });
});
