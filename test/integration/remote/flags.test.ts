// The small parsers in front of pull and push: image locations (transports), buildah's
// optional-value --pull, and pull policies.
import { describe, expect, it } from 'vitest';
import { normalizePullFlag, separateContainerCommand } from '../../../src/cli/argv.js';
import { parsePullPolicy } from '../../../src/remote/policy.js';
import { parseLocation } from '../../../src/remote/transports.js';

describe('image locations', () => {
  it('reads registry references with or without docker://, and the oci, oci-archive and docker-archive transports', () => {
    expect(parseLocation('127.0.0.1:5000/team/app:1')).toEqual({ transport: 'docker', reference: '127.0.0.1:5000/team/app:1' });
    expect(parseLocation('docker://busybox')).toEqual({ transport: 'docker', reference: 'busybox' });
    expect(parseLocation('busybox:latest')).toEqual({ transport: 'docker', reference: 'busybox:latest' });
    expect(parseLocation('oci:/srv/layout:v1')).toEqual({ transport: 'oci', path: '/srv/layout', reference: 'v1' });
    expect(parseLocation('oci:/srv/layout')).toEqual({ transport: 'oci', path: '/srv/layout' });
    expect(parseLocation('oci-archive:app.tar:localhost/app:1')).toEqual({ transport: 'oci-archive', path: 'app.tar', reference: 'localhost/app:1' });
    expect(parseLocation('docker-archive:/tmp/a.tar')).toEqual({ transport: 'docker-archive', path: '/tmp/a.tar' });
  });

  it('refuses transports tsbuild does not speak, and empty paths', () => {
    expect(() => parseLocation('containers-storage:app')).toThrow('the containers-storage transport is not supported');
    expect(() => parseLocation('oci:')).toThrow('needs a path');
    expect(() => parseLocation('oci:/x:')).toThrow('empty reference');
  });
});

describe('--pull', () => {
  it('takes a policy word as its value, and means always on its own', () => {
    expect(normalizePullFlag(['bud', '--pull', '.'])).toEqual(['bud', '--pull=always', '.']);
    expect(normalizePullFlag(['bud', '--pull', 'never', '.'])).toEqual(['bud', '--pull=never', '.']);
    expect(normalizePullFlag(['bud', '--pull=newer', '.'])).toEqual(['bud', '--pull=newer', '.']);
    expect(normalizePullFlag(['run', 'img', '--', 'sh', '--pull'])).toEqual(['run', 'img', '--', 'sh', '--pull']);
  });

  it('leaves the container command of run alone', () => {
    const argv = normalizePullFlag(separateContainerCommand(['run', '--pull', 'never', '--creds', 'u:p', 'img', 'echo', '--pull']));
    expect(argv).toEqual(['run', '--pull=never', '--creds', 'u:p', 'img', '--', 'echo', '--pull']);
  });

  it('maps buildah booleans and rejects unknown policies', () => {
    expect(parsePullPolicy('true')).toBe('always');
    expect(parsePullPolicy('false')).toBe('missing');
    expect(parsePullPolicy('NEWER')).toBe('newer');
    expect(parsePullPolicy(undefined)).toBe('missing');
    expect(() => parsePullPolicy('sometimes')).toThrow('expected always, missing, never or newer');
  });
});
