import { describe, expect, it } from 'vitest';
import { compileIgnoreRules } from '../../../src/build/context/index.js';
import { findingsOf, hostArch, images } from './helpers.js';

describe('UndefinedVar', () => {
  it('reports a variable that no ARG, ENV or base image defines, with a suggestion when one is close', async () => {
    const text = 'FROM scratch\nENV PYTHONPATH=/app\nENV X=$PYTHONPATH:$PYTONPATH\nCOPY $NOPE /dest\n';
    expect(await findingsOf('UndefinedVar', text)).toEqual([
      { rule: 'UndefinedVar', line: 3, message: "Usage of undefined variable '$PYTONPATH' (did you mean $PYTHONPATH?)" },
      { rule: 'UndefinedVar', line: 4, message: "Usage of undefined variable '$NOPE'" },
    ]);
  });

  it('counts an ARG declared without a value as defined, and ARG values and ENV from the base stage', async () => {
    const text = 'FROM scratch AS base\nARG A\nARG B=1\nENV C=2\nFROM base\nWORKDIR /$B/$C\nLABEL a=$A\n';
    expect(await findingsOf('UndefinedVar', text)).toEqual([]);
  });

  it('reads an ENV within the same instruction as still undefined, as Docker expands all words first', async () => {
    expect(await findingsOf('UndefinedVar', 'FROM scratch\nENV A=1 B=$A\n')).toEqual([
      { rule: 'UndefinedVar', line: 2, message: "Usage of undefined variable '$A'" },
    ]);
  });

  it('does not let a --build-arg define a variable that no ARG declares', async () => {
    const text = 'FROM scratch\nUSER $WHO\n';
    expect(await findingsOf('UndefinedVar', text, { buildArgs: new Map([['WHO', 'me']]) })).toHaveLength(1);
    expect(await findingsOf('UndefinedVar', 'FROM scratch\nARG WHO\nUSER $WHO\n', { buildArgs: new Map([['WHO', 'me']]) })).toEqual([]);
  });

  it("knows PATH and the base image's ENV when the image is at hand", async () => {
    const text = 'FROM golang\nENV PATH=$GOPATH/bin:$PATH\nCOPY $GOROOT_X /x\n';
    expect(await findingsOf('UndefinedVar', text, { baseImage: images({ golang: { env: ['GOPATH=/go'] } }) })).toEqual([
      { rule: 'UndefinedVar', line: 3, message: "Usage of undefined variable '$GOROOT_X'" },
    ]);
  });

  it('says nothing for a base image whose config is unknown, rather than guess', async () => {
    expect(await findingsOf('UndefinedVar', 'FROM golang\nENV PATH=$GOPATH/bin:$PATH\n')).toEqual([]);
  });

  it('does not look into RUN commands, CMD or EXPOSE (the shell or the runtime expands those)', async () => {
    expect(await findingsOf('UndefinedVar', 'FROM scratch\nRUN echo $X\nCMD echo $Y\nEXPOSE $Z\n')).toEqual([]);
  });

  it('checks RUN --mount options, which the builder expands', async () => {
    expect(await findingsOf('UndefinedVar', 'FROM scratch\nRUN --mount=type=cache,target=$CACHE_DIR true\n')).toEqual([
      { rule: 'UndefinedVar', line: 2, message: "Usage of undefined variable '$CACHE_DIR'" },
    ]);
  });

  it('checks ARG defaults and the words of COPY, WORKDIR, USER, VOLUME, STOPSIGNAL and LABEL', async () => {
    const text = 'FROM scratch\nARG A=$V1\nCOPY --chown=$V2 $V3 $V4\nWORKDIR /$V5\nUSER $V6\nVOLUME $V7\nSTOPSIGNAL $V8\nLABEL $V9=x\n';
    const found = await findingsOf('UndefinedVar', text);
    expect(found.map((f) => f.message.match(/\$(V\d)/)?.[1])).toEqual(['V1', 'V2', 'V3', 'V4', 'V5', 'V6', 'V7', 'V8', 'V9']);
  });
});

describe('UndefinedArgInFrom', () => {
  it('reports a variable in FROM that no global ARG declares, with a suggestion', async () => {
    const text = 'ARG tag=latest\nFROM busybox:${tag}${version} AS b\nFROM --platform=$BULIDPLATFORM scratch\n';
    expect(await findingsOf('UndefinedArgInFrom', text)).toEqual([
      { rule: 'UndefinedArgInFrom', line: 2, message: "FROM argument 'version' is not declared" },
      { rule: 'UndefinedArgInFrom', line: 3, message: "FROM argument 'BULIDPLATFORM' is not declared (did you mean BUILDPLATFORM?)" },
    ]);
  });

  it('accepts declared global ARGs (with or without a value) and the automatic platform ARGs', async () => {
    const text = 'ARG base=scratch\nARG EMPTY\nFROM $base\nFROM --platform=$BUILDPLATFORM scratch${EMPTY}\n';
    expect(await findingsOf('UndefinedArgInFrom', text)).toEqual([]);
  });
});

describe('InvalidDefaultArgInFrom', () => {
  it('warns when the global ARG defaults alone give no valid image name', async () => {
    expect(await findingsOf('InvalidDefaultArgInFrom', 'ARG VERSION\nFROM busybox:$VERSION\n')).toEqual([
      { rule: 'InvalidDefaultArgInFrom', line: 2, message: 'Default value for ARG busybox:$VERSION results in empty or invalid base image name' },
    ]);
  });

  it('ignores --build-arg values: the file must work without them', async () => {
    const text = 'ARG IMAGE\nFROM ${IMAGE}\n';
    expect(await findingsOf('InvalidDefaultArgInFrom', text, { buildArgs: new Map([['IMAGE', 'busybox']]) })).toHaveLength(1);
    expect(await findingsOf('InvalidDefaultArgInFrom', 'ARG VERSION=1.36\nFROM busybox:$VERSION\n')).toEqual([]);
  });
});

describe('RedundantTargetPlatform and FromPlatformFlagConstDisallowed', () => {
  it('warns about FROM --platform=$TARGETPLATFORM', async () => {
    expect(await findingsOf('RedundantTargetPlatform', 'FROM --platform=${TARGETPLATFORM} scratch\n')).toEqual([
      { rule: 'RedundantTargetPlatform', line: 1, message: 'Setting platform to predefined ${TARGETPLATFORM} in FROM is redundant as this is the default behavior' },
    ]);
    expect(await findingsOf('RedundantTargetPlatform', 'FROM --platform=$BUILDPLATFORM scratch\n')).toEqual([]);
  });

  it('warns about a constant platform unless the stage is named after it', async () => {
    const text = 'FROM --platform=linux/arm64 scratch AS build\nFROM --platform=linux/arm64 scratch AS build-arm64\nFROM --platform=$BUILDPLATFORM scratch\n';
    expect(await findingsOf('FromPlatformFlagConstDisallowed', text)).toEqual([
      { rule: 'FromPlatformFlagConstDisallowed', line: 1, message: 'FROM --platform flag should not use constant value "linux/arm64"' },
    ]);
  });
});

describe('WorkdirRelativePath', () => {
  it('warns about the first WORKDIR of a build when it is relative, after expansion', async () => {
    const text = 'FROM scratch\nARG D=app\nWORKDIR $D\nWORKDIR sub\n';
    expect(await findingsOf('WorkdirRelativePath', text)).toEqual([
      { rule: 'WorkdirRelativePath', line: 3, message: 'Relative workdir "app" can have unexpected results if the base image changes' },
    ]);
  });

  it('accepts a relative WORKDIR after an absolute one, also one set in the base stage', async () => {
    expect(await findingsOf('WorkdirRelativePath', 'FROM scratch AS base\nWORKDIR /src\nFROM base\nWORKDIR app\n')).toEqual([]);
  });
});

describe('MultipleInstructionsDisallowed', () => {
  it('reports each CMD, ENTRYPOINT or HEALTHCHECK that a later one in the same stage replaces', async () => {
    const text = 'FROM scratch AS a\nCMD ["a"]\nCMD ["b"]\nHEALTHCHECK NONE\nHEALTHCHECK CMD ["x"]\nFROM a\nCMD ["c"]\n';
    expect(await findingsOf('MultipleInstructionsDisallowed', text)).toEqual([
      { rule: 'MultipleInstructionsDisallowed', line: 2, message: 'Multiple CMD instructions should not be used in the same stage because only the last one will be used' },
      { rule: 'MultipleInstructionsDisallowed', line: 4, message: 'Multiple HEALTHCHECK instructions should not be used in the same stage because only the last one will be used' },
    ]);
  });
});

describe('JSONArgsRecommended', () => {
  it('recommends the exec form for CMD and ENTRYPOINT', async () => {
    expect(await findingsOf('JSONArgsRecommended', 'FROM scratch AS a\nCMD mycommand\nFROM scratch\nENTRYPOINT mycommand\n')).toEqual([
      { rule: 'JSONArgsRecommended', line: 2, message: 'JSON arguments recommended for CMD to prevent unintended behavior related to OS signals' },
      { rule: 'JSONArgsRecommended', line: 4, message: 'JSON arguments recommended for ENTRYPOINT to prevent unintended behavior related to OS signals' },
    ]);
  });

  it('is quiet once a SHELL is set, in the stage, its base stage or its base image', async () => {
    expect(await findingsOf('JSONArgsRecommended', 'FROM scratch AS base\nSHELL ["/bin/custom"]\nFROM base\nCMD mycommand\n')).toEqual([]);
    const baseImage = images({ pwsh: { shell: ['pwsh', '-c'] } });
    expect(await findingsOf('JSONArgsRecommended', 'FROM pwsh\nCMD Get-Date\n', { baseImage })).toEqual([]);
  });
});

describe('SecretsUsedInArgOrEnv', () => {
  it('warns about ARG and ENV names that look like secrets', async () => {
    const text = 'FROM scratch\nARG GITHUB_TOKEN\nENV DB_PASSWORD=x apikey=y\nARG PUBLIC_KEY\nENV KEYBOARD=us TOKENIZER=x\n';
    expect(await findingsOf('SecretsUsedInArgOrEnv', text)).toEqual([
      { rule: 'SecretsUsedInArgOrEnv', line: 2, message: 'Do not use ARG or ENV instructions for sensitive data (ARG "GITHUB_TOKEN")' },
      { rule: 'SecretsUsedInArgOrEnv', line: 3, message: 'Do not use ARG or ENV instructions for sensitive data (ENV "DB_PASSWORD")' },
      { rule: 'SecretsUsedInArgOrEnv', line: 3, message: 'Do not use ARG or ENV instructions for sensitive data (ENV "apikey")' },
    ]);
  });
});

describe('CopyIgnoredFile (experimental)', () => {
  const ignore = compileIgnoreRules(['secret.txt', 'build', '!build/keep'], '.dockerignore');

  it('runs only when asked for with # check=experimental=', async () => {
    expect(await findingsOf('CopyIgnoredFile', 'FROM scratch\nCOPY secret.txt /\n', { ignore })).toEqual([]);
    const text = '# check=experimental=CopyIgnoredFile\nFROM scratch\nCOPY secret.txt ./build/x /\nADD build/keep /keep\nFROM scratch\nCOPY --from=0 secret.txt /\n';
    expect(await findingsOf('CopyIgnoredFile', text, { ignore })).toEqual([
      { rule: 'CopyIgnoredFile', line: 3, message: 'Attempting to Copy file "secret.txt" that is excluded by .dockerignore' },
      { rule: 'CopyIgnoredFile', line: 3, message: 'Attempting to Copy file "./build/x" that is excluded by .dockerignore' },
    ]);
  });
});

describe('EXPOSE checks', () => {
  it('warns about an upper-case protocol and about host-port mappings', async () => {
    const text = 'FROM scratch\nEXPOSE 80/TCP 53/udp\nEXPOSE 127.0.0.1:80:80 8080:80 [::1]:80:80 443\n';
    const found = await findingsOf('ExposeProtoCasing', text);
    expect(found).toEqual([{ rule: 'ExposeProtoCasing', line: 2, message: "Defined protocol '80/TCP' in EXPOSE instruction should be lowercase" }]);
    expect((await findingsOf('ExposeInvalidFormat', text)).map((f) => f.message)).toEqual([
      "EXPOSE instruction should not define an IP address or host-port mapping, found '127.0.0.1:80:80'",
      "EXPOSE instruction should not define an IP address or host-port mapping, found '8080:80'",
      "EXPOSE instruction should not define an IP address or host-port mapping, found '[::1]:80:80'",
    ]);
  });
});

describe('InvalidBaseImagePlatform', () => {
  it('warns when a local base image is for another platform', async () => {
    const baseImage = images({ other: { architecture: hostArch() === 'amd64' ? 'arm64' : 'amd64' } });
    const found = await findingsOf('InvalidBaseImagePlatform', 'FROM other\n', { baseImage });
    expect(found).toHaveLength(1);
    expect(found[0]!.message).toMatch(/^Base image other was pulled with platform "linux\/\w+", expected "linux\/\w+" for current build$/);
  });
});

describe('--target', () => {
  it('walks only the stages the target needs, but checks the syntax of all', async () => {
    const text = 'FROM scratch AS a\nCMD x\nFROM scratch AS B\nCMD y\nFROM a AS c\n';
    const all = await findingsOf('JSONArgsRecommended', text);
    expect(all.map((f) => f.line)).toEqual([2, 4]);
    const target = await findingsOf('JSONArgsRecommended', text, { target: 'c' });
    expect(target.map((f) => f.line)).toEqual([2]);
    expect(await findingsOf('StageNameCasing', text, { target: 'c' })).toHaveLength(1);
  });

  it('walks the stages the last one needs when allStages is false (a build without --target)', async () => {
    const text = 'FROM scratch AS a\nCMD x\nFROM scratch AS b\nCMD y\nFROM a\n';
    expect((await findingsOf('JSONArgsRecommended', text, { allStages: false })).map((f) => f.line)).toEqual([2]);
  });
});
