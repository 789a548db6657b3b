// The values users write for --output and --cache-from/--cache-to, and the cache's --cache-ttl
// rule, without a root: what is accepted, what it means, and the one-line errors for the rest.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createBuildCache } from '../../../src/build/cache.js';
import { rootLayout } from '../../../src/store/root.js';
import { parseOutputSpec } from '../../../src/build/output.js';
import { parseCacheRepository } from '../../../src/build/remote-cache.js';
import type { ContentStore } from '../../../src/content/store.js';

describe('--output values', () => {
  it('reads type=local and type=tar with a destination', () => {
    expect(parseOutputSpec('type=local,dest=out')).toEqual({ type: 'local', dest: 'out' });
    expect(parseOutputSpec('type=tar,dest=/tmp/rootfs.tar')).toEqual({ type: 'tar', dest: '/tmp/rootfs.tar' });
    expect(parseOutputSpec('dest=out,type=tar')).toEqual({ type: 'tar', dest: 'out' });
  });

  it('takes a bare path as a local directory and a bare - as a tar on stdout, and a missing type as local', () => {
    expect(parseOutputSpec('out/dir')).toEqual({ type: 'local', dest: 'out/dir' });
    expect(parseOutputSpec('-')).toEqual({ type: 'tar', dest: '-' });
    expect(parseOutputSpec('dest=out')).toEqual({ type: 'local', dest: 'out' });
    expect(parseOutputSpec('type=tar,dest=-')).toEqual({ type: 'tar', dest: '-' });
  });

  it.each([
    ['type=registry,dest=x', 'type "registry" is not supported (expected local or tar)'],
    ['type=tar', 'missing dest=PATH'],
    ['type=local,dest=-', 'type=local needs a directory'],
    ['type=local,dest=a,compression=gzip', 'unknown key "compression"'],
    ['type=local,dest', '"dest" is not KEY=VALUE'],
    ['type=local,type=tar,dest=a', 'type given twice'],
    ['', 'empty value'],
  ])('refuses %j with a clear message', (value, message) => {
    expect(() => parseOutputSpec(value)).toThrow(message);
  });
});

describe('--cache-from / --cache-to values', () => {
  it('accepts a registry repository and the buildx type=registry,ref= form', () => {
    expect(parseCacheRepository('127.0.0.1:5000/team/cache', '--cache-to')).toBe('127.0.0.1:5000/team/cache');
    expect(parseCacheRepository('docker://reg.example.com/cache', '--cache-to')).toBe('reg.example.com/cache');
    expect(parseCacheRepository('type=registry,ref=reg.example.com/ci/cache', '--cache-from')).toBe('reg.example.com/ci/cache');
  });

  it.each([
    ['reg.example.com/cache:latest', 'expected a repository without tag or digest'],
    [`reg.example.com/cache@sha256:${'a'.repeat(64)}`, 'expected a repository without tag or digest'],
    ['cache', 'the repository must name its registry'],
    ['type=local,src=/tmp/cache', 'cache type "local" is not supported'],
    ['type=registry', 'missing ref=REPOSITORY'],
    ['reg.example.com/Cache', 'repository name must be lowercase'],
  ])('refuses %j', (value, message) => {
    expect(() => parseCacheRepository(value, '--cache-from')).toThrow(message);
  });
});

describe('--cache-ttl', () => {
  let dir: string;
  const content = { has: async () => true } as unknown as ContentStore;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-cache-unit-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('ignores entries created longer ago than the TTL and keeps younger ones', async () => {
    const key = `sha256:${'1'.repeat(64)}`;
    const old = `sha256:${'2'.repeat(64)}`;
    const writer = createBuildCache({ layout: rootLayout(dir), content });
    await writer.store(key, { layer: { diffId: `sha256:${'3'.repeat(64)}`, size: 1 }, created: new Date(Date.now() - 60_000).toISOString() });
    await writer.store(old, { created: new Date(Date.now() - 3 * 3600_000).toISOString() });
    const cache = createBuildCache({ layout: rootLayout(dir), content, ttlMs: 3600_000 });
    expect(await cache.lookup(key)).toBeDefined();
    expect(await cache.lookup(old)).toBeUndefined();
    expect(await createBuildCache({ layout: rootLayout(dir), content }).lookup(old)).toBeDefined();
  });
});
