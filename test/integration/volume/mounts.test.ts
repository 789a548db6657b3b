// specMounts and resolveMounts against real overlayfs and runc: a busybox image's rootfs mounted as
// a container's, the volume store's mounts added to the spec, and busybox run in it.
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TsbuildError } from '../../../src/errors.js';
import { silentLogger } from '../../../src/log.js';
import { mountRootfs, unmountRootfs } from '../../../src/container/rootfs.js';
import { containerPaths } from '../../../src/container/paths.js';
import { defaultConfig, type ContainerRecord, type MountSpec } from '../../../src/container/types.js';
import { createRuncRuntime, generateSpec } from '../../../src/runtime/index.js';
import { openStores, type Stores } from '../../../src/store/root.js';
import { writeJsonAtomic } from '../../../src/util/fs.js';
import { createVolumeStore, parseMountFlags, removeAnonymousVolumes, resolveMounts, specMounts } from '../../../src/volume/index.js';
import { Collector } from '../runtime/helpers.js';
import { Contexts, budOk, mountsUnder, setupRoot, teardownRoot, type TestRoot } from '../build/helpers.js';

let t: TestRoot | undefined;
let stores: Stores;
let hostDir: string;
const contexts = new Contexts();
const mounted: ContainerRecord[] = [];

beforeAll(async () => {
  hostDir = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-vol-host-'));
  t = await setupRoot();
  const ctx = await contexts.make({
    Containerfile: [
      'FROM busybox-base',
      'RUN mkdir -p /data/sub && echo hello > /data/f && ln -s f /data/link && echo deep > /data/sub/g && chown -R 1000:1000 /data && chmod 640 /data/f && chmod 750 /data',
      // Symlinks that point out of the rootfs if followed on the host.
      `RUN ln -s ../../../../../../../..${hostDir} /escape && ln -s ${hostDir} /abs-escape`,
      'RUN mkdir /etc/app && echo image > /etc/app/conf && mkdir /owned && chown 1000:1001 /owned && chmod 700 /owned',
    ].join('\n'),
  });
  await budOk(t, ctx, ['-q', '-t', 'voltest']);
  stores = await openStores({ root: t.root, logger: silentLogger() });
});

afterAll(async () => {
  for (const r of mounted) await unmountRootfs(stores, r).catch(() => undefined);
  await contexts.cleanup();
  await teardownRoot(t);
  await rm(hostDir, { recursive: true, force: true });
});

/** A container record (written, so in-use checks see it) with the image's rootfs mounted. */
async function container(mounts: MountSpec[], state: ContainerRecord['state'] = 'created'): Promise<{ record: ContainerRecord; rootfs: string }> {
  const image = await stores.images.get('voltest');
  const id = randomBytes(32).toString('hex');
  const record: ContainerRecord = {
    id,
    name: `c-${id.slice(0, 6)}`,
    kind: 'container',
    image: 'voltest',
    imageId: image.id,
    created: new Date().toISOString(),
    state,
    config: defaultConfig({ mounts }),
  };
  await writeJsonAtomic(containerPaths(stores, id).record, record);
  await mkdir(containerPaths(stores, id).upper, { recursive: true });
  mounted.push(record);
  return { record, rootfs: await mountRootfs(stores, record) };
}

async function run(rootfs: string, record: ContainerRecord, mounts: Awaited<ReturnType<typeof specMounts>>, script: string): Promise<{ code: number; out: string }> {
  const runtime = createRuncRuntime({ stateRoot: stores.layout.runcState, logger: silentLogger() });
  const out = new Collector();
  const spec = generateSpec({
    rootfs,
    args: ['/bin/sh', '-c', script],
    env: ['PATH=/bin'],
    cwd: '/',
    user: { uid: 0, gid: 0, additionalGids: [] },
    hostname: 'vol',
    terminal: false,
    network: 'none',
    mounts,
  });
  const code = await runtime.run(record.id.slice(0, 12), containerPaths(stores, record.id).bundle, spec, { stdout: out, stderr: out });
  return { code, out: out.text() };
}

async function startOnce(requested: MountSpec[], script: string, imageVolumes: string[] = []): Promise<{ code: number; out: string; record: ContainerRecord }> {
  const resolved = await resolveMounts(stores, requested, imageVolumes);
  const { record, rootfs } = await container(resolved);
  try {
    const mounts = await specMounts(stores, resolved, rootfs);
    return { ...(await run(rootfs, record, mounts, script)), record };
  } finally {
    await unmountRootfs(stores, record);
  }
}

describe('volume mounts in a container', { timeout: 60_000 }, () => {
  it('a named volume keeps data across two containers', async () => {
    const first = await startOnce(parseMountFlags({ volume: ['keep:/store'] }), 'echo persisted > /store/file');
    expect(first.code).toBe(0);
    const second = await startOnce(parseMountFlags({ volume: ['keep:/store'] }), 'cat /store/file');
    expect(second).toMatchObject({ code: 0, out: 'persisted\n' });
    expect((await createVolumeStore(stores).get('keep'))?.anonymous).toBe(false);
  });

  it("copies the image's content (owners, modes, links) into a new volume on first mount", async () => {
    const r = await startOnce(parseMountFlags({ volume: ['filled:/data'] }), 'stat -c "%u:%g %a %n" /data /data/f /data/sub/g; cat /data/f; readlink /data/link');
    expect(r.code).toBe(0);
    expect(r.out).toBe('1000:1000 750 /data\n1000:1000 640 /data/f\n1000:1000 644 /data/sub/g\nhello\nf\n');
    const data = (await createVolumeStore(stores).get('filled'))!.mountpoint;
    const st = await stat(path.join(data, 'f'));
    expect([st.uid, st.gid, st.mode & 0o7777]).toEqual([1000, 1000, 0o640]);
    expect((await lstat(path.join(data, 'link'))).isSymbolicLink()).toBe(true);
    expect(await readlink(path.join(data, 'link'))).toBe('f');
    expect((await createVolumeStore(stores).get('filled'))!.populated).toBe(true);
  });

  it('an empty image directory hands its owner and mode to the volume', async () => {
    const r = await startOnce(parseMountFlags({ volume: ['owned:/owned'] }), 'stat -c "%u:%g %a" /owned');
    expect(r).toMatchObject({ code: 0, out: '1000:1001 700\n' });
    const st = await stat((await createVolumeStore(stores).get('owned'))!.mountpoint);
    expect([st.uid, st.gid, st.mode & 0o777]).toEqual([1000, 1001, 0o700]);
  });

  it('copies up only once: an emptied volume stays empty', async () => {
    await startOnce(parseMountFlags({ volume: ['once:/data'] }), 'rm -rf /data/* /data/link');
    const r = await startOnce(parseMountFlags({ volume: ['once:/data'] }), 'ls -A /data');
    expect(r).toMatchObject({ code: 0, out: '' });
  });

  it('nocopy skips the copy-up', async () => {
    const r = await startOnce(parseMountFlags({ volume: ['empty:/data:nocopy'] }), 'ls -A /data');
    expect(r).toMatchObject({ code: 0, out: '' });
    expect(await readdir((await createVolumeStore(stores).get('empty'))!.mountpoint)).toEqual([]);
  });

  it('a read-only bind mount cannot be written', async () => {
    const src = path.join(hostDir, 'robind');
    await mkdir(src);
    await writeFile(path.join(src, 'in'), 'from host\n');
    const r = await startOnce(parseMountFlags({ volume: [`${src}:/mnt/ro:ro`] }), 'exec 2>&1; cat /mnt/ro/in; echo x > /mnt/ro/new && echo wrote; true');
    expect(r.code).toBe(0);
    // stderr joins stdout in the shell: two pipes read by the collector would not keep their order.
    expect(r.out).toMatch(/^from host\n.*Read-only file system/s);
    expect(r.out).not.toContain('wrote');
    expect(await readdir(src)).toEqual(['in']);
  });

  it('a read-write bind mount of a file replaces the image file', async () => {
    const file = path.join(hostDir, 'conf');
    await writeFile(file, 'host\n');
    const r = await startOnce(parseMountFlags({ mount: [`type=bind,source=${file},target=/etc/app/conf`] }), 'cat /etc/app/conf; echo more >> /etc/app/conf');
    expect(r).toMatchObject({ code: 0, out: 'host\n' });
    expect(await readFile(file, 'utf8')).toBe('host\nmore\n');
  });

  it('a tmpfs is a tmpfs with its size and mode', async () => {
    const r = await startOnce(parseMountFlags({ tmpfs: ['/scratch:size=1m,mode=1770'] }), 'grep " /scratch " /proc/mounts; stat -c %a /scratch');
    expect(r.code).toBe(0);
    const [line, mode] = r.out.trim().split('\n');
    expect(line).toMatch(/^tmpfs \/scratch tmpfs rw,nosuid,nodev,.*size=1024k/);
    expect(line).toMatch(/mode=1770/);
    expect(mode).toBe('1770');
  });

  it('a symlinked target in the image cannot escape the rootfs', async () => {
    const r = await startOnce(
      parseMountFlags({ volume: ['esc:/escape/sub', `${hostDir}:/abs-escape/inner`], tmpfs: ['/abs-escape/t'] }),
      'echo inside > /escape/sub/x && cat /escape/sub/x',
    );
    expect(r).toMatchObject({ code: 0, out: 'inside\n' });
    // Nothing was created in the host directory the links name.
    expect((await readdir(hostDir)).filter((n) => ['sub', 'inner', 't'].includes(n))).toEqual([]);
    expect(await readdir((await createVolumeStore(stores).get('esc'))!.mountpoint)).toEqual(['x']);
  });

  it('refuses a directory source on a file of the image', async () => {
    const err = await startOnce(parseMountFlags({ volume: ['onfile:/etc/app/conf'] }), 'true').catch((e: unknown) => e);
    expect((err as TsbuildError).message).toBe('cannot create mount point /etc/app/conf in the container: it is a file in the image and the source is a directory');
    expect((err as TsbuildError).exitCode).toBe(125);
  });

  it('leaves no mounts behind', async () => {
    expect((await mountsUnder(t!.root)).filter((m) => m.includes('/containers/'))).toEqual([]);
  });
});

describe('resolveMounts and the store', { timeout: 60_000 }, () => {
  it('names anonymous volumes and adds the image VOLUME paths nothing else covers', async () => {
    const resolved = await resolveMounts(stores, parseMountFlags({ volume: ['/anon', 'named1:/data'] }), ['/data', '/logs/']);
    expect(resolved.map((m) => [m.type, m.target, m.anonymous ?? false])).toEqual([
      ['volume', '/anon', true],
      ['volume', '/data', false],
      ['volume', '/logs', true],
    ]);
    expect(resolved[0]!.source).toMatch(/^[0-9a-f]{64}$/);
    expect(resolved[1]!.source).toBe('named1');
    const store = createVolumeStore(stores);
    expect((await store.get(resolved[2]!.source))?.anonymous).toBe(true);
  });

  it('refuses a bind source that does not exist and leaves no volume behind', async () => {
    const before = (await createVolumeStore(stores).list()).length;
    const err = await resolveMounts(stores, parseMountFlags({ volume: ['/anon2', '/no/such/dir:/x'] }), ['/img']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TsbuildError);
    expect((err as TsbuildError).message).toBe('bind source path does not exist: /no/such/dir');
    expect((err as TsbuildError).exitCode).toBe(125);
    expect((await createVolumeStore(stores).list()).length).toBe(before);
  });

  it('refuses to remove a volume in use; force works only when its user is not running', async () => {
    const store = createVolumeStore(stores);
    const resolved = await resolveMounts(stores, parseMountFlags({ volume: ['busy:/b'] }), []);
    const { record } = await container(resolved, 'running');
    await expect(store.remove('busy')).rejects.toThrow(`volume busy is in use by container ${record.name}`);
    await expect(store.remove('busy', { force: true })).rejects.toThrow(/in use/);
    await writeJsonAtomic(containerPaths(stores, record.id).record, { ...record, state: 'exited' });
    await expect(store.remove('busy')).rejects.toThrow(/in use/);
    await store.remove('busy', { force: true });
    expect(await store.get('busy')).toBeUndefined();
    // named1 was only resolved (no container refers to it); keep's containers still exist.
    const pruned = await store.prune();
    expect(pruned).toContain('named1');
    expect(pruned).not.toContain('keep');
    expect(await store.get('keep')).toBeDefined();
  });

  it('removeAnonymousVolumes removes only anonymous volumes no other container uses', async () => {
    const resolved = await resolveMounts(stores, parseMountFlags({ volume: ['/a1', 'kept:/k'] }), ['/img']);
    const { record } = await container(resolved);
    const shared = resolved.find((m) => m.target === '/img')!;
    const { record: other } = await container([shared]);
    const removed = await removeAnonymousVolumes(stores, record);
    const a1 = resolved.find((m) => m.target === '/a1')!.source;
    expect(removed).toEqual([a1]);
    const store = createVolumeStore(stores);
    expect(await store.get(a1)).toBeUndefined();
    expect(await store.get(shared.source)).toBeDefined();
    expect(await store.get('kept')).toBeDefined();
    expect(other.id).not.toBe(record.id);
  });
});
