// Garbage collection as users run it: image prune, builder prune (with --keep-storage), container
// and volume prune, system prune and system df, each checked against the files in the root: what
// is gone is exactly what nothing references, and what stays still runs and builds from cache.
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { humanSize } from '../../../src/cli/render.js';
import { lease, releaseLeases } from '../../../src/store/lease.js';
import { Contexts, budOk, setupRoot, sh, steps, teardownRoot, type TestRoot } from '../build/helpers.js';
import { blobs, imageByName, images, snapshots, storeProblems, treeSize } from './store-files.js';

const contexts = new Contexts();
afterAll(() => contexts.cleanup());

async function build(t: TestRoot, tag: string, lines: string[], extra: string[] = []): Promise<{ id: string; stdout: string }> {
  const dir = await contexts.make({ Containerfile: ['FROM busybox-base', ...lines].join('\n') });
  const { stdout } = await budOk(t, dir, ['-t', tag, ...extra]);
  return { id: stdout.trim().split('\n').pop()!, stdout };
}

const allCached = (stdout: string): boolean => steps(stdout).slice(1).every((s) => s.cached);

/** Blobs and snapshots the image records refer to, computed from the records on disk. */
async function referenced(root: string): Promise<{ blobs: Set<string>; snapshots: Set<string> }> {
  const out = { blobs: new Set<string>(), snapshots: new Set<string>() };
  for (const image of await images(root)) {
    for (const b of [image.manifestDigest, image.configDigest, ...image.diffIds]) out.blobs.add(b);
    for (const c of image.chainIds) out.snapshots.add(c);
  }
  return out;
}

const sum = (m: Map<string, number>, keys?: Iterable<string>): number => [...(keys ?? m.keys())].reduce((n, k) => n + (m.get(k) ?? 0), 0);

describe('image prune and builder prune', () => {
  let t: TestRoot;
  beforeAll(async () => {
    t = await setupRoot();
  });
  afterAll(() => teardownRoot(t));

  it('image prune removes the untagged images no container uses, and only their manifest and config', async () => {
    const v1 = await build(t, 'app', ['RUN echo one > /f']);
    await build(t, 'app', ['RUN echo two > /f']); // v1 is untagged now
    const held = await build(t, 'held', ['RUN echo three > /f']);
    await build(t, 'held', ['RUN echo four > /f']);
    await t.ok(['create', '--name', 'holder', held.id]); // untagged, but a container uses it
    const v1Image = (await images(t.root)).find((i) => i.id === `sha256:${v1.id}`)!;
    const blobsBefore = await blobs(t.root);
    const snapshotsBefore = await snapshots(t.root);

    const { stdout } = await t.ok(['image', 'prune']);
    expect(stdout.trim().split('\n')).toEqual([v1.id]);

    const ids = (await images(t.root)).map((i) => i.id.slice(7));
    expect(ids).not.toContain(v1.id);
    expect(ids).toContain(held.id);
    const blobsAfter = await blobs(t.root);
    expect([...blobsBefore.keys()].filter((b) => !blobsAfter.has(b)).sort()).toEqual([v1Image.manifestDigest, v1Image.configDigest].sort());
    // Its layer stays as build cache: the cache entry of `RUN echo one` refers to it.
    expect(blobsAfter.has(v1Image.diffIds.at(-1)!)).toBe(true);
    expect([...(await snapshots(t.root)).keys()].sort()).toEqual([...snapshotsBefore.keys()].sort());

    const again = await build(t, 'app', ['RUN echo one > /f']);
    expect(allCached(again.stdout)).toBe(true);
    expect(await sh(t, 'app', 'cat /f')).toBe('one\n');
    expect(await sh(t, held.id, 'cat /f')).toBe('three\n');
    expect(await storeProblems(t)).toEqual([]);
  });

  it('image prune -a --filter removes only the unused images that match', async () => {
    const labelled = await build(t, 'labelled', ['RUN echo l > /l'], ['--label', 'prune=yes']);
    const other = await build(t, 'other', ['RUN echo o > /o'], ['--label', 'prune=no']);
    // Everything here is younger than an hour: until=1h matches nothing.
    expect((await t.ok(['image', 'prune', '-a', '-f', '--filter', 'until=1h'])).stdout).toBe('');
    const { stdout } = await t.ok(['image', 'prune', '-a', '--filter', 'label=prune=yes']);
    expect(stdout.trim().split('\n')).toEqual([labelled.id]);
    const names = (await images(t.root)).flatMap((i) => i.names);
    expect(names).toContain('localhost/other:latest');
    expect(names).toContain('localhost/busybox-base:latest');
    expect(names).toContain('localhost/app:latest');
    expect(names).not.toContain('localhost/labelled:latest');
    expect(other.id).toMatch(/^[a-f0-9]{64}$/);
    // image ls and image rm are images and rmi.
    expect((await t.ok(['image', 'ls', '--json'])).stdout).toBe((await t.ok(['images', '--json'])).stdout);
    expect((await t.ok(['image', 'rm', 'other'])).stdout).toBe(`Untagged: localhost/other:latest\nDeleted: ${other.id}\n`);
    const bad = await t.run(['image', 'prune', '--filter', 'dangling=true']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr.trim()).toMatch(/^Error: invalid --filter "dangling=true": expected until=/);
  });

  it('builder prune removes the layers and cache mounts no image uses, and keeps the cache of existing images', async () => {
    const gone = await build(t, 'gone', ['RUN dd if=/dev/zero of=/big bs=1k count=150 2>/dev/null']);
    await t.ok(['rmi', 'gone']);
    await build(t, 'mounted', ['RUN --mount=type=cache,target=/c,id=gc-test echo x > /c/file && echo m > /m']);
    const mountsDir = path.join(t.root, 'cache', 'run-mounts');
    const cacheMounts = (await readdir(mountsDir)).filter((n) => /^[a-f0-9]{64}$/.test(n));
    expect(cacheMounts).toHaveLength(1);
    const mountSize = await treeSize(path.join(mountsDir, cacheMounts[0]!));
    expect(mountSize).toBeGreaterThan(0);

    const refs = await referenced(t.root);
    const blobsBefore = await blobs(t.root);
    const snapshotsBefore = await snapshots(t.root);
    const orphanBlobs = [...blobsBefore.keys()].filter((b) => !refs.blobs.has(b));
    const orphanSnapshots = [...snapshotsBefore.keys()].filter((s) => !refs.snapshots.has(s));
    expect(orphanBlobs.length).toBeGreaterThan(0); // at least gone's 150k layer
    const expected = sum(blobsBefore, orphanBlobs) + sum(snapshotsBefore, orphanSnapshots) + mountSize;

    const { stdout } = await t.ok(['builder', 'prune']);
    expect(stdout).toContain(`${orphanBlobs.length} blobs, ${orphanSnapshots.length} snapshots`);
    expect(stdout.trim().split('\n').at(-1)).toBe(`Total reclaimed space: ${humanSize(expected)}`);
    expect([...(await blobs(t.root)).keys()].sort()).toEqual([...refs.blobs].filter((b) => blobsBefore.has(b)).sort());
    expect([...(await snapshots(t.root)).keys()].sort()).toEqual([...refs.snapshots].filter((s) => snapshotsBefore.has(s)).sort());
    expect((await readdir(mountsDir)).filter((n) => /^[a-f0-9]{64}$/.test(n))).toEqual([]);

    // Images that stayed rebuild from cache; the pruned one runs its step again.
    expect(allCached((await build(t, 'app', ['RUN echo one > /f'])).stdout)).toBe(true);
    const rebuilt = await build(t, 'gone', ['RUN dd if=/dev/zero of=/big bs=1k count=150 2>/dev/null']);
    expect(steps(rebuilt.stdout).at(-1)!.cached).toBe(false);
    expect(rebuilt.id).toMatch(/^[a-f0-9]{64}$/);
    expect(gone.id).toMatch(/^[a-f0-9]{64}$/);
    expect(await sh(t, 'gone', 'wc -c < /big')).toBe('153600\n');
    expect(await sh(t, 'mounted', 'cat /m')).toBe('m\n');
    expect(await storeProblems(t)).toEqual([]);
  });

  it('a live process keeps what its lease lists; a dead one\'s lease is ignored and removed', async () => {
    await build(t, 'leased', ['RUN dd if=/dev/zero of=/l bs=1k count=30 2>/dev/null']);
    const image = await imageByName(t.root, 'localhost/leased:latest');
    const [diffId, chainId] = [image.diffIds.at(-1)!, image.chainIds.at(-1)!];
    await t.ok(['rmi', 'leased']);
    // This test process holds a lease on the layer, as a build using it as a cache hit would.
    await lease(t.root, { blobs: [diffId], snapshots: [chainId] });
    const leaseFiles = await readdir(path.join(t.root, 'leases'));
    expect(leaseFiles).toEqual([expect.stringMatching(new RegExp(`^${process.pid}-[a-f0-9]+\\.json$`))]);
    // A lease left by a process that is gone (its pid, from a child that has exited) means nothing.
    const dead = spawnSync('true').pid!;
    const deadFile = path.join(t.root, 'leases', `${dead}-0123456789ab.json`);
    await writeFile(deadFile, JSON.stringify({ owner: { pid: dead }, blobs: [image.configDigest], snapshots: [] }));
    try {
      await t.ok(['builder', 'prune', '-a']);
      expect((await blobs(t.root)).has(diffId)).toBe(true);
      expect((await snapshots(t.root)).has(chainId)).toBe(true);
      expect(await readFile(deadFile).catch(() => 'removed')).toBe('removed');
    } finally {
      await releaseLeases(t.root);
    }
    expect(await readdir(path.join(t.root, 'leases'))).toEqual([]);
    await t.ok(['builder', 'prune', '-a']);
    expect((await blobs(t.root)).has(diffId)).toBe(false);
    expect((await snapshots(t.root)).has(chainId)).toBe(false);
  });

  it('keeps what a running container uses: rmi refuses its image, builder prune keeps its snapshots', async () => {
    await build(t, 'mountedimg', ['RUN echo under > /under']);
    const image = await imageByName(t.root, 'localhost/mountedimg:latest');
    await t.ok(['run', '-d', '--name', 'runner', '--network', 'none', 'mountedimg', 'sleep', '600']);
    try {
      const refused = await t.run(['rmi', 'mountedimg']);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(/^Error: image [0-9a-f]{12} is in use by container\(s\) runner$/m);
      await t.ok(['builder', 'prune', '-a']);
      expect((await imageByName(t.root, 'localhost/mountedimg:latest')).id).toBe(image.id);
      expect((await snapshots(t.root)).has(image.chainIds.at(-1)!)).toBe(true);
      expect((await t.ok(['exec', 'runner', 'cat', '/under'])).stdout).toBe('under\n');
    } finally {
      await t.run(['rm', '-f', 'runner']);
    }
  });

  it('rmi -f removes the containers made from the image, then the image', async () => {
    await build(t, 'forced', ['RUN echo forced > /forced']);
    await t.ok(['create', '--name', 'forced-c', '--network', 'none', 'forced', 'true']);
    const ctr = (await t.ok(['from', '--name', 'forced-w', 'forced'])).stdout.trim();
    expect(ctr).toBe('forced-w');
    const refused = await t.run(['rmi', 'forced']);
    expect(refused.stderr).toMatch(/^Error: image [0-9a-f]{12} is in use by container\(s\) (forced-c, forced-w|forced-w, forced-c)$/m);
    expect((await t.ok(['containers'])).stdout).toContain('forced-w');
    await t.ok(['rmi', '-f', 'forced']);
    expect((await t.ok(['ps', '-a', '--format', '{{.Names}}'])).stdout).not.toContain('forced-c');
    expect((await t.ok(['containers'])).stdout).not.toContain('forced-w');
    expect((await t.run(['inspect', 'forced'])).code).not.toBe(0);
    expect(await storeProblems(t)).toEqual([]);
  });

  it('builder prune --keep-storage keeps the most recently used cache that fits and removes the rest', async () => {
    const lines = (n: number): string[] => [`RUN dd if=/dev/zero of=/k${n} bs=1k count=${100 + n * 10} 2>/dev/null`];
    const top: Record<number, { diffId: string; chainId: string }> = {};
    for (const n of [1, 2, 3]) {
      await build(t, `keep${n}`, lines(n));
      const image = await imageByName(t.root, `localhost/keep${n}:latest`);
      top[n] = { diffId: image.diffIds.at(-1)!, chainId: image.chainIds.at(-1)! };
    }
    // Using keep1's cache again makes it the most recently used: keep2 is now the oldest.
    expect(allCached((await build(t, 'keep1', lines(1))).stdout)).toBe(true);
    for (const n of [1, 2, 3]) await t.ok(['rmi', `keep${n}`]);
    const b = await blobs(t.root);
    const s = await snapshots(t.root);
    const cost = (n: number): number => b.get(top[n]!.diffId)! + s.get(top[n]!.chainId)!;
    // Room for keep1 and keep3 (and less than keep2 more).
    const budget = cost(1) + cost(3) + Math.floor(cost(2) / 2);

    await t.ok(['builder', 'prune', '--keep-storage', String(budget)]);
    const after = await blobs(t.root);
    const afterSnapshots = await snapshots(t.root);
    expect(after.has(top[2]!.diffId)).toBe(false);
    expect(afterSnapshots.has(top[2]!.chainId)).toBe(false);
    for (const n of [1, 3]) {
      expect(after.has(top[n]!.diffId)).toBe(true);
      expect(afterSnapshots.has(top[n]!.chainId)).toBe(true);
    }
    expect(allCached((await build(t, 'keep3', lines(3))).stdout)).toBe(true);
    expect(steps((await build(t, 'keep2', lines(2))).stdout).at(-1)!.cached).toBe(false);
    expect(await sh(t, 'keep2', 'wc -c < /k2')).toBe(`${120 * 1024}\n`);

    const bad = await t.run(['builder', 'prune', '--keep-storage', 'lots']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr.trim()).toBe('Error: invalid --keep-storage "lots": expected <number>[<unit>] with unit b, k, m, g or t (e.g. 512m, 10GB)');
  });
});

interface DfRow {
  Type: string;
  Total: number;
  Active: number;
  Size: number;
  Reclaimable: number;
}

describe('system df, volume prune and system prune', () => {
  let t: TestRoot;
  let stopped: string;
  let dangling: string;
  beforeAll(async () => {
    t = await setupRoot();
    dangling = (await build(t, 'kept', ['RUN echo old > /k'])).id;
    await build(t, 'kept', ['RUN echo k > /k']);
    await build(t, 'cacheonly', ['RUN dd if=/dev/zero of=/c bs=1k count=80 2>/dev/null']);
    await t.ok(['rmi', 'cacheonly']);
    await t.ok(['run', '--name', 'stopped', '--network', 'none', 'busybox-base', 'sh', '-c', 'dd if=/dev/zero of=/x bs=1k count=20 2>/dev/null']);
    stopped = (await t.ok(['inspect', '-f', '{{.Id}}', 'stopped'])).stdout.trim();
    await t.ok(['network', 'create', 'gcnet']);
    await t.ok(['volume', 'create', 'unusedvol']);
    await t.ok(['run', '--rm', '--network', 'none', '-v', 'unusedvol:/v', 'busybox-base', 'sh', '-c', 'dd if=/dev/zero of=/v/f bs=1k count=10 2>/dev/null']);
    await t.ok(['create', '--name', 'voluser', '--network', 'none', '-v', 'usedvol:/v', 'busybox-base']);
  });
  afterAll(() => teardownRoot(t));

  it('system df counts what is on disk, by kind', async () => {
    const rows = JSON.parse((await t.ok(['system', 'df', '--format', 'json'])).stdout) as DfRow[];
    const row = (type: string): DfRow => rows.find((r) => r.Type === type)!;
    const refs = await referenced(t.root);
    const b = await blobs(t.root);
    const s = await snapshots(t.root);
    const imageBytes = sum(b, [...refs.blobs].filter((x) => b.has(x))) + sum(s, [...refs.snapshots].filter((x) => s.has(x)));
    const all = await images(t.root);
    expect(row('Images')).toEqual({ Type: 'Images', Total: all.length, Active: 1, Size: imageBytes, Reclaimable: expect.any(Number) });
    // Layers that only the build cache (or nothing) refers to: cacheonly's, left by rmi.
    const cacheBytes = sum(b) + sum(s) - imageBytes;
    expect(cacheBytes).toBeGreaterThan(80 * 1024);
    expect(row('Build Cache')).toMatchObject({ Size: cacheBytes, Reclaimable: cacheBytes });
    const upper = (id: string): Promise<number> => treeSize(path.join(t.root, 'containers', id, 'upper'));
    const containerIds = (await readdir(path.join(t.root, 'containers'))).filter((n) => /^[a-f0-9]{64}$/.test(n));
    expect(containerIds).toHaveLength(2);
    let containerBytes = 0;
    for (const id of containerIds) containerBytes += await upper(id);
    expect(await upper(stopped)).toBeGreaterThanOrEqual(20 * 1024);
    expect(row('Containers')).toEqual({ Type: 'Containers', Total: 2, Active: 0, Size: containerBytes, Reclaimable: containerBytes });
    const volumeBytes = await treeSize(path.join(t.root, 'volumes', 'unusedvol', '_data'));
    expect(volumeBytes).toBe(10 * 1024);
    expect(row('Local Volumes')).toEqual({ Type: 'Local Volumes', Total: 2, Active: 1, Size: volumeBytes, Reclaimable: volumeBytes });

    const table = (await t.ok(['system', 'df'])).stdout.split('\n');
    expect(table[0]).toMatch(/^TYPE\s+TOTAL\s+ACTIVE\s+SIZE\s+RECLAIMABLE$/);
    expect(table[1]).toMatch(new RegExp(`^Images\\s+${all.length}\\s+1\\s+${humanSize(imageBytes)}\\s+`));
    expect(table[4]).toMatch(new RegExp(`^Build Cache\\s+\\d+\\s+0\\s+${humanSize(cacheBytes)}\\s+${humanSize(cacheBytes)} \\(100%\\)$`));
    const verbose = (await t.ok(['system', 'df', '-v'])).stdout;
    expect(verbose).toContain('Images space usage:');
    expect(verbose).toMatch(/^localhost\/kept\s+latest\s+[a-f0-9]{12}\s/m);
    expect(verbose).toMatch(/^Local Volumes space usage:\n\nVOLUME NAME\s+LINKS\s+SIZE\nunusedvol\s+0\s+10.2 kB\nusedvol\s+1\s+0 B$/m);
  });

  it('volume prune removes only the volumes no container uses', async () => {
    expect((await t.ok(['volume', 'prune', '-f'])).stdout).toBe('unusedvol\n');
    expect((await t.ok(['volume', 'ls', '-q'])).stdout).toBe('usedvol\n');
    await t.ok(['volume', 'create', 'unusedvol']);
  });

  it('system prune removes stopped containers, unused networks, dangling images and unused build cache, and no volume', async () => {
    const refsBefore = await referenced(t.root);
    const [blobsBefore, snapshotsBefore] = [await blobs(t.root), await snapshots(t.root)];
    expect([...blobsBefore.keys()].filter((x) => !refsBefore.blobs.has(x)).length).toBeGreaterThan(0); // cacheonly's layer
    let uppers = 0;
    for (const id of (await readdir(path.join(t.root, 'containers'))).filter((n) => /^[a-f0-9]{64}$/.test(n))) {
      uppers += await treeSize(path.join(t.root, 'containers', id, 'upper'));
    }
    const { stdout } = await t.ok(['system', 'prune', '-f']);
    const [blobsAfter, snapshotsAfter] = [await blobs(t.root), await snapshots(t.root)];
    // What went: both containers' writable layers, and the blobs and snapshots no longer on disk.
    const gone = sum(blobsBefore) - sum(blobsAfter) + sum(snapshotsBefore) - sum(snapshotsAfter);
    expect(stdout.trim().split('\n').at(-1)).toBe(`Total reclaimed space: ${humanSize(uppers + gone)}`);
    expect((await t.run(['inspect', 'voluser'])).code).not.toBe(0);
    const section = (title: string): string[] => {
      const m = new RegExp(`^${title}\\n((?:[^\\n]+\\n)*?)(?=[A-Z]|$)`, 'm').exec(stdout);
      return m ? m[1]!.trim().split('\n') : [];
    };
    expect(section('Deleted Containers').sort()).toHaveLength(2);
    expect(section('Deleted Containers')).toContain(stopped);
    expect(section('Deleted Networks')).toEqual(['gcnet']);
    expect(section('Deleted Images')).toEqual([dangling]);
    expect(stdout).not.toContain('Deleted Volumes');
    expect(stdout).toMatch(/\nTotal reclaimed space: (?!0 B)[\d.]+ [kMG]?B\n$/);
    expect((await t.ok(['volume', 'ls', '-q'])).stdout).toBe('unusedvol\nusedvol\n');
    expect((await t.ok(['network', 'ls', '--format', '{{.Name}}'])).stdout).not.toContain('gcnet');
    // What nothing references is gone: every blob and snapshot left belongs to an image.
    const refs = await referenced(t.root);
    expect([...(await blobs(t.root)).keys()].every((x) => refs.blobs.has(x))).toBe(true);
    expect([...(await snapshots(t.root)).keys()].every((x) => refs.snapshots.has(x))).toBe(true);
    expect(await sh(t, 'kept', 'cat /k')).toBe('k\n');
    expect(allCached((await build(t, 'kept', ['RUN echo k > /k'])).stdout)).toBe(true);
    expect(await storeProblems(t)).toEqual([]);
  });

  it('system prune -a --volumes removes every unused image, the whole build cache and unused volumes', async () => {
    const { stdout } = await t.ok(['system', 'prune', '-a', '--volumes', '-f']);
    expect(stdout).toMatch(/^Deleted Volumes\nunusedvol\nusedvol\n/m);
    expect(stdout).toContain('Deleted Images\n');
    expect(stdout).toMatch(/\nTotal reclaimed space: [\d.]+ [kMG]?B\n$/);
    expect(await images(t.root)).toEqual([]);
    expect((await blobs(t.root)).size).toBe(0);
    expect((await snapshots(t.root)).size).toBe(0);
    expect(await readdir(path.join(t.root, 'cache', 'steps')).catch(() => [])).toEqual([]);
    const rows = JSON.parse((await t.ok(['system', 'df', '--format', 'json'])).stdout) as DfRow[];
    expect(rows.map((r) => [r.Type, r.Total, r.Size])).toEqual([
      ['Images', 0, 0],
      ['Containers', 0, 0],
      ['Local Volumes', 0, 0],
      ['Build Cache', 0, 0],
    ]);
  });
});
