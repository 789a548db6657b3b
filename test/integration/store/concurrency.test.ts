// Concurrency on one root: four builds at once sharing a base image and cache (two of them the same
// Containerfile), with an rmi, a `system prune -a` and a `builder prune -a` started while they run,
// and two pulls of one image from a real registry at the same time. Every command succeeds or fails
// cleanly with one error line; every build's image runs with the right content (unless a prune that
// ended after the build legitimately removed it); the store is consistent afterwards and no lease
// is left. Several rounds, each starting the disruptions at a different point of the builds.
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRegistry, type TestRegistry } from '../../helpers/registry.js';
import { Contexts, budOk, setupRoot, sh, startCli, teardownRoot, type CliResult, type TestRoot } from '../build/helpers.js';
import { images, storeProblems } from './store-files.js';

const ROUNDS = 3;
const contexts = new Contexts();
let t: TestRoot;
let reg: TestRegistry;
let pulled: string;

beforeAll(async () => {
  t = await setupRoot();
  reg = await startRegistry();
  // A running container keeps the base image in use, so `system prune -a` leaves it to later rounds.
  await t.ok(['run', '-d', '--name', 'keeper', '--network', 'none', 'busybox-base', 'sleep', '3600']);
  // The pulled image has a layer of its own that the local store lacks, so every pull downloads it.
  const src = await contexts.make({ Containerfile: 'FROM busybox-base\nRUN dd if=/dev/urandom of=/r bs=1k count=256 2>/dev/null\n' });
  await budOk(t, src, ['-q', '-t', 'pullsrc']);
  pulled = `${reg.host}/pulled:1`;
  await t.ok(['push', '--tls-verify=false', 'pullsrc', pulled]);
  await t.ok(['rmi', 'pullsrc']);
  await t.ok(['builder', 'prune', '-a']);
}, 180_000);

afterAll(async () => {
  await t?.run(['rm', '-f', 'keeper']);
  await reg?.stop();
  await teardownRoot(t);
  await contexts.cleanup();
});

interface Outcome {
  what: string;
  result: CliResult;
  /** When the process ended (ms): a prune that ended later may have removed what it made. */
  ended: number;
}

async function track(what: string, exited: Promise<CliResult>): Promise<Outcome> {
  const result = await exited;
  return { what, result, ended: Date.now() };
}

/** Success, or a clean failure: exactly one `Error:` line, no stack trace. */
function expectClean(o: Outcome): boolean {
  if (o.result.code === 0) return true;
  const errors = o.result.stderr.split('\n').filter((l) => l.startsWith('Error: '));
  expect(errors, `${o.what} failed without one error line:\n${o.result.stderr}`).toHaveLength(1);
  expect(o.result.stderr, `${o.what} printed a stack trace`).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
  return false;
}

const SHARED_STEP = 'RUN echo same > /same && dd if=/dev/zero of=/pad bs=1k count=64 2>/dev/null';

function containerfiles(round: number): Record<string, { lines: string[]; files?: Record<string, string>; check: [string, string] }> {
  const same = { lines: ['FROM busybox-base', SHARED_STEP, 'RUN echo second >> /same'], check: ['cat /same', 'same\nsecond\n'] as [string, string] };
  return {
    [`same1-${round}`]: same,
    [`same2-${round}`]: same,
    [`copy-${round}`]: {
      lines: ['FROM busybox-base', `RUN echo a${round} > /f`, 'COPY data /data', 'RUN cat /data >> /f'],
      files: { data: `data of round ${round}\n` },
      check: ['cat /f', `a${round}\ndata of round ${round}\n`],
    },
    [`shared-${round}`]: { lines: ['FROM busybox-base', SHARED_STEP, `RUN echo b${round} >> /same`], check: ['cat /same', `same\nb${round}\n`] },
  };
}

describe('concurrent builds, prunes, rmi and pulls on one root', () => {
  for (let round = 0; round < ROUNDS; round++) {
    it(`round ${round + 1}: every command succeeds or fails cleanly and the store stays consistent`, async () => {
      const builds = containerfiles(round);
      const started: { tag: string; cli: ReturnType<typeof startCli> }[] = [];
      for (const [tag, spec] of Object.entries(builds)) {
        const dir = await contexts.make({ Containerfile: spec.lines.join('\n'), ...spec.files });
        started.push({ tag, cli: startCli(t, ['bud', '-t', tag, dir]) });
      }
      // Round 1 disrupts at once, round 2 once a build has reached its second step, round 3 its third.
      if (round > 0) await started[2]!.cli.waitForOutput(`STEP ${round + 1}/`).catch(() => undefined);
      const disruptions: Promise<Outcome>[] = [
        track('rmi', startCli(t, ['rmi', round === 0 ? 'no-such-image' : `copy-${round - 1}`]).exited),
        track('system prune -a', startCli(t, ['system', 'prune', '-a', '-f']).exited),
        track('builder prune -a', startCli(t, ['builder', 'prune', '-a', '-f']).exited),
        track('pull 1', startCli(t, ['pull', '-q', '--tls-verify=false', pulled]).exited),
        track('pull 2', startCli(t, ['pull', '-q', '--tls-verify=false', pulled]).exited),
      ];
      const buildOutcomes = await Promise.all(started.map(({ tag, cli }) => track(`bud -t ${tag}`, cli.exited)));
      const others = await Promise.all(disruptions);

      for (const o of [...buildOutcomes, ...others]) expectClean(o);
      // Builds hold leases on what they use: none may fail because of the prunes.
      for (const o of buildOutcomes) expect(o.result.code, `${o.what}:\n${o.result.stderr}`).toBe(0);
      expect(others.find((o) => o.what === 'pull 1')!.result.code).toBe(0);
      expect(others.find((o) => o.what === 'pull 2')!.result.code).toBe(0);
      for (const what of ['system prune -a', 'builder prune -a']) {
        const o = others.find((x) => x.what === what)!;
        expect(o.result.code, `${what}:\n${o.result.stderr}`).toBe(0);
        expect(o.result.stdout).toMatch(/Total reclaimed space: [\d.]+ [kMG]?B\n$/);
      }
      if (round > 0) expect(others[0]!.result.code === 0 || /^Error: image "copy-\d+" not found/m.test(others[0]!.result.stderr)).toBe(true);

      expect(await storeProblems(t)).toEqual([]);
      expect(await readdir(path.join(t.root, 'leases')).catch(() => [])).toEqual([]);
      const pruneEnded = others.find((o) => o.what === 'system prune -a')!.ended;
      const present = new Set((await images(t.root)).flatMap((i) => i.names));
      for (const [i, [tag, spec]] of Object.entries(builds).entries()) {
        const name = `localhost/${tag}:latest`;
        if (!present.has(name)) {
          // Only a prune that ended after the build may have removed its image.
          expect(buildOutcomes[i]!.ended, `${tag} is missing though the prune ended before the build`).toBeLessThan(pruneEnded);
          continue;
        }
        expect(await sh(t, tag, spec.check[0])).toBe(spec.check[1]);
      }
      if (present.has(pulled)) expect(await sh(t, pulled, 'wc -c < /r')).toBe(`${256 * 1024}\n`);
    }, 300_000);
  }

  it('afterwards the store still builds, from cache where it can, and prunes to the images in use', async () => {
    const dir = await contexts.make({ Containerfile: ['FROM busybox-base', SHARED_STEP, 'RUN echo final >> /same'].join('\n') });
    await budOk(t, dir, ['-t', 'final']);
    expect(await sh(t, 'final', 'cat /same')).toBe('same\nfinal\n');
    await t.ok(['system', 'prune', '-a', '-f']);
    expect((await images(t.root)).flatMap((i) => i.names)).toEqual(['localhost/busybox-base:latest']);
    expect(await storeProblems(t)).toEqual([]);
  });
});
