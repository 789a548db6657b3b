// Fixtures for the monitor tests: a busybox root filesystem in a plain directory (runc bind-mounts
// it onto itself, so no overlay is needed), one bundle per container, and clean-up of every runc
// container and monitor a test started, even when it failed.
import { execFileSync } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { generateSpec } from '../../../src/runtime/spec.js';
import type { MonitorSpec } from '../../../src/container/monitor.js';
import { processAlive } from '../../../src/store/lock.js';
import { BUSYBOX } from '../../helpers/tsbuild.js';

export interface MonitorFixture {
  dir: string;
  rootfs: string;
  runcRoot: string;
  /** A bundle for `args` and the MonitorSpec for it (files in dir/<name>/). */
  container(name: string, args: string[], fields?: Partial<MonitorSpec> & { terminal?: boolean }): Promise<MonitorSpec>;
  /** Remember a monitor pid to kill at clean-up. */
  track(pid: number): void;
  cleanup(): Promise<void>;
}

export async function createMonitorFixture(): Promise<MonitorFixture> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-monitor-test-'));
  const rootfs = path.join(dir, 'rootfs');
  const runcRoot = path.join(dir, 'runc');
  await mkdir(path.join(rootfs, 'bin'), { recursive: true });
  await copyFile(BUSYBOX, path.join(rootfs, 'bin', 'busybox'));
  const applets = execFileSync(BUSYBOX, ['--list'], { encoding: 'utf8' }).split('\n').filter((a) => /^[\w.[-]+$/.test(a) && a !== 'busybox');
  await Promise.all(applets.map((a) => symlink('busybox', path.join(rootfs, 'bin', a))));
  const pids: number[] = [];
  const ids: string[] = [];

  return {
    dir,
    rootfs,
    runcRoot,
    async container(name, args, fields = {}) {
      const cdir = path.join(dir, name);
      const bundle = path.join(cdir, 'bundle');
      await mkdir(bundle, { recursive: true });
      const spec = generateSpec({
        rootfs,
        args,
        env: ['PATH=/bin', 'HOME=/'],
        cwd: '/',
        user: { uid: 0, gid: 0, additionalGids: [] },
        hostname: name,
        terminal: fields.terminal ?? false,
        network: 'host',
      });
      await writeFile(path.join(bundle, 'config.json'), JSON.stringify(spec));
      const id = `mon-${name}-${process.pid}`;
      ids.push(id);
      return {
        id,
        bundle,
        runcRoot,
        logFile: path.join(cdir, 'ctr.log'),
        logMaxBytes: 0,
        stateFile: path.join(cdir, 'monitor.json'),
        exitFile: path.join(cdir, 'exit.json'),
        stopFlagFile: path.join(cdir, 'stop-requested'),
        stdin: 'null',
        terminal: false,
        attach: false,
        restart: { name: 'no', maximumRetryCount: 0 },
        exitCommand: [],
        ...fields,
      };
    },
    track(pid) {
      pids.push(pid);
    },
    async cleanup() {
      for (const pid of pids) {
        if (processAlive(pid)) process.kill(pid, 'SIGKILL');
      }
      for (const id of ids) {
        try {
          execFileSync('runc', ['--root', runcRoot, 'delete', '--force', id], { stdio: 'ignore' });
        } catch {
          // not there: fine
        }
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export async function readJsonLines(file: string): Promise<{ log: string; stream: string; time: string }[]> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as { log: string; stream: string; time: string });
}

export function runcList(runcRoot: string): string {
  try {
    return execFileSync('runc', ['--root', runcRoot, 'list', '-q'], { encoding: 'utf8' });
  } catch {
    return '';
  }
}
