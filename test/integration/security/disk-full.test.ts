// Disk full: a root on a 64 MB tmpfs (the busybox base built into it first). A COPY or a RUN whose
// layer does not fit, and a pull of an image that does not fit, each fail with one clear "no space
// left on device" line naming the step (or image and layer), a non-zero exit, and a clean store:
// nothing in tmp/, no new blob, snapshot or image, no mount left under the root. Once space is
// freed, the next build (and pull) on the same base works.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, rmdir, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRegistry, type TestRegistry } from '../../helpers/registry.js';
import { buildBusyboxBase, createTestRoot, makeContext, mountsUnder, type CliResult, type TestRoot } from '../../helpers/tsbuild.js';

const TMPFS_SIZE = '64m';
let mountpoint: string;
let t: TestRoot;
let other: TestRoot;
let registry: TestRegistry;
let work: string;
let env: NodeJS.ProcessEnv;
const contexts: string[] = [];

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-diskfull-'));
  const conf = path.join(work, 'registries.conf');
  await writeFile(conf, 'unqualified-search-registries = []\n');
  env = { REGISTRY_AUTH_FILE: path.join(work, 'auth.json'), XDG_RUNTIME_DIR: work, CONTAINERS_REGISTRIES_CONF: conf };
  mountpoint = path.join(work, 'fs');
  await mkdir(mountpoint);
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${TMPFS_SIZE}`, 'tmpfs', mountpoint]);
  t = await createTestRoot({ root: path.join(mountpoint, 'root'), env });
  await buildBusyboxBase(t);
  registry = await startRegistry();
  other = await createTestRoot();
});

afterAll(async () => {
  await Promise.all(contexts.map((c) => rm(c, { recursive: true, force: true })));
  const leaked = mountpoint ? (await mountsUnder(mountpoint)).filter((m) => m !== mountpoint) : [];
  for (const m of leaked.reverse()) execFileSync('umount', ['-l', m]);
  if (mountpoint) {
    execFileSync('umount', [mountpoint]);
    await rmdir(mountpoint);
  }
  await other?.cleanup();
  await registry?.stop();
  if (work) await rm(work, { recursive: true, force: true });
  expect(leaked).toEqual([]);
});

async function context(files: Record<string, string | Buffer>): Promise<string> {
  const dir = await makeContext(files);
  contexts.push(dir);
  return dir;
}

/** What a clean store looks like from outside: the files under tmp/, and the blob, snapshot and image sets. */
async function storeState(): Promise<{ tmp: string[]; blobs: string[]; snapshots: string[]; images: string; mounts: string[] }> {
  const list = async (sub: string): Promise<string[]> => (await readdir(path.join(t.root, sub), { recursive: true }).catch(() => [])).sort();
  const mountinfo = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').map((l) => l.split(' ')[4] ?? '');
  return {
    tmp: await list('tmp'),
    blobs: await list('blobs'),
    snapshots: (await readdir(path.join(t.root, 'snapshots')).catch(() => [])).sort(),
    images: (await t.ok(['images', '-q', '--no-trunc'])).stdout,
    mounts: mountinfo.filter((m) => m.startsWith(t.root)),
  };
}

function errorLines(result: CliResult): string[] {
  expect(result.code).not.toBe(0);
  expect(result.stderr).not.toMatch(/\n\s+at /);
  return result.stderr.split('\n').filter((l) => l.startsWith('Error: '));
}

describe('a build into a full root', () => {
  it('fails a COPY that does not fit with one "no space left on device" line, and keeps the store clean', async () => {
    const before = await storeState();
    const dir = await context({ Containerfile: 'FROM busybox-base\nCOPY big /big\n', big: randomBytes(80 * 1024 * 1024) });
    const result = await t.run(['bud', '-t', 'toobig', dir]);
    const lines = errorLines(result);
    expect(lines, result.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/Containerfile:2: .*no space left on device/);
    expect(result.stderr).toMatch(/Hint: free space on the filesystem/);
    expect(await storeState()).toEqual(before);
  });

  it('fails a RUN whose layer does not fit at commit, naming the step', async () => {
    const before = await storeState();
    // 35 MB fits in the upper dir; the layer tar of it does not fit next to it.
    const dir = await context({ Containerfile: 'FROM busybox-base\nRUN dd if=/dev/zero of=/big bs=1M count=35\n' });
    const result = await t.run(['bud', '-t', 'toobig', dir]);
    const lines = errorLines(result);
    expect(lines, result.stderr).toEqual([expect.stringMatching(/^Error: \S*Containerfile:2: RUN dd if=\/dev\/zero of=\/big bs=1M count=35: no space left on device/)]);
    expect(await storeState()).toEqual(before);
  });

  it('fails a RUN whose command itself runs out of space, with its status, and keeps the store clean', async () => {
    const before = await storeState();
    const dir = await context({ Containerfile: 'FROM busybox-base\nRUN dd if=/dev/zero of=/big bs=1M count=100\n' });
    const result = await t.run(['bud', '-t', 'toobig', dir]);
    const lines = errorLines(result);
    expect(lines, result.stderr).toHaveLength(1);
    expect(lines[0]).toContain('Containerfile:2');
    // The command's own message says why; tsbuild's line says which step.
    expect(result.stderr).toMatch(/No space left on device/);
    expect(await storeState()).toEqual(before);
  });

  it('builds on the same base afterwards', async () => {
    const dir = await context({ Containerfile: 'FROM busybox-base\nCOPY small /small\nRUN cat /small > /copy\n', small: 'still works\n' });
    await t.ok(['bud', '-q', '-t', 'small', dir]);
    const out = await t.ok(['run', '--rm', 'small', 'cat', '/copy']);
    expect(out.stdout).toBe('still works\n');
    await t.ok(['rmi', 'small']);
  });
});

describe('a pull into a full root', () => {
  const filler = (): string => path.join(mountpoint, 'filler');

  it('fails naming the image and the layer, stores nothing, and succeeds once there is room', async () => {
    // An image with a 20 MB incompressible layer, pushed from an ordinary root.
    await buildBusyboxBase(other);
    const dir = await context({ Containerfile: 'FROM busybox-base\nCOPY data /data\n', data: randomBytes(20 * 1024 * 1024) });
    await other.ok(['bud', '-q', '-t', 'fat', dir]);
    const ref = `${registry.host}/full/fat:1`;
    await other.run(['push', '-q', '--tls-verify=false', 'fat', ref], { env }).then((r) => expect(r.code, r.stderr).toBe(0));

    // Leave about 8 MB free.
    const free = (): number => {
      const out = execFileSync('df', ['-B1', '--output=avail', mountpoint], { encoding: 'utf8' }).trim().split('\n').pop()!;
      return Number(out.trim());
    };
    await writeFile(filler(), Buffer.alloc(Math.max(0, free() - 8 * 1024 * 1024)));
    try {
      const before = await storeState();
      const result = await t.run(['pull', '-q', '--tls-verify=false', ref]);
      const lines = errorLines(result);
      expect(lines, result.stderr).toHaveLength(1);
      expect(lines[0]).toContain(ref);
      expect(lines[0]).toMatch(/layer \d\/\d \(sha256:[0-9a-f]{64}\)/);
      expect(lines[0]).toContain('no space left on device');
      const after = await storeState();
      // Layers that did fit were verified and stay (the next attempt skips them), as pull documents;
      // the one that did not is nowhere, and nothing else changed.
      expect({ ...after, blobs: [] }).toEqual({ ...before, blobs: [] });
      const layers = JSON.parse((await other.ok(['inspect', '-f', '{{json .RootFS.Layers}}', 'fat'])).stdout) as string[];
      expect(after.blobs).not.toContain(`sha256/${layers[layers.length - 1]!.slice('sha256:'.length)}`);
      for (const blob of after.blobs.filter((b) => !before.blobs.includes(b) && b.includes('/'))) {
        const digest = execFileSync('sha256sum', [path.join(t.root, 'blobs', blob)], { encoding: 'utf8' }).split(' ')[0];
        expect(`sha256/${digest}`).toBe(blob);
      }
    } finally {
      await unlink(filler());
    }
    const again = await t.run(['pull', '-q', '--tls-verify=false', ref]);
    expect(again.code, again.stderr).toBe(0);
    await t.ok(['rmi', ref]);
  });
});
