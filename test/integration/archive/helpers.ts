// Fixtures for the archive tests: a temp dir holding tsbuild roots, a test image committed without
// the builder (one layer made with tar-stream), and wrappers for skopeo, umoci, podman and tar.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import tarStream from 'tar-stream';
import { commitImage } from '../../../src/image/image.js';
import type { ImageRecord } from '../../../src/image/store.js';
import { silentLogger } from '../../../src/log.js';
import { hostPlatform, sha256Digest, type ImageConfig, type ImageFormat } from '../../../src/oci/types.js';
import { openStores, type Stores } from '../../../src/store/root.js';
import { execFile, type ExecResult } from '../../../src/util/exec.js';

export const SKOPEO = '/usr/bin/skopeo';
export const UMOCI = '/usr/bin/umoci';
export const PODMAN = '/usr/bin/podman';

/** Fails loudly (no skipping) when a tool the tests compare against is missing. */
export async function requireTools(): Promise<void> {
  await run([SKOPEO, '--version']);
  await run([UMOCI, '--version']);
  await run([PODMAN, '--version']);
}

export function run(argv: readonly string[]): Promise<ExecResult> {
  return execFile(argv, { env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', HOME: process.env.HOME ?? '/root' } });
}

export interface Fixture {
  dir: string;
  /** A fresh tsbuild root under dir. */
  openRoot(name: string): Promise<Stores>;
  /** podman with a private root under dir (vfs, so no overlay-on-overlay trouble). */
  podman(args: readonly string[]): Promise<ExecResult>;
  cleanup(): Promise<void>;
}

export async function createFixture(): Promise<Fixture> {
  const dir = await mkdtemp(path.join(tmpdir(), 'tsbuild-archive-'));
  const podmanRoot = path.join(dir, 'podman');
  return {
    dir,
    openRoot: (name) => openStores({ root: path.join(dir, name), logger: silentLogger() }),
    podman: (args) =>
      run([
        PODMAN,
        '--root', path.join(podmanRoot, 'root'),
        '--runroot', path.join(podmanRoot, 'run'),
        // podman's default tmpdir (/run/libpod) is shared by every podman on the machine; another
        // test's podman resetting it would break this one.
        '--tmpdir', path.join(podmanRoot, 'tmp'),
        '--storage-driver', 'vfs',
        '--events-backend', 'none',
        ...args,
      ]),
    async cleanup() {
      // podman (vfs) leaves read-only dirs; it removes its own storage best.
      await run([PODMAN, '--root', path.join(podmanRoot, 'root'), '--runroot', path.join(podmanRoot, 'run'), '--tmpdir', path.join(podmanRoot, 'tmp'), '--storage-driver', 'vfs', 'system', 'reset', '--force']).catch(
        () => undefined,
      );
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export const HELLO = 'hello from tsbuild\n';

/** A layer with a file, a directory with a file in it, and a symlink. */
export async function makeLayerTar(): Promise<Buffer> {
  const pack = tarStream.pack();
  const mtime = new Date('2024-01-01T00:00:00Z');
  pack.entry({ name: 'hello.txt', mode: 0o644, mtime }, HELLO);
  pack.entry({ name: 'etc/', type: 'directory', mode: 0o755, mtime });
  pack.entry({ name: 'etc/motd', mode: 0o644, mtime }, 'welcome\n');
  pack.entry({ name: 'greeting', type: 'symlink', linkname: 'hello.txt', mtime });
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export interface TestImage {
  record: ImageRecord;
  diffId: string;
}

/** Commits a one-layer image straight into the stores (no builder). */
export async function createTestImage(stores: Stores, names: string[], format: ImageFormat = 'oci'): Promise<TestImage> {
  const tar = await makeLayerTar();
  const diffId = sha256Digest(tar);
  const { size } = await stores.content.ingest(Readable.from([tar]), { digest: diffId });
  const config: ImageConfig = {
    created: '2024-01-01T00:00:00Z',
    architecture: hostPlatform().architecture,
    os: 'linux',
    config: { Cmd: ['/bin/sh', '-c', 'cat /hello.txt'], Env: ['PATH=/usr/bin:/bin'], Labels: { purpose: 'archive-test' } },
    rootfs: { type: 'layers', diff_ids: [diffId] },
    history: [{ created: '2024-01-01T00:00:00Z', created_by: 'test fixture' }],
  };
  const record = await commitImage(stores, { config, layers: [{ diffId, chainId: diffId, size }] }, { format, names });
  return { record, diffId };
}
