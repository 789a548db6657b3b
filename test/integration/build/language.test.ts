// The Containerfile language through the real CLI: variable substitution where the Dockerfile
// reference says it happens, the metadata instructions' values in the built config, stage
// references (COPY --from a later stage, cycles), parser directives, and how errors are shown.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildahAvailable, buildBoth } from '../../helpers/buildah.js';
import { Contexts, bud, budOk, inspectJson, setupRoot, sh, teardownRoot, type TestRoot } from './helpers.js';

let t: TestRoot;
const contexts = new Contexts();

beforeAll(async () => {
  t = await setupRoot();
});

afterAll(async () => {
  await contexts.cleanup();
  await teardownRoot(t);
});

interface Config {
  Env?: string[];
  User?: string;
  WorkingDir?: string;
  Labels?: Record<string, string>;
  ExposedPorts?: Record<string, object>;
  Volumes?: Record<string, object>;
  StopSignal?: string;
  Healthcheck?: { Test: string[]; Interval?: number; Timeout?: number; StartPeriod?: number; StartInterval?: number; Retries?: number };
  OnBuild?: string[] | null;
  Shell?: string[];
  Cmd?: string[];
}

/** The value of NAME in an image's Env. */
function envOf(config: Config, name: string): string | undefined {
  return config.Env?.find((e) => e.startsWith(`${name}=`))?.slice(name.length + 1);
}

describe('variable substitution', () => {
  let config: Config;
  beforeAll(async () => {
    const ctx = await contexts.make({
      Containerfile: [
        'ARG BASE=busybox-base',
        'FROM ${BASE}',
        'ARG FILE=/usr/local/lib/archive.tar.gz',
        'ARG EMPTY=',
        'ENV PREFIX_SHORT=${FILE#*/} PREFIX_LONG=${FILE##*/} SUFFIX_SHORT=${FILE%.*} SUFFIX_LONG=${FILE%%.*}',
        'ENV REPLACE_ONE=${FILE/a/A} REPLACE_ALL=${FILE//a/A} COLON_PREFIX=${FILE:#*/}',
        'ENV UNSET_DASH=${NOPE-dflt} EMPTY_DASH=${EMPTY-dflt} EMPTY_COLON_DASH=${EMPTY:-dflt} SET_PLUS=${EMPTY+alt} UNSET_PLUS=x${NOPE+alt}',
        'ENV SET_CHECK="${FILE?must be set}" QUOTED="a \'b\' $EMPTY" SINGLE=\'$FILE\' ESCAPED=\\$FILE',
        'ENV DIR=/srv/app PORT=8080 PROTO=udp SIG=SIGINT WHO=1234 VOL=/data/vol NAME=label-name SRC=src.txt',
        'WORKDIR ${DIR}',
        'COPY ${SRC} ./copied-${PORT}.txt',
        'ADD ${SRC} /added-${PROTO}.txt',
        'EXPOSE ${PORT} 9000/${PROTO}',
        'LABEL ${NAME}=${DIR} legacy.form=$PORT',
        'STOPSIGNAL ${SIG}',
        'VOLUME ${VOL}',
        'VOLUME ["${VOL}-json"]',
        'USER ${WHO}:${WHO}',
        'ONBUILD RUN echo ${NOT_EXPANDED_NOW}',
      ].join('\n'),
      'src.txt': 'source\n',
    });
    await budOk(t, ctx, ['-t', 'subst']);
    config = await inspectJson<Config>(t, 'subst', 'Config');
  });

  it('removes prefixes and suffixes with #, ##, % and %%', () => {
    expect(envOf(config, 'PREFIX_SHORT')).toBe('usr/local/lib/archive.tar.gz');
    expect(envOf(config, 'PREFIX_LONG')).toBe('archive.tar.gz');
    expect(envOf(config, 'SUFFIX_SHORT')).toBe('/usr/local/lib/archive.tar');
    expect(envOf(config, 'SUFFIX_LONG')).toBe('/usr/local/lib/archive');
    expect(envOf(config, 'COLON_PREFIX')).toBe('usr/local/lib/archive.tar.gz');
  });

  it('replaces the first match with / and every match with //', () => {
    expect(envOf(config, 'REPLACE_ONE')).toBe('/usr/locAl/lib/archive.tar.gz');
    expect(envOf(config, 'REPLACE_ALL')).toBe('/usr/locAl/lib/Archive.tAr.gz');
  });

  it('tells unset from empty in -, :- and +', () => {
    expect(envOf(config, 'UNSET_DASH')).toBe('dflt');
    expect(envOf(config, 'EMPTY_DASH')).toBe('');
    expect(envOf(config, 'EMPTY_COLON_DASH')).toBe('dflt');
    expect(envOf(config, 'SET_PLUS')).toBe('alt');
    expect(envOf(config, 'UNSET_PLUS')).toBe('x');
  });

  it('keeps a set value with ?, and handles quotes and escapes', () => {
    expect(envOf(config, 'SET_CHECK')).toBe('/usr/local/lib/archive.tar.gz');
    expect(envOf(config, 'QUOTED')).toBe("a 'b' ");
    expect(envOf(config, 'SINGLE')).toBe('$FILE');
    expect(envOf(config, 'ESCAPED')).toBe('$FILE');
  });

  it('expands WORKDIR, COPY, ADD, EXPOSE, LABEL, STOPSIGNAL, VOLUME and USER', async () => {
    expect(config.WorkingDir).toBe('/srv/app');
    expect(await sh(t, 'subst', 'cat /srv/app/copied-8080.txt /added-udp.txt')).toBe('source\nsource\n');
    expect(Object.keys(config.ExposedPorts ?? {}).sort()).toEqual(['8080/tcp', '9000/udp']);
    expect(config.Labels).toMatchObject({ 'label-name': '/srv/app', 'legacy.form': '8080' });
    expect(config.StopSignal).toBe('SIGINT');
    expect(Object.keys(config.Volumes ?? {}).sort()).toEqual(['/data/vol', '/data/vol-json']);
    expect(config.User).toBe('1234:1234');
  });

  it('stores ONBUILD triggers unexpanded', () => {
    expect(config.OnBuild).toEqual(['RUN echo ${NOT_EXPANDED_NOW}']);
  });

  it('fails ${v:?message} with the message and the position of the word, and shows the line', async () => {
    const ctx = await contexts.make({ Containerfile: 'FROM busybox-base\nARG REQUIRED\nWORKDIR ${REQUIRED:?set REQUIRED with --build-arg}\n' });
    const result = await bud(t, ctx);
    expect(result.code).not.toBe(0);
    const file = path.join(ctx, 'Containerfile');
    expect(result.stderr).toContain(`Error: ${file}:3:9: REQUIRED: set REQUIRED with --build-arg\n   3 | WORKDIR \${REQUIRED:?set REQUIRED with --build-arg}\n     |         ^\n`);
    expect(result.stderr).not.toMatch(/^\s+at /m);
    await budOk(t, ctx, ['--build-arg', 'REQUIRED=/given']);
  });

  it('fails a bad substitution with its position', async () => {
    const ctx = await contexts.make({ Containerfile: 'FROM busybox-base\nENV A=${B\n' });
    const result = await bud(t, ctx);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(`${path.join(ctx, 'Containerfile')}:2:7: syntax error: missing '}'`);
  });
});

describe('environment', () => {
  it('gives a stage whose base has no PATH the default one, and keeps a variable set again in its place', async () => {
    const ctx = await contexts.make({ Containerfile: 'FROM scratch\nENV A=1 B=2\nENV A=3 PATH=/opt/bin:$PATH\n' });
    await budOk(t, ctx, ['-t', 'env-order']);
    expect(await inspectJson<string[]>(t, 'env-order', 'Config.Env')).toEqual([
      'PATH=/opt/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      'A=3',
      'B=2',
    ]);
  });
});

describe('metadata instructions', () => {
  let config: Config;
  let author: string;
  beforeAll(async () => {
    const ctx = await contexts.make({
      Containerfile: [
        'FROM busybox-base',
        'MAINTAINER Jane Doe <jane@example.com>',
        'EXPOSE 80 443/TCP 53/udp 132/sctp 8000-8002/udp 127.0.0.1:9000:9001',
        'HEALTHCHECK --interval=30s --timeout=5s --start-period=1m30s --start-interval=500ms --retries=4 CMD wget -q -O- http://localhost/ || exit 1',
        'STOPSIGNAL 9',
        'SHELL ["/bin/sh", "-ec"]',
        'RUN echo "$0 $-" > /shell.txt',
        'CMD echo from-cmd',
        'ENV LEGACY value with spaces',
        'LABEL legacy "spaced value"',
      ].join('\n'),
    });
    await budOk(t, ctx, ['-t', 'meta']);
    config = await inspectJson<Config>(t, 'meta', 'Config');
    author = await inspectJson<string>(t, 'meta', 'Author');
  });

  it('exposes every port of a range, with protocols lower-cased and tcp by default, as BuildKit', () => {
    expect(Object.keys(config.ExposedPorts ?? {}).sort()).toEqual(['132/sctp', '443/tcp', '53/udp', '80/tcp', '8000/udp', '8001/udp', '8002/udp', '9001/tcp']);
  });

  it('stores every HEALTHCHECK option in nanoseconds', () => {
    expect(config.Healthcheck).toEqual({
      Test: ['CMD-SHELL', 'wget -q -O- http://localhost/ || exit 1'],
      Interval: 30e9,
      Timeout: 5e9,
      StartPeriod: 90e9,
      StartInterval: 500e6,
      Retries: 4,
    });
  });

  it('uses SHELL for later RUN and CMD shell forms', async () => {
    expect(config.Shell).toEqual(['/bin/sh', '-ec']);
    expect(config.Cmd).toEqual(['/bin/sh', '-ec', 'echo from-cmd']);
    expect(await sh(t, 'meta', 'cat /shell.txt')).toMatch(/^\/bin\/sh .*e/);
  });

  it('keeps STOPSIGNAL, MAINTAINER and the legacy ENV and LABEL forms', () => {
    expect(config.StopSignal).toBe('9');
    expect(author).toBe('Jane Doe <jane@example.com>');
    expect(envOf(config, 'LEGACY')).toBe('value with spaces');
    expect(config.Labels?.legacy).toBe('spaced value');
  });

  it('turns the health check off with HEALTHCHECK NONE', async () => {
    const ctx = await contexts.make({ Containerfile: 'FROM meta\nHEALTHCHECK NONE\n' });
    await budOk(t, ctx, ['-t', 'meta-none']);
    expect((await inspectJson<Config>(t, 'meta-none', 'Config')).Healthcheck).toEqual({ Test: ['NONE'] });
  });

  it('rejects an invalid STOPSIGNAL and a bad EXPOSE protocol naming the line', async () => {
    for (const [line, text] of [
      ['STOPSIGNAL SIGNOPE', 'invalid signal: SIGNOPE'],
      ['EXPOSE 80/icmp', 'invalid proto: icmp'],
      ['EXPOSE 90-80', 'invalid containerPort: 90-80'],
    ] as const) {
      const ctx = await contexts.make({ Containerfile: `FROM busybox-base\n${line}\n` });
      const result = await bud(t, ctx);
      expect(result.code, line).not.toBe(0);
      expect(result.stderr).toContain(`${path.join(ctx, 'Containerfile')}:2: `);
      expect(result.stderr).toContain(text);
    }
  });
});

describe('ONBUILD', () => {
  it('runs the triggers when the image is used as a base, COPY --from an image included, and only once', async () => {
    const source = await contexts.make({ Containerfile: 'FROM busybox-base\nRUN echo from-source-image > /source.txt\n' });
    await budOk(t, source, ['-t', 'onbuild-source']);
    const parent = await contexts.make({
      Containerfile: [
        'FROM busybox-base',
        'ONBUILD ARG CHILD_ARG=child-default',
        'ONBUILD RUN echo "$CHILD_ARG" > /onbuild-run.txt',
        'ONBUILD COPY --from=onbuild-source /source.txt /from-image.txt',
        'ONBUILD COPY app.txt /app.txt',
      ].join('\n'),
    });
    await budOk(t, parent, ['-t', 'onbuild-parent']);
    expect(await sh(t, 'onbuild-parent', 'ls /onbuild-run.txt 2>&1 || true')).toMatch(/No such file/);
    const child = await contexts.make({ Containerfile: 'FROM onbuild-parent\nRUN cat /app.txt > /seen.txt\n', 'app.txt': 'from child context\n' });
    const output = await budOk(t, child, ['-t', 'onbuild-child', '--build-arg', 'CHILD_ARG=from-cli']);
    expect(output.stdout).toContain('Running ONBUILD trigger');
    expect(await sh(t, 'onbuild-child', 'cat /onbuild-run.txt /from-image.txt /seen.txt')).toBe('from-cli\nfrom-source-image\nfrom child context\n');
    expect((await inspectJson<Config>(t, 'onbuild-child', 'Config')).OnBuild ?? []).toEqual([]);
    // A grandchild does not run the triggers again.
    const grandchild = await contexts.make({ Containerfile: 'FROM onbuild-child\nRUN true\n' });
    expect((await budOk(t, grandchild, ['-t', 'onbuild-grandchild'])).stdout).not.toContain('Running ONBUILD trigger');
  });
});

describe('stage references', () => {
  it('copies from a later stage by name or index, building it first', async () => {
    const ctx = await contexts.make({
      Containerfile: [
        'FROM busybox-base AS final',
        'COPY --from=tools /tool.txt /tool.txt',
        'COPY --from=2 /other.txt /other.txt',
        'FROM busybox-base AS tools',
        'RUN echo tool > /tool.txt',
        'FROM busybox-base',
        'RUN echo other > /other.txt',
      ].join('\n'),
    });
    await budOk(t, ctx, ['-t', 'forward', '--target', 'final']);
    expect(await sh(t, 'forward', 'cat /tool.txt /other.txt')).toBe('tool\nother\n');
  });

  it('rejects a cycle between stages as BuildKit does, pointing at the COPY --from', async () => {
    const ctx = await contexts.make({
      Containerfile: 'FROM busybox-base AS a\nCOPY --from=b /x /x\nFROM busybox-base AS b\nCOPY --from=a /y /y\n',
    });
    const result = await bud(t, ctx);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(`Error: ${path.join(ctx, 'Containerfile')}:4:6: circular dependency detected on stage: a\n   4 | COPY --from=a /y /y\n     |      ^\n`);
    expect(result.stdout).not.toContain('STEP');
  });

  it('rejects a stage index the file does not have before building anything', async () => {
    const ctx = await contexts.make({ Containerfile: 'FROM busybox-base\nRUN true\nCOPY --from=3 /x /x\n' });
    const result = await bud(t, ctx);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(':3:6: --from=3: there is no stage 3 (the only stage is 0)');
    expect(result.stdout).not.toContain('STEP');
  });
});

describe('parser directives and parse errors', () => {
  it('accepts # syntax= with one warning that it is ignored, and honours # escape=', async () => {
    const ctx = await contexts.make({
      Containerfile: '# syntax=docker/dockerfile:1\n# escape=`\nFROM busybox-base\nRUN echo a `\n  b > /escaped.txt\n',
    });
    const result = await budOk(t, ctx, ['-t', 'directives']);
    expect(result.stderr.split('\n').filter((l) => l.includes('syntax='))).toEqual([
      `[Warning] ${path.join(ctx, 'Containerfile')}: ignoring "# syntax=docker/dockerfile:1": tsbuild builds with its own Dockerfile frontend`,
    ]);
    expect(await sh(t, 'directives', 'cat /escaped.txt')).toBe('a b\n');
  });

  it('shows an unknown instruction with a suggestion, the line and a caret, and no stack', async () => {
    const ctx = await contexts.make({ Containerfile: 'FROM busybox-base\nRUN true\n  FORM x\n' });
    const result = await bud(t, ctx);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toBe(`Error: ${path.join(ctx, 'Containerfile')}:3:3: unknown instruction "FORM" (did you mean FROM?)\n   3 |   FORM x\n     |   ^\n`);
  });

  it('points at a bad flag value the parser checks', async () => {
    const ctx = await contexts.make({ Containerfile: 'FROM busybox-base\nHEALTHCHECK --interval=soon CMD true\n' });
    const result = await bud(t, ctx);
    expect(result.stderr).toContain(':2:13: --interval must be a duration such as 30s or 1m30s, not "soon"\n   2 | HEALTHCHECK --interval=soon CMD true\n     |             ^\n');
  });

  it('points at an unterminated quote', async () => {
    const ctx = await contexts.make({ Containerfile: 'FROM busybox-base\nLABEL a="open\n' });
    const result = await bud(t, ctx);
    expect(result.stderr).toContain(':2:9: unterminated double quote\n   2 | LABEL a="open\n     |         ^\n');
  });
});

const available = buildahAvailable() || process.env.CI === 'true';

describe.runIf(available)('metadata side by side with buildah', () => {
  it('gives the same config as buildah for substitution and the metadata instructions both agree on', async () => {
    // Not compared: HEALTHCHECK, ONBUILD and SHELL, which buildah 1.28 drops from OCI images (BuildKit,
    // the reference, keeps them, as tsbuild does: see above), and the #, ##, %, %% and / substitution
    // forms, which buildah 1.28 rejects ("Missing ':' in substitution"), and EXPOSE ranges and upper-case
    // protocols, which buildah keeps as written (BuildKit: one port each, lower case).
    const ctx = await contexts.make({
      Containerfile: [
        'FROM localhost/busybox-base',
        'ARG FILE=/usr/local/lib/archive.tar.gz',
        'ENV D=${NOPE:-dflt} E=${FILE:+set} F=${FILE} G=\'$FILE\' H=\\$FILE',
        'ENV LEGACY value with spaces',
        'LABEL legacy "spaced value" expanded=$F',
        'EXPOSE 80 53/udp',
        'STOPSIGNAL SIGQUIT',
        'CMD echo hi',
        'VOLUME /data $F',
        'USER 1000:1000',
        'WORKDIR /srv',
        'MAINTAINER Jane',
      ].join('\n'),
    });
    const { tsbuild, buildah } = await buildBoth(ctx, [], t, 'localhost/compare-meta');
    for (const field of ['ExposedPorts', 'StopSignal', 'Cmd', 'Volumes', 'User', 'WorkingDir']) {
      expect.soft(tsbuild.config.config[field], field).toEqual(buildah.config.config[field]);
    }
    // buildah adds a default PATH to the config at FROM; the values set here agree.
    const env = (view: { config: Record<string, any> }): string[] => (view.config.config.Env as string[]).filter((e) => !e.startsWith('PATH=')).sort();
    expect.soft(env(tsbuild)).toEqual(env(buildah));
    const { 'io.buildah.version': _version, ...buildahLabels } = buildah.config.config.Labels;
    expect.soft(tsbuild.config.config.Labels).toEqual(buildahLabels);
    expect(tsbuild.config.author).toBe(buildah.config.author);
  });
});
