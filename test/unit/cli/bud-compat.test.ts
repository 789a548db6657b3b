import { describe, expect, it } from 'vitest';
import { joinNoCacheFilter } from '../../../src/cli/argv.js';
import { compatSettings, type CompatArgs } from '../../../src/cli/bud-compat.js';
import { parseResourceFlags } from '../../../src/build/run-mounts/resource-flags.js';
import { applyResources, generateSpec } from '../../../src/runtime/index.js';

const defaults: CompatArgs = {
  rm: true, 'force-rm': true, load: false, 'disable-compression': true, 'skip-unused-stages': true, stdin: false, push: false,
  'omit-history': false, 'identity-label': true, 'no-cache-filter': [],
};
const settings = (args: Partial<CompatArgs>, own: { quiet?: boolean; platform?: string; tags?: string[] } = {}) =>
  compatSettings({ ...defaults, ...args }, { quiet: own.quiet ?? false, platform: own.platform, tags: own.tags ?? [] });

describe('bud compatibility flags', () => {
  it('joins a spaced --no-cache-filter so yargs does not read it as a negation, and leaves what follows -- alone', () => {
    expect(joinNoCacheFilter(['bud', '--no-cache-filter', 'deps', '.'])).toEqual(['bud', '--no-cache-filter=deps', '.']);
    expect(joinNoCacheFilter(['run', '--', 'x', '--no-cache-filter', 'y'])).toEqual(['run', '--', 'x', '--no-cache-filter', 'y']);
  });

  it('maps --progress quiet to -q and --retry N to N+1 attempts', () => {
    expect(settings({ progress: 'quiet' }).quiet).toBe(true);
    expect(settings({ progress: 'plain' }).quiet).toBe(false);
    expect(settings({ retry: 0, 'retry-delay': '250ms' }).retry).toEqual({ retries: 1, retryDelayMs: 250 });
    expect(() => settings({ retry: -1 })).toThrow('--retry -1: expected a whole number of retries');
  });

  it('makes a platform of --os/--arch/--variant over --platform, and refuses another than the host', () => {
    expect(settings({ arch: 'x86_64' }).platform).toBe('linux/x86_64');
    expect(settings({}, { platform: 'linux/amd64' }).platform).toBe('linux/amd64');
    expect(() => settings({ os: 'windows' })).toThrow('--os windows: only the host platform');
  });

  it('splits --no-cache-filter lists and wants a name for --push', () => {
    expect(settings({ 'no-cache-filter': ['a,b', 'c'] }).noCacheFilter).toEqual(['a', 'b', 'c']);
    expect(() => settings({ push: true })).toThrow('--push needs an image name');
    expect(settings({ push: true }, { tags: ['x'] }).allStages).toBe(false);
  });
});

describe('RUN resource flags', () => {
  it('parses sizes with units and checks memory against memory-swap', async () => {
    const r = await parseResourceFlags({ memory: '1.5g', memorySwap: '2G', shmSize: '512k' });
    expect(r).toMatchObject({ memory: 1.5 * 1024 ** 3, memorySwap: 2 * 1024 ** 3, shmSize: 512 * 1024 });
    await expect(parseResourceFlags({ memory: '10x' })).rejects.toThrow('--memory "10x": expected <number>[<unit>]');
    await expect(parseResourceFlags({ memorySwap: '1g' })).rejects.toThrow('--memory-swap needs --memory');
    await expect(parseResourceFlags({ memory: '1g', memorySwap: '512m' })).rejects.toThrow('--memory-swap must be at least --memory');
    expect(await parseResourceFlags({})).toBeUndefined();
  });

  it('parses ulimits, defaulting hard to soft, and refuses soft above hard', async () => {
    const r = await parseResourceFlags({ ulimit: ['core=0', 'nofile=100:200'] });
    expect(r?.ulimits).toEqual([{ type: 'RLIMIT_CORE', soft: 0, hard: 0 }, { type: 'RLIMIT_NOFILE', soft: 100, hard: 200 }]);
    await expect(parseResourceFlags({ ulimit: ['nofile=200:100'] })).rejects.toThrow('the soft limit is above the hard limit');
  });

  it('parses devices with and without a container path and permissions', async () => {
    const [a, b] = (await parseResourceFlags({ device: ['/dev/null:r', '/dev/zero:/dev/z:rw'] }))!.devices!;
    expect(a).toMatchObject({ path: '/dev/null', type: 'c', major: 1, minor: 3, access: 'r' });
    expect(b).toMatchObject({ path: '/dev/z', major: 1, minor: 5, access: 'rw' });
    await expect(parseResourceFlags({ device: ['/etc/passwd'] })).rejects.toThrow('/etc/passwd is not a device');
  });

  it('puts limits, shm size, rlimits, devices and the cgroup parent into the spec', () => {
    const spec = generateSpec({ rootfs: '/r', args: ['true'], env: [], cwd: '/', user: { uid: 0, gid: 0, additionalGids: [] }, hostname: 'h', terminal: false, network: 'none' });
    applyResources(spec, {
      memory: 1024, cpuShares: 2, shmSize: 4096, cgroupParent: '/p/',
      ulimits: [{ type: 'RLIMIT_NOFILE', soft: 1, hard: 2 }],
      devices: [{ path: '/dev/x', type: 'c', major: 1, minor: 2, fileMode: 0o666, uid: 0, gid: 0, access: 'rw' }],
    }, 'c1');
    expect(spec.linux.resources?.memory).toEqual({ limit: 1024, swap: undefined });
    expect(spec.linux.resources?.cpu?.shares).toBe(2);
    expect(spec.mounts.find((m) => m.destination === '/dev/shm')?.options).toContain('size=4096');
    expect(spec.process.rlimits.filter((l) => l.type === 'RLIMIT_NOFILE')).toEqual([{ type: 'RLIMIT_NOFILE', soft: 1, hard: 2 }]);
    expect(spec.linux.devices).toEqual([{ path: '/dev/x', type: 'c', major: 1, minor: 2, fileMode: 0o666, uid: 0, gid: 0 }]);
    expect(spec.linux.resources?.devices?.at(-1)).toEqual({ allow: true, type: 'c', major: 1, minor: 2, access: 'rw' });
    expect(spec.linux.cgroupsPath).toBe('/p/c1');
  });
});
