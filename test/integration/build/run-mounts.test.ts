// RUN --mount through the real CLI, runc and overlayfs: what a RUN sees through each mount type, and
// that none of it reaches the image (files, mount points, history), the cache or the host.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readdir, lstat, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildahAvailable, buildBoth, comparableTree } from '../../helpers/buildah.js';
import { Contexts, bud, budOk, imageNames, inspectJson, mountsUnder, setupRoot, sh, steps, teardownRoot, type CliResult, type TestRoot } from './helpers.js';

let t: TestRoot;
const contexts = new Contexts();

beforeAll(async () => {
  t = await setupRoot();
});

afterAll(async () => {
  await contexts.cleanup();
  await teardownRoot(t);
});

/** Builds `lines` (a Containerfile) with `files` in the context, tagged `tag`. */
async function build(tag: string, lines: string[], files: Record<string, string> = {}, args: string[] = []): Promise<{ result: CliResult; ctx: string }> {
  const ctx = await contexts.make({ Containerfile: lines.join('\n'), ...files });
  return { result: await budOk(t, ctx, ['-t', tag, ...args]), ctx };
}

/** A failing build: its one Error line, after checking nothing stayed mounted or got tagged. */
async function buildError(lines: string[], options: { files?: Record<string, string>; args?: string[]; prepare?: (ctx: string) => Promise<void> } = {}) {
  const ctx = await contexts.make({ Containerfile: lines.join('\n'), ...options.files });
  await options.prepare?.(ctx);
  const result = await bud(t, ctx, ['-t', 'must-not-exist', ...(options.args ?? [])]);
  expect(result.code, result.stdout + result.stderr).not.toBe(0);
  expect(result.stderr).not.toMatch(/^\s+at /m);
  expect(await mountsUnder(t.root)).toEqual([]);
  expect(await imageNames(t)).not.toContain('localhost/must-not-exist:latest');
  const errors = result.stderr.split('\n').filter((l) => l.startsWith('Error: '));
  expect(errors, result.stderr).toHaveLength(1);
  return { error: errors[0]!, file: path.join(ctx, 'Containerfile'), result };
}

describe('RUN --mount=type=bind', () => {
  it('shows the build context read-only by default, and leaves no trace of it in the image', async () => {
    await build('bind-ctx', [
      'FROM busybox-base',
      'RUN --mount=type=bind,target=/ctx cat /ctx/file.txt /ctx/dir/nested.txt > /seen.txt && (touch /ctx/new 2>/dev/null && echo writable || echo read-only) > /ro.txt',
      'RUN --mount=target=/deep/ctx,source=dir test -f /deep/ctx/nested.txt',
    ], { 'file.txt': 'from context\n', 'dir/nested.txt': 'nested\n' });
    expect(await sh(t, 'bind-ctx', 'cat /seen.txt /ro.txt')).toBe('from context\nnested\nread-only\n');
    expect(await sh(t, 'bind-ctx', 'ls -d /ctx /deep 2>&1 || true')).toMatch(/No such file/);
  });

  it('runs a command that lives on the mount (the image itself does not have it)', async () => {
    await build('bind-tool', [
      'FROM busybox-base AS tools',
      "RUN printf '#!/bin/sh\\necho tool ran\\n' > /tool && chmod +x /tool",
      'FROM busybox-base',
      'RUN --mount=type=bind,from=tools,target=/t /t/tool > /tool.txt',
    ]);
    expect(await sh(t, 'bind-tool', 'cat /tool.txt')).toBe('tool ran\n');
  });

  it('throws writes of an rw bind away after the step', async () => {
    const { ctx } = await build('bind-rw', [
      'FROM busybox-base',
      'RUN --mount=type=bind,source=dir,target=/src,rw echo changed > /src/a.txt && echo new > /src/b.txt && cat /src/a.txt > /seen.txt',
      'RUN --mount=type=bind,source=file.txt,target=/f.txt,readwrite=true echo changed > /f.txt',
    ], { 'dir/a.txt': 'original\n', 'file.txt': 'file\n' });
    expect(await sh(t, 'bind-rw', 'cat /seen.txt; ls /src /f.txt 2>&1 | wc -l')).toBe('changed\n2\n');
    expect(await readFile(path.join(ctx, 'dir/a.txt'), 'utf8')).toBe('original\n');
    expect(await readFile(path.join(ctx, 'file.txt'), 'utf8')).toBe('file\n');
    await expect(lstat(path.join(ctx, 'dir/b.txt'))).rejects.toThrow();
  });

  it('hides what .dockerignore excludes, as the context does for COPY', async () => {
    await build('bind-ignore', [
      'FROM busybox-base',
      'RUN --mount=target=/ctx ls -A /ctx | sort > /listing.txt',
    ], { '.dockerignore': 'secret.txt\n*.log\n', 'secret.txt': 'no', 'a.log': 'no', 'keep.txt': 'yes' });
    expect(await sh(t, 'bind-ignore', 'cat /listing.txt')).toBe('.dockerignore\nContainerfile\nkeep.txt\n');
  });

  it('mounts a file or directory of an earlier stage (by name and index) or of an image', async () => {
    await build('bind-from', [
      'ARG WHICH=tools',
      'FROM busybox-base AS tools',
      'RUN mkdir /out && echo tool > /out/tool.txt',
      'FROM busybox-base',
      'ARG WHICH',
      'RUN --mount=from=${WHICH},source=/out/tool.txt,target=/mnt/tool.txt cat /mnt/tool.txt > /by-name.txt',
      'RUN --mount=type=bind,from=0,source=out,target=/o cat /o/tool.txt > /by-index.txt',
      'RUN --mount=from=busybox-base,target=/image test -x /image/bin/busybox && echo yes > /from-image.txt',
    ]);
    expect(await sh(t, 'bind-from', 'cat /by-name.txt /by-index.txt /from-image.txt; ls /out /mnt /o /image 2>&1 | grep -c "No such"')).toBe('tool\ntool\nyes\n4\n');
  });

  it('re-runs the step when a mounted context file changes, and only then', async () => {
    const ctx = await contexts.make({ Containerfile: 'FROM busybox-base\nRUN --mount=target=/ctx cat /ctx/input.txt > /out.txt\n', 'input.txt': 'one\n' });
    await budOk(t, ctx, ['-t', 'bind-key']);
    const again = await budOk(t, ctx, ['-t', 'bind-key']);
    expect(steps(again.stdout)[1]).toMatchObject({ cached: true });
    await writeFile(path.join(ctx, 'input.txt'), 'two\n');
    const changed = await budOk(t, ctx, ['-t', 'bind-key']);
    expect(steps(changed.stdout)[1]).toMatchObject({ cached: false });
    expect(await sh(t, 'bind-key', 'cat /out.txt')).toBe('two\n');
  });

  it('clamps a context source at the context root: ../ and symlinks pointing out stay inside (CVE-2024-1753)', async () => {
    const ctx = await contexts.make({
      Containerfile: [
        'FROM busybox-base',
        'RUN --mount=source=../../../../etc,target=/x cat /x/passwd > /up.txt',
        'RUN --mount=source=rel-link/passwd,target=/y cat /y > /rel.txt',
        'RUN --mount=source=abs-link,target=/z cat /z/passwd > /abs.txt',
      ].join('\n'),
      'etc/passwd': 'context passwd\n',
    });
    await symlink('../../../../../../etc', path.join(ctx, 'rel-link'));
    await symlink('/etc', path.join(ctx, 'abs-link'));
    await budOk(t, ctx, ['-t', 'bind-clamp']);
    expect(await sh(t, 'bind-clamp', 'cat /up.txt /rel.txt /abs.txt')).toBe('context passwd\n'.repeat(3));
    const missing = await buildError(['FROM busybox-base', 'RUN --mount=source=../../../../etc,target=/x cat /x/passwd']);
    expect(missing.error).toContain(`${missing.file}:2:`);
    expect(missing.error).toContain('no such file or directory in the build context');
  });

  it('resolves symlinks an earlier RUN planted inside the stage, never on the host (CVE-2024-1753, -11218)', async () => {
    const marker = `tsbuild-escape-${randomBytes(4).toString('hex')}`;
    await build('bind-symlinks', [
      'FROM busybox-base AS evil',
      'RUN echo stage-passwd > /stage-only && ln -s ../../../../../../../../etc /up && ln -s / /root-link && ln -s /etc/passwd /abs-passwd',
      'FROM busybox-base',
      'RUN --mount=from=evil,source=/up/passwd,target=/p cat /p > /up.txt',
      'RUN --mount=from=evil,source=root-link/stage-only,target=/s cat /s > /root-link.txt',
      'RUN --mount=from=evil,source=abs-passwd,target=/a cat /a > /abs.txt',
      // The target goes through a symlink to / too: the mount lands in the rootfs, not on the host.
      `RUN ln -s ../../../../../../.. /escape && mkdir -p /tmp/ok`,
      `RUN --mount=type=tmpfs,target=/escape/${marker} test -d /${marker}`,
    ]);
    const imagePasswd = await sh(t, 'busybox-base', 'cat /etc/passwd');
    expect(await sh(t, 'bind-symlinks', 'cat /up.txt')).toBe(imagePasswd);
    expect(await sh(t, 'bind-symlinks', 'cat /abs.txt')).toBe(imagePasswd);
    expect(await sh(t, 'bind-symlinks', 'cat /root-link.txt')).toBe('stage-passwd\n');
    await expect(lstat(`/${marker}`)).rejects.toThrow();
  });

  it('reports a missing source naming the line', async () => {
    const missing = await buildError(['FROM busybox-base', 'RUN true', 'RUN --mount=source=nope,target=/x true']);
    expect(missing.error).toContain(`${missing.file}:3:`);
    expect(missing.error).toContain('"nope"');
    const stage = await buildError(['FROM busybox-base AS a', 'FROM busybox-base', 'RUN --mount=from=a,source=/nope,target=/x true']);
    expect(stage.error).toContain(`${stage.file}:3:`);
    expect(stage.error).toContain('"/nope" not found in stage a');
  });
});

describe('RUN --mount=type=cache', () => {
  it('keeps what one build wrote for the next, never in the image', async () => {
    const lines = (n: number) => [
      'FROM busybox-base',
      `RUN --mount=type=cache,target=/var/cache/app echo run${n} >> /var/cache/app/log && cp /var/cache/app/log /seen.txt`,
    ];
    await build('cache-1', lines(1));
    await build('cache-2', lines(2));
    expect(await sh(t, 'cache-2', 'cat /seen.txt')).toBe('run1\nrun2\n');
    expect(await sh(t, 'cache-2', 'ls -A /var/cache 2>&1 || true')).toMatch(/No such file|^$/);
    // Another id, another cache; the same id under another target, the same cache.
    await build('cache-3', [
      'FROM busybox-base',
      'RUN --mount=type=cache,target=/c,id=other ls -A /c | wc -l > /other.txt',
      'RUN --mount=type=cache,target=/elsewhere,id=/var/cache/app cat /elsewhere/log > /same.txt',
    ]);
    expect(await sh(t, 'cache-3', 'cat /other.txt /same.txt')).toBe('0\nrun1\nrun2\n');
  });

  it('creates a new cache with the mode and owner asked for, or seeded from a stage', async () => {
    await build('cache-owner', [
      'FROM busybox-base AS seed',
      'RUN mkdir -p /seed/sub && echo seeded > /seed/sub/f && chown -R 7:8 /seed',
      'FROM busybox-base',
      'RUN --mount=type=cache,target=/owned,id=owned,uid=1000,gid=1001,mode=0700 stat -c %a:%u:%g /owned > /owned.txt',
      'RUN --mount=type=cache,target=/seeded,id=seeded,from=seed,source=/seed cat /seeded/sub/f > /seeded.txt && stat -c %u:%g /seeded/sub/f >> /seeded.txt',
      'RUN --mount=type=cache,target=/ro,id=owned,ro (touch /ro/x 2>/dev/null && echo writable || echo read-only) > /ro.txt',
    ]);
    expect(await sh(t, 'cache-owner', 'cat /owned.txt /seeded.txt /ro.txt')).toBe('700:1000:1001\nseeded\n7:8\nread-only\n');
  });

  it('serialises sharing=locked users and gives sharing=private ones their own when busy', async () => {
    for (const sharing of ['locked', 'private']) {
      const ctx = await contexts.make({
        Containerfile: `FROM busybox-base\nRUN --mount=type=cache,target=/c,id=busy-${sharing},sharing=${sharing} test ! -e /c/busy && touch /c/busy && sleep 1 && rm /c/busy\n`,
      });
      const results = await Promise.all([bud(t, ctx, ['--no-cache']), bud(t, ctx, ['--no-cache'])]);
      for (const r of results) expect(r.code, `${sharing}: ${r.stderr}`).toBe(0);
    }
    // While one private user holds the cache, the other gets an empty one of its own.
    const mount = '--mount=type=cache,target=/c,id=private-seen,sharing=private';
    await build('private-seed', ['FROM busybox-base', `RUN ${mount} touch /c/marker`]);
    const ctx = await contexts.make({ Containerfile: `FROM busybox-base\nRUN ${mount} (test -e /c/marker && echo persistent || echo fresh) > /seen.txt && sleep 3\n` });
    await Promise.all(['private-a', 'private-b'].map((tag) => budOk(t, ctx, ['--no-cache', '-t', tag])));
    const seen = [await sh(t, 'private-a', 'cat /seen.txt'), await sh(t, 'private-b', 'cat /seen.txt')];
    expect(seen.sort()).toEqual(['fresh\n', 'persistent\n']);
  });

  it('refuses a cache seed path that leaves its stage (CVE-2024-9675)', async () => {
    await build('cache-escape', [
      'FROM busybox-base AS s',
      'RUN mkdir /d && echo in-stage > /d/f',
      'FROM busybox-base',
      'RUN --mount=type=cache,target=/c,id=escape,from=s,source=../../../../../../d ls /c > /listing.txt',
    ]);
    expect(await sh(t, 'cache-escape', 'cat /listing.txt')).toBe('f\n');
  });
});

describe('RUN --mount=type=tmpfs', () => {
  it('gives an empty tmpfs of the size asked for, gone afterwards', async () => {
    await build('tmpfs', [
      'FROM busybox-base',
      'RUN --mount=type=tmpfs,target=/scratch,size=1m echo x > /scratch/f && df -k /scratch | tail -n 1 | awk \'{print $2}\' > /size.txt && grep " /scratch " /proc/mounts | cut -d" " -f3 >> /size.txt',
    ]);
    expect(await sh(t, 'tmpfs', 'cat /size.txt; ls /scratch 2>&1 | grep -c "No such"')).toBe('1024\ntmpfs\n1\n');
  });
});

describe('RUN --mount=type=secret', () => {
  const value = `s3cr3t-${randomBytes(8).toString('hex')}`;
  const envValue = `env-s3cr3t-${randomBytes(8).toString('hex')}`;

  it('shows a --secret as a 0400 file and as a variable, and it lands nowhere else', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-secret-'));
    try {
      const file = path.join(dir, 'token');
      await writeFile(file, value);
      const ctx = await contexts.make({
        Containerfile: [
          'FROM busybox-base',
          'RUN --mount=type=secret,id=token stat -c %a:%u:%g /run/secrets/token > /default.txt',
          'RUN --mount=type=secret,id=token,target=/custom/tok,mode=0440,uid=1000,gid=1000 stat -c %a:%u:%g /custom/tok > /custom.txt && wc -c < /custom/tok >> /custom.txt',
          'RUN --mount=type=secret,id=token,env=TOKEN,target=/both sh -c \'test "$TOKEN" = "$(cat /both)" && echo same > /both.txt\'',
          'RUN --mount=type=secret,id=fromenv,env=FROM_ENV sh -c \'test -n "$FROM_ENV" && test ! -e /run/secrets/fromenv && echo env-only > /env.txt\'',
          'RUN --mount=type=secret,id=absent ls /run/secrets/absent 2>&1 | grep -c "No such" > /optional.txt',
          'RUN --mount=type=secret,id=token cat /run/secrets/token | wc -c > /len.txt',
        ].join('\n'),
      });
      const args = ['-t', 'secret', '--secret', `id=token,src=${file}`, '--secret', 'id=fromenv,env=MY_SECRET_VAR'];
      const result = await t.run(['bud', ...args, ctx], { env: { MY_SECRET_VAR: envValue } });
      expect(result.code, result.stderr).toBe(0);
      expect(await sh(t, 'secret', 'cat /default.txt /custom.txt /both.txt /env.txt /optional.txt /len.txt')).toBe(
        `400:0:0\n440:1000:1000\n${value.length}\nsame\nenv-only\n1\n${value.length}\n`,
      );
      expect(await sh(t, 'secret', 'ls -A /run /custom 2>&1 | grep -c "No such"')).toBe('2\n');
      for (const secret of [value, envValue]) {
        expect(result.stdout + result.stderr).not.toContain(secret);
        expect(JSON.stringify(await inspectJson(t, 'secret', 'History'))).not.toContain(secret);
        expect(await filesContaining(t.root, secret)).toEqual([]);
      }
      // The value is not part of the cache key: another value, the same steps from cache.
      await writeFile(file, 'another-value');
      const again = await t.run(['bud', ...args, ctx], { env: { MY_SECRET_VAR: 'other' } });
      expect(again.code, again.stderr).toBe(0);
      expect(steps(again.stdout).slice(1).every((s) => s.cached)).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('fails on a required secret the build was not given, naming line and id', async () => {
    const { error, file } = await buildError(['FROM busybox-base', 'RUN --mount=type=secret,id=npmrc,required true']);
    expect(error).toContain(`${file}:2:`);
    expect(error).toContain('secret "npmrc" is required');
  });
});

describe('RUN --mount=type=ssh', () => {
  let agent: ChildProcess | undefined;
  let dir: string;
  let socket: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-ssh-'));
    socket = path.join(dir, 'agent.sock');
    agent = spawn('ssh-agent', ['-D', '-a', socket], { stdio: 'ignore' });
    for (let i = 0; i < 100 && !(await lstat(socket).catch(() => undefined)); i++) await new Promise((r) => setTimeout(r, 50));
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'tsbuild-test-key', '-f', path.join(dir, 'key')]);
    execFileSync('ssh-add', [path.join(dir, 'key')], { env: { SSH_AUTH_SOCK: socket }, stdio: 'ignore' });
  });

  afterAll(async () => {
    agent?.kill();
    await rm(dir, { recursive: true, force: true });
  });

  it('forwards the agent of --ssh default: ssh-add -l in the RUN lists its key', async () => {
    // busybox has no ssh client: the host's ssh-add comes in read-only through --volume.
    const ctx = await contexts.make({
      Containerfile: [
        'FROM busybox-base',
        'RUN --mount=type=ssh test -S "$SSH_AUTH_SOCK" && echo "$SSH_AUTH_SOCK" > /sock.txt && stat -c %a:%u "$SSH_AUTH_SOCK" >> /sock.txt && /usr/bin/ssh-add -l > /keys.txt',
        'RUN --mount=type=ssh,id=other,target=/agent,uid=1000,mode=0660 SSH_AUTH_SOCK=/agent /usr/bin/ssh-add -l > /other.txt && stat -c %a:%u /agent >> /other.txt',
      ].join('\n'),
    });
    const volumes = ['-v', '/usr:/usr:ro', '-v', '/usr/lib:/lib:ro', '-v', '/usr/lib64:/lib64:ro'];
    const result = await t.run(['bud', '-t', 'ssh', '--ssh', 'default', '--ssh', `other=${socket}`, ...volumes, ctx], { env: { SSH_AUTH_SOCK: socket } });
    expect(result.code, result.stderr).toBe(0);
    const sock = (await sh(t, 'ssh', 'cat /sock.txt')).split('\n');
    expect(sock.slice(0, 2)).toEqual(['/run/buildkit/ssh_agent.0', '600:0']);
    expect(await sh(t, 'ssh', 'cat /keys.txt')).toContain('tsbuild-test-key (ED25519)');
    expect(await sh(t, 'ssh', 'cat /other.txt')).toMatch(/tsbuild-test-key \(ED25519\)\n660:1000\n$/);
    expect(await sh(t, 'ssh', 'ls /run /agent /usr /lib64 2>&1 | grep -c "No such"')).toBe('4\n');
  });

  it('fails on a required agent the build was not given, and on an --ssh that is no socket', async () => {
    const { error, file } = await buildError(['FROM busybox-base', 'RUN --mount=type=ssh,required=true true']);
    expect(error).toContain(`${file}:2:`);
    expect(error).toContain('ssh agent "default" is required');
    const bad = await buildError(['FROM busybox-base', 'RUN true'], { args: ['--ssh', `default=${dir}`] });
    expect(bad.error).toContain('is not an agent socket');
  });
});

describe('RUN --mount errors', () => {
  it('releases every mount and cache lock when the RUN fails', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-secret-'));
    try {
      await writeFile(path.join(dir, 's'), 'failing-run-secret');
      const lines = [
        'FROM busybox-base AS s',
        'FROM busybox-base',
        'RUN --mount=from=s,target=/s,rw --mount=type=cache,target=/c,id=fail,sharing=locked --mount=type=secret,id=s --mount=type=tmpfs,target=/t exit 3',
      ];
      const failed = await buildError(lines, { args: ['--secret', `id=s,src=${path.join(dir, 's')}`] });
      expect(failed.result.code).toBe(3);
      expect(failed.error).toContain(`${failed.file}:3: RUN exited with status 3`);
      await expect(lstat(path.join(t.root, 'cache', 'run-mounts'))).resolves.toBeDefined();
      const locks = (await readdir(path.join(t.root, 'cache', 'run-mounts'))).filter((f) => f.endsWith('.lock'));
      expect(locks).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('names file:line for unknown types, unknown options and bad values', async () => {
    const cases: [string, string][] = [
      ['type=volume,target=/x', 'unsupported mount type "volume"'],
      ['type=cache,target=/x,colour=red', 'unknown option "colour"'],
      ['type=cache,target=/x,mode=999', 'mode "999" is not an octal file mode'],
      ['type=bind,target=/x,size=1m', '"size" is not an option of type=bind mounts'],
      ['type=cache,target=/x,sharing=sometimes', 'unsupported sharing value "sometimes"'],
      ['type=tmpfs', 'a tmpfs mount needs a target'],
      ['type=bind,target=/x,ro=maybe', 'ro="maybe" is not a boolean'],
    ];
    for (const [value, message] of cases) {
      const { error, file } = await buildError(['FROM busybox-base', 'RUN true', `RUN --mount=${value} true`]);
      expect(error.startsWith(`Error: ${file}:3: RUN --mount=${value}: ${message}`), error).toBe(true);
    }
  });
});

// Under CI a missing buildah is a set-up failure, not a reason to skip (scripts/setup.sh installs it).
describe.runIf(buildahAvailable() || process.env.CI === 'true')('RUN --mount side by side with buildah 1.28', () => {
  it('gives the same files for bind, cache, tmpfs and secret mounts, minus the mount points buildah leaves', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-secret-'));
    try {
      await writeFile(path.join(dir, 'tok'), 'side-by-side-secret');
      const ctx = await contexts.make({
        Containerfile: [
          'FROM localhost/busybox-base',
          'RUN --mount=type=bind,source=dir,target=/src cp /src/a.txt /copied.txt && (touch /src/x 2>/dev/null && echo rw || echo ro) > /bind-ro.txt',
          'RUN --mount=type=cache,target=/var/cache/sbs echo x > /var/cache/sbs/f && ls /var/cache/sbs > /cache-list.txt',
          'RUN --mount=type=tmpfs,target=/t touch /t/x && ls /t > /tmpfs-list.txt',
          'RUN --mount=type=secret,id=tok cat /run/secrets/tok > /secret-copy.txt && stat -c %a /run/secrets/tok > /secret-mode.txt',
        ].join('\n'),
        'dir/a.txt': 'a\n',
      });
      const { tsbuild, buildah } = await buildBoth(ctx, ['--secret', `id=tok,src=${path.join(dir, 'tok')}`], t, 'localhost/compare-mounts');
      // buildah leaves the mount points it created in the layer (and /run/secrets); BuildKit, the reference, does not.
      const leftovers = (p: string): boolean => /^(dev|proc|sys|run(\/.*)?|src|t|var(\/cache(\/sbs)?)?|etc\/(hosts|resolv\.conf|hostname))$/.test(p);
      for (const p of ['src', 't', 'run', 'var']) expect(tsbuild.files.has(p), p).toBe(false);
      expect(comparableTree(tsbuild, leftovers)).toEqual(comparableTree(buildah, leftovers));
      expect(tsbuild.files.get('secret-copy.txt')?.size).toBe('side-by-side-secret'.length);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/** Files under `dir` (blobs, snapshots, caches, records) whose bytes contain `needle`. */
async function filesContaining(dir: string, needle: string): Promise<string[]> {
  const found: string[] = [];
  const bytes = Buffer.from(needle);
  const walk = async (d: string): Promise<void> => {
    for (const entry of await readdir(d, { withFileTypes: true })) {
      const p = path.join(d, entry.name);
      if (entry.isDirectory()) await walk(p);
      else if (entry.isFile() && (await readFile(p)).includes(bytes)) found.push(p);
    }
  };
  await walk(dir);
  return found;
}
