// bud --network values: buildah's and podman's names for the default network, network names, and
// the modes a build cannot use.
import { describe, expect, it } from 'vitest';
import { parseBuildNetwork } from '../../../src/build/steps/run-network.js';

describe('parseBuildNetwork', () => {
  it('keeps host and none, and reads private and bridge as the default network tsbuild', () => {
    expect(parseBuildNetwork('host')).toBe('host');
    expect(parseBuildNetwork('none')).toBe('none');
    expect(parseBuildNetwork('private')).toEqual({ network: 'tsbuild' });
    expect(parseBuildNetwork('bridge')).toEqual({ network: 'tsbuild' });
    expect(parseBuildNetwork('appnet')).toEqual({ network: 'appnet' });
  });

  it('rejects namespace paths, other containers, user-mode networking and bad names', () => {
    expect(() => parseBuildNetwork('ns:/run/netns/x')).toThrow('--network ns:/run/netns/x: not supported for builds');
    expect(() => parseBuildNetwork('container:abc')).toThrow('not supported for builds');
    expect(() => parseBuildNetwork('slirp4netns')).toThrow('not supported for builds');
    expect(() => parseBuildNetwork('pasta:-T,8080')).toThrow('not supported for builds');
    expect(() => parseBuildNetwork('bad name')).toThrow('--network "bad name": not a network name');
    expect(() => parseBuildNetwork('')).toThrow('not a network name');
  });
});
