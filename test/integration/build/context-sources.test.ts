// Where the build context comes from and what of it a build sees: the Containerfile's own ignore file
// (BuildKit's `<file>.dockerignore`), a context from a git URL, a tarball URL or stdin, ADD <url>
// revalidation on a rebuild, and --ssh with key files.
import { execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildahAvailable, buildBoth, comparableTree } from '../../helpers/buildah.js';
import { startGitDaemon } from '../../helpers/git-daemon.js';
import { Contexts, budOk, imageNames, setupRoot, sh, steps, teardownRoot, type TestRoot } from './helpers.js';

let t: TestRoot;
const contexts = new Contexts();
let work: string;
let server: Server;
let base: string;
/** Every request the server saw: path, conditional headers, status, body bytes sent. */
/** What /etag.txt and /dated.txt serve; tests change it between builds. */
const revalidated = { body: 'version one\n', etag: '"v1"', lastModified: 'Thu, 06 May 2021 07:08:09 GMT' };
const served: Array<{ path: string; ifNoneMatch?: string; ifModifiedSince?: string; status: number; bytes: number }> = [];

const git = (args: string[], cwd: string): string =>
  execFileSync('git', args, { cwd, encoding: 'utf8', env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', HOME: work, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.com' } }).trim();

/** A context tree made by the host's tar: a Containerfile and a file, in a subdir too. */
async function contextTree(): Promise<string> {
  const dir = path.join(work, 'tree');
  await mkdir(path.join(dir, 'sub'), { recursive: true });
  await writeFile(path.join(dir, 'Containerfile'), 'FROM busybox-base\nCOPY data.txt /from-tar.txt\n');
  await writeFile(path.join(dir, 'data.txt'), 'from the tarball\n');
  await writeFile(path.join(dir, 'sub', 'Alt.Containerfile'), 'FROM busybox-base\nCOPY sub/alt.txt /alt.txt\n');
  await writeFile(path.join(dir, 'sub', 'alt.txt'), 'alt\n');
  return dir;
}

/** One ustar entry (name up to 100 bytes), for archives the host's tar would not write. */
function tarEntry(name: string, body: string, type: '0' | '2' = '0', link = ''): Buffer {
  const header = Buffer.alloc(512);
  header.write(name, 0);
  header.write('0000644\0', 100);
  header.write('0000000\0', 108);
  header.write('0000000\0', 116);
  header.write(`${Buffer.byteLength(body).toString(8).padStart(11, '0')}\0`, 124);
  header.write('00000000000\0', 136);
  header.write('        ', 148);
  header.write(type, 156);
  header.write(link, 157);
  header.write('ustar\u000000', 257);
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  const data = Buffer.alloc(Math.ceil(Buffer.byteLength(body) / 512) * 512);
  data.write(body);
  return Buffer.concat([header, data]);
}

beforeAll(async () => {
  t = await setupRoot();
  work = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-context-sources-'));
  const tree = await contextTree();
  execFileSync('tar', ['-cf', path.join(work, 'ctx.tar'), '-C', tree, '.']);
  execFileSync('tar', ['-czf', path.join(work, 'ctx.tar.gz'), '-C', tree, '.']);
  execFileSync('tar', ['-cjf', path.join(work, 'ctx.tar.bz2'), '-C', tree, '.']);
  execFileSync('tar', ['-cJf', path.join(work, 'ctx.tar.xz'), '-C', tree, '.']);
  await writeFile(path.join(work, 'Containerfile.txt'), 'FROM busybox-base\nRUN echo plain > /plain\n');
  // A repository with a tag and a subdirectory, served over git's dumb HTTP protocol.
  const src = path.join(work, 'src');
  await mkdir(path.join(src, 'app'), { recursive: true });
  git(['init', '-q', '-b', 'main'], src);
  await writeFile(path.join(src, 'app', 'Containerfile'), 'FROM busybox-base\nCOPY version.txt /version.txt\n');
  await writeFile(path.join(src, 'app', 'version.txt'), 'v1\n');
  git(['add', '-A'], src);
  git(['commit', '-q', '-m', 'one'], src);
  git(['tag', 'v1'], src);
  await writeFile(path.join(src, 'app', 'version.txt'), 'main\n');
  await writeFile(path.join(src, 'Containerfile'), 'FROM busybox-base\nCOPY app/version.txt /top.txt\n');
  git(['add', '-A'], src);
  git(['commit', '-q', '-m', 'two'], src);
  git(['clone', '-q', '--bare', '--no-local', src, path.join(work, 'repo.git')], work);
  git(['update-server-info'], path.join(work, 'repo.git'));

  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const record = { path: url.pathname, ifNoneMatch: req.headers['if-none-match'], ifModifiedSince: req.headers['if-modified-since'], status: 200, bytes: 0 };
    served.push(record);
    const send = (status: number, body: Buffer | string = '', headers: Record<string, string> = {}): void => {
      record.status = status;
      record.bytes = Buffer.byteLength(body);
      res.writeHead(status, headers);
      res.end(body);
    };
    if (url.pathname === '/etag.txt' || url.pathname === '/dated.txt') {
      // A file with validators: an ETag (and Last-Modified), or Last-Modified only.
      const headers: Record<string, string> = { 'Last-Modified': revalidated.lastModified };
      if (url.pathname === '/etag.txt') headers.ETag = revalidated.etag;
      const fresh = url.pathname === '/etag.txt' ? req.headers['if-none-match'] === revalidated.etag : req.headers['if-modified-since'] === revalidated.lastModified;
      if (fresh) return send(304, '', headers);
      return send(200, revalidated.body, headers);
    }
    const file = path.join(work, path.normalize(url.pathname));
    readFile(file).then(
      (data) => send(200, data),
      () => send(404, 'not here'),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}, 120_000);

afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  await contexts.cleanup();
  await rm(work, { recursive: true, force: true });
  await teardownRoot(t);
});

/** The root's temp dir holds nothing a build left behind. */
async function tmpLeftovers(): Promise<string[]> {
  return readdir(path.join(t.root, 'tmp'));
}

const listing = 'FROM busybox-base\nCOPY . /ctx/\nRUN cd /ctx && find . -type f | sort\n';

describe("the Containerfile's own ignore file", () => {
  it('<file>.dockerignore next to the -f file takes precedence over the context .dockerignore', async () => {
    const ctx = await contexts.make({
      'build/app.Containerfile': listing,
      'build/app.Containerfile.dockerignore': 'b.txt\nbuild\n',
      '.dockerignore': 'a.txt\n',
      'a.txt': 'a\n',
      'b.txt': 'b\n',
    });
    await budOk(t, ctx, ['-f', `${ctx}/build/app.Containerfile`, '-t', 'own-ignore']);
    expect(await sh(t, 'own-ignore', 'cd /ctx && find . -type f | sort')).toBe('./.dockerignore\n./a.txt\n');
  });

  it('<file>.containerignore beats <file>.dockerignore, and Dockerfile.dockerignore applies to Dockerfile', async () => {
    const ctx = await contexts.make({
      Dockerfile: listing,
      'Dockerfile.dockerignore': 'a.txt\n',
      '.containerignore': 'b.txt\n',
      'a.txt': 'a\n',
      'b.txt': 'b\n',
    });
    await budOk(t, ctx, ['-t', 'dockerfile-ignore']);
    expect(await sh(t, 'dockerfile-ignore', 'cd /ctx && ls')).toBe('Dockerfile\nDockerfile.dockerignore\nb.txt\n');
    const ctx2 = await contexts.make({
      Containerfile: listing,
      'Containerfile.containerignore': 'a.txt\n',
      'Containerfile.dockerignore': 'b.txt\n',
      'a.txt': 'a\n',
      'b.txt': 'b\n',
    });
    await budOk(t, ctx2, ['-t', 'containerfile-ignore']);
    expect(await sh(t, 'containerfile-ignore', 'cd /ctx && ls')).toBe('Containerfile\nContainerfile.containerignore\nContainerfile.dockerignore\nb.txt\n');
  });

  it('--ignorefile still wins over both', async () => {
    const ctx = await contexts.make({ Containerfile: listing, 'Containerfile.dockerignore': 'a.txt\n', 'a.txt': 'a\n', 'b.txt': 'b\n', 'only.ignore': 'b.txt\nonly.ignore\n' });
    await budOk(t, ctx, ['--ignorefile', `${ctx}/only.ignore`, '-t', 'ignorefile-wins']);
    expect(await sh(t, 'ignorefile-wins', 'cd /ctx && ls')).toBe('Containerfile\nContainerfile.dockerignore\na.txt\n');
  });
});

describe('a remote or stdin build context', () => {
  it.each(['ctx.tar', 'ctx.tar.gz', 'ctx.tar.bz2', 'ctx.tar.xz'])('is a tarball URL (%s), unpacked and removed afterwards', async (name) => {
    const tag = `tar-url-${name.replace(/\W/g, '-')}`;
    await t.ok(['bud', '-t', tag, `${base}/${name}`]);
    expect(await sh(t, tag, 'cat /from-tar.txt')).toBe('from the tarball\n');
    expect(await tmpLeftovers()).toEqual([]);
  });

  it('takes -f relative to the tarball context', async () => {
    await t.ok(['bud', '-t', 'tar-url-f', '-f', 'sub/Alt.Containerfile', `${base}/ctx.tar.gz`]);
    expect(await sh(t, 'tar-url-f', 'cat /alt.txt')).toBe('alt\n');
  });

  it('is a URL of a plain Containerfile, built with an empty context', async () => {
    await t.ok(['bud', '-t', 'plain-url', `${base}/Containerfile.txt`]);
    expect(await sh(t, 'plain-url', 'cat /plain')).toBe('plain\n');
  });

  it('is a git URL: #ref:subdir picks the tag and the directory, no fragment the default branch', async () => {
    await t.ok(['bud', '-t', 'git-ctx-v1', `${base}/repo.git#v1:app`]);
    expect(await sh(t, 'git-ctx-v1', 'cat /version.txt')).toBe('v1\n');
    await t.ok(['bud', '-t', 'git-ctx-main', `${base}/repo.git`]);
    expect(await sh(t, 'git-ctx-main', 'cat /top.txt')).toBe('main\n');
    expect(await tmpLeftovers()).toEqual([]);
  });

  it('is a git:// URL (git daemon on 127.0.0.1)', async () => {
    const daemon = await startGitDaemon(work);
    try {
      await t.ok(['bud', '-t', 'git-daemon-ctx', `${daemon.url}/repo.git#v1:app`]);
      expect(await sh(t, 'git-daemon-ctx', 'cat /version.txt')).toBe('v1\n');
    } finally {
      daemon.stop();
    }
  });

  it('is a tar on stdin (-)', async () => {
    await t.ok(['bud', '-t', 'stdin-tar', '-'], { input: await readFile(path.join(work, 'ctx.tar.gz')) });
    expect(await sh(t, 'stdin-tar', 'cat /from-tar.txt')).toBe('from the tarball\n');
    expect(await tmpLeftovers()).toEqual([]);
  });

  it('is a Containerfile on stdin (-) when stdin is not a tar, with an empty context', async () => {
    await t.ok(['bud', '-t', 'stdin-file', '-'], { input: 'FROM busybox-base\nRUN ls / > /listing\n' });
    expect(await sh(t, 'stdin-file', 'cat /plain 2>/dev/null; test -s /listing && echo ok')).toBe('ok\n');
    const copy = await t.run(['bud', '-t', 'stdin-copy', '-'], { input: 'FROM busybox-base\nCOPY data.txt /\n' });
    expect(copy.code).not.toBe(0);
    expect(copy.stderr).toContain('<stdin>:2:');
  });

  it('never writes outside the context for a tar whose entries climb out (refused) or go through a symlink (kept inside)', async () => {
    const outside = path.join(work, 'escaped.txt');
    const tar = Buffer.concat([
      tarEntry('Containerfile', 'FROM busybox-base\nCOPY . /ctx/\n'),
      tarEntry(`../../../../../../..${outside}`, 'escaped\n'),
      Buffer.alloc(1024),
    ]);
    const result = await t.run(['bud', '-t', 'breakout', '-'], { input: tar });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/^Error: .*build context standard input/m);
    expect(result.stderr).not.toMatch(/^\s+at /m);
    await expect(readFile(outside, 'utf8')).rejects.toThrow();
    const viaLink = Buffer.concat([
      tarEntry('Containerfile', 'FROM busybox-base\nCOPY . /ctx/\n'),
      tarEntry('link', '', '2', work),
      tarEntry('link/escaped.txt', 'escaped\n'),
      Buffer.alloc(1024),
    ]);
    // A symlink to an absolute path is followed inside the context, as a chroot would.
    await t.ok(['bud', '-t', 'breakout-link', '-'], { input: viaLink });
    await expect(readFile(outside, 'utf8')).rejects.toThrow();
    expect(await sh(t, 'breakout-link', `cat /ctx${work}/escaped.txt`)).toBe('escaped\n');
    expect(await imageNames(t)).not.toContain('localhost/breakout:latest');
    expect(await tmpLeftovers()).toEqual([]);
  });

  it('fails clearly on a URL that is not there, and on -f - with a stdin context', async () => {
    const missing = await t.run(['bud', '-t', 'missing', `${base}/nothing.tar`]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain(`Error: build context: ${base}/nothing.tar: the server answered 404`);
    const both = await t.run(['bud', '-f', '-', '-']);
    expect(both.code).not.toBe(0);
    expect(both.stderr).toContain('cannot both come from standard input');
    expect(await tmpLeftovers()).toEqual([]);
  });
});

describe('ADD <url> on a rebuild', () => {
  const requestsFor = (p: string) => served.filter((r) => r.path === p);

  it('revalidates with If-None-Match: a 304 with no body, and the step is cached', async () => {
    const ctx = await contexts.make({ Containerfile: `FROM busybox-base\nADD ${base}/etag.txt /etag.txt\n` });
    await budOk(t, ctx, ['-t', 'etag-1']);
    const again = await budOk(t, ctx, ['-t', 'etag-2']);
    expect(steps(again.stdout).map((s) => s.cached)).toEqual([false, true]);
    const [first, second] = requestsFor('/etag.txt');
    expect(first).toMatchObject({ status: 200, ifNoneMatch: undefined });
    expect(second).toMatchObject({ status: 304, ifNoneMatch: '"v1"', bytes: 0 });
    expect(requestsFor('/etag.txt')).toHaveLength(2);
    expect(await sh(t, 'etag-2', 'cat /etag.txt')).toBe('version one\n');

    // Changed on the server: a full answer, a new layer with the new content.
    revalidated.body = 'version two\n';
    revalidated.etag = '"v2"';
    const changed = await budOk(t, ctx, ['-t', 'etag-3']);
    expect(steps(changed.stdout).map((s) => s.cached)).toEqual([false, false]);
    expect(requestsFor('/etag.txt')[2]).toMatchObject({ status: 200, ifNoneMatch: '"v1"' });
    expect(await sh(t, 'etag-3', 'cat /etag.txt')).toBe('version two\n');
  });

  it('revalidates with If-Modified-Since when there is only Last-Modified, and downloads again when the step must run', async () => {
    const ctx = await contexts.make({ Containerfile: `FROM busybox-base\nADD ${base}/dated.txt /dated.txt\n` });
    await budOk(t, ctx, ['-t', 'dated-1']);
    await budOk(t, ctx, ['-t', 'dated-2']);
    expect(requestsFor('/dated.txt')[1]).toMatchObject({ status: 304, ifModifiedSince: revalidated.lastModified, bytes: 0 });
    // Another parent: the key misses, so the 304 is followed by the download the copy needs.
    const other = await contexts.make({ Containerfile: `FROM busybox-base\nRUN echo other > /other\nADD ${base}/dated.txt /dated.txt\n` });
    await budOk(t, other, ['-t', 'dated-3']);
    expect(requestsFor('/dated.txt').slice(2).map((r) => r.status)).toEqual([304, 200]);
    expect(await sh(t, 'dated-3', 'cat /dated.txt /other')).toBe(`${revalidated.body}other\n`);
  });
});

describe('--ssh ID=KEYFILE', () => {
  it('serves the key files from a private agent: ssh-add -l in the RUN lists them, and the agent is gone afterwards', async () => {
    const keys = path.join(work, 'keys');
    await mkdir(keys);
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'key-one', '-f', path.join(keys, 'one')]);
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'key-two', '-f', path.join(keys, 'two')]);
    // busybox has no ssh client: the host's ssh-add comes in read-only through --volume.
    const ctx = await contexts.make({
      Containerfile: 'FROM busybox-base\nRUN --mount=type=ssh,id=deploy /usr/bin/ssh-add -l > /keys.txt\n',
    });
    const volumes = ['-v', '/usr:/usr:ro', '-v', '/usr/lib:/lib:ro', '-v', '/usr/lib64:/lib64:ro'];
    const before = execFileSync('ls', [os.tmpdir()], { encoding: 'utf8' }).split('\n').filter((n) => n.startsWith('tsbuild-agent-'));
    await budOk(t, ctx, ['-t', 'ssh-keys', '--ssh', `deploy=${keys}/one,${keys}/two`, ...volumes]);
    const listed = await sh(t, 'ssh-keys', 'cat /keys.txt');
    expect(listed).toContain('key-one (ED25519)');
    expect(listed).toContain('key-two (ED25519)');
    const after = execFileSync('ls', [os.tmpdir()], { encoding: 'utf8' }).split('\n').filter((n) => n.startsWith('tsbuild-agent-'));
    expect(after).toEqual(before);
  });

  it('fails clearly on a key that cannot be loaded, building nothing', async () => {
    const junk = path.join(work, 'not-a-key');
    await writeFile(junk, 'hello\n');
    const ctx = await contexts.make({ Containerfile: 'FROM busybox-base\nRUN --mount=type=ssh true\n' });
    const result = await t.run(['bud', '-t', 'ssh-bad-key', '--ssh', `default=${junk}`, ctx]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(`Error: --ssh default=${junk}: cannot load the key into an ssh agent`);
    expect(result.stderr).not.toMatch(/^\s+at /m);
    expect(await imageNames(t)).not.toContain('localhost/ssh-bad-key:latest');
  });
});

describe.skipIf(!buildahAvailable())('side by side with buildah', () => {
  // comparableTree's predicate names the paths to leave out. /ctx itself is left out too: it takes
  // the temp context's 0700 in tsbuild and 0755 in buildah, a COPY matter, not a context one.
  const underCtx = (p: string): boolean => !p.startsWith('ctx/');

  it('<file>.containerignore / <file>.dockerignore select the same context files', async () => {
    const ctx = await contexts.make({
      'build/app.Containerfile': 'FROM busybox-base\nCOPY . /ctx/\n',
      'build/app.Containerfile.containerignore': 'b.txt\nbuild\n',
      '.dockerignore': 'a.txt\n',
      'a.txt': 'a\n',
      'b.txt': 'b\n',
    });
    const { tsbuild, buildah } = await buildBoth(ctx, ['-f', `${ctx}/build/app.Containerfile`], t, 'localhost/compare-own-ignore');
    expect(comparableTree(tsbuild, underCtx)).toEqual(comparableTree(buildah, underCtx));
    expect(Object.keys(comparableTree(tsbuild, underCtx)).sort()).toEqual(['ctx/.dockerignore', 'ctx/a.txt']);
  });

  it('a tarball URL context gives the same image', async () => {
    const { tsbuild, buildah } = await buildBoth(`${base}/ctx.tar.gz`, [], t, 'localhost/compare-tar-url');
    const only = (p: string): boolean => !p.startsWith('from-tar');
    expect(comparableTree(tsbuild, only)).toEqual(comparableTree(buildah, only));
    expect(tsbuild.files.has('from-tar.txt')).toBe(true);
  });
});
