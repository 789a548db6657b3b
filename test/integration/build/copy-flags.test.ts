// COPY and ADD flags and copy semantics, through the real CLI: --chmod (octal and symbolic),
// --chown (names from the image, ids), --link, --parents, --exclude, and the reference's rules for
// symlinks, wildcards, trailing slashes and WORKDIR-relative destinations. Assertions are what a
// user sees in the built image.
import { createHash } from 'node:crypto';
import { chmod, mkdir, symlink, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildahAvailable, buildBoth, comparableTree } from '../../helpers/buildah.js';
import { Contexts, bud, budOk, inspectJson, setupRoot, sh, teardownRoot, type TestRoot } from './helpers.js';

let t: TestRoot;
const contexts = new Contexts();

beforeAll(async () => {
  t = await setupRoot();
  // A base with users, groups, an owned directory and a symlinked directory, for --chown and --link.
  const ctx = await contexts.make({
    Containerfile: [
      'FROM busybox-base',
      'RUN echo "app:x:1000:1001:app:/home/app:/bin/sh" >> /etc/passwd && echo "appgroup:x:1001:" >> /etc/group && echo "staff:x:2000:" >> /etc/group',
      'RUN mkdir -p /owned /real && chown 1234:1234 /owned && chmod 700 /owned && ln -s /real /linkdir',
    ].join('\n'),
  });
  await budOk(t, ctx, ['-t', 'users-base']);
});

afterAll(async () => {
  await contexts.cleanup();
  await teardownRoot(t);
});

async function build(containerfile: string, files: Record<string, string> = {}, tag = 'img', args: string[] = []): Promise<string> {
  const ctx = await contexts.make({ Containerfile: containerfile, ...files });
  await budOk(t, ctx, ['-t', tag, ...args]);
  return ctx;
}

const stat = (image: string, paths: string[]): Promise<string> => sh(t, image, `stat -c '%n %a %u:%g %F' ${paths.join(' ')}`);

describe('--chmod', () => {
  it('sets an octal mode on files and directories, for COPY and ADD', async () => {
    await build('FROM busybox-base\nCOPY --chmod=750 d /oct/\nADD --chmod=0604 f.txt /added.txt\n', { 'd/x': 'x', 'd/sub/y': 'y', 'f.txt': 'f' }, 'chmod-oct');
    expect(await stat('chmod-oct', ['/oct/x', '/oct/sub', '/added.txt'])).toBe(
      '/oct/x 750 0:0 regular file\n/oct/sub 750 0:0 directory\n/added.txt 604 0:0 regular file\n',
    );
  });

  it('applies symbolic modes per entry: X for directories and executables, g=u, +x', async () => {
    const ctx = await contexts.make({
      Containerfile: 'FROM busybox-base\nCOPY --chmod=u=rwX,go=rX tree /sym/\nCOPY --chmod=g=u one.txt /g-equals-u\nCOPY --chmod=+x one.txt /plus-x\n',
      'tree/plain': 'p',
      'tree/tool': 't',
      'tree/sub/file': 'f',
      'one.txt': '1',
    });
    const { chmod } = await import('node:fs/promises');
    await chmod(path.join(ctx, 'tree/plain'), 0o600);
    await chmod(path.join(ctx, 'tree/tool'), 0o700);
    await chmod(path.join(ctx, 'tree/sub'), 0o700);
    await chmod(path.join(ctx, 'one.txt'), 0o640);
    await budOk(t, ctx, ['-t', 'chmod-sym']);
    expect(await stat('chmod-sym', ['/sym/plain', '/sym/tool', '/sym/sub', '/sym/sub/file', '/g-equals-u', '/plus-x'])).toBe(
      [
        '/sym/plain 644 0:0 regular file',
        '/sym/tool 755 0:0 regular file',
        '/sym/sub 755 0:0 directory',
        '/sym/sub/file 644 0:0 regular file',
        '/g-equals-u 660 0:0 regular file',
        '/plus-x 751 0:0 regular file',
        '',
      ].join('\n'),
    );
  });

  it('rejects a mode that is neither octal nor symbolic, naming the line', async () => {
    const ctx = await contexts.make({ Containerfile: 'FROM busybox-base\n\nCOPY --chmod=u+q f /f\n', f: 'f' });
    const result = await bud(t, ctx, ['-t', 'bad-chmod']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(`${path.join(ctx, 'Containerfile')}:3: invalid --chmod "u+q"`);
  });
});

describe('--chown', () => {
  it('takes user and group names from the image, numeric ids, and a lone uid as the group too, for COPY and ADD', async () => {
    // archive.tar is made by the host tar so ADD unpacks it with the owner overridden.
    const ctx = await contexts.make({
      Containerfile: [
        'FROM users-base',
        'COPY --chown=app f /by-name',
        'COPY --chown=app:staff f /user-group',
        'COPY --chown=1234 f /lone-uid',
        'ADD --chown=1000:2000 f /added',
        'ADD --chown=app:appgroup archive.tar /unpacked/',
      ].join('\n'),
      f: 'f',
      'payload/inner.txt': 'inner',
    });
    const { execFileSync } = await import('node:child_process');
    execFileSync('tar', ['-cf', path.join(ctx, 'archive.tar'), '-C', path.join(ctx, 'payload'), 'inner.txt']);
    await budOk(t, ctx, ['-t', 'chown']);
    expect(await sh(t, 'chown', "stat -c '%n %u:%g' /by-name /user-group /lone-uid /added /unpacked/inner.txt")).toBe(
      '/by-name 1000:1001\n/user-group 1000:2000\n/lone-uid 1234:1234\n/added 1000:2000\n/unpacked/inner.txt 1000:1001\n',
    );
  });

  it('reports a user the image does not have, naming the line', async () => {
    const ctx = await contexts.make({ Containerfile: 'FROM users-base\nADD --chown=nobody-here f /f\n', f: 'f' });
    const result = await bud(t, ctx, ['-t', 'bad-chown']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(`${path.join(ctx, 'Containerfile')}:2: --chown=nobody-here: unable to find user nobody-here`);
  });
});

describe('--link', () => {
  const linked = 'COPY --link --chown=1000:1000 --chmod=640 payload /linked/\n';
  const files = { 'payload/a.txt': 'a', 'payload/sub/b.txt': 'b' };

  it('gives the same layer on two different bases', async () => {
    // One context for both, so the files (mtimes included) are the same; no cache, so both copy.
    const ctx = await contexts.make({ one: `FROM busybox-base\n${linked}`, two: `FROM users-base\nRUN echo changed > /changed\n${linked}`, ...files });
    await budOk(t, ctx, ['-f', path.join(ctx, 'one'), '-t', 'link-one', '--no-cache']);
    await budOk(t, ctx, ['-f', path.join(ctx, 'two'), '-t', 'link-two', '--no-cache']);
    const one = await inspectJson<{ Layers: string[] }>(t, 'link-one', 'RootFS');
    const two = await inspectJson<{ Layers: string[] }>(t, 'link-two', 'RootFS');
    expect(one.Layers.at(-1)).toBe(two.Layers.at(-1));
    expect(one.Layers.slice(0, -1)).not.toEqual(two.Layers.slice(0, -1));
    expect(await stat('link-two', ['/linked/a.txt', '/linked/sub'])).toBe('/linked/a.txt 640 1000:1000 regular file\n/linked/sub 640 1000:1000 directory\n');
  });

  it('hits the cache on another base: the key leaves the parent out', async () => {
    await build(`FROM busybox-base\n${linked}`, files, 'link-cache-one');
    const ctx = await contexts.make({ Containerfile: `FROM users-base\n${linked}`, ...files });
    const { stdout } = await budOk(t, ctx, ['-t', 'link-cache-two']);
    expect(stdout).toMatch(/STEP 2\/2: COPY --link[^\n]*\n--> Using cache/);
  });

  it('never resolves the destination through the parent: no symlink followed, new parents 0755 root', async () => {
    await build('FROM users-base\nCOPY --link f /linkdir/f\nCOPY --link f /owned/f\n', { f: 'f' }, 'link-dest');
    expect(await stat('link-dest', ['/linkdir', '/linkdir/f', '/owned'])).toBe('/linkdir 755 0:0 directory\n/linkdir/f 644 0:0 regular file\n/owned 755 0:0 directory\n');
    expect(await sh(t, 'link-dest', 'ls /real')).toBe('');
  });

  it('resolves --chown names in the parent image', async () => {
    await build('FROM users-base\nCOPY --link --chown=app:staff f /f\n', { f: 'f' }, 'link-names');
    expect(await sh(t, 'link-names', "stat -c '%u:%g' /f")).toBe('1000:2000\n');
  });
});

describe('--parents and --exclude', () => {
  it('keeps parent directories of the sources, from the context root or from a /./ pivot', async () => {
    await build(
      'FROM busybox-base\nCOPY --parents x/a.txt y/*.txt /p/\nCOPY --parents ./build/./out/bin /q/\nWORKDIR /w\nCOPY --parents src/lib rel/\n',
      { 'x/a.txt': 'xa', 'y/a.txt': 'ya', 'y/b.md': 'no', 'build/out/bin/tool': 'tool', 'src/lib/m.js': 'm' },
      'parents',
    );
    expect(await sh(t, 'parents', 'find /p /q /w | sort')).toBe(
      ['/p', '/p/x', '/p/x/a.txt', '/p/y', '/p/y/a.txt', '/q', '/q/out', '/q/out/bin', '/q/out/bin/tool', '/w', '/w/rel', '/w/rel/src', '/w/rel/src/lib', '/w/rel/src/lib/m.js', ''].join('\n'),
    );
  });

  it('leaves out what --exclude matches, for COPY and ADD, repeatable', async () => {
    await build(
      'FROM busybox-base\nCOPY --exclude=*.txt --exclude=**/*.md hom* /c/\nADD --exclude=sub . /a/\n',
      { 'home.txt': 'h', 'homer.sh': 's', 'homework/a.txt': 'a', 'homework/b.go': 'b', 'homework/deep/c.md': 'c', 'sub/x': 'x', 'top.txt': 't' },
      'exclude',
    );
    expect(await sh(t, 'exclude', 'find /c | sort')).toBe(['/c', '/c/b.go', '/c/deep', '/c/homer.sh', ''].join('\n'));
    expect(await sh(t, 'exclude', 'ls /a')).not.toContain('sub');
    expect(await sh(t, 'exclude', 'cat /a/top.txt')).toBe('t');
  });
});

describe('copy semantics', () => {
  it('follows a top-level source symlink, keeps symlinks inside directories, and copies from WORKDIR-relative paths', async () => {
    const ctx = await contexts.make({
      Containerfile: 'FROM busybox-base\nWORKDIR /work\nCOPY link-to-file copied\nCOPY dir sub/\nCOPY *.cfg cfgs/\nCOPY dir/ trailing\n',
      'real.txt': 'real',
      'dir/inner.txt': 'inner',
      'a.cfg': 'a',
      'b.cfg': 'b',
    });
    await symlink('real.txt', path.join(ctx, 'link-to-file'));
    await symlink('inner.txt', path.join(ctx, 'dir', 'link'));
    await budOk(t, ctx, ['-t', 'semantics']);
    expect(await sh(t, 'semantics', "stat -c '%n %F' /work/copied /work/sub/link /work/trailing/inner.txt && readlink /work/sub/link && ls /work/cfgs")).toBe(
      '/work/copied regular file\n/work/sub/link symbolic link\n/work/trailing/inner.txt regular file\ninner.txt\na.cfg\nb.cfg\n',
    );
  });

  it('refuses a source symlink that leaves the context', async () => {
    const ctx = await contexts.make({ Containerfile: 'FROM busybox-base\nCOPY escape /x\n' });
    await symlink('../../etc/hostname', path.join(ctx, 'escape'));
    const result = await bud(t, ctx, ['-t', 'escape']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(`${path.join(ctx, 'Containerfile')}:2: "escape" is outside the build context`);
  });

  it('copies symlinks to /etc out of a stage as links, and follows a top-level one inside the stage, never on the host', async () => {
    await build(
      'FROM busybox-base AS s\nRUN mkdir /d && ln -s /etc /d/etc && ln -s /etc/passwd /d/pw && ln -s /etc /etclink\nFROM busybox-base\nCOPY --from=s /d /got/\nCOPY --from=s /etclink /e/\n',
      {},
      'stage-links',
    );
    expect(await sh(t, 'stage-links', "stat -c '%n %F' /got/etc /got/pw; readlink /got/etc; readlink /got/pw")).toBe(
      '/got/etc symbolic link\n/got/pw symbolic link\n/etc\n/etc/passwd\n',
    );
    expect(await sh(t, 'stage-links', 'cat /e/passwd')).toBe('root:x:0:0:root:/root:/bin/sh\n');
  });
});

const available = buildahAvailable() || process.env.CI === 'true';

describe.runIf(available)('side by side with buildah', () => {
  it('agrees on COPY/ADD --chmod (octal) and --chown with names and ids', async () => {
    const ctx = await contexts.make({
      Containerfile: [
        'FROM localhost/users-base',
        'COPY --chmod=750 --chown=app:staff d /d/',
        'ADD --chmod=600 --chown=1234:5678 f /added',
        'COPY --chown=app f /by-name',
        'COPY --chown=1234 f /lone-uid',
      ].join('\n'),
      'd/x': 'x',
      'd/sub/y': 'y',
      f: 'f',
    });
    await mkdir(path.join(ctx, 'unused'), { recursive: true });
    await writeFile(path.join(ctx, 'unused', 'z'), 'z');
    const { tsbuild, buildah } = await buildBoth(ctx, [], t, 'localhost/compare-copy-flags', { bases: ['localhost/users-base'] });
    // buildah leaves the destination directory a directory source lands in at 0755; tsbuild gives
    // it the --chmod like every other directory the copy writes (BuildKit applies the mode to the
    // directories it copies).
    expect(tsbuild.files.get('d')?.mode).toBe(0o750);
    const only = (p: string): boolean => !/^(d\/|added|by-name|lone-uid)/.test(p);
    expect(comparableTree(tsbuild, only)).toEqual(comparableTree(buildah, only));
  });
});

describe('big copies (file data copied in worker threads)', () => {
  it('copies 600 files with their content, modes and mtimes, and --chown and --chmod reach every one', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 600; i++) files[`many/d${i % 7}/f${i}`] = `file ${i}\n`.repeat(i % 50);
    const ctx = await contexts.make({
      Containerfile: ['FROM users-base', 'COPY many /plain/', 'COPY --chown=app --chmod=640 many /owned-many/'].join('\n'),
      ...files,
    });
    await chmod(path.join(ctx, 'many/d3/f3'), 0o755);
    await utimes(path.join(ctx, 'many/d5/f5'), 1_600_000_000, 1_600_000_000);
    await budOk(t, ctx, ['-t', 'big-copy']);
    const out = await sh(t, 'big-copy', [
      'find /plain -type f | wc -l',
      'find /owned-many -type f | wc -l',
      'cat /plain/d4/f599 | md5sum',
      'stat -c "%a %u:%g" /plain/d3/f3 /plain/d1/f1 /owned-many/d3/f3',
      'stat -c %Y /plain/d5/f5',
      'find /owned-many -type f ! -user 1000 | wc -l',
    ].join(' && '));
    const expected = `file 599\n`.repeat(599 % 50);
    expect(out.trim().split('\n')).toEqual([
      '600',
      '600',
      `${createHash('md5').update(expected).digest('hex')}  -`,
      '755 0:0',
      '644 0:0',
      '640 1000:1001',
      '1600000000',
      '0',
    ]);
  });
});
