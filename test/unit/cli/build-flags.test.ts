import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildEpoch, collectBuildArgs, parseEnvFlags, parseJobs } from '../../../src/cli/build-flags.js';
import { hostTargetPlatform } from '../../../src/build/platform.js';
import { hostPlatform } from '../../../src/oci/types.js';

const saved = { ...process.env };
afterEach(() => {
  process.env = { ...saved };
});

describe('build arg files', () => {
  it('reads KEY=VALUE lines, skipping comments and blanks; --build-arg wins; KEY alone comes from the environment', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'argfile-'));
    try {
      const file = path.join(dir, 'args');
      await writeFile(file, '# comment\nA=1\n\nB=file\r\nFROM_ENV\nEMPTY=\n');
      process.env.FROM_ENV = 'env-value';
      const args = await collectBuildArgs([file], ['B=flag']);
      expect(Object.fromEntries(args)).toEqual({ A: '1', B: 'flag', FROM_ENV: 'env-value', EMPTY: '' });
      await expect(collectBuildArgs([path.join(dir, 'missing')], [])).rejects.toThrow(`--build-arg-file ${path.join(dir, 'missing')}: no such file`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('the build epoch', () => {
  it('is --timestamp, else SOURCE_DATE_EPOCH from the build args, else from the environment (which becomes a build arg)', () => {
    delete process.env.SOURCE_DATE_EPOCH;
    expect(buildEpoch(5, new Map([['SOURCE_DATE_EPOCH', '7']]))).toBe(5);
    expect(buildEpoch(undefined, new Map([['SOURCE_DATE_EPOCH', '7']]))).toBe(7);
    expect(buildEpoch(undefined, new Map())).toBeUndefined();
    process.env.SOURCE_DATE_EPOCH = '9';
    const args = new Map<string, string>();
    expect(buildEpoch(undefined, args)).toBe(9);
    expect(args.get('SOURCE_DATE_EPOCH')).toBe('9');
  });

  it('must be whole seconds', () => {
    expect(() => buildEpoch(Number.NaN, new Map())).toThrow('--timestamp "NaN": expected seconds since the epoch');
    expect(() => buildEpoch(undefined, new Map([['SOURCE_DATE_EPOCH', '-1']]))).toThrow('SOURCE_DATE_EPOCH "-1"');
  });
});

describe('--env and --jobs', () => {
  it('--env takes KEY=VALUE or a KEY from the environment, where an unset one adds nothing', () => {
    process.env.HOSTVAR = 'h';
    expect(parseEnvFlags(['A=1=2', 'HOSTVAR', 'NOT_SET_ANYWHERE'])).toEqual({ A: '1=2', HOSTVAR: 'h' });
    expect(() => parseEnvFlags(['=x'])).toThrow('--env "=x": expected KEY=VALUE');
  });

  it('--jobs 0 means no limit; fractions and negatives are refused', () => {
    expect(parseJobs(0)).toBe(Infinity);
    expect(parseJobs(3)).toBe(3);
    expect(() => parseJobs(1.5)).toThrow('--jobs 1.5');
  });
});

describe('--platform', () => {
  const host = hostPlatform();
  it('accepts the host platform in its usual spellings', () => {
    expect(hostTargetPlatform(`${host.os}/${host.architecture}`, 'x')).toEqual(host);
    expect(hostTargetPlatform(host.os, 'x')).toEqual(host);
    if (host.architecture === 'amd64') expect(hostTargetPlatform('linux/x86_64', 'x')).toEqual(host);
  });

  it('refuses another platform, a variant the host lacks, and lists', () => {
    const other = host.architecture === 'amd64' ? 'linux/arm64' : 'linux/amd64';
    expect(() => hostTargetPlatform(other, `--platform ${other}`)).toThrow(`--platform ${other}: only the host platform (${host.os}/${host.architecture}) can be built`);
    expect(() => hostTargetPlatform('windows/amd64', 'x')).toThrow('only the host platform');
    expect(() => hostTargetPlatform(`linux/${host.architecture}/v7`, 'x')).toThrow('only the host platform');
    expect(() => hostTargetPlatform(`linux/${host.architecture},${other}`, 'x')).toThrow('one platform at a time');
  });
});
