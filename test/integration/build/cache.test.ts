// The build cache as a user meets it: which steps say "--> Using cache" on a rebuild, that an
// unchanged rebuild gives the same image ID, and what invalidates a step (a changed context file,
// a changed build arg) and what does not (a touched file).
import { utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Contexts, budOk, setupRoot, sh, steps, teardownRoot, type TestRoot } from './helpers.js';

const CONTAINERFILE = [
  'FROM busybox-base',
  'RUN echo base-step > /base.txt',
  'COPY a.txt /a.txt',
  'RUN cat /a.txt > /a-copy.txt',
  'ARG FLAVOR=plain',
  'RUN echo "flavor $FLAVOR" > /flavor.txt',
  'COPY b.txt /b.txt',
  'RUN cat /b.txt > /b-copy.txt',
  'ENV X=1',
].join('\n');

// The steps that can hit the cache, in order.
const CACHEABLE = [
  'RUN echo base-step > /base.txt',
  'COPY a.txt /a.txt',
  'RUN cat /a.txt > /a-copy.txt',
  'RUN echo "flavor $FLAVOR" > /flavor.txt',
  'COPY b.txt /b.txt',
  'RUN cat /b.txt > /b-copy.txt',
];

let t: TestRoot;
const contexts = new Contexts();
let ctx: string;

/** Builds the context; returns the image ID and, for each cacheable step, whether it used the cache. */
async function build(args: string[] = []): Promise<{ id: string; cached: boolean[] }> {
  const result = await budOk(t, ctx, ['-t', 'cached', ...args]);
  const reported = steps(result.stdout);
  const cached = CACHEABLE.map((text) => {
    const step = reported.find((s) => s.text === text);
    if (!step) throw new Error(`no STEP line for ${text} in:\n${result.stdout}`);
    return step.cached;
  });
  // The last stdout line is the full image ID.
  const id = result.stdout.trimEnd().split('\n').pop()!;
  expect(id).toMatch(/^[a-f0-9]{64}$/);
  return { id, cached };
}

const all = (v: boolean): boolean[] => CACHEABLE.map(() => v);

let firstId: string;

beforeAll(async () => {
  t = await setupRoot();
  ctx = await contexts.make({ Containerfile: CONTAINERFILE, 'a.txt': 'a1\n', 'b.txt': 'b1\n' });
  const first = await build();
  expect(first.cached).toEqual(all(false));
  firstId = first.id;
});

afterAll(async () => {
  await contexts.cleanup();
  await teardownRoot(t);
});

describe('build cache', () => {
  it('uses the cache for every RUN and COPY of an unchanged rebuild and gives the same image ID', async () => {
    const again = await build();
    expect(again.cached).toEqual(all(true));
    expect(again.id).toBe(firstId);
  });

  it('still uses the cache when a context file only has a new mtime', async () => {
    const future = new Date(Date.now() + 3600_000);
    await utimes(path.join(ctx, 'a.txt'), future, future);
    await utimes(path.join(ctx, 'b.txt'), future, future);
    const touched = await build();
    expect(touched.cached).toEqual(all(true));
    expect(touched.id).toBe(firstId);
  });

  it('re-runs only the steps from the COPY of a changed file on', async () => {
    await writeFile(path.join(ctx, 'b.txt'), 'b2\n');
    const changed = await build();
    expect(changed.cached).toEqual([true, true, true, true, false, false]);
    expect(changed.id).not.toBe(firstId);
    expect(await sh(t, 'cached', 'cat /b-copy.txt /a-copy.txt')).toBe('b2\na1\n');

    await writeFile(path.join(ctx, 'a.txt'), 'a2\n');
    const changedA = await build();
    expect(changedA.cached).toEqual([true, false, false, false, false, false]);
    expect(await sh(t, 'cached', 'cat /a-copy.txt')).toBe('a2\n');
  });

  it('re-runs a RUN when a --build-arg it sees changes, and reuses the cache for the same value', async () => {
    const fancy = await build(['--build-arg', 'FLAVOR=fancy']);
    expect(fancy.cached).toEqual([true, true, true, false, false, false]);
    expect(await sh(t, 'cached', 'cat /flavor.txt')).toBe('flavor fancy\n');
    const again = await build(['--build-arg', 'FLAVOR=fancy']);
    expect(again.cached).toEqual(all(true));
    expect(again.id).toBe(fancy.id);
  });

  it('re-runs every step with --no-cache and with --layers=false, without spoiling the cache', async () => {
    const before = await build();
    expect(before.cached).toEqual(all(true));
    const noCache = await build(['--no-cache']);
    expect(noCache.cached).toEqual(all(false));
    const noLayers = await build(['--layers=false']);
    expect(noLayers.cached).toEqual(all(false));
    const after = await build();
    expect(after.cached).toEqual(all(true));
  });

  it('reuses the cache for the common prefix of a different Containerfile', async () => {
    const other = await contexts.make({
      Containerfile: `${CONTAINERFILE.split('\n').slice(0, 4).join('\n')}\nRUN echo new-step > /new.txt\n`,
      'a.txt': 'a2\n',
    });
    const result = await budOk(t, other, ['-t', 'prefix']);
    expect(steps(result.stdout).map((s) => s.cached)).toEqual([false, true, true, true, false]);
  });

  it('lets two builds of one Containerfile run at once on one root', async () => {
    const shared = await contexts.make({ Containerfile: `FROM busybox-base\nRUN echo parallel-${Date.now()} > /p.txt\nCOPY a.txt /a.txt\n`, 'a.txt': 'a\n' });
    const [one, two] = await Promise.all([t.run(['bud', '-q', '-t', 'par-one', shared]), t.run(['bud', '-q', '-t', 'par-two', shared])]);
    expect(one.code, one.stderr).toBe(0);
    expect(two.code, two.stderr).toBe(0);
    expect(await sh(t, 'par-one', 'cat /a.txt')).toBe('a\n');
    expect(await sh(t, 'par-two', 'cat /a.txt')).toBe('a\n');
  });
});
