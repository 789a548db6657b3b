// ADD of http(s) URLs and git repositories, against servers this test starts on 127.0.0.1: a small
// HTTP server (files, archives, a 404, and a bare git repository over git's "dumb" HTTP protocol)
// and `git daemon` for git://. Assertions are what lands in the image, cache behaviour, and errors.
import { execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildahAvailable, buildBoth, comparableTree } from '../../helpers/buildah.js';
import { startGitDaemon, type GitDaemon } from '../../helpers/git-daemon.js';
import { Contexts, bud, budOk, imageNames, mountsUnder, setupRoot, sh, steps, teardownRoot, type TestRoot } from './helpers.js';

let t: TestRoot;
const contexts = new Contexts();
let work: string;
let server: Server;
let base: string;
let daemon: GitDaemon | undefined;
let gitBase: string;
const requests = new Map<string, number>();
/** Served at /changing.txt; tests change it between builds. */
let changing = 'first\n';
const LAST_MODIFIED = 'Thu, 06 May 2021 07:08:09 GMT';
const HELLO = 'hello remote\n';
let commits: { v1: string; main: string };

const git = (args: string[], cwd: string): string =>
  execFileSync('git', args, { cwd, encoding: 'utf8', env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', HOME: work, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.com' } }).trim();

beforeAll(async () => {
  t = await setupRoot();
  work = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-add-remote-'));
  // An archive to serve, made by the host's tar.
  await mkdir(path.join(work, 'payload'), { recursive: true });
  await writeFile(path.join(work, 'payload', 'inside.txt'), 'inside\n');
  execFileSync('tar', ['-czf', path.join(work, 'archive.tar.gz'), '-C', path.join(work, 'payload'), 'inside.txt']);

  // A repository with a tag, a branch and a subdirectory, pushed to a bare repo that both servers serve.
  const src = path.join(work, 'src');
  await mkdir(path.join(src, 'sub'), { recursive: true });
  git(['init', '-q', '-b', 'main'], src);
  await writeFile(path.join(src, 'README'), 'v1\n');
  await writeFile(path.join(src, 'sub', 'file.txt'), 'sub at v1\n');
  git(['add', '-A'], src);
  git(['commit', '-q', '-m', 'one'], src);
  git(['tag', 'v1'], src);
  const v1 = git(['rev-parse', 'HEAD'], src);
  git(['checkout', '-q', '-b', 'feature'], src);
  await writeFile(path.join(src, 'feature.txt'), 'on the branch\n');
  git(['add', '-A'], src);
  git(['commit', '-q', '-m', 'feature'], src);
  git(['checkout', '-q', 'main'], src);
  await writeFile(path.join(src, 'sub', 'file.txt'), 'sub at main\n');
  git(['commit', '-q', '-am', 'two'], src);
  commits = { v1, main: git(['rev-parse', 'HEAD'], src) };
  gitBase = path.join(work, 'git');
  await mkdir(gitBase);
  // A library repository, and a branch of the main one that has it as a submodule by relative URL
  // (resolved against wherever the main repository is fetched from, as users of ../x.git rely on).
  const lib = path.join(work, 'lib');
  await mkdir(lib);
  git(['init', '-q', '-b', 'main'], lib);
  await writeFile(path.join(lib, 'lib.txt'), 'from the submodule\n');
  git(['add', '-A'], lib);
  git(['commit', '-q', '-m', 'lib'], lib);
  git(['clone', '-q', '--bare', lib, path.join(gitBase, 'lib.git')], work);
  git(['remote', 'add', 'origin', path.join(gitBase, 'repo.git')], src);
  git(['checkout', '-q', '-b', 'with-sub'], src);
  git(['-c', 'protocol.file.allow=always', 'submodule', 'add', '-q', '../lib.git', 'vendor/lib'], src);
  git(['commit', '-q', '-m', 'submodule'], src);
  git(['checkout', '-q', 'main'], src);
  git(['clone', '-q', '--bare', '--no-local', src, path.join(gitBase, 'repo.git')], work);
  for (const bare of ['repo.git', 'lib.git']) git(['update-server-info'], path.join(gitBase, bare));

  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    requests.set(url.pathname, (requests.get(url.pathname) ?? 0) + 1);
    if (url.pathname === '/files/hello.txt' || url.pathname === '/pinned/hello.txt' || url.pathname === '/') {
      res.writeHead(200, { 'Last-Modified': LAST_MODIFIED, 'Content-Length': HELLO.length });
      res.end(HELLO);
    } else if (url.pathname === '/archive.tar.gz') {
      void readFile(path.join(work, 'archive.tar.gz')).then((data) => res.end(data));
    } else if (url.pathname === '/private/secret.txt') {
      const ok = req.headers.authorization === `Basic ${Buffer.from('user:s3cret').toString('base64')}`;
      res.writeHead(ok ? 200 : 401);
      res.end(ok ? 'secret\n' : 'who are you');
    } else if (url.pathname === '/changing.txt') {
      res.end(changing);
    } else if (url.pathname === '/redirect') {
      res.writeHead(302, { Location: '/files/hello.txt' });
      res.end();
    } else if (/^\/(repo|lib)\.git\//.test(url.pathname)) {
      // git's dumb HTTP protocol is plain static files (info/refs written by update-server-info).
      const file = path.join(gitBase, path.normalize(url.pathname));
      readFile(file).then(
        (data) => res.end(data),
        () => {
          res.writeHead(404);
          res.end();
        },
      );
    } else {
      res.writeHead(404);
      res.end('not here');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}, 120_000);

afterAll(async () => {
  daemon?.stop();
  await new Promise((resolve) => server?.close(resolve));
  await contexts.cleanup();
  await rm(work, { recursive: true, force: true });
  await teardownRoot(t);
});

async function build(containerfile: string, tag: string, files: Record<string, string> = {}, args: string[] = []) {
  const ctx = await contexts.make({ Containerfile: containerfile, ...files });
  return { ctx, result: await budOk(t, ctx, ['-t', tag, ...args]) };
}

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

describe('ADD <url>', () => {
  it('saves the file 0600 and root-owned, with Last-Modified as mtime, named after the URL path under a directory', async () => {
    await build(`FROM busybox-base\nADD ${base}/files/hello.txt /dl/\nADD ${base}/files/hello.txt /renamed\nADD ${base}/ /unnamed/\n`, 'add-url');
    expect(await sh(t, 'add-url', "stat -c '%n %a %u:%g %Y' /dl/hello.txt /renamed /unnamed/__unnamed__ && cat /dl/hello.txt")).toBe(
      [`/dl/hello.txt 600 0:0 ${Date.parse(LAST_MODIFIED) / 1000}`, `/renamed 600 0:0 ${Date.parse(LAST_MODIFIED) / 1000}`, `/unnamed/__unnamed__ 600 0:0 ${Date.parse(LAST_MODIFIED) / 1000}`, HELLO].join('\n'),
    );
  });

  it('follows redirects and applies --chmod and --chown', async () => {
    await build(`FROM busybox-base\nADD --chmod=755 --chown=1000:1000 ${base}/redirect /bin/tool\n`, 'add-url-flags');
    expect(await sh(t, 'add-url-flags', "stat -c '%a %u:%g' /bin/tool && cat /bin/tool")).toBe(`755 1000:1000\n${HELLO}`);
  });

  it('verifies --checksum, and on a mismatch fails naming the line, committing nothing', async () => {
    await build(`FROM busybox-base\nADD --checksum=sha256:${sha256(HELLO)} ${base}/files/hello.txt /ok.txt\n`, 'add-checksum');
    expect(await sh(t, 'add-checksum', 'cat /ok.txt')).toBe(HELLO);

    const ctx = await contexts.make({ Containerfile: `FROM busybox-base\n\nADD --checksum=sha256:${'0'.repeat(64)} ${base}/files/hello.txt /bad.txt\n` });
    const result = await bud(t, ctx, ['-t', 'add-checksum-bad']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(`${path.join(ctx, 'Containerfile')}:3: ADD ${base}/files/hello.txt: checksum mismatch: expected sha256:${'0'.repeat(64)}, got sha256:${sha256(HELLO)}`);
    expect(result.stderr).not.toMatch(/^\s+at /m);
    expect(await imageNames(t)).not.toContain('localhost/add-checksum-bad:latest');
    expect(await mountsUnder(t.root)).toEqual([]);
    // Nothing downloaded stays behind in the root's temp dir.
    expect((await readdir(path.join(t.root, 'tmp'))).filter((n) => n.startsWith('.download-'))).toEqual([]);
  });

  it('rejects a malformed --checksum before downloading', async () => {
    const before = requests.get('/files/hello.txt') ?? 0;
    const ctx = await contexts.make({ Containerfile: `FROM busybox-base\nADD --checksum=md5:abc ${base}/files/hello.txt /x\n` });
    const result = await bud(t, ctx, ['-t', 'bad-sum']);
    expect(result.stderr).toContain(`Containerfile:2: invalid --checksum "md5:abc"`);
    expect(requests.get('/files/hello.txt') ?? 0).toBe(before);
  });

  it('keeps a downloaded archive packed unless --unpack=true; --unpack=false keeps a local archive packed', async () => {
    const ctx = await contexts.make({
      Containerfile: `FROM busybox-base\nADD ${base}/archive.tar.gz /packed/\nADD --unpack=true ${base}/archive.tar.gz /unpacked/\nADD --unpack=false local.tar.gz /local/\n`,
    });
    execFileSync('cp', [path.join(work, 'archive.tar.gz'), path.join(ctx, 'local.tar.gz')]);
    await budOk(t, ctx, ['-t', 'add-unpack']);
    expect(await sh(t, 'add-unpack', 'ls /packed /unpacked /local')).toBe('/local:\nlocal.tar.gz\n\n/packed:\narchive.tar.gz\n\n/unpacked:\ninside.txt\n');
  });

  it('takes the cache key from the content: same content hits, changed content misses', async () => {
    const file = `FROM busybox-base\nADD ${base}/changing.txt /c.txt\n`;
    changing = 'first\n';
    await build(file, 'add-cache');
    const again = await build(file, 'add-cache');
    expect(steps(again.result.stdout).map((s) => s.cached)).toEqual([false, true]);
    changing = 'second\n';
    const changed = await build(file, 'add-cache');
    expect(steps(changed.result.stdout).map((s) => s.cached)).toEqual([false, false]);
    expect(await sh(t, 'add-cache', 'cat /c.txt')).toBe('second\n');
  });

  it('keys on --checksum alone: a cache hit downloads nothing', async () => {
    const file = `FROM busybox-base\nADD --checksum=sha256:${sha256(HELLO)} ${base}/pinned/hello.txt /p/\n`;
    await build(file, 'add-pinned');
    const downloads = requests.get('/pinned/hello.txt');
    expect(downloads).toBe(1);
    const again = await build(file, 'add-pinned');
    expect(steps(again.result.stdout).map((s) => s.cached)).toEqual([false, true]);
    expect(requests.get('/pinned/hello.txt')).toBe(downloads);
    expect(await sh(t, 'add-pinned', "stat -c '%a' /p/hello.txt && cat /p/hello.txt")).toBe(`600\n${HELLO}`);
  });

  it('reports a URL the server does not have, naming the line', async () => {
    const ctx = await contexts.make({ Containerfile: `FROM busybox-base\nADD ${base}/nothing-here /x\n` });
    const result = await bud(t, ctx, ['-t', 'add-404']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(`${path.join(ctx, 'Containerfile')}:2: ADD ${base}/nothing-here: the server answered 404`);
  });

  it('sends credentials in the URL as Basic auth, and never shows the password', async () => {
    const withAuth = (password: string): string => base.replace('http://', `http://user:${password}@`);
    await build(`FROM busybox-base\nADD ${withAuth('s3cret')}/private/secret.txt /s.txt\n`, 'add-auth');
    expect(await sh(t, 'add-auth', 'cat /s.txt')).toBe('secret\n');
    const ctx = await contexts.make({ Containerfile: `FROM busybox-base\nADD ${withAuth('wrong-pass')}/private/secret.txt /s.txt\n` });
    const result = await bud(t, ctx, ['-t', 'add-auth-bad']);
    const error = result.stderr.split('\n').find((l) => l.startsWith('Error: '));
    expect(error).toContain(`Containerfile:2: ADD ${withAuth('***')}/private/secret.txt: the server answered 401`);
    expect(error).not.toContain('wrong-pass');
  });

  it('refuses a URL in COPY', async () => {
    const ctx = await contexts.make({ Containerfile: `FROM busybox-base\nCOPY ${base}/files/hello.txt /x\n` });
    const result = await bud(t, ctx, ['-t', 'copy-url']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('Containerfile:2: COPY cannot read from a URL');
  });
});

describe('ADD <git repository>', () => {
  it('checks out a tag and a subdirectory over git://, without .git', async () => {
    daemon = await startGitDaemon(gitBase);
    const daemonBase = daemon.url;
    await build(`FROM busybox-base\nADD ${daemonBase}/repo.git#v1:sub /g/\nADD ${daemonBase}/repo.git /whole/\n`, 'add-git');
    expect(await sh(t, 'add-git', 'ls -A /g /whole && cat /g/file.txt /whole/sub/file.txt')).toBe('/g:\nfile.txt\n\n/whole:\nREADME\nsub\nsub at v1\nsub at main\n');
  });

  it('checks out a branch over dumb HTTP, and a commit by its hash', async () => {
    await build(`FROM busybox-base\nADD ${base}/repo.git#feature /b/\nADD ${base}/repo.git#${commits.v1} /c/\n`, 'add-git-http');
    expect(await sh(t, 'add-git-http', 'cat /b/feature.txt /c/sub/file.txt')).toBe('on the branch\nsub at v1\n');
  });

  it('takes the ref and subdir from the query form, and submodules=false skips submodules', async () => {
    await build(`FROM busybox-base\nADD ${base}/repo.git?tag=v1&subdir=sub /q/\nADD ${base}/repo.git?branch=with-sub&submodules=false /n/\n`, 'add-git-query');
    expect(await sh(t, 'add-git-query', 'cat /q/file.txt; ls -A /n/vendor/lib | wc -l')).toBe('sub at v1\n0\n');
  });

  it('checks out submodules, found relative to the repository URL', async () => {
    await build(`FROM busybox-base\nADD ${base}/repo.git#with-sub /s/\n`, 'add-git-sub');
    expect(await sh(t, 'add-git-sub', 'cat /s/vendor/lib/lib.txt; ls -A /s/vendor/lib')).toBe('from the submodule\nlib.txt\n');
  });

  it('keeps .git with --keep-git-dir, and --checksum pins the commit', async () => {
    await build(`FROM busybox-base\nADD --keep-git-dir=true --checksum=${commits.main} ${base}/repo.git#main /k/\n`, 'add-git-keep');
    expect(await sh(t, 'add-git-keep', 'test -d /k/.git && cat /k/sub/file.txt')).toBe('sub at main\n');

    const ctx = await contexts.make({ Containerfile: `FROM busybox-base\nADD --checksum=${commits.v1} ${base}/repo.git#main /k/\n` });
    const result = await bud(t, ctx, ['-t', 'add-git-sum']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(`Containerfile:2: ADD ${base}/repo.git#main: checksum mismatch: expected commit ${commits.v1}, got ${commits.main}`);
  });

  it('reports a ref the repository does not have, naming the line', async () => {
    const ctx = await contexts.make({ Containerfile: `FROM busybox-base\nADD ${base}/repo.git#no-such-ref /x/\n` });
    const result = await bud(t, ctx, ['-t', 'add-git-bad']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/Containerfile:2: ADD http:\/\/127\.0\.0\.1:\d+\/repo\.git#no-such-ref: git failed: .*no-such-ref/);
    expect(result.stderr).not.toMatch(/^\s+at /m);
  });
});

const available = buildahAvailable() || process.env.CI === 'true';

describe.runIf(available)('side by side with buildah', () => {
  it('agrees on ADD <url> into a directory and to a file name', async () => {
    const ctx = await contexts.make({ Containerfile: `FROM localhost/busybox-base\nADD ${base}/files/hello.txt /dl/\nADD --chmod=755 ${base}/files/hello.txt /renamed\n` });
    const { tsbuild, buildah } = await buildBoth(ctx, [], t, 'localhost/compare-add-url');
    const only = (p: string): boolean => !/^(dl|renamed)(\/|$)/.test(p);
    expect(comparableTree(tsbuild, only)).toEqual(comparableTree(buildah, only));
    expect(tsbuild.files.get('dl/hello.txt')?.mtime).toBe(buildah.files.get('dl/hello.txt')?.mtime);
  });
});

