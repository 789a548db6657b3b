// The build checks through the CLI: `tsbuild lint`, `bud --check` (checks, no build) and the
// warnings a normal `bud` prints before it builds. Output lines, exit codes and, for bud, whether an
// image came out.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildahAvailable, buildBoth, comparableTree } from '../../helpers/buildah.js';
import { Contexts, budOk, bud, imageNames, setupRoot, teardownRoot, type TestRoot } from './helpers.js';

let t: TestRoot;
const contexts = new Contexts();

beforeAll(async () => {
  t = await setupRoot();
  // A base image with an ENV of its own, so UndefinedVar can tell base-image variables from typos.
  const ctx = await contexts.make({ Containerfile: 'FROM busybox-base\nENV APP_HOME=/srv/app\n' });
  await budOk(t, ctx, ['-t', 'lint-base']);
});

afterAll(async () => {
  await contexts.cleanup();
  await teardownRoot(t);
});

const NOISY = [
  'FROM lint-base AS Build',
  'ENV GREETING hello',
  'WORKDIR $APP_HOME',
  'COPY $APP_HOEM/x /y',
  'CMD echo $GREETING',
  '',
].join('\n');

const warningLines = (out: string): string[] => out.split('\n').filter((l) => /^\S+:\d+ \w+: /.test(l));

describe('tsbuild lint', () => {
  it('prints one line per warning with file:line, rule, message and URL, then a summary, and exits 0', async () => {
    const ctx = await contexts.make({ Containerfile: NOISY });
    const file = path.join(ctx, 'Containerfile');
    const result = await t.ok(['lint', ctx]);
    expect(warningLines(result.stdout)).toEqual([
      `${file}:1 StageNameCasing: Stage name 'Build' should be lowercase (https://docs.docker.com/go/dockerfile/rule/stage-name-casing/)`,
      `${file}:2 LegacyKeyValueFormat: "ENV key=value" should be used instead of legacy "ENV key value" format (https://docs.docker.com/go/dockerfile/rule/legacy-key-value-format/)`,
      `${file}:4 UndefinedVar: Usage of undefined variable '$APP_HOEM' (did you mean $APP_HOME?) (https://docs.docker.com/go/dockerfile/rule/undefined-var/)`,
      `${file}:5 JSONArgsRecommended: JSON arguments recommended for CMD to prevent unintended behavior related to OS signals (https://docs.docker.com/go/dockerfile/rule/json-args-recommended/)`,
    ]);
    expect(result.stdout).toContain('Check complete, 4 warnings have been found!');
  });

  it('says so when there is nothing to report', async () => {
    const ctx = await contexts.make({ Containerfile: 'FROM lint-base\nCMD ["sh"]\n' });
    expect((await t.ok(['lint', ctx])).stdout).toBe('Check complete, no warnings found.\n');
  });

  it('reads -f, --build-arg and --target', async () => {
    const ctx = await contexts.make({ 'build.containerfile': 'FROM lint-base AS a\nARG V\nCMD x\nFROM lint-base AS b\nCMD y\n' });
    const file = path.join(ctx, 'build.containerfile');
    const result = await t.ok(['lint', '-f', file, '--target', 'a', '--build-arg', 'V=1', ctx]);
    expect(warningLines(result.stdout)).toEqual([expect.stringMatching(new RegExp(`^${file}:3 JSONArgsRecommended: `))]);
  });

  it('takes the Containerfile itself in place of the context', async () => {
    const ctx = await contexts.make({ 'app.Dockerfile': 'FROM lint-base\nCMD sh\n' });
    const file = path.join(ctx, 'app.Dockerfile');
    expect(warningLines((await t.ok(['lint', file])).stdout)).toEqual([expect.stringMatching(new RegExp(`^${file}:2 JSONArgsRecommended: `))]);
  });

  it('reads the Containerfile from stdin with -f -', async () => {
    const ctx = await contexts.make({});
    const result = await t.ok(['lint', '-f', '-', ctx], { input: 'FROM lint-base\nCMD sh\n' });
    expect(warningLines(result.stdout)).toEqual([expect.stringMatching(/^<stdin>:2 JSONArgsRecommended: /)]);
  });

  it('gives JSON with --format json', async () => {
    const ctx = await contexts.make({ Containerfile: 'FROM lint-base\nMAINTAINER me\n' });
    const result = await t.ok(['lint', '--format', 'json', ctx]);
    const json = JSON.parse(result.stdout) as { warnings: Array<{ ruleName: string; location: { line: number } }> };
    expect(json.warnings.map((w) => [w.ruleName, w.location.line])).toEqual([['MaintainerDeprecated', 2]]);
  });

  it('fails with # check=error=true when there is a warning, naming the rules', async () => {
    const ctx = await contexts.make({ Containerfile: `# check=error=true\n${NOISY}` });
    const result = await t.run(['lint', ctx]);
    expect(result.code).toBe(1);
    expect(warningLines(result.stdout)).toHaveLength(4);
    expect(result.stderr).toBe(
      `Error: ${path.join(ctx, 'Containerfile')}: lint violation found for rules: StageNameCasing, LegacyKeyValueFormat, UndefinedVar, JSONArgsRecommended\n`,
    );
  });

  it('turns rules off with # check=skip=, and all of them with skip=all', async () => {
    const ctx = await contexts.make({ Containerfile: `# check=skip=UndefinedVar,StageNameCasing;error=true\n${NOISY}` });
    const result = await t.run(['lint', ctx]);
    expect(warningLines(result.stdout).map((l) => l.split(' ')[1])).toEqual(['LegacyKeyValueFormat:', 'JSONArgsRecommended:']);
    const all = await contexts.make({ Containerfile: `# check=skip=all;error=true\n${NOISY}` });
    expect((await t.ok(['lint', all])).stdout).toBe('Check complete, no warnings found.\n');
  });

  it('reports a parse error as the error, with file:line, after the warnings found before it', async () => {
    const ctx = await contexts.make({ Containerfile: 'FROM lint-base AS x\nFROM lint-base AS x\n' });
    const result = await t.run(['lint', ctx]);
    expect(result.code).toBe(1);
    expect(warningLines(result.stdout)).toEqual([expect.stringContaining(':2 DuplicateStageName: Duplicate stage name "x"')]);
    expect(result.stderr).toMatch(new RegExp(`^Error: ${path.join(ctx, 'Containerfile')}:2:1: duplicate stage name "x"`));
    expect(result.stderr).not.toMatch(/^\s+at /m);
  });

  it('reports files a COPY reads that .dockerignore excludes, when the experimental rule is on', async () => {
    const ctx = await contexts.make({
      Containerfile: '# check=experimental=CopyIgnoredFile\nFROM lint-base\nCOPY app.env /etc/\n',
      '.dockerignore': '*.env\n',
      'app.env': 'X=1\n',
    });
    const result = await t.ok(['lint', ctx]);
    expect(warningLines(result.stdout)).toEqual([expect.stringContaining(':3 CopyIgnoredFile: Attempting to Copy file "app.env" that is excluded by .dockerignore')]);
  });

  it('has --help with examples', async () => {
    const { stdout } = await t.ok(['lint', '--help']);
    expect(stdout).toContain('tsbuild lint [context]');
    expect(stdout).toContain('Examples:');
    expect(stdout).toContain('# check=error=true');
  });
});

describe('bud --check', () => {
  it('runs the checks and builds nothing', async () => {
    const ctx = await contexts.make({ Containerfile: `${NOISY}RUN touch /built\n` });
    const result = await t.ok(['bud', '--check', '-t', 'checked-only', ctx]);
    expect(warningLines(result.stdout)).toHaveLength(4);
    expect(result.stdout).not.toContain('STEP');
    expect(await imageNames(t)).not.toContain('localhost/checked-only:latest');
  });

  it('exits 1 with # check=error=true and a warning', async () => {
    const ctx = await contexts.make({ Containerfile: `# check=error=true\n${NOISY}` });
    const result = await bud(t, ctx, ['--check']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('lint violation found for rules: ');
  });
});

describe('bud', () => {
  it('prints the warnings to stderr as [Warning] lines and builds', async () => {
    const ctx = await contexts.make({ Containerfile: 'FROM lint-base\nENV A b\nCMD sh\n' });
    const file = path.join(ctx, 'Containerfile');
    const result = await budOk(t, ctx, ['-t', 'warned']);
    expect(result.stderr).toContain(`[Warning] ${file}:2 LegacyKeyValueFormat: "ENV key=value" should be used instead of legacy "ENV key value" format\n`);
    expect(result.stderr).toContain(`[Warning] ${file}:3 JSONArgsRecommended: `);
    expect(result.stdout).not.toContain('[Warning]');
    expect(await imageNames(t)).toContain('localhost/warned:latest');
  });

  it('fails before building with # check=error=true and a warning', async () => {
    const ctx = await contexts.make({ Containerfile: '# check=error=true\nFROM lint-base\nCMD sh\n' });
    const result = await bud(t, ctx, ['-t', 'not-built']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('[Warning] ');
    expect(result.stderr).toContain(`Error: ${path.join(ctx, 'Containerfile')}: lint violation found for rules: JSONArgsRecommended\n`);
    expect(result.stdout).not.toContain('STEP');
    expect(await imageNames(t)).not.toContain('localhost/not-built:latest');
  });

  it('builds quietly with # check=skip=all', async () => {
    const ctx = await contexts.make({ Containerfile: '# check=skip=all;error=true\nFROM lint-base\nCMD sh\n' });
    const result = await budOk(t, ctx, ['-t', 'skipped']);
    expect(result.stderr).not.toContain('[Warning]');
  });
});

// buildah 1.28 has no build checks and reads `# check=` as a comment: a file that only warns must
// build the same with both. With error=true buildah builds anyway; BuildKit (the reference) refuses.
describe.runIf(buildahAvailable() || process.env.CI === 'true')('side by side with buildah', () => {
  const WARNS = [
    '# check=error=false',
    'FROM localhost/busybox-base',
    'MAINTAINER someone@example.org',
    'ENV GREETING hello world',
    'LABEL legacy form',
    'WORKDIR /srv',
    'WORKDIR app',
    'CMD echo $GREETING',
    '',
  ].join('\n');

  it('builds a Containerfile that only warns exactly as buildah does', async () => {
    const ctx = await contexts.make({ Containerfile: WARNS });
    const { tsbuild, buildah } = await buildBoth(ctx, [], t, 'localhost/lint-compare');
    for (const field of ['Cmd', 'Entrypoint', 'WorkingDir']) {
      expect.soft(tsbuild.config.config[field], field).toEqual(buildah.config.config[field]);
    }
    // buildah adds a default PATH at FROM; the ENV from the file agrees.
    const greeting = (env: string[]): string[] => env.filter((e) => e.startsWith('GREETING='));
    expect(greeting(tsbuild.config.config.Env)).toEqual(greeting(buildah.config.config.Env));
    expect(tsbuild.config.author).toBe(buildah.config.author);
    expect(tsbuild.config.config.Labels.legacy).toBe(buildah.config.config.Labels.legacy);
    // WORKDIR creates its directory in BuildKit (the reference) and tsbuild; buildah only when a
    // later step needs it.
    const workdirs = (p: string): boolean => p === 'srv' || p === 'srv/app';
    expect(tsbuild.files.get('srv/app')?.type).toBe('dir');
    expect(comparableTree(tsbuild, workdirs)).toEqual(comparableTree(buildah, workdirs));
  });

  it('refuses to build with # check=error=true, where buildah builds (the reference wins)', async () => {
    const ctx = await contexts.make({ Containerfile: WARNS.replace('error=false', 'error=true') });
    const result = await bud(t, ctx, ['-t', 'lint-refused']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('lint violation found for rules: MaintainerDeprecated, LegacyKeyValueFormat, JSONArgsRecommended');
  });
});
