// The create/run flag values as podman reads them, and the one-line errors for bad ones.
import { describe, expect, it } from 'vitest';
import {
  parseAddHost,
  parseCpus,
  parseEnvFile,
  parseLabels,
  parseMemory,
  parseNetwork,
  parsePublish,
  parseRestart,
  pullPolicy,
} from '../../../src/cli/container-flags.js';
import { containerArgs, normalizeSignal } from '../../../src/container/create.js';
import { mergeEnv } from '../../../src/container/env.js';
import { parseFilters } from '../../../src/container/ps.js';
import { duration, statusText } from '../../../src/container/inspect.js';
import { defaultConfig, type ContainerRecord } from '../../../src/container/types.js';
import { capabilitySet, DEFAULT_CAPABILITIES } from '../../../src/runtime/spec.js';

describe('--memory', () => {
  it('reads binary units', () => {
    expect(parseMemory('64m')).toBe(64 * 1024 * 1024);
    expect(parseMemory('1g')).toBe(1024 ** 3);
    expect(parseMemory('1.5GB')).toBe(1.5 * 1024 ** 3);
    expect(parseMemory('10485760')).toBe(10485760);
  });
  it('rejects bad values and limits below 6m', () => {
    expect(() => parseMemory('lots')).toThrow('invalid --memory "lots": expected <number>[<unit>] with unit b, k, m or g');
    expect(() => parseMemory('-1m')).toThrow('invalid --memory');
    expect(() => parseMemory('1k')).toThrow('the minimum memory limit is 6m');
  });
});

describe('--cpus, --restart, --pull', () => {
  it('cpus is a positive number', () => {
    expect(parseCpus('1.5')).toBe(1.5);
    expect(parseCpus('.5')).toBe(0.5);
    expect(() => parseCpus('0')).toThrow('invalid --cpus "0"');
    expect(() => parseCpus('two')).toThrow('invalid --cpus');
  });
  it('restart policies', () => {
    expect(parseRestart('no')).toEqual({ name: 'no', maximumRetryCount: 0 });
    expect(parseRestart('on-failure')).toEqual({ name: 'on-failure', maximumRetryCount: 0 });
    expect(parseRestart('on-failure:3')).toEqual({ name: 'on-failure', maximumRetryCount: 3 });
    expect(parseRestart('always')).toEqual({ name: 'always', maximumRetryCount: 0 });
    expect(parseRestart('unless-stopped').name).toBe('unless-stopped');
    expect(() => parseRestart('always:2')).toThrow('invalid --restart "always:2"');
    expect(() => parseRestart('sometimes')).toThrow('invalid --restart');
  });
  it('pull policies', () => {
    expect(pullPolicy('never')).toBe('never');
    expect(pullPolicy('true')).toBe('always');
    expect(() => pullPolicy('maybe')).toThrow('--pull=maybe');
  });
});

describe('-p/--publish', () => {
  it('reads [ip:][hostPort:]containerPort[/proto]', () => {
    expect(parsePublish('8080:80')).toEqual([{ hostIp: '', hostPort: 8080, containerPort: 80, protocol: 'tcp' }]);
    expect(parsePublish('127.0.0.1:8080:80/udp')).toEqual([{ hostIp: '127.0.0.1', hostPort: 8080, containerPort: 80, protocol: 'udp' }]);
    expect(parsePublish('80')).toEqual([{ hostIp: '', hostPort: 0, containerPort: 80, protocol: 'tcp' }]);
    expect(parsePublish('127.0.0.1::80')).toEqual([{ hostIp: '127.0.0.1', hostPort: 0, containerPort: 80, protocol: 'tcp' }]);
  });
  it('rejects bad ports, protocols and addresses', () => {
    expect(() => parsePublish('8080:http')).toThrow('invalid -p "8080:http": container port "http" is not a port number (1-65535)');
    expect(() => parsePublish('70000:80')).toThrow('host port "70000"');
    expect(() => parsePublish('80/sctp')).toThrow('unknown protocol "sctp"');
    expect(() => parsePublish('host:80:80')).toThrow('"host" is not an IP address');
    expect(() => parsePublish('8000-8001:80')).toThrow('port ranges are not supported');
  });
});

describe('--network', () => {
  it('defaults to host, or bridge when publishing', () => {
    expect(parseNetwork(undefined, [])).toMatchObject({ mode: 'bridge', networks: [{ name: 'tsbuild', aliases: [] }] });
    expect(parseNetwork('private', [])).toMatchObject({ mode: 'bridge', networks: [{ name: 'tsbuild', aliases: [] }] });
  });
  it('reads bridge, names, host, none and container:', () => {
    expect(parseNetwork('bridge', []).networks).toEqual([{ name: 'tsbuild', aliases: [] }]);
    expect(parseNetwork('appnet,other', ['web']).networks).toEqual([
      { name: 'appnet', aliases: ['web'] },
      { name: 'other', aliases: ['web'] },
    ]);
    expect(parseNetwork('none', []).mode).toBe('none');
    expect(parseNetwork('container:db', [])).toMatchObject({ mode: 'container', container: 'db' });
  });
  it('rejects what it cannot do', () => {
    expect(() => parseNetwork('host', ['web'])).toThrow('--network-alias needs a bridge network');
    expect(() => parseNetwork('container:', [])).toThrow('needs a container name or ID');
    expect(() => parseNetwork('slirp4netns', [])).toThrow('is not supported');
  });
});

describe('--add-host, --label, --env-file', () => {
  it('add-host takes NAME:IP and NAME=IP, IPv6 too', () => {
    expect(parseAddHost('db:10.0.0.2')).toEqual({ name: 'db', ip: '10.0.0.2' });
    expect(parseAddHost('db=10.0.0.2')).toEqual({ name: 'db', ip: '10.0.0.2' });
    expect(parseAddHost('v6:[::1]')).toEqual({ name: 'v6', ip: '::1' });
    expect(() => parseAddHost('nothing')).toThrow('invalid --add-host "nothing"');
  });
  it('labels', () => {
    expect(parseLabels(['a=1', 'b', 'c=x=y'])).toEqual({ a: '1', b: '', c: 'x=y' });
    expect(() => parseLabels(['=v'])).toThrow('invalid --label');
  });
  it('env files skip comments and blank lines', () => {
    expect(parseEnvFile('# c\n\nA=1\n  B=two words\nPASSED\n')).toEqual(['A=1', 'B=two words', 'PASSED']);
    expect(() => parseEnvFile('BAD NAME=1', 'e.env')).toThrow('e.env:1: invalid variable name "BAD NAME"');
  });
});

describe('image config under the flags', () => {
  it('ENTRYPOINT + CMD the docker way', () => {
    expect(containerArgs(['/ep'], ['a'], undefined, [])).toEqual(['/ep', 'a']);
    expect(containerArgs(['/ep'], ['a'], undefined, ['b'])).toEqual(['/ep', 'b']);
    expect(containerArgs(['/ep'], ['a'], '/other', [])).toEqual(['/other']);
    expect(containerArgs(['/ep'], ['a'], '["/x","-y"]', ['z'])).toEqual(['/x', '-y', 'z']);
    expect(containerArgs(['/ep'], ['a'], '', ['sh'])).toEqual(['sh']);
  });
  it('env overrides and a default PATH', () => {
    expect(mergeEnv(['A=1', 'PATH=/bin'], ['A=2', 'B=3'])).toEqual(['A=2', 'PATH=/bin', 'B=3']);
    expect(mergeEnv([], [])).toEqual([expect.stringMatching(/^PATH=/)]);
  });
  it('signals by name or number', () => {
    expect(normalizeSignal('SIGUSR1')).toBe('SIGUSR1');
    expect(normalizeSignal('term')).toBe('SIGTERM');
    expect(normalizeSignal('9')).toBe('SIGKILL');
    expect(() => normalizeSignal('SIGNOPE')).toThrow('invalid signal "SIGNOPE"');
  });
  it('capabilities: add, drop, ALL', () => {
    expect(capabilitySet([], ['ALL'])).toEqual([]);
    expect(capabilitySet(['net_raw'], ['ALL'])).toEqual(['CAP_NET_RAW']);
    expect(capabilitySet([], ['chown'])).toEqual(DEFAULT_CAPABILITIES.filter((c) => c !== 'CAP_CHOWN'));
    expect(() => capabilitySet(['CAP_NOPE'], [])).toThrow('--cap-add "CAP_NOPE": unknown capability');
    expect(() => capabilitySet(['chown'], ['chown'])).toThrow('cannot be both added and dropped');
  });
});

function record(fields: Partial<ContainerRecord>): ContainerRecord {
  return { id: 'a'.repeat(64), name: 'web', kind: 'container', image: 'img', imageId: 'sha256:1', created: '2026-01-01T00:00:00Z', state: 'created', config: defaultConfig(), ...fields };
}

describe('ps filters and status', () => {
  it('filters by name (regex), status, id, label; same keys OR, different keys AND', () => {
    const web = record({ state: 'running', config: defaultConfig({ labels: { tier: 'front' } }) });
    const db = record({ id: 'b'.repeat(64), name: 'db', state: 'exited' });
    const keep = (filters: string[]): string[] => [web, db].filter(parseFilters(filters)).map((r) => r.name);
    expect(keep(['name=^w'])).toEqual(['web']);
    expect(keep(['status=exited'])).toEqual(['db']);
    expect(keep(['status=exited', 'status=running'])).toEqual(['web', 'db']);
    expect(keep(['id=bbb'])).toEqual(['db']);
    expect(keep(['label=tier=front'])).toEqual(['web']);
    expect(keep(['label=tier', 'status=exited'])).toEqual([]);
    expect(() => keep(['colour=red'])).toThrow('invalid filter "colour=red"');
    expect(() => keep(['status=sleepy'])).toThrow('unknown status');
  });
  it('STATUS reads like podman', () => {
    const now = Date.parse('2026-01-01T00:01:00Z');
    expect(statusText(record({ state: 'running', startedAt: '2026-01-01T00:00:57Z' }), now)).toBe('Up 3 seconds');
    expect(statusText(record({ state: 'exited', exitCode: 3, finishedAt: '2026-01-01T00:00:58Z' }), now)).toBe('Exited (3) 2 seconds ago');
    expect(statusText(record({}), now)).toBe('Created');
    expect(duration(3 * 3600 * 1000)).toBe('3 hours');
  });
});

describe('the container command after the image', () => {
  it('belongs to the container for run, create and container run', async () => {
    const { separateContainerCommand } = await import('../../../src/cli/argv.js');
    expect(separateContainerCommand(['run', '-d', '-p', '80:80', '--memory', '64m', 'img', 'ls', '-l'])).toEqual(['run', '-d', '-p', '80:80', '--memory', '64m', 'img', '--', 'ls', '-l']);
    expect(separateContainerCommand(['create', '--name', 'x', '-v', 'a:/a', 'img', 'sh', '-c', 'x'])).toEqual(['create', '--name', 'x', '-v', 'a:/a', 'img', '--', 'sh', '-c', 'x']);
    expect(separateContainerCommand(['container', 'run', '--rm', 'img', 'echo', '-n'])).toEqual(['container', 'run', '--rm', 'img', '--', 'echo', '-n']);
    expect(separateContainerCommand(['ps', '-a'])).toEqual(['ps', '-a']);
  });
});
