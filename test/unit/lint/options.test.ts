import { describe, expect, it } from 'vitest';
import { formatBuildWarning, formatJson, formatText, lintFailure } from '../../../src/lint/index.js';
import { findings, report } from './helpers.js';

const NOISY = 'FROM scratch AS Build\nCMD run\n';

describe('# check= directive', () => {
  it('skip= turns the named rules off', async () => {
    expect((await findings(`# check=skip=StageNameCasing\n${NOISY}`)).map((f) => f.rule)).toEqual(['JSONArgsRecommended']);
    expect(await findings(`# check=skip=StageNameCasing, JSONArgsRecommended\n${NOISY}`)).toEqual([]);
  });

  it('skip=all turns every rule off', async () => {
    expect(await findings(`# check=skip=all\n${NOISY}`)).toEqual([]);
  });

  it('error=true makes any warning a failure naming the rules', async () => {
    const r = await report(`# check=error=true\n${NOISY}`);
    expect(r.warnings).toHaveLength(2);
    expect(lintFailure(r)?.message).toBe('Containerfile: lint violation found for rules: StageNameCasing, JSONArgsRecommended');
    expect(lintFailure(await report('# check=error=true\nFROM scratch\n'))).toBeUndefined();
    expect(lintFailure(await report(NOISY))).toBeUndefined();
  });

  it('takes several options separated by ";"', async () => {
    const r = await report(`# check=skip=JSONArgsRecommended;error=true\n${NOISY}`);
    expect(r.warnings.map((w) => w.rule)).toEqual(['StageNameCasing']);
    expect(lintFailure(r)).toBeDefined();
  });

  it('takes skip, error and experimental together', async () => {
    const r = await report(`# check=skip=JSONArgsRecommended;error=true;experimental=all\n# describes nothing\nARG V=1\n${NOISY}`);
    expect(r.warnings.map((w) => w.rule)).toEqual(['InvalidDefinitionDescription', 'StageNameCasing']);
    expect(lintFailure(r)).toBeDefined();
  });

  it('counts only at the top of the file, like every parser directive', async () => {
    expect(await findings(`FROM scratch\n# check=skip=all\nCMD run\n`)).toHaveLength(1);
  });

  it('reads the directive name in any case, after # syntax=, and only once', async () => {
    expect(await findings(`# syntax=docker/dockerfile:1\n#CHECK = skip=all\n${NOISY}`)).toEqual([]);
    expect((await report(`# check=skip=all\n# check=error=true\n${NOISY}`)).error?.message).toBe(
      'Containerfile:2:1: only one check parser directive can be used',
    );
  });

  it('is replaced by the BUILDKIT_DOCKERFILE_CHECK build argument', async () => {
    const buildArgs = new Map([['BUILDKIT_DOCKERFILE_CHECK', 'skip=all']]);
    expect(await findings(`# check=error=true\n${NOISY}`, { buildArgs })).toEqual([]);
  });

  it('refuses an unknown option or a bad boolean with file:line, in the directive or the build argument', async () => {
    expect((await report(`# check=sikp=all\n${NOISY}`)).error?.message).toBe(
      'Containerfile:1:1: invalid check option "sikp": expected skip, error or experimental',
    );
    const buildArgs = new Map([['BUILDKIT_DOCKERFILE_CHECK', 'error=maybe']]);
    expect((await report(NOISY, { buildArgs })).error?.message).toBe(
      '--build-arg BUILDKIT_DOCKERFILE_CHECK: invalid check option "error=maybe": error must be true or false',
    );
  });
});

describe('a parse error', () => {
  it('ends the checks, keeping the warnings found before it', async () => {
    const r = await report('FROM scratch AS b\nFROM scratch AS b\n');
    expect(r.warnings.map((w) => w.rule)).toEqual(['DuplicateStageName']);
    expect(lintFailure(r)?.message).toMatch(/^Containerfile:2:1: duplicate stage name/);
  });

  it('is the failure even when skip=all', async () => {
    expect(lintFailure(await report('# check=skip=all\nFROM scratch\nFORM x\n'))?.message).toBe('Containerfile:3:1: unknown instruction "FORM" (did you mean FROM?)');
  });
});

describe('output', () => {
  it('prints FILE:LINE Rule: message (url) per warning and a summary', async () => {
    const text = formatText(await report(NOISY));
    expect(text).toBe(
      "Containerfile:1 StageNameCasing: Stage name 'Build' should be lowercase (https://docs.docker.com/go/dockerfile/rule/stage-name-casing/)\n" +
        'Containerfile:2 JSONArgsRecommended: JSON arguments recommended for CMD to prevent unintended behavior related to OS signals (https://docs.docker.com/go/dockerfile/rule/json-args-recommended/)\n' +
        'Check complete, 2 warnings have been found!\n',
    );
    expect(formatText(await report('FROM scratch\n'))).toBe('Check complete, no warnings found.\n');
  });

  it('prints [Warning] lines during a build', async () => {
    const [w] = (await report('FROM scratch\nCMD run\n')).warnings;
    expect(formatBuildWarning(w!)).toBe(
      '[Warning] Containerfile:2 JSONArgsRecommended: JSON arguments recommended for CMD to prevent unintended behavior related to OS signals\n',
    );
  });

  it('gives JSON with the field names of BuildKit lint results', async () => {
    expect(JSON.parse(formatJson(await report('FROM scratch\nCMD run\n')))).toEqual({
      warnings: [
        {
          ruleName: 'JSONArgsRecommended',
          description: 'JSON arguments recommended for ENTRYPOINT/CMD to prevent unintended behavior related to OS signals',
          url: 'https://docs.docker.com/go/dockerfile/rule/json-args-recommended/',
          detail: 'JSON arguments recommended for CMD to prevent unintended behavior related to OS signals',
          location: { file: 'Containerfile', line: 2, column: 1 },
        },
      ],
    });
    expect(JSON.parse(formatJson(await report('FROM scratch\nFORM\n')))).toEqual({
      warnings: [],
      buildError: { message: 'Containerfile:2:1: unknown instruction "FORM" (did you mean FROM?)' },
    });
  });
});
