// A tsbuild process killed with SIGKILL leaves a running runc container, its overlay mount and temp
// files behind. The next tsbuild command must clean all of it up and report the container exited.
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, buildBusyboxBase, createTestRoot, makeContext, mountsUnder, type TestRoot } from '../../helpers/tsbuild.js';

let t: TestRoot;

beforeAll(async () => {
  t = await createTestRoot();
  await buildBusyboxBase(t);
});

afterAll(async () => {
  await t.cleanup();
});

/** Starts tsbuild, waits for `marker` on its stdout, then SIGKILLs tsbuild itself (not its children). */
async function killAfter(args: string[], marker: string): Promise<void> {
  const child = spawn(BIN, ['--root', t.root, ...args], { stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes(marker)) resolve();
    });
    child.once('exit', () => reject(new Error(`tsbuild ended before printing ${marker}: ${out}`)));
  });
  child.kill('SIGKILL');
  await once(child, 'exit');
  // The container still holds the other end of this pipe until recovery kills it.
  child.stdout.destroy();
}

function runcContainers(): string {
  return execFileSync('runc', ['--root', path.join(t.root, 'runc'), 'list', '-q'], { encoding: 'utf8' });
}

describe('recovery after tsbuild is killed', () => {
  it('reports a foreground container whose tsbuild was killed as exited, and deletes it from runc and unmounts it', async () => {
    await killAfter(['run', '--name', 'orphan', 'busybox-base', 'sh', '-c', 'echo started; exec sleep 60'], 'started');
    expect(runcContainers()).not.toBe('');

    const inspect = await t.ok(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'orphan']);
    expect(inspect.stdout).toBe('exited 137\n');
    expect(runcContainers()).toBe('');
    expect(await mountsUnder(t.root)).toEqual([]);
    await t.ok(['rm', 'orphan']);
  });

  it('removes the container, mount and temp files of a build killed during RUN, and tags nothing', async () => {
    // The marker appears only in the command's output, not in the STEP line that echoes it.
    const context = await makeContext({ Containerfile: 'FROM busybox-base\nRUN echo run-$((1+1))-began; sleep 60\n' });
    await killAfter(['bud', '-t', 'killed', context], 'run-2-began');
    expect(runcContainers()).not.toBe('');

    const images = await t.ok(['images']);
    expect(images.stdout).not.toContain('killed');
    expect(runcContainers()).toBe('');
    expect(await mountsUnder(t.root)).toEqual([]);
    expect(await readdir(path.join(t.root, 'tmp'))).toEqual([]);
    await rm(context, { recursive: true, force: true });
  });
});
