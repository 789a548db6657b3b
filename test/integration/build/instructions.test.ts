// Every Containerfile instruction, driven through the real CLI: one large build covers most of them,
// small ones cover what needs an image of its own (ONBUILD children, ENTRYPOINT/CMD rules, scratch,
// the docker format). Assertions are what a user sees: files and owners in the image, config fields.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Contexts, budOk, host, inspectJson, setupRoot, sh, teardownRoot, type CliResult, type TestRoot } from './helpers.js';

interface HistoryEntry {
  created?: string;
  created_by?: string;
  empty_layer?: boolean;
}

interface Config {
  Env?: string[];
  Cmd?: string[] | null;
  Entrypoint?: string[] | null;
  WorkingDir?: string;
  User?: string;
  Labels?: Record<string, string>;
  ExposedPorts?: Record<string, object>;
  Volumes?: Record<string, object>;
  StopSignal?: string;
  Healthcheck?: { Test: string[]; Interval?: number; Timeout?: number; StartPeriod?: number; Retries?: number };
  OnBuild?: string[] | null;
  Shell?: string[];
}

const MAIN = [
  'ARG BASE=busybox-base',
  'ARG GLOBAL_ONLY=global-value',
  'FROM ${BASE}',
  'MAINTAINER Jane Doe <jane@example.com>',
  'ARG STAGE_ARG=stage-default',
  'ARG OVERRIDDEN=default',
  'ARG GLOBAL_ONLY',
  'ARG NOVALUE',
  'RUN echo "app:x:1000:1001:app:/home/app:/bin/sh" >> /etc/passwd && echo "appgroup:x:1001:" >> /etc/group && echo "other:x:2000:" >> /etc/group && mkdir -p /existing && chown 1234:1234 /existing && chmod 700 /existing',
  'ENV A=1 B="two words" C=with\\ space',
  'ENV D ${A}-legacy form',
  "ENV E='$A single' F=\"\\$A escaped\" G=${UNSET:-fallback} H=${A:+alt} I=x${UNSET:+alt}y J=${A}${A}",
  'ENV FROM_ARG=$STAGE_ARG Z=z Y=${Z:-not-yet}',
  'RUN echo "$A|$B|$C|$D|$E|$F|$G|$H|$I|$J" > /env.txt && echo "$STAGE_ARG|$OVERRIDDEN|$GLOBAL_ONLY|${NOVALUE-unset}|${BASE-not-redeclared}" > /args.txt',
  'RUN ["/bin/sh", "-c", "echo exec form > /exec.txt"]',
  'RUN --network=none tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " " > /netdev-none.txt',
  'COPY file.txt /copied/file.txt',
  'COPY dir /dircontents/',
  'COPY glob/*.txt /globbed/',
  'COPY file.txt /existing/',
  'COPY --chown=app:appgroup owned.txt /owned-name.txt',
  'COPY --chown=1234:5678 owned.txt /owned-id.txt',
  'COPY --chmod=640 owned.txt /mode.txt',
  'ENV SRC=file.txt DEST=/vars',
  'COPY $SRC ${DEST}/by-var.txt',
  'COPY file.txt ${DEST}/\\$literal.txt',
  'ADD local.txt /add/local.txt',
  'ADD archive.tar /add/tar/',
  'ADD archive.tar.gz /add/targz/',
  'ADD fake.tar /add/fake/',
  'ENV WD=/work',
  'WORKDIR $WD',
  'WORKDIR sub',
  'COPY file.txt rel/',
  'WORKDIR ${WD}/other',
  'LABEL version=$A "description"="a label with spaces" escaped=\\$A fallback=${UNSET:-dflt}',
  'EXPOSE 8080 53/udp',
  'VOLUME ["/data"]',
  'VOLUME /v1 /v2',
  'STOPSIGNAL SIGQUIT',
  'HEALTHCHECK --interval=30s --timeout=5s --start-period=1m30s --retries=3 CMD ["/bin/true"]',
  'ONBUILD RUN echo triggered > /tmp/onbuild.txt',
  'USER app',
  'RUN id > /tmp/id-name.txt',
  'USER 1000',
  'RUN id > /tmp/id-uid.txt',
  'USER app:other',
  'RUN id > /tmp/id-group.txt',
  'SHELL ["/bin/sh", "-xc"]',
  'RUN echo traced-output',
  'CMD cat /env.txt',
].join('\n');

let t: TestRoot;
const contexts = new Contexts();
let mainBuild: CliResult;
let config: Config;

beforeAll(async () => {
  t = await setupRoot();
  const ctx = await contexts.make({
    Containerfile: MAIN,
    'file.txt': 'hello file\n',
    'dir/a.txt': 'a\n',
    'dir/sub/b.txt': 'b\n',
    'glob/one.txt': 'one\n',
    'glob/two.txt': 'two\n',
    'glob/skip.md': 'skip\n',
    'owned.txt': 'owned\n',
    'local.txt': 'local\n',
    'fake.tar': 'not really a tar\n',
  });
  // Archives for ADD, made by the host's tar so they are independent of our tar code.
  const staging = path.join(ctx, '..', `${path.basename(ctx)}-staging`);
  await mkdir(path.join(staging, 'arch', 'y'), { recursive: true });
  await writeFile(path.join(staging, 'arch', 'x.txt'), 'x in tar\n');
  await writeFile(path.join(staging, 'arch', 'y', 'z.txt'), 'z in tar\n');
  host(['tar', '-cf', path.join(ctx, 'archive.tar'), '-C', staging, 'arch']);
  host(['tar', '-czf', path.join(ctx, 'archive.tar.gz'), '-C', staging, 'arch']);
  host(['rm', '-rf', staging]);
  mainBuild = await budOk(t, ctx, ['-t', 'main', '--build-arg', 'OVERRIDDEN=from-cli']);
  config = await inspectJson<Config>(t, 'main', 'Config');
});

afterAll(async () => {
  await contexts.cleanup();
  await teardownRoot(t);
});

describe('FROM', () => {
  it('builds FROM a local image named by its short name, chosen through a global ARG', async () => {
    expect(await sh(t, 'main', 'cat /etc/passwd')).toContain('root:x:0:0:root:/root:/bin/sh');
  });

  it('expands the automatic platform ARGs in FROM without a declaration', async () => {
    const arch = await inspectJson<string>(t, 'busybox-base', 'Architecture');
    await t.ok(['tag', 'busybox-base', `busybox-${arch}`]);
    const ctx = await contexts.make({
      Containerfile: 'FROM --platform=$BUILDPLATFORM busybox-${TARGETARCH}\nARG TARGETPLATFORM\nRUN echo "$TARGETPLATFORM" > /platform.txt\n',
    });
    await budOk(t, ctx, ['-q', '-t', 'platform']);
    expect(await sh(t, 'platform', 'cat /platform.txt')).toBe(`linux/${arch}\n`);
  });

  it('builds FROM scratch with nothing but what was copied, and FROM a previous stage', async () => {
    const ctx = await contexts.make({
      Containerfile: [
        'FROM scratch AS tiny',
        'COPY --from=busybox-base /bin/busybox /bin/busybox',
        'FROM tiny AS child',
        'COPY file.txt /file.txt',
      ].join('\n'),
      'file.txt': 'from stage\n',
    });
    await budOk(t, ctx, ['-t', 'tiny', '--target', 'tiny']);
    await budOk(t, ctx, ['-t', 'child']);
    expect(await inspectJson<{ Layers: string[] }>(t, 'tiny', 'RootFS').then((r) => r.Layers)).toHaveLength(1);
    const childLayers = (await inspectJson<{ Layers: string[] }>(t, 'child', 'RootFS')).Layers;
    expect(childLayers).toHaveLength(2);
    const listing = (await t.ok(['run', '--rm', 'child', '/bin/busybox', 'ls', '/'])).stdout.split('\n');
    expect(listing).toContain('bin');
    expect(listing).toContain('file.txt');
    expect(listing).not.toContain('tmp');
    expect(listing).not.toContain('root');
    expect((await t.ok(['run', '--rm', 'child', '/bin/busybox', 'cat', '/file.txt'])).stdout).toBe('from stage\n');
  });
});

describe('RUN', () => {
  it('runs the shell form through /bin/sh -c and the exec form without a shell', async () => {
    expect(await sh(t, 'main', 'cat /exec.txt')).toBe('exec form\n');
    expect(await sh(t, 'main', 'cat /env.txt')).toBe('1|two words|with space|1-legacy form|$A single|$A escaped|fallback|alt|xy|11\n');
  });

  it('runs a RUN --network=none with only a loopback interface', async () => {
    expect(await sh(t, 'main', 'cat /netdev-none.txt')).toBe('lo\n');
  });

  it('runs as the USER given by name, by uid (group from /etc/passwd) and by name:group', async () => {
    expect(await sh(t, 'main', 'cat /tmp/id-name.txt')).toMatch(/^uid=1000\(app\) gid=1001\(appgroup\)/);
    expect(await sh(t, 'main', 'cat /tmp/id-uid.txt')).toMatch(/^uid=1000\(app\) gid=1001\(appgroup\)/);
    expect(await sh(t, 'main', 'cat /tmp/id-group.txt')).toMatch(/^uid=1000\(app\) gid=2000\(other\)/);
  });

  it('uses SHELL for later shell-form RUNs (the -x trace shows on stderr)', () => {
    expect(mainBuild.stderr).toContain('+ echo traced-output');
    expect(mainBuild.stdout).toContain('traced-output');
    expect(config.Shell).toEqual(['/bin/sh', '-xc']);
  });
});

describe('COPY', () => {
  it('copies a file to a new path, a directory\'s contents, and what a glob matches', async () => {
    const out = await sh(
      t,
      'main',
      'cat /copied/file.txt; cat /dircontents/a.txt /dircontents/sub/b.txt; ls /dircontents; ls /globbed',
    );
    expect(out).toBe('hello file\na\nb\na.txt\nsub\none.txt\ntwo.txt\n');
  });

  it('copies to a destination relative to WORKDIR', async () => {
    expect(await sh(t, 'main', 'cat /work/sub/rel/file.txt')).toBe('hello file\n');
  });

  it('applies --chown by name:group and by uid:gid, and --chmod', async () => {
    const out = await sh(t, 'main', "stat -c '%n %u:%g %a' /owned-name.txt /owned-id.txt /mode.txt");
    expect(out).toBe('/owned-name.txt 1000:1001 644\n/owned-id.txt 1234:5678 644\n/mode.txt 0:0 640\n');
  });

  it('copies into an existing directory without changing its owner or mode', async () => {
    // The image's USER (app) may not read a 700 directory of uid 1234: look as root.
    const out = await sh(t, 'main', "stat -c '%u:%g %a %F' /existing; cat /existing/file.txt", '0');
    expect(out).toBe('1234:1234 700 directory\nhello file\n');
  });

  it('expands $v and ${v} in sources and destinations, and keeps \\$v literal', async () => {
    expect(await sh(t, 'main', 'ls /vars')).toBe('$literal.txt\nby-var.txt\n');
  });
});

describe('ADD', () => {
  it('adds a local file as is', async () => {
    expect(await sh(t, 'main', 'cat /add/local.txt')).toBe('local\n');
  });

  it('extracts a local .tar and .tar.gz into the destination', async () => {
    const out = await sh(t, 'main', 'cat /add/tar/arch/x.txt /add/tar/arch/y/z.txt /add/targz/arch/x.txt /add/targz/arch/y/z.txt');
    expect(out).toBe('x in tar\nz in tar\nx in tar\nz in tar\n');
  });

  it('copies a file named .tar that is not an archive as is', async () => {
    expect(await sh(t, 'main', 'ls /add/fake; cat /add/fake/fake.tar')).toBe('fake.tar\nnot really a tar\n');
  });
});

describe('ENV and ARG', () => {
  it('stores ENV in both forms, with quotes, escapes and ${v:-w} / ${v:+w} in the config', () => {
    expect(config.Env).toEqual(
      expect.arrayContaining([
        'A=1',
        'B=two words',
        'C=with space',
        'D=1-legacy form',
        'E=$A single',
        'F=$A escaped',
        'G=fallback',
        'H=alt',
        'I=xy',
        'J=11',
      ]),
    );
  });

  it('expands an ARG into ENV, and lets the pairs of one ENV see only the values from before it', () => {
    expect(config.Env).toEqual(expect.arrayContaining(['FROM_ARG=stage-default', 'Z=z', 'Y=not-yet']));
  });

  it('shows ENV to the container at run time', async () => {
    expect(await sh(t, 'main', 'echo "$B|$D"')).toBe('two words|1-legacy form\n');
  });

  it('gives RUN the ARG defaults, --build-arg overrides and redeclared global ARGs, but keeps them out of the config', async () => {
    expect(await sh(t, 'main', 'cat /args.txt')).toBe('stage-default|from-cli|global-value|unset|not-redeclared\n');
    const names = (config.Env ?? []).map((e) => e.split('=')[0]);
    for (const arg of ['STAGE_ARG', 'OVERRIDDEN', 'GLOBAL_ONLY', 'NOVALUE', 'BASE']) expect(names).not.toContain(arg);
  });
});

describe('WORKDIR', () => {
  it('resolves a relative WORKDIR against the previous one and expands variables', () => {
    expect(config.WorkingDir).toBe('/work/other');
  });

  it('creates the directories, owned by root, even when USER is set', async () => {
    const out = await sh(t, 'main', "stat -c '%n %u:%g %a %F' /work /work/sub /work/other; pwd");
    expect(out).toBe('/work 0:0 755 directory\n/work/sub 0:0 755 directory\n/work/other 0:0 755 directory\n/work/other\n');
  });
});

describe('metadata instructions', () => {
  it('stores USER as written and runs containers as that user', async () => {
    expect(config.User).toBe('app:other');
    expect(await sh(t, 'main', 'id')).toMatch(/^uid=1000\(app\) gid=2000\(other\)/);
  });

  it('stores LABELs with variables expanded and \\$ kept literal', () => {
    expect(config.Labels).toEqual({ version: '1', description: 'a label with spaces', escaped: '$A', fallback: 'dflt' });
  });

  it('normalises EXPOSE ports to port/protocol', () => {
    expect(config.ExposedPorts).toEqual({ '8080/tcp': {}, '53/udp': {} });
  });

  it('stores VOLUMEs of the JSON and plain forms', () => {
    expect(Object.keys(config.Volumes ?? {}).sort()).toEqual(['/data', '/v1', '/v2']);
  });

  it('stores STOPSIGNAL and HEALTHCHECK with durations in nanoseconds', () => {
    expect(config.StopSignal).toBe('SIGQUIT');
    expect(config.Healthcheck).toEqual({
      Test: ['CMD', '/bin/true'],
      Interval: 30_000_000_000,
      Timeout: 5_000_000_000,
      StartPeriod: 90_000_000_000,
      Retries: 3,
    });
  });

  it('stores MAINTAINER as the author', async () => {
    expect((await t.ok(['inspect', '-f', '{{.Author}}', 'main'])).stdout).toBe('Jane Doe <jane@example.com>\n');
  });

  it('stores a shell-form CMD under the SHELL in effect and runs it', async () => {
    expect(config.Cmd).toEqual(['/bin/sh', '-xc', 'cat /env.txt']);
    const result = await t.ok(['run', '--rm', 'main']);
    expect(result.stdout).toBe('1|two words|with space|1-legacy form|$A single|$A escaped|fallback|alt|xy|11\n');
  });
});

describe('ONBUILD', () => {
  it('stores triggers in the config; a child image runs them and does not inherit them', async () => {
    expect(config.OnBuild).toEqual(['RUN echo triggered > /tmp/onbuild.txt']);
    const ctx = await contexts.make({ Containerfile: 'FROM main\nRUN cat /tmp/onbuild.txt > /tmp/child.txt\n' });
    const result = await budOk(t, ctx, ['-t', 'onbuild-child']);
    expect(result.stdout).toContain('RUN echo triggered > /tmp/onbuild.txt');
    expect(await sh(t, 'onbuild-child', 'cat /tmp/child.txt')).toBe('triggered\n');
    const childConfig = await inspectJson<Config>(t, 'onbuild-child', 'Config');
    expect(childConfig.OnBuild ?? []).toEqual([]);
    // A grandchild does not run them again.
    const grand = await contexts.make({ Containerfile: 'FROM onbuild-child\nRUN test ! -e /tmp/again && echo ok > /tmp/grand.txt\n' });
    const grandBuild = await budOk(t, grand, ['-t', 'onbuild-grandchild']);
    expect(grandBuild.stdout).not.toContain('ONBUILD');
  });
});

describe('CMD and ENTRYPOINT', () => {
  let ctx: string;
  beforeAll(async () => {
    ctx = await contexts.make({
      Containerfile: [
        'FROM busybox-base AS ep-exec',
        'ENTRYPOINT ["/bin/echo", "from-entrypoint"]',
        'FROM busybox-base AS ep-shell',
        'ENTRYPOINT echo shell-entrypoint',
        'FROM busybox-base AS ep-cmd',
        'CMD ["own-cmd"]',
        'ENTRYPOINT ["/bin/echo"]',
        'FROM busybox-base AS cmd-exec',
        'CMD ["/bin/echo", "exec", "cmd"]',
      ].join('\n'),
    });
    for (const target of ['ep-exec', 'ep-shell', 'ep-cmd', 'cmd-exec']) await budOk(t, ctx, ['-q', '-t', target, '--target', target]);
  });

  it('drops the inherited CMD when ENTRYPOINT is set', async () => {
    const c = await inspectJson<Config>(t, 'ep-exec', 'Config');
    expect(c.Entrypoint).toEqual(['/bin/echo', 'from-entrypoint']);
    expect(c.Cmd ?? null).toBeNull();
    expect((await t.ok(['run', '--rm', 'ep-exec'])).stdout).toBe('from-entrypoint\n');
    expect((await t.ok(['run', '--rm', 'ep-exec', 'a', 'b'])).stdout).toBe('from-entrypoint a b\n');
  });

  it('wraps a shell-form ENTRYPOINT in /bin/sh -c', async () => {
    const c = await inspectJson<Config>(t, 'ep-shell', 'Config');
    expect(c.Entrypoint).toEqual(['/bin/sh', '-c', 'echo shell-entrypoint']);
    expect((await t.ok(['run', '--rm', 'ep-shell'])).stdout).toBe('shell-entrypoint\n');
  });

  it('keeps a CMD set in the same stage before ENTRYPOINT as its default arguments', async () => {
    const c = await inspectJson<Config>(t, 'ep-cmd', 'Config');
    expect(c.Cmd).toEqual(['own-cmd']);
    expect((await t.ok(['run', '--rm', 'ep-cmd'])).stdout).toBe('own-cmd\n');
  });

  it('stores an exec-form CMD as given', async () => {
    expect((await inspectJson<Config>(t, 'cmd-exec', 'Config')).Cmd).toEqual(['/bin/echo', 'exec', 'cmd']);
    expect((await t.ok(['run', '--rm', 'cmd-exec'])).stdout).toBe('exec cmd\n');
  });
});

describe('history', () => {
  it('records created_by for every step and empty_layer for metadata-only steps', async () => {
    const history = await inspectJson<HistoryEntry[]>(t, 'main', 'History');
    const layers = (await inspectJson<{ Layers: string[] }>(t, 'main', 'RootFS')).Layers;
    expect(history.filter((h) => !h.empty_layer)).toHaveLength(layers.length);
    for (const h of history) expect(h.created_by).toBeTruthy();
    const byText = (s: string): HistoryEntry | undefined => history.find((h) => h.created_by?.includes(s));
    expect(byText('ENV A=1')?.empty_layer).toBe(true);
    expect(byText('LABEL version')?.empty_layer).toBe(true);
    expect(byText('EXPOSE 8080')?.empty_layer).toBe(true);
    expect(byText('echo exec form')?.empty_layer).toBeFalsy();
    expect(byText('COPY file.txt /copied/file.txt')?.empty_layer).toBeFalsy();
    expect(byText('ADD archive.tar /add/tar/')?.empty_layer).toBeFalsy();
    // WORKDIR of a new directory makes a layer; the history says so.
    expect(byText('WORKDIR $WD')?.empty_layer).toBeFalsy();
  });
});

describe('--format docker', () => {
  it('writes a Docker schema 2 manifest whose config keeps Healthcheck, OnBuild and Shell', async () => {
    const ctx = await contexts.make({
      Containerfile: [
        'FROM busybox-base',
        'SHELL ["/bin/sh", "-ec"]',
        'HEALTHCHECK NONE',
        'ONBUILD RUN echo child',
        'RUN echo docker-format > /fmt.txt',
      ].join('\n'),
    });
    await budOk(t, ctx, ['--format', 'docker', '-t', 'dockerfmt']);
    expect((await t.ok(['inspect', '-f', '{{.ManifestType}}', 'dockerfmt'])).stdout.trim()).toBe(
      'application/vnd.docker.distribution.manifest.v2+json',
    );
    expect((await t.ok(['inspect', '-f', '{{.ManifestType}}', 'main'])).stdout.trim()).toBe('application/vnd.oci.image.manifest.v1+json');
    const c = await inspectJson<Config>(t, 'dockerfmt', 'Config');
    expect(c.Healthcheck).toEqual({ Test: ['NONE'] });
    expect(c.OnBuild).toEqual(['RUN echo child']);
    expect(c.Shell).toEqual(['/bin/sh', '-ec']);
    expect(await sh(t, 'dockerfmt', 'cat /fmt.txt')).toBe('docker-format\n');
  });

  it('keeps an OCI image of the same Containerfile apart from its docker-format build', async () => {
    const ctx = await contexts.make({ Containerfile: 'FROM busybox-base\nRUN echo both-formats > /f.txt\n' });
    await budOk(t, ctx, ['-t', 'fmt-oci']);
    await budOk(t, ctx, ['--format', 'docker', '-t', 'fmt-docker']);
    const manifestType = async (image: string): Promise<string> => (await t.ok(['inspect', '-f', '{{.ManifestType}}', image])).stdout.trim();
    expect(await manifestType('fmt-oci')).toBe('application/vnd.oci.image.manifest.v1+json');
    expect(await manifestType('fmt-docker')).toBe('application/vnd.docker.distribution.manifest.v2+json');
    expect(await inspectJson<string>(t, 'fmt-oci', 'Id')).not.toBe(await inspectJson<string>(t, 'fmt-docker', 'Id'));
  });
});
