// Fixtures for the runtime tests: a temp dir with a busybox root filesystem, an optional overlay
// mount on top of it, output collectors, and cleanup that runs even when a test fails.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, copyFile, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { silentLogger } from '../../../src/log.js';
import { createRuncRuntime, type ContainerRuntime } from '../../../src/runtime/runc.js';
import { generateSpec, type SpecOptions } from '../../../src/runtime/spec.js';

export const BUSYBOX = '/bin/busybox';
export const RUNC = '/usr/sbin/runc';

export interface Fixture {
  dir: string;
  rootfs: string;
  stateRoot: string;
  bundle: string;
  runtime: ContainerRuntime;
  /** Unique container ids; every one handed out is force-deleted at cleanup. */
  newId(): string;
  /** Mounts an overlay with `lower` as its only lower dir; returns the merged dir. Unmounted at cleanup. */
  overlay(lower: string): Promise<{ merged: string; upper: string }>;
  cleanup(): Promise<void>;
}

let applets: string[] | undefined;

// Tests shell out with execFileSync and stdin ignored: src/util/exec.ts pipes an empty stdin to
// every child, which can raise an unhandled EPIPE when the child exits at once (busybox true).
function sh(argv: string[]): string {
  return execFileSync(argv[0]!, argv.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Fails loudly (no skipping) when runc or busybox is missing. */
export function requireTools(): void {
  sh([RUNC, '--version']);
  sh([BUSYBOX, 'true']);
}

export async function createFixture(): Promise<Fixture> {
  const dir = await mkdtemp(path.join(tmpdir(), 'tsbuild-runtime-'));
  const rootfs = path.join(dir, 'rootfs');
  const stateRoot = path.join(dir, 'state');
  const bundle = path.join(dir, 'bundle');
  await makeBusyboxRootfs(rootfs);
  const ids: string[] = [];
  const mounts: string[] = [];
  const runtime = createRuncRuntime({ binary: RUNC, stateRoot, logger: silentLogger() });
  return {
    dir,
    rootfs,
    stateRoot,
    bundle,
    runtime,
    newId() {
      const id = `tsbuild-test-${randomBytes(5).toString('hex')}`;
      ids.push(id);
      return id;
    },
    async overlay(lower) {
      const base = path.join(dir, `ovl-${mounts.length}`);
      const upper = path.join(base, 'upper');
      const work = path.join(base, 'work');
      const merged = path.join(base, 'merged');
      await Promise.all([upper, work, merged].map((d) => mkdir(d, { recursive: true })));
      sh(['mount', '-t', 'overlay', 'overlay', '-o', `lowerdir=${lower},upperdir=${upper},workdir=${work}`, merged]);
      mounts.push(merged);
      return { merged, upper };
    },
    async cleanup() {
      const errors: unknown[] = [];
      for (const id of ids) await runtime.delete(id).catch((err: unknown) => errors.push(err));
      for (const m of mounts.reverse()) {
        try {
          sh(['umount', m]);
        } catch (err) {
          errors.push(err);
        }
      }
      await rm(dir, { recursive: true, force: true });
      if (errors.length > 0) throw new AggregateError(errors, 'runtime fixture cleanup failed');
    },
  };
}

/** bin/busybox plus a relative symlink per applet, and an empty etc/. */
export async function makeBusyboxRootfs(rootfs: string): Promise<void> {
  await mkdir(path.join(rootfs, 'bin'), { recursive: true });
  await mkdir(path.join(rootfs, 'etc'), { recursive: true });
  await copyFile(BUSYBOX, path.join(rootfs, 'bin', 'busybox'));
  await chmod(path.join(rootfs, 'bin', 'busybox'), 0o755);
  applets ??= sh([BUSYBOX, '--list']).split('\n').filter((a) => a !== '' && a !== 'busybox');
  await Promise.all(applets.map((a) => symlink('busybox', path.join(rootfs, 'bin', a))));
}

export async function writeEtc(rootfs: string, files: Record<string, string>): Promise<void> {
  for (const [name, content] of Object.entries(files)) await writeFile(path.join(rootfs, 'etc', name), content);
}

/** A writable that keeps everything written to it. */
export class Collector extends Writable {
  private chunks: Buffer[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    this.chunks.push(chunk);
    done();
  }
  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

export const ROOT = { uid: 0, gid: 0, additionalGids: [] as number[] };

/** Spec options for a shell command in the fixture's rootfs; `overrides` replace any field. */
export function shellSpec(rootfs: string, script: string, overrides: Partial<SpecOptions> = {}): ReturnType<typeof generateSpec> {
  return generateSpec({
    rootfs,
    args: ['/bin/sh', '-c', script],
    env: ['PATH=/bin'],
    cwd: '/',
    user: ROOT,
    hostname: 'tsbuild-test',
    terminal: false,
    network: 'none',
    ...overrides,
  });
}

/** Runs a spec to completion and returns the exit code with the collected output. */
export async function runCollect(
  fx: Fixture,
  spec: ReturnType<typeof generateSpec>,
  signal?: AbortSignal,
): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const stdout = new Collector();
  const stderr = new Collector();
  const exitCode = await fx.runtime.run(fx.newId(), fx.bundle, spec, { stdout, stderr }, signal);
  return { exitCode, stdout: stdout.text(), stderr: stderr.text() };
}

export function runcList(stateRoot: string): string[] {
  return sh([RUNC, '--root', stateRoot, 'list', '--quiet']).split('\n').filter((l) => l.trim() !== '');
}
