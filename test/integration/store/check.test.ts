// `tsbuild system check` finds each kind of damage with one exact line naming the object, `--repair`
// removes it, the store checks clean afterwards, and the healthy images still run. Leftovers of dead
// processes (temp files, locks, mounts) are removed by start-up recovery before any command runs, so
// those are checked through the library on a store opened without recovery, and through the CLI as
// "recovered silently".
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/log.js';
import { checkStore } from '../../../src/store/check.js';
import { repairStore } from '../../../src/store/repair.js';
import { openStores } from '../../../src/store/root.js';
import { buildBusyboxBase, createTestRoot, makeContext, mountsUnder, type TestRoot } from '../../helpers/tsbuild.js';

let t: TestRoot;

/** A pid that surely belongs to no process: one that has just exited. */
function deadPid(): number {
  const child = spawnSync('true');
  return child.pid!;
}

async function build(name: string, containerfile: string): Promise<void> {
  const context = await makeContext({ Containerfile: containerfile });
  try {
    await t.ok(['bud', '-q', '-t', name, context]);
  } finally {
    await rm(context, { recursive: true, force: true });
  }
}

interface Layers {
  id: string;
  diffIds: string[];
}

async function imageLayers(name: string): Promise<Layers> {
  const inspect = JSON.parse((await t.ok(['inspect', name])).stdout) as { Id?: string; RootFS?: { Layers?: string[] } }[] | { Id?: string; RootFS?: { Layers?: string[] } };
  const first = Array.isArray(inspect) ? inspect[0]! : inspect;
  return { id: `sha256:${first.Id!.replace(/^sha256:/, '')}`, diffIds: first.RootFS!.Layers! };
}

const blob = (digest: string): string => path.join(t.root, 'blobs', 'sha256', digest.slice('sha256:'.length));

/** The cache entries (relative paths) whose layer is `diffId`. */
async function cacheEntriesOf(diffId: string): Promise<string[]> {
  const dir = path.join(t.root, 'cache', 'steps');
  const out: string[] = [];
  for (const name of await readdir(dir)) {
    const entry = JSON.parse(await readFile(path.join(dir, name), 'utf8')) as { layer?: { diffId: string } };
    if (entry.layer?.diffId === diffId) out.push(`cache/steps/${name}`);
  }
  return out;
}

const lines = (s: string): string[] => s.split('\n').filter((l) => l !== '').sort();

async function expectClean(): Promise<void> {
  const check = await t.run(['system', 'check']);
  expect(check.stderr).toBe('');
  expect(check.stdout).toMatch(/^store is consistent \(\d+ blobs, \d+ images, \d+ snapshots, \d+ containers, \d+ cache entries\)\n$/);
  expect(check.code).toBe(0);
  // The healthy image still runs.
  expect((await t.ok(['run', '--rm', 'app', 'cat', '/app'])).stdout).toBe('healthy\n');
}

beforeAll(async () => {
  t = await createTestRoot();
  await buildBusyboxBase(t);
  await build('app', 'FROM busybox-base\nRUN echo healthy > /app\n');
});

afterAll(async () => {
  await t.cleanup();
});

describe('system check', () => {
  it('says the store is consistent, with counts, and exits 0 on a healthy store', async () => {
    const check = await t.ok(['system', 'check']);
    expect(check.stdout).toMatch(/^store is consistent \(\d+ blobs, 2 images, \d+ snapshots, 0 containers, \d+ cache entries\)\n$/);
    expect((await t.ok(['system', 'check', '--quick'])).stdout).toContain('store is consistent');
  });

  it('reports a corrupt layer blob, the image and cache entry that use it; --repair removes all three', async () => {
    await build('victim1', 'FROM busybox-base\nRUN echo one > /v1\n');
    const { id, diffIds } = await imageLayers('victim1');
    const top = diffIds[diffIds.length - 1]!;
    const bytes = await readFile(blob(top));
    bytes[bytes.length - 1] ^= 0xff;
    await writeFile(blob(top), bytes);
    const actual = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    const entries = await cacheEntriesOf(top);
    expect(entries).toHaveLength(1);

    const check = await t.run(['system', 'check']);
    expect(check.code).toBe(1);
    expect(lines(check.stdout)).toEqual(
      [
        `blob ${top}: content digest is ${actual}`,
        `image localhost/victim1:latest (${id.slice(7, 19)}): layer ${top} is corrupt`,
        `cache entry ${entries[0]}: layer ${top} is corrupt`,
      ].sort(),
    );
    expect(check.stderr).toBe('Error: the store has 3 problems\nHint: run "tsbuild system check --repair" to remove what is broken\n');
    // --quick does not hash blobs, so it finds nothing here.
    expect((await t.run(['system', 'check', '--quick'])).code).toBe(0);

    const repair = await t.run(['system', 'check', '--repair']);
    expect(repair.stdout).toContain(`repaired: removed image localhost/victim1:latest (${id.slice(7, 19)}): its content is damaged\n`);
    expect(repair.stdout).toContain(`repaired: removed blobs/sha256/${top.slice(7)}\n`);
    expect(repair.stdout).toMatch(/store is consistent/);
    expect(repair.code).toBe(0);
    expect((await t.ok(['images'])).stdout).not.toContain('victim1');
    await expectClean();
  });

  it('reports an image whose layer blob was deleted (its snapshot left), and --repair removes the image', async () => {
    await build('victim2', 'FROM busybox-base\nRUN echo two > /v2\n');
    const { id, diffIds } = await imageLayers('victim2');
    const top = diffIds[diffIds.length - 1]!;
    await rm(blob(top));
    const entries = await cacheEntriesOf(top);

    const check = await t.run(['system', 'check', '--quick']);
    expect(check.code).toBe(1);
    expect(lines(check.stdout)).toEqual(
      [
        `image localhost/victim2:latest (${id.slice(7, 19)}): layer ${top} missing (its snapshot is left, but it cannot be pushed or saved)`,
        `cache entry ${entries[0]}: layer ${top} missing`,
      ].sort(),
    );
    expect((await t.run(['system', 'check', '--repair'])).code).toBe(0);
    expect((await t.run(['inspect', 'victim2'])).code).not.toBe(0);
    await expectClean();
  });

  it('does not count a deleted snapshot as a problem while its layer blob exists: it is unpacked on use', async () => {
    const { diffIds } = await imageLayers('app');
    const snapshots = await readdir(path.join(t.root, 'snapshots'));
    expect(snapshots.length).toBeGreaterThanOrEqual(diffIds.length);
    // The top layer's chain ID is not the diff ID except for a single-layer image: remove them all.
    for (const s of snapshots) await rm(path.join(t.root, 'snapshots', s), { recursive: true, force: true });
    await expectClean();
    expect((await readdir(path.join(t.root, 'snapshots'))).length).toBeGreaterThanOrEqual(diffIds.length);
  });

  it('reports a dangling build cache entry (its layer blob gone) and --repair removes it', async () => {
    const missing = `sha256:${'e'.repeat(64)}`;
    const key = 'f'.repeat(64);
    await writeFile(path.join(t.root, 'cache', 'steps', `${key}.json`), JSON.stringify({ layer: { diffId: missing, size: 3 }, created: new Date().toISOString() }));
    await writeFile(path.join(t.root, 'cache', 'steps', `${'d'.repeat(64)}.json`), '{"layer": ');

    const check = await t.run(['system', 'check']);
    expect(check.code).toBe(1);
    expect(lines(check.stdout)).toEqual([
      `cache entry cache/steps/${'d'.repeat(64)}.json: does not parse as JSON`,
      `cache entry cache/steps/${key}.json: layer ${missing} missing`,
    ]);
    const repair = await t.run(['system', 'check', '--repair']);
    expect(repair.code).toBe(0);
    expect(lines(repair.stdout)).toContain(`repaired: removed cache/steps/${key}.json`);
    await expectClean();
  });

  it('reports a name held by two images (a crash while moving it) and --repair leaves it on the image that got it last', async () => {
    await build('dup-old', 'FROM busybox-base\nLABEL which=old\n');
    await build('dup-new', 'FROM busybox-base\nLABEL which=new\n');
    const oldId = (await imageLayers('dup-old')).id;
    const newId = (await imageLayers('dup-new')).id;
    const file = path.join(t.root, 'records', 'images', `${newId.slice(7)}.json`);
    const record = JSON.parse(await readFile(file, 'utf8')) as { names: string[] };
    await writeFile(file, JSON.stringify({ ...record, names: [...record.names, 'localhost/dup-old:latest'] }));

    const check = await t.run(['system', 'check', '--quick']);
    expect(check.stdout).toBe(`image name localhost/dup-old:latest: held by ${oldId.slice(7, 19)} as well as by the later ${newId.slice(7, 19)}\n`);
    expect(check.code).toBe(1);
    const repair = await t.run(['system', 'check', '--quick', '--repair']);
    expect(repair.stdout).toContain(`repaired: removed name localhost/dup-old:latest from image ${oldId.slice(7, 19)}\n`);
    expect(repair.code).toBe(0);
    expect((await t.ok(['inspect', '-f', '{{.Id}}', 'dup-old'])).stdout.trim()).toContain(newId.slice(7));
    await expectClean();
  });

  it('reports a container whose image was removed; --repair keeps it, --repair --force removes it', async () => {
    await build('doomed', 'FROM busybox-base\nLABEL doomed=1\n');
    const imageId = (await imageLayers('doomed')).id;
    const id = (await t.ok(['create', '--name', 'orphaned', 'doomed', 'true'])).stdout.trim();
    // rmi refuses an image a container was made from (as podman); the record is lost another way.
    const refused = await t.run(['rmi', 'doomed']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`Error: image ${imageId.slice(7, 19)} is in use by container(s) orphaned\n`);
    await rm(path.join(t.root, 'records', 'images', `${imageId.slice(7)}.json`));
    const line = `container orphaned (${id.slice(0, 12)}): image ${imageId.slice(7, 19)} is not in the store`;

    const check = await t.run(['system', 'check', '--quick']);
    expect(check.stdout).toBe(`${line}\n`);
    expect(check.code).toBe(1);
    const repair = await t.run(['system', 'check', '--quick', '--repair']);
    expect(repair.stdout).toBe(`${line}\n${line}\n`);
    expect(repair.stderr).toBe('Error: the store has 1 problem\nHint: containers whose image is gone are removed only with --force\n');
    expect(repair.code).toBe(1);
    const forced = await t.run(['system', 'check', '--quick', '--repair', '--force']);
    expect(forced.stdout).toContain(`repaired: removed containers/${id}\n`);
    expect(forced.code).toBe(0);
    expect((await t.run(['inspect', 'orphaned'])).code).not.toBe(0);
    await expectClean();
  });

  it('reports a snapshot dir that is not named by a chain ID, and a container dir without a record', async () => {
    await mkdir(path.join(t.root, 'snapshots', 'half-made'));
    const orphan = 'a'.repeat(64);
    await mkdir(path.join(t.root, 'containers', orphan, 'upper'), { recursive: true });
    const check = await t.run(['system', 'check', '--quick']);
    expect(lines(check.stdout)).toEqual([`container ${orphan.slice(0, 12)}: has no record (container.json)`, 'snapshot snapshots/half-made: not a committed snapshot (not named by a chain ID)']);
    expect(check.code).toBe(1);
    expect((await t.run(['system', 'check', '--quick', '--repair'])).code).toBe(0);
    await expectClean();
  });

  it('finds temp files, a lock and a mount of a dead process (without recovery), and repairs them', async () => {
    const pid = deadPid();
    const tmpFile = path.join(t.root, 'tmp', `.blob-${pid}-0123456789ab`);
    const recordTmp = path.join(t.root, 'records', 'images', `.tmp-${pid}-0123456789ab`);
    const lock = path.join(t.root, 'locks', 'images.lock');
    const mountPoint = path.join(t.root, 'mounts', `${pid}-abcdef012345`);
    await writeFile(tmpFile, 'partial');
    await writeFile(recordTmp, '{"id":');
    // An overlay work dir is named after its upper dir: it carries the owner's pid as a prefix.
    await mkdir(path.join(t.root, 'tmp', `.snap-${pid}-0123456789ab.work`, 'work'), { recursive: true });
    await writeFile(path.join(t.root, 'tmp', 'stray'), '');
    await writeFile(lock, String(pid));
    await mkdir(mountPoint);
    execFileSync('mount', ['-t', 'tmpfs', 'tmpfs', mountPoint]);
    try {
      const stores = await openStores({ root: t.root, logger: silentLogger(), recover: false });
      const report = await checkStore(stores, { quick: true });
      expect(report.problems.map((p) => p.line).sort()).toEqual(
        [
          `temp file tmp/.blob-${pid}-0123456789ab: left by dead process ${pid}`,
          `temp file records/images/.tmp-${pid}-0123456789ab: left by dead process ${pid}`,
          `temp file tmp/.snap-${pid}-0123456789ab.work: left by dead process ${pid}`,
          `temp file tmp/stray: not named by its owner's pid`,
          `mount point mounts/${pid}-abcdef012345: still mounted, left by dead process ${pid}`,
          `lock locks/images.lock: held by dead process ${pid}`,
        ].sort(),
      );
      await repairStore(stores, report.problems);
      expect((await checkStore(stores, { quick: true })).problems).toEqual([]);
      expect(await mountsUnder(mountPoint)).toEqual([]);
      expect(await readdir(path.join(t.root, 'mounts'))).not.toContain(`${pid}-abcdef012345`);
    } finally {
      spawnSync('umount', ['-l', mountPoint]);
    }
    await expectClean();
  });

  it('lets start-up recovery remove the same leftovers before the CLI checks, so the check is clean', async () => {
    const pid = deadPid();
    const leftovers = [
      path.join(t.root, 'tmp', `.snap-${pid}-0123456789ab`),
      path.join(t.root, 'cache', 'steps', `.tmp-${pid}-0123456789ab`),
      path.join(t.root, 'locks', 'containers.lock'),
    ];
    await mkdir(leftovers[0]!);
    await writeFile(leftovers[1]!, '{');
    await writeFile(leftovers[2]!, String(pid));
    const mountPoint = path.join(t.root, 'mounts', `${pid}-abcdef012345`);
    await mkdir(mountPoint);
    execFileSync('mount', ['-t', 'tmpfs', 'tmpfs', mountPoint]);
    await expectClean();
    for (const f of leftovers) await expect(readFile(f)).rejects.toThrow(/ENOENT/);
    expect(await mountsUnder(mountPoint)).toEqual([]);
  });
});
