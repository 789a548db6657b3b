// Test helpers that drive the real CLI (bin/tsbuild, compiled dist/) against a private storage root,
// and make the busybox base image at test time from Debian's static busybox (no binary committed).
import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = path.join(REPO, 'bin', 'tsbuild');
export const BUSYBOX = '/bin/busybox';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface TestRoot {
  root: string;
  /** Runs `tsbuild --root <root> ...args`. */
  run(args: readonly string[], options?: { input?: string | Buffer; cwd?: string; env?: NodeJS.ProcessEnv }): Promise<CliResult>;
  /** Like run, but fails the test with the output when the exit code is not 0. */
  ok(args: readonly string[], options?: { input?: string | Buffer; cwd?: string }): Promise<CliResult>;
  cleanup(): Promise<void>;
}

/**
 * A fresh root in the temp dir, or `at.root` (which cleanup then leaves alone: e.g. a directory on
 * a filesystem the test mounted); `at.env` is added to every command's environment.
 */
export async function createTestRoot(at: { root?: string; env?: NodeJS.ProcessEnv } = {}): Promise<TestRoot> {
  const root = at.root ?? (await mkdtemp(path.join(os.tmpdir(), 'tsbuild-test-root-')));
  const run = (args: readonly string[], options: { input?: string | Buffer; cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> =>
    new Promise((resolve, reject) => {
      const child = spawn(BIN, ['--root', root, ...args], {
        cwd: options.cwd ?? REPO,
        env: { PATH: process.env.PATH, HOME: process.env.HOME, ...at.env, ...options.env },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.stdin.on('error', () => undefined);
      child.stdin.end(options.input ?? '');
      child.on('error', reject);
      child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    });
  return {
    root,
    run,
    async ok(args, options) {
      const result = await run(args, options);
      if (result.code !== 0) {
        throw new Error(`tsbuild ${args.join(' ')} exited ${result.code}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`);
      }
      return result;
    },
    async cleanup() {
      if (at.root !== undefined) return;
      await unmountUnder(root);
      await rm(root, { recursive: true, force: true });
    },
  };
}

/** Builds localhost/busybox-base: FROM scratch, the static busybox, its applets installed as symlinks. */
export async function buildBusyboxBase(t: TestRoot, name = 'busybox-base'): Promise<void> {
  const context = await makeContext({
    Containerfile: [
      'FROM scratch',
      'COPY busybox /bin/busybox',
      'RUN ["/bin/busybox", "--install", "-s", "/bin"]',
      'RUN ["/bin/mkdir", "-p", "/etc", "/tmp", "/root"]',
      'RUN ["/bin/sh", "-c", "echo root:x:0:0:root:/root:/bin/sh > /etc/passwd && echo root:x:0: > /etc/group && chmod 1777 /tmp"]',
      'CMD ["/bin/sh"]',
    ].join('\n'),
  });
  try {
    await copyFile(BUSYBOX, path.join(context, 'busybox'));
    await t.ok(['bud', '-q', '-t', name, context]);
  } finally {
    await rm(context, { recursive: true, force: true });
  }
}

/** Writes a build context from a map of relative paths to contents; returns its directory. */
export async function makeContext(files: Record<string, string | Buffer>): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-ctx-'));
  for (const [rel, content] of Object.entries(files)) {
    const file = path.join(dir, rel);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, content);
  }
  return dir;
}

/** Mount points under `dir` still mounted (a test that leaves any leaks mounts). */
export async function mountsUnder(dir: string): Promise<string[]> {
  const text = await readFile('/proc/self/mounts', 'utf8');
  return text
    .split('\n')
    .map((line) => line.split(' ')[1] ?? '')
    .filter((target) => target.startsWith(dir));
}

async function unmountUnder(dir: string): Promise<void> {
  for (const target of (await mountsUnder(dir)).reverse()) {
    try {
      execFileSync('umount', ['-l', target]);
    } catch {
      // Already gone.
    }
  }
}
