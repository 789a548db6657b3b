// Build inputs that try to reach the host, through a real `bud` (runc, overlayfs): COPY/ADD sources
// that are symlinks leaving the context, .dockerignore tricks, COPY --from a stage whose files are
// symlinks to /etc, COPY destinations through the image's own symlinks, RUN --mount bind and cache
// sources that climb out or were replaced by symlinks (the CVE-2024-1753, CVE-2024-9675 and
// CVE-2024-11218 patterns) and WORKDIR /proc/self/fd/N (CVE-2024-21626). Every build runs beside
// a canary tree (canary.ts) that must be unchanged afterwards; each gives the safe result in the
// image or fails with a one-line error.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildahAvailable, buildBoth, comparableTree } from '../../helpers/buildah.js';
import { buildBusyboxBase, mountsUnder } from '../../helpers/tsbuild.js';
import { craftTar } from '../../unit/helpers-archive.js';
import { cli, createCanary, expectOneLineError, imageEntries, type Canary } from './canary.js';

let root: string;
let canary: Canary | undefined;

/** The CLI on the test root, failing with its stderr on a non-zero exit. */
async function okCli(args: readonly string[]) {
  const r = await cli(root, args);
  if (r.code !== 0) throw new Error(`tsbuild ${args.join(' ')}: ${r.stderr}`);
  return r;
}

beforeAll(async () => {
  root = mkdtempSync(path.join(os.tmpdir(), 'tsbuild-esc-root-'));
  await buildBusyboxBase({ root, run: (args) => cli(root, args), ok: okCli, cleanup: async () => undefined });
});

afterAll(async () => {
  // A build killed by a timeout leaves its overlay mounted; nothing may stay mounted in the root.
  const leaked = await mountsUnder(root);
  for (const m of leaked.reverse()) execFileSync('umount', [m]);
  rmSync(root, { recursive: true, force: true });
  expect(leaked).toEqual([]);
});

afterEach(() => {
  try {
    canary?.check();
  } finally {
    if (canary) rmSync(canary.base, { recursive: true, force: true });
    canary = undefined;
  }
});

interface Context {
  base: string;
  ctx: string;
}

/**
 * A context under a fresh canary base: `files` (a string is a file, `{ symlink }` a symlink), the
 * Containerfile from `lines` with `${BASE}` replaced by the canary base. The canary is recorded
 * after the context exists, so the context must stay unchanged too.
 */
function context(lines: string[], files: Record<string, string | { symlink: string }> = {}): Context {
  const base = mkdtempSync(path.join(os.tmpdir(), 'tsbuild-esc-build-'));
  const ctx = path.join(base, 'ctx');
  mkdirSync(ctx);
  const fill = (s: string) => s.replaceAll('${BASE}', base);
  writeFileSync(path.join(ctx, 'Containerfile'), `${lines.map(fill).join('\n')}\n`);
  for (const [name, value] of Object.entries(files)) {
    const file = path.join(ctx, name);
    mkdirSync(path.dirname(file), { recursive: true });
    if (typeof value === 'string') writeFileSync(file, value);
    else symlinkSync(fill(value.symlink), file);
  }
  canary = createCanary(base);
  return { base, ctx };
}

async function buildOk(c: Context, tag: string): Promise<void> {
  const result = await cli(root, ['bud', '-t', tag, c.ctx]);
  expect(result.code, result.stderr).toBe(0);
}

async function buildFails(c: Context, message: RegExp): Promise<void> {
  const result = await cli(root, ['bud', '-t', 'localhost/must-not-exist', c.ctx]);
  expectOneLineError(result, message);
  expect(result.stderr).not.toMatch(/^\s+at /m);
}

/** File contents and link targets of an image (all layers merged). */
async function image(tag: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const [name, e] of await imageEntries(root, tag, 'all')) {
    out.set(name, e.header.type === 'symlink' ? `-> ${e.header.linkname}` : e.header.type === 'directory' ? 'dir' : e.content.toString('utf8'));
  }
  return out;
}

describe('COPY and ADD sources that leave the build context', () => {
  it('#B01 an absolute symlink to /etc/passwd resolves inside the context, never to the host file', async () => {
    const c = context(['FROM scratch', 'COPY link-to-etc-passwd /x'], { 'link-to-etc-passwd': { symlink: '/etc/passwd' } });
    await buildFails(c, /Containerfile:2: "link-to-etc-passwd": no such file or directory in the build context/);
  });

  it('#B02 an absolute symlink whose target exists inside the context copies that file', async () => {
    const c = context(['FROM scratch', 'COPY link-to-etc-passwd /x'], { 'link-to-etc-passwd': { symlink: '/etc/passwd' }, 'etc/passwd': 'context passwd\n' });
    await buildOk(c, 'localhost/b02');
    expect((await image('localhost/b02')).get('x')).toBe('context passwd\n');
  });

  it('#B03 a relative symlink out of the context is refused', async () => {
    const c = context(['FROM scratch', 'COPY up /x'], { up: { symlink: '../../../../../../etc/passwd' } });
    await buildFails(c, /Containerfile:2: "up" is outside the build context/);
  });

  it('#B04 a directory symlink to / copies the context itself', async () => {
    const c = context(['FROM scratch', 'COPY rootlink/ /x/'], { rootlink: { symlink: '/' }, 'mine.txt': 'mine\n' });
    await buildOk(c, 'localhost/b04');
    const files = await image('localhost/b04');
    expect(files.get('x/mine.txt')).toBe('mine\n');
    expect(files.has('x/etc/passwd')).toBe(false);
  });

  it('#B05 a symlink chain that ends outside the context is refused', async () => {
    const c = context(['FROM scratch', 'COPY a /x'], { a: { symlink: 'b' }, b: { symlink: 'sub/c' }, 'sub/c': { symlink: '../../outside/secret' } });
    await buildFails(c, /Containerfile:2: "a" is outside the build context/);
  });

  it('#B06 symlinks inside a copied directory are copied as symlinks, not followed', async () => {
    const c = context(['FROM scratch', 'COPY dir/ /d/'], { 'dir/abs': { symlink: '/etc/passwd' }, 'dir/rel': { symlink: '../../outside/secret' }, 'dir/ok': 'ok\n' });
    await buildOk(c, 'localhost/b06');
    const files = await image('localhost/b06');
    expect(files.get('d/abs')).toBe('-> /etc/passwd');
    expect(files.get('d/rel')).toBe('-> ../../outside/secret');
    expect(files.get('d/ok')).toBe('ok\n');
  });

  it('#B07 ADD through a symlink to a host archive path is resolved in the context', async () => {
    const c = context(['FROM scratch', 'ADD host.tar /x/'], { 'host.tar': { symlink: '${BASE}/outside/secret' } });
    await buildFails(c, /Containerfile:2: "host\.tar": no such file or directory in the build context/);
  });

  it('#B08 ../ sources and --from=../ style tricks stay refused', async () => {
    const c = context(['FROM scratch', 'COPY ../outside/secret /x']);
    await buildFails(c, /Containerfile:2: "\.\.\/outside\/secret" is outside the build context/);
  });

  it('#B09 a context file named .wh.* is refused: in the layer it would be a whiteout', async () => {
    const c = context(['FROM busybox-base', 'COPY .wh.bin /'], { '.wh.bin': 'would delete /bin\n' });
    await buildFails(c, /Containerfile:2: cannot copy "\.wh\.bin" to \/\.wh\.bin: names starting with "\.wh\." are reserved/);
  });
});

describe('.dockerignore tricks', () => {
  it('#B10 a symlink to an ignored file does not bring it back', async () => {
    const c = context(['FROM scratch', 'COPY link /x'], { '.dockerignore': 'secret\n', secret: 'top secret\n', link: { symlink: 'secret' } });
    await buildFails(c, /Containerfile:2: "link": no such file or directory in the build context/);
  });

  it('#B11 COPY . copies neither ignored files nor anything a re-include pattern with ../ names', async () => {
    const c = context(['FROM scratch', 'COPY . /all/'], { '.dockerignore': 'secret\n!../outside/secret\n!/../canary.txt\n', secret: 'top secret\n', kept: 'kept\n' });
    await buildOk(c, 'localhost/b11');
    const names = [...(await image('localhost/b11')).keys()].sort();
    expect(names).toEqual(['all', 'all/.dockerignore', 'all/Containerfile', 'all/kept']);
  });
});

describe('.dockerignore re-includes through symlinks', () => {
  it('#B32 a re-included path below a directory symlink to /etc is looked up in the context', async () => {
    const c = context(['FROM scratch', 'COPY link/passwd /x'], { '.dockerignore': '*\n!link/passwd\n!Containerfile\n', link: { symlink: '/etc' } });
    await buildFails(c, /Containerfile:2: "link\/passwd": no such file or directory in the build context/);
  });
});

describe('COPY --from a stage whose files are symlinks to /etc', () => {
  const stage = [
    'FROM busybox-base AS evil',
    'RUN echo stage-passwd > /etc/passwd-stage && ln -s /etc/passwd-stage /link && ln -s / /rootlink && ln -s ${BASE}/outside /hostdir && ln -s ../../../../../../etc/passwd /rel',
  ];

  it('#B12 the symlink resolves inside the stage: its /etc, never the host\'s', async () => {
    const c = context([...stage, 'FROM scratch', 'COPY --from=evil /link /got-link', 'COPY --from=evil /rootlink/etc/passwd-stage /got-root', 'COPY --from=evil /rel /got-rel']);
    await buildOk(c, 'localhost/b12');
    const files = await image('localhost/b12');
    expect(files.get('got-link')).toBe('stage-passwd\n');
    expect(files.get('got-root')).toBe('stage-passwd\n');
    // ../../.. clamps at the stage's root: the stage's own /etc/passwd.
    expect(files.get('got-rel')).toBe('root:x:0:0:root:/root:/bin/sh\n');
  });

  it('#B13 a symlink to a host directory is looked up in the stage, where it does not exist', async () => {
    const c = context([...stage, 'FROM scratch', 'COPY --from=evil /hostdir/secret /x']);
    await buildFails(c, /Containerfile:4: "\/hostdir\/secret": no such file or directory in the source filesystem/);
  });

  it('#B14 a directory copied from the stage keeps its symlinks as symlinks', async () => {
    const c = context([...stage, 'RUN mkdir /d && ln -s /etc/shadow /d/shadow && ln -s ${BASE}/outside/secret /d/secret', 'FROM scratch', 'COPY --from=evil /d/ /d/']);
    await buildOk(c, 'localhost/b14');
    const files = await image('localhost/b14');
    expect(files.get('d/shadow')).toBe('-> /etc/shadow');
    expect(files.get('d/secret')).toBe(`-> ${c.base}/outside/secret`);
  });
});

describe('COPY destinations through symlinks in the image', () => {
  it('#B15 dest /app -> /etc writes into the image\'s /etc; dest -> a host dir writes into the image\'s copy of that path', async () => {
    const c = context(
      ['FROM busybox-base', 'RUN ln -s /etc /app && ln -s ${BASE}/outside /app2 && ln -s ../../../../../.. /up', 'COPY tsbuild-pwned /app/', 'COPY tsbuild-pwned /app2/', 'COPY tsbuild-pwned /up/tmp/'],
      { 'tsbuild-pwned': 'PWNED\n' },
    );
    await buildOk(c, 'localhost/b15');
    const files = await image('localhost/b15');
    expect(files.get('etc/tsbuild-pwned')).toBe('PWNED\n');
    expect(files.get(`${c.base.slice(1)}/outside/tsbuild-pwned`)).toBe('PWNED\n');
    expect(files.get('tmp/tsbuild-pwned')).toBe('PWNED\n');
  });
});

describe('RUN --mount sources that climb out or were replaced by symlinks', () => {
  it('#B16 bind source ../../../../ is the context root (CVE-2024-1753 pattern), and rw writes stay in the RUN', async () => {
    const c = context(['FROM busybox-base', 'RUN --mount=type=bind,source=../../../../,target=/m ls /m > /listing', 'RUN --mount=type=bind,source=../../../..,target=/m,rw touch /m/pwned-rw'], { 'mine.txt': 'mine\n' });
    await buildOk(c, 'localhost/b16');
    expect((await image('localhost/b16')).get('listing')).toBe('Containerfile\nmine.txt\n');
  });

  it('#B17 bind source that is a context symlink to / is the context root', async () => {
    const c = context(['FROM busybox-base', 'RUN --mount=type=bind,source=rootlink,target=/m ls /m > /listing'], { rootlink: { symlink: '/' }, 'mine.txt': 'mine\n' });
    await buildOk(c, 'localhost/b17');
    expect((await image('localhost/b17')).get('listing')).toBe('Containerfile\nmine.txt\nrootlink\n');
  });

  it('#B18 a stage-provided bind source that is a symlink to / is the stage\'s root (CVE-2024-11218 pattern)', async () => {
    const c = context([
      'FROM busybox-base AS evil',
      'RUN echo stage-marker > /stage-marker && ln -s / /evil',
      'FROM busybox-base',
      'RUN --mount=type=bind,from=evil,source=/evil,target=/m,rw cat /m/stage-marker > /seen && touch /m/pwned-bind && ls /m/ | grep -c pwned > /count',
    ]);
    await buildOk(c, 'localhost/b18');
    const files = await image('localhost/b18');
    expect(files.get('seen')).toBe('stage-marker\n');
    expect(files.get('count')).toBe('1\n');
  });

  it('#B19 a stage bind source replaced by a symlink to a host path between steps is looked up in the stage', async () => {
    const c = context([
      'FROM busybox-base AS evil',
      'RUN mkdir /data && echo one > /data/x',
      'RUN rm -rf /data && ln -s ${BASE}/outside /data',
      'FROM busybox-base',
      'RUN --mount=type=bind,from=evil,source=/data,target=/m ls /m',
    ]);
    await buildFails(c, /Containerfile:5: RUN --mount: source "\/data" not found in stage evil/);
  });

  it('#B20 a cache mount id=../../x is a name, never a path (CVE-2024-9675 pattern)', async () => {
    const before = readdirSync(root).sort();
    const c = context(['FROM busybox-base', 'RUN --mount=type=cache,id=../../../../../../tmp/pwned-cache,target=/c touch /c/pwned-file && ls /c > /seen']);
    await buildOk(c, 'localhost/b20');
    expect((await image('localhost/b20')).get('seen')).toBe('pwned-file\n');
    expect(readdirSync(root).sort()).toEqual(before);
    expect(readdirSync(path.join(root, 'cache', 'run-mounts')).filter((n) => /^[0-9a-f]{64}$/.test(n))).toHaveLength(1);
  });

  it('#B33 a symlink a RUN left in a cache mount resolves inside the next RUN\'s container', async () => {
    const c = context([
      'FROM busybox-base',
      'RUN --mount=type=cache,id=b33,target=/c ln -s ${BASE}/outside /c/out && ln -s / /c/root',
      'RUN --mount=type=cache,id=b33,target=/c (cat /c/out/secret 2>/dev/null || echo none) > /seen && cat /c/root/etc/passwd > /passwd && (touch /c/out/pwned 2>/dev/null; true)',
    ]);
    await buildOk(c, 'localhost/b33');
    const files = await image('localhost/b33');
    expect(files.get('seen')).toBe('none\n');
    expect(files.get('passwd')).toBe('root:x:0:0:root:/root:/bin/sh\n');
  });

  it('#B21 a cache seeded from a stage symlink to a host dir is looked up in the stage', async () => {
    const c = context([
      'FROM busybox-base AS evil',
      'RUN ln -s ${BASE}/outside /seed',
      'FROM busybox-base',
      'RUN --mount=type=cache,id=seeded,from=evil,source=/seed,target=/c ls /c',
    ]);
    await buildFails(c, /Containerfile:4: RUN --mount=type=cache: source "\/seed" is not a directory in stage evil/);
  });
});

describe('WORKDIR into the runtime\'s /proc (CVE-2024-21626 pattern)', () => {
  for (const [id, lines, where] of [
    ['B22', ['WORKDIR /proc/self/fd/7'], 2],
    ['B23', ['WORKDIR /dev/fd/7'], 2],
    ['B24', ['RUN ln -s /proc/self/fd/8 /w', 'WORKDIR /w'], 3],
    ['B25', ['WORKDIR /proc/self/cwd'], 2],
  ] as const) {
    it(`#${id} ${lines.join('; ')} fails before any RUN gets that cwd`, async () => {
      const c = context(['FROM busybox-base', ...lines, 'RUN pwd > /tsbuild-pwned-cwd; ls / > /tsbuild-pwned-ls']);
      await buildFails(c, new RegExp(`Containerfile:${where}: WORKDIR .*: (/proc|/dev)\\S* is mounted by the runtime at run time`));
    });
  }
});

describe('a working directory in /proc that comes from the image, not from WORKDIR', () => {
  it('#B26 a base image whose config has WorkingDir /proc/self/fd/7: its RUN and `run` fail before runc', async () => {
    const from = await cli(root, ['from', '--name', 'esc-b26', 'busybox-base']);
    expect(from.code, from.stderr).toBe(0);
    try {
      expect((await cli(root, ['config', '--workingdir', '/proc/self/fd/7', 'esc-b26'])).code).toBe(0);
      expect((await cli(root, ['commit', 'esc-b26', 'localhost/evil-workdir'])).code).toBe(0);
    } finally {
      await cli(root, ['rm', 'esc-b26']);
    }
    const c = context(['FROM localhost/evil-workdir', 'RUN pwd > /tsbuild-pwned-cwd']);
    await buildFails(c, /Containerfile:2: working directory \/proc\/self\/fd\/7: \/proc\/self\/fd\/7 is mounted by the runtime at run time/);
    expectOneLineError(await cli(root, ['run', '--rm', 'localhost/evil-workdir', 'pwd']), /working directory \/proc\/self\/fd\/7: .* is mounted by the runtime at run time/);
  });

  it('#B27 run -w /proc/self/cwd fails with a one-line error', async () => {
    canary = createCanary(mkdtempSync(path.join(os.tmpdir(), 'tsbuild-esc-run-')));
    expectOneLineError(await cli(root, ['run', '--rm', '-w', '/proc/self/cwd', 'busybox-base', 'pwd']), /working directory \/proc\/self\/cwd: .* is mounted by the runtime/);
  });
});

describe('ADD of an archive together with a directory source', () => {
  it('#B28 an archive that replaces a copied directory with a symlink out never gets the directory\'s metadata applied through it', async () => {
    const base = mkdtempSync(path.join(os.tmpdir(), 'tsbuild-esc-build-'));
    const ctx = path.join(base, 'ctx');
    mkdirSync(path.join(ctx, 'dir', 'sub', 'deeper'), { recursive: true });
    writeFileSync(path.join(ctx, 'dir', 'sub', 'deeper', 'f'), 'f\n');
    chmodSync(path.join(ctx, 'dir', 'sub'), 0o777);
    chmodSync(path.join(ctx, 'dir', 'sub', 'deeper'), 0o777);
    utimesSync(path.join(ctx, 'dir', 'sub'), 1000, 1000);
    writeFileSync(path.join(ctx, 'evil.tar'), await craftTar([{ name: 'sub', type: 'symlink', linkname: path.join(base, 'outside') }]));
    writeFileSync(path.join(ctx, 'Containerfile'), 'FROM scratch\nADD evil.tar dir /dest/\n');
    mkdirSync(path.join(base, 'outside', 'deeper'), { recursive: true });
    canary = createCanary(base);
    const result = await cli(root, ['bud', '-t', 'localhost/b28', ctx]);
    expect(result.code, result.stderr).toBe(0);
    const files = await image('localhost/b28');
    // The archive's symlink replaced the directory; what it points to got nothing.
    expect(files.get('dest/sub')).toBe(`-> ${base}/outside`);
  });
});

describe('paths that climb back out of a missing directory onto a symlink', () => {
  it('#B29 bind source missing/../evil, where evil is a context symlink to a host dir, never mounts the host dir', async () => {
    const c = context(['FROM busybox-base', 'RUN --mount=type=bind,source=missing/../evil,target=/m cat /m/secret > /seen'], { evil: { symlink: '${BASE}/outside' } });
    await buildFails(c, /Containerfile:2: RUN --mount=type=bind: source "missing\/\.\.\/evil": no such file or directory in the build context/);
  });

  it('#B30 an image WorkingDir /missing/../evil/new, where /evil links to a host dir, is created in the image only', async () => {
    const c = context(['FROM busybox-base', 'RUN ln -s ${BASE}/outside /evil']);
    const first = canary!;
    await buildOk(c, 'localhost/b30-base');
    const from = await cli(root, ['from', '--name', 'esc-b30', 'localhost/b30-base']);
    expect(from.code, from.stderr).toBe(0);
    try {
      expect((await cli(root, ['config', '--workingdir', '/missing/../evil/tsbuild-pwned-dir', 'esc-b30'])).code).toBe(0);
      expect((await cli(root, ['commit', 'esc-b30', 'localhost/b30'])).code).toBe(0);
    } finally {
      await cli(root, ['rm', 'esc-b30']);
    }
    const b = context(['FROM localhost/b30', 'RUN pwd > /cwd']);
    await buildOk(b, 'localhost/b30-run');
    expect((await image('localhost/b30-run')).get('cwd')).toBe(`${c.base}/outside/tsbuild-pwned-dir\n`);
    // The first context's canary (whose outside/ the symlink names) is checked here: the afterEach
    // hook only knows the last one.
    try {
      first.check();
    } finally {
      rmSync(first.base, { recursive: true, force: true });
    }
  });
});

describe('COPY --from symlink semantics next to buildah', () => {
  it('#B31 copies from a stage whose files are symlinks to /etc give the same image as buildah bud', async () => {
    expect(buildahAvailable(), 'buildah is needed for the comparison').toBe(true);
    const c = context([
      'FROM busybox-base AS evil',
      'RUN echo stage-passwd > /etc/passwd-stage && ln -s /etc/passwd-stage /link && ln -s / /rootlink && ln -s ../../../../../../etc/passwd /rel && mkdir /d && ln -s /etc/shadow /d/shadow',
      'FROM scratch',
      'COPY --from=evil /link /got-link',
      'COPY --from=evil /rootlink/etc/passwd-stage /got-root',
      'COPY --from=evil /rel /got-rel',
      'COPY --from=evil /d/ /d/',
    ]);
    const t = { root, run: (args: readonly string[]) => cli(root, args), ok: okCli, cleanup: async () => undefined };
    const both = await buildBoth(c.ctx, [], t, 'localhost/b31');
    const view = (v: (typeof both)['tsbuild']) => comparableTree(v, (p) => !/^(got-|d)/.test(p));
    expect(Object.keys(view(both.tsbuild)).sort()).toEqual(['d', 'd/shadow', 'got-link', 'got-rel', 'got-root']);
    expect(view(both.tsbuild)).toEqual(view(both.buildah));
    expect(both.tsbuild.files.get('d/shadow')?.link).toBe('/etc/shadow');
  });
});

describe('image files read on the host', () => {
  it('#B34 an image whose /etc/passwd is a FIFO (or a device) fails the RUN instead of reading the host\'s device or hanging', async () => {
    const c = context(['FROM busybox-base', 'ADD fifo.tar /etc/', 'RUN true']);
    writeFileSync(path.join(c.ctx, 'fifo.tar'), await craftTar([{ name: 'passwd', type: 'fifo', mode: 0o644 }]));
    canary = createCanary(c.base);
    const result = await cli(root, ['bud', '-t', 'localhost/must-not-exist', c.ctx], 60_000);
    expectOneLineError(result, /Containerfile:3: \/etc\/passwd of the container is not a regular file/);
  });
});

describe('ignore files that are symlinks', () => {
  it('#B35 a .dockerignore symlink to a host file is resolved inside the context, so the host file is not read', async () => {
    const c = context(['FROM scratch', 'COPY . /all/'], { '.dockerignore': { symlink: '${BASE}/outside/ignore' }, kept: 'kept\n' });
    writeFileSync(path.join(c.base, 'outside', 'ignore'), 'kept\n');
    canary = createCanary(c.base);
    await buildOk(c, 'localhost/b35');
    expect((await image('localhost/b35')).get('all/kept')).toBe('kept\n');
  });

  it('#B36 a .dockerignore that is a FIFO fails with a one-line error instead of hanging', async () => {
    const c = context(['FROM scratch', 'COPY . /all/']);
    execFileSync('mkfifo', [path.join(c.ctx, 'fifo')]);
    symlinkSync('fifo', path.join(c.ctx, '.dockerignore'));
    canary = createCanary(c.base);
    expectOneLineError(await cli(root, ['bud', '-t', 'localhost/must-not-exist', c.ctx], 60_000), /ignore file .*\/fifo is not a regular file/);
  });
});

describe('bind sources that are not files', () => {
  it('#B37 an rw bind of a context FIFO fails with a one-line error instead of hanging on the copy', async () => {
    const c = context(['FROM busybox-base', 'RUN --mount=type=bind,source=fifo,target=/f,rw true']);
    execFileSync('mkfifo', [path.join(c.ctx, 'fifo')]);
    canary = createCanary(c.base);
    expectOneLineError(await cli(root, ['bud', '-t', 'localhost/must-not-exist', c.ctx], 60_000), /Containerfile:2: RUN --mount=type=bind: source "fifo" is not a regular file or directory/);
  });
});
