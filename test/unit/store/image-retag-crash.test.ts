// Moving a name between images writes several records; a crash between two writes must leave the
// name on at most one image (find() would otherwise pick either). The crash is a write that fails.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';

const crash = vi.hoisted(() => ({ file: undefined as string | undefined }));

vi.mock('../../../src/util/fs.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../../../src/util/fs.js')>();
  return {
    ...actual,
    writeJsonAtomic: async (file: string, value: unknown) => {
      if (file === crash.file) throw new Error('killed');
      return actual.writeJsonAtomic(file, value);
    },
  };
});

const { createImageStore } = await import('../../../src/image/store.js');

const dirs: string[] = [];
afterEach(async () => {
  crash.file = undefined;
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

const idA = `sha256:${'a'.repeat(64)}`;
const idB = `sha256:${'b'.repeat(64)}`;

describe('image names after a crash while retagging', () => {
  it('never leaves a name on two images when the crash comes between the records it rewrites', async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-retag-'));
    dirs.push(root);
    const store = createImageStore({ root, locksDir: root });
    const base = { manifestDigest: `sha256:${'c'.repeat(64)}`, manifestMediaType: 'application/vnd.oci.image.manifest.v1+json' };
    await store.add({ ...base, id: idA, created: '2020-01-01T00:00:00Z' }, ['localhost/app:latest']);
    await store.add({ ...base, id: idB, created: '2024-01-01T00:00:00Z' }, []);
    // The old holder's record is the write that dies.
    crash.file = path.join(root, 'records', 'images', `${'a'.repeat(64)}.json`);
    await expect(store.tag(idB, ['localhost/app:latest'])).rejects.toThrow('killed');
    const holders = (await store.list()).filter((i) => i.names.includes('localhost/app:latest'));
    expect(holders.length).toBeLessThanOrEqual(1);
    crash.file = undefined;
    await store.tag(idB, ['localhost/app:latest']);
    expect((await store.find('localhost/app:latest'))?.id).toBe(idB);
    expect((await store.list()).filter((i) => i.names.includes('localhost/app:latest'))).toHaveLength(1);
  });
});
