// Shared set-up of the exec/cp/top/prune tests: a private root with the busybox base image, and a
// teardown that removes every container (killing running ones), runc leftovers and mounts, even
// when a test failed half-way.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { buildBusyboxBase, createTestRoot, type TestRoot } from '../../helpers/tsbuild.js';

export async function setupContainers(): Promise<TestRoot> {
  const t = await createTestRoot();
  await buildBusyboxBase(t);
  return t;
}

export async function teardownContainers(t: TestRoot | undefined): Promise<void> {
  if (!t) return;
  await t.run(['rm', '-a', '-f']).catch(() => undefined);
  const runcRoot = path.join(t.root, 'runc');
  let ids: string[] = [];
  try {
    ids = execFileSync('runc', ['--root', runcRoot, 'list', '-q'], { encoding: 'utf8' }).split('\n').filter((l) => l !== '');
  } catch {
    // No runc state dir: nothing was started.
  }
  for (const id of ids) {
    try {
      execFileSync('runc', ['--root', runcRoot, 'delete', '--force', id], { stdio: 'ignore' });
    } catch {
      // Gone meanwhile.
    }
  }
  await t.cleanup();
}

/** `run -d` a busybox container without a network (fast, no CNI); returns its ID. */
export async function runDetached(t: TestRoot, name: string, command: string[] = ['sleep', '300'], flags: string[] = []): Promise<string> {
  const r = await t.ok(['run', '-d', '--name', name, '--network', 'none', ...flags, 'busybox-base', ...command]);
  return r.stdout.trim();
}
