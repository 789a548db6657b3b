// Stages that do not read each other build at once (--jobs, default: every ready stage), a stage starts
// only once the stages it reads are done, output stays whole lines prefixed with the stage, and a
// failing stage stops the others: nothing tagged, nothing left mounted.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildahAvailable, buildBoth, comparableTree } from '../../helpers/buildah.js';
import { startRegistry, startRegistryProxy } from '../../helpers/registry.js';
import { Contexts, bud, budOk, imageNames, setupRoot, sh, teardownRoot, type TestRoot } from './helpers.js';

let t: TestRoot;
const contexts = new Contexts();

beforeAll(async () => {
  t = await setupRoot();
});

afterAll(async () => {
  await contexts.cleanup();
  await teardownRoot(t);
});

// Each stage records when its RUN started and ended (host uptime: /proc/uptime is not namespaced),
// so the test proves overlap from the stages' own markers rather than from wall time.
const mark = (name: string) => `RUN echo "${name} starts" && cut -d" " -f1 /proc/uptime > /start && sleep 2 && cut -d" " -f1 /proc/uptime > /end && echo "${name} ends"`;
const TWO_STAGES = (salt: string) =>
  [
    'FROM busybox-base AS a',
    `RUN echo ${salt}-a`,
    mark('a'),
    'FROM busybox-base AS b',
    `RUN echo ${salt}-b`,
    mark('b'),
    'FROM busybox-base',
    'COPY --from=a /start /a.start',
    'COPY --from=a /end /a.end',
    'COPY --from=b /start /b.start',
    'COPY --from=b /end /b.end',
  ].join('\n');

async function intervals(image: string): Promise<{ a: [number, number]; b: [number, number] }> {
  const [as, ae, bs, be] = (await sh(t, image, 'cat /a.start /a.end /b.start /b.end')).trim().split('\n').map(Number) as [number, number, number, number];
  return { a: [as, ae], b: [bs, be] };
}

describe('--jobs', () => {
  it('runs independent stages at once with --jobs 2, with every line prefixed by its stage', async () => {
    const ctx = await contexts.make({ Containerfile: TWO_STAGES('parallel') });
    const result = await budOk(t, ctx, ['--jobs', '2', '-t', 'parallel']);
    const { a, b } = await intervals('parallel');
    expect(a[0] < b[1] && b[0] < a[1], `a ${a} and b ${b} overlap`).toBe(true);
    const lines = result.stdout.trim().split('\n');
    const stageLines = lines.slice(0, lines.findIndex((l) => l.startsWith('[2] STEP')));
    for (const line of stageLines) expect(line).toMatch(/^\[(a|b)\] /);
    expect(lines).toContain('[a] a starts');
    expect(lines).toContain('[b] b ends');
    expect(result.stdout).toMatch(/\[2\] STEP 11\/11: COPY --from=b \/end \/b.end/);
  });

  it('runs every ready stage at once without --jobs, more stages than cores included', async () => {
    const names = ['x', 'y', 'z'];
    const ctx = await contexts.make({
      Containerfile: [
        ...names.flatMap((n) => [`FROM busybox-base AS ${n}`, 'RUN echo default-jobs', mark(n)]),
        'FROM busybox-base',
        ...names.map((n) => `COPY --from=${n} /start /${n}.start`),
        ...names.map((n) => `COPY --from=${n} /end /${n}.end`),
      ].join('\n'),
    });
    await budOk(t, ctx, ['-t', 'default-jobs']);
    const [xs, ys, zs, xe, ye, ze] = (await sh(t, 'default-jobs', 'cat /x.start /y.start /z.start /x.end /y.end /z.end')).trim().split('\n').map(Number) as number[];
    // All three started before any of them ended: a limit of 2 (this machine's cores) would fail this.
    expect(Math.max(xs!, ys!, zs!), `starts ${[xs, ys, zs]} ends ${[xe, ye, ze]}`).toBeLessThan(Math.min(xe!, ye!, ze!));
  });

  it('runs them one after another with --jobs 1, in Containerfile order', async () => {
    const ctx = await contexts.make({ Containerfile: TWO_STAGES('sequential') });
    await budOk(t, ctx, ['--jobs', '1', '-t', 'sequential']);
    const { a, b } = await intervals('sequential');
    expect(a[1] <= b[0], `a ${a} ends before b ${b} starts`).toBe(true);
  });

  it('starts a stage only when the stages it reads are done', async () => {
    const ctx = await contexts.make({
      Containerfile: [
        'FROM busybox-base AS slow',
        mark('slow'),
        'FROM slow AS child',
        'RUN cut -d" " -f1 /proc/uptime > /child.start',
        'FROM busybox-base AS reader',
        'COPY --from=slow /end /slow.end',
        'RUN cut -d" " -f1 /proc/uptime > /reader.start',
        'FROM busybox-base',
        'COPY --from=child /end /child.start /',
        'COPY --from=reader /slow.end /reader.start /',
      ].join('\n'),
    });
    await budOk(t, ctx, ['--jobs', '3', '-t', 'ordered']);
    const [end, child, reader] = (await sh(t, 'ordered', 'cat /end /child.start /reader.start')).trim().split('\n').map(Number) as [number, number, number];
    expect(child).toBeGreaterThanOrEqual(end);
    expect(reader).toBeGreaterThanOrEqual(end);
  });

  it('a failing stage stops the others: the error names its line, nothing is tagged or left mounted', async () => {
    const ctx = await contexts.make({
      Containerfile: ['FROM busybox-base AS slow', 'RUN sleep 30', 'FROM busybox-base AS broken', 'RUN sleep 0.5 && exit 3', 'FROM busybox-base', 'COPY --from=slow /etc/passwd /a', 'COPY --from=broken /etc/passwd /b'].join('\n'),
    });
    const started = Date.now();
    const result = await bud(t, ctx, ['--jobs', '2', '-t', 'never-tagged']);
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain(`Error: ${ctx}/Containerfile:4: RUN exited with status 3: RUN sleep 0.5 && exit 3`);
    expect(result.stderr).not.toContain('    at ');
    expect(await imageNames(t)).not.toContain('localhost/never-tagged:latest');
    // teardownRoot fails the file if any mount is left under the root.
  });

  it('two stages on one registry image share one pull (the registry sees the requests of a single pull)', async () => {
    const registry = await startRegistry();
    const proxy = await startRegistryProxy(registry);
    try {
      const ref = `${proxy.host}/test/shared-base:1`;
      await t.ok(['push', '--tls-verify=false', 'busybox-base', ref]);
      const pullArgs = ['--pull=always', '--tls-verify=false', '--jobs', '2'];
      const gets = () => proxy.stats().requests.filter((r) => r.method === 'GET' && r.status === 200).map((r) => r.path);
      proxy.reset();
      await budOk(t, await contexts.make({ Containerfile: `FROM ${ref}\nRUN echo one\n` }), pullArgs);
      const single = gets().sort();
      proxy.reset();
      const ctx = await contexts.make({
        Containerfile: [`FROM ${ref} AS a`, 'RUN echo a > /a', `FROM ${ref} AS b`, 'RUN echo b > /b', 'FROM busybox-base', 'COPY --from=a /a /a', 'COPY --from=b /b /b'].join('\n'),
      });
      await budOk(t, ctx, pullArgs);
      expect(single.length).toBeGreaterThan(0);
      expect(gets().sort()).toEqual(single);
    } finally {
      await proxy.stop();
      await registry.stop();
    }
  });

  it('rejects a negative --jobs', async () => {
    const ctx = await contexts.make({ Containerfile: 'FROM busybox-base\n' });
    const result = await bud(t, ctx, ['--jobs', '-1']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('--jobs -1: expected a whole number (0: no limit)');
  });
});

describe.runIf(buildahAvailable() || process.env.CI === 'true')('side by side with buildah', () => {
  it('--jobs 2 builds the same image as buildah --jobs 2', async () => {
    const ctx = await contexts.make({
      Containerfile: [
        'FROM busybox-base AS a',
        'RUN mkdir /out && echo a > /out/a.txt',
        'FROM busybox-base AS b',
        'RUN mkdir /out && echo b > /out/b.txt && chmod 600 /out/b.txt',
        'FROM busybox-base',
        'COPY --from=a /out/ /out/',
        'COPY --from=b /out/ /out/',
        'CMD ["cat", "/out/a.txt"]',
      ].join('\n'),
    });
    const { tsbuild, buildah } = await buildBoth(ctx, ['--jobs', '2'], t, 'localhost/compare-jobs');
    expect(tsbuild.config.config.Cmd).toEqual(buildah.config.config.Cmd);
    expect(comparableTree(tsbuild)).toEqual(comparableTree(buildah));
  });
});
