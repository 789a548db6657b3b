import { describe, expect, it } from 'vitest';
import { prunable } from '../../../src/container/prune.js';
import { defaultConfig, type ContainerRecord } from '../../../src/container/types.js';

const rec = (name: string, state: ContainerRecord['state'], kind: ContainerRecord['kind'] = 'container'): ContainerRecord => ({
  id: name.padEnd(64, '0'),
  name,
  kind,
  image: 'i',
  imageId: 'sha256:i',
  created: '',
  state,
  config: defaultConfig(),
});

describe('prunable', () => {
  it('takes created and exited podman-style containers, never running or working ones', () => {
    const all = [rec('a', 'created'), rec('b', 'exited'), rec('c', 'running'), rec('d', 'exited', 'working'), rec('e', 'created', 'working')];
    expect(prunable(all).map((r) => r.name)).toEqual(['a', 'b']);
  });
});
