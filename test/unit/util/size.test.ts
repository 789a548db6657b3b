// The one size reader behind --memory, --shm-size, --log-opt max-size, --keep-storage, tmpfs
// size= and the TSBUILD_MAX_* variables.
import { describe, expect, it } from 'vitest';
import { parseByteSize } from '../../../src/util/size.js';

describe('parseByteSize', () => {
  it('reads numbers with binary units as podman and docker write them', () => {
    expect(parseByteSize('1048576')).toBe(1048576);
    expect(parseByteSize('64b')).toBe(64);
    expect(parseByteSize('512k')).toBe(512 * 1024);
    expect(parseByteSize('64m')).toBe(64 * 1024 ** 2);
    expect(parseByteSize('64MB')).toBe(64 * 1024 ** 2);
    expect(parseByteSize('1.5GiB')).toBe(1.5 * 1024 ** 3);
    expect(parseByteSize(' 2 t ')).toBe(2 * 1024 ** 4);
    expect(parseByteSize('1p')).toBe(1024 ** 5);
  });

  it('refuses what is not a size', () => {
    for (const bad of ['', 'm', '-1m', '1x', '1mm', '1 gigabyte', '0x10', '1e3']) expect(parseByteSize(bad), bad).toBeUndefined();
  });
});
