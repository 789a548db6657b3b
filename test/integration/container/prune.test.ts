// container prune: removes created and exited containers (and prints their IDs), keeps running ones
// and buildah-style working containers, and asks first without -f.
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mountsUnder, type TestRoot } from '../../helpers/tsbuild.js';
import { runDetached, setupContainers, teardownContainers } from './execcp-helpers.js';

let t: TestRoot;

beforeAll(async () => {
  t = await setupContainers();
}, 120_000);

afterAll(async () => {
  await teardownContainers(t);
});

const names = async (): Promise<string[]> =>
  (await t.ok(['ps', '-a', '--format', '{{.Names}}'])).stdout.split('\n').filter((l) => l !== '').sort();

describe('container prune', () => {
  it('removes exited and created containers, keeps running ones, and asks first without -f', async () => {
    const running = await runDetached(t, 'running');
    const exited = await runDetached(t, 'exited', ['sh', '-c', 'exit 3']);
    await t.ok(['wait', 'exited']).catch(() => undefined);
    const created = (await t.ok(['create', '--name', 'created', '--network', 'none', 'busybox-base', 'true'])).stdout.trim();
    expect(await names()).toEqual(['created', 'exited', 'running']);

    const declined = await t.ok(['container', 'prune'], { input: 'n\n' });
    expect(declined.stdout).toBe('');
    expect(declined.stderr).toContain('Are you sure you want to continue?');
    expect(await names()).toEqual(['created', 'exited', 'running']);

    const r = await t.ok(['container', 'prune', '-f']);
    expect(r.stdout.split('\n').filter((l) => l !== '').sort()).toEqual([created, exited].sort());
    expect(await names()).toEqual(['running']);
    expect((await readdir(path.join(t.root, 'containers'))).filter((d) => /^[a-f0-9]{64}$/.test(d))).toEqual([running]);
    expect((await t.ok(['exec', 'running', 'echo', 'alive'])).stdout).toBe('alive\n');

    // Nothing left to prune: no output, success.
    expect((await t.ok(['container', 'prune', '-f'])).stdout).toBe('');
    await t.ok(['rm', '-f', 'running']);
    expect(await mountsUnder(path.join(t.root, 'containers'))).toEqual([]);
  });

  it('accepts y at the prompt', async () => {
    const id = (await t.ok(['create', '--name', 'again', '--network', 'none', 'busybox-base', 'true'])).stdout.trim();
    const r = await t.ok(['container', 'prune'], { input: 'y\n' });
    expect(r.stdout).toBe(`${id}\n`);
    expect(await names()).toEqual([]);
  });
});
