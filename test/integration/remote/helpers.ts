// Fixtures for the registry tests: tsbuild roots driven through the real CLI with a private auth
// file and registries.conf (so nothing on the machine leaks in), images with a layer big enough to
// span several gzip members, and skopeo.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import { buildBusyboxBase, createTestRoot, makeContext, mountsUnder, type CliResult, type TestRoot } from '../../helpers/tsbuild.js';
import { execFile, type ExecResult } from '../../../src/util/exec.js';

export type { CliResult };

export interface Env {
  /** Scratch space: auth file, registries.conf, archives, layouts. */
  dir: string;
  authfile: string;
  env: NodeJS.ProcessEnv;
  cleanup(): Promise<void>;
}

export async function createEnv(): Promise<Env> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-remote-'));
  const authfile = path.join(dir, 'auth.json');
  const conf = path.join(dir, 'registries.conf');
  await writeFile(conf, 'unqualified-search-registries = []\n');
  return {
    dir,
    authfile,
    // REGISTRY_AUTH_FILE and XDG_RUNTIME_DIR keep logins (and lookups) away from the machine's own files.
    env: { REGISTRY_AUTH_FILE: authfile, XDG_RUNTIME_DIR: dir, CONTAINERS_REGISTRIES_CONF: conf },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

export interface Root {
  t: TestRoot;
  run(args: readonly string[], options?: { input?: string }): Promise<CliResult>;
  ok(args: readonly string[], options?: { input?: string }): Promise<CliResult>;
  cleanup(): Promise<void>;
}

export async function createRoot(env: Env, options: { base?: boolean } = {}): Promise<Root> {
  const t = await createTestRoot();
  const run = (args: readonly string[], o: { input?: string } = {}): Promise<CliResult> => t.run(args, { ...o, env: env.env });
  const root: Root = {
    t,
    run,
    async ok(args, o) {
      const result = await run(args, o);
      if (result.code !== 0) throw new Error(`tsbuild ${args.join(' ')} exited ${result.code}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`);
      return result;
    },
    async cleanup() {
      const leaked = await mountsUnder(t.root);
      await t.cleanup();
      expect(leaked).toEqual([]);
    },
  };
  if (options.base !== false) await buildBusyboxBase(t);
  return root;
}

/**
 * Builds `name` FROM busybox-base with a 12 MB layer of real binaries (so gzip output has several
 * members) and a marker file; returns the image ID.
 */
export async function buildAppImage(root: Root, name: string, marker = 'hello from the registry'): Promise<string> {
  const data = Buffer.alloc(12 * 1024 * 1024);
  // Busybox repeated with a counter: compressible like real binaries, never one repeated block.
  const busybox = await import('node:fs/promises').then((fs) => fs.readFile('/bin/busybox'));
  for (let offset = 0, i = 0; offset < data.length; i++) {
    offset += busybox.copy(data, offset);
    if (offset + 4 <= data.length) offset = data.writeUInt32LE(i, offset);
  }
  const context = await makeContext({
    Containerfile: ['FROM busybox-base', 'COPY data /data', `RUN echo '${marker}' > /marker`, 'CMD ["cat", "/marker"]'].join('\n'),
    data,
  });
  try {
    const { stdout } = await root.ok(['bud', '-q', '-t', name, context]);
    return stdout.trim();
  } finally {
    await rm(context, { recursive: true, force: true });
  }
}

export async function imageId(root: Root, name: string): Promise<string> {
  const { stdout } = await root.ok(['inspect', '-t', 'image', '-f', '{{.Id}}', name]);
  return stdout.trim();
}

export const SKOPEO = '/usr/bin/skopeo';

export function skopeo(args: readonly string[]): Promise<ExecResult> {
  return execFile([SKOPEO, ...args], { env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', HOME: process.env.HOME ?? '/root' } });
}

export { makeContext };
