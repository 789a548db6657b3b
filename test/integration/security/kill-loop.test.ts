// Crash consistency: tsbuild is killed with SIGKILL at many points of bud (RUN, COPY, several
// layers), of a working container's copy and commit, of pull and push against a real registry, of
// rmi, run --rm, run -d and rm, and of tag. Only the tsbuild process is killed: runc and the
// containers it started are left orphaned, as after a real crash. After each kill `system check`
// (which runs start-up recovery first) must find the store consistent, the interrupted command
// must succeed when run again, and its result must be right.
//
// Each command is timed once, then killed at delays spread evenly over that duration, plus one very
// early (5 ms) and one very late. TSBUILD_KILL_POINTS sets the total number of kill points (default
// 56, of which at least 50 must land; of a larger count, 90%). A kill that comes after the command finished does not count as
// exercised; it is retried (up to three times) at the same fraction of the shorter duration just
// seen.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRegistry, type TestRegistry } from '../../helpers/registry.js';
import { BIN, buildBusyboxBase, createTestRoot, makeContext, mountsUnder, type CliResult, type TestRoot } from '../../helpers/tsbuild.js';
import { createEnv, type Env } from '../remote/helpers.js';

const TOTAL = Number(process.env.TSBUILD_KILL_POINTS ?? '') || 56;
/** On a loaded machine some commands beat even their retried kills; these many must land. */
const MIN_LANDED = Math.max(Math.min(50, TOTAL), Math.floor(TOTAL * 0.9));

let env: Env;
let registry: TestRegistry;
let t: TestRoot;
/** The root pulls go into; wiped before each pull so that every pull does all its work. */
let pullRoot: TestRoot;
let context: string;

/** What went wrong, over all points (reported together, so one run shows every inconsistency). */
const failures: string[] = [];
const exercised: Record<string, number> = {};
const attempted: Record<string, number> = {};
const timings: string[] = [];

interface Scenario {
  name: string;
  /** Share of the kill points. */
  weight: number;
  root: () => TestRoot;
  /** Untimed set-up before each run; returns what argv and verify need. */
  prepare: (n: number) => Promise<string>;
  argv: (prepared: string, n: number) => string[];
  /**
   * Whether the command still has work to do after a kill (rm and rmi of something already gone
   * fail, as podman's do, so they are re-run only while their object is there).
   */
  needsRerun?: (prepared: string) => Promise<boolean>;
  verify: (prepared: string, n: number, rerun: CliResult | undefined) => Promise<void>;
}

const run = (root: TestRoot, args: readonly string[]): Promise<CliResult> => root.run(args, { env: env.env });
async function ok(root: TestRoot, args: readonly string[]): Promise<CliResult> {
  const r = await run(root, args);
  if (r.code !== 0) throw new Error(`tsbuild ${args.join(' ')} exited ${r.code}\n${r.stdout}${r.stderr}`);
  return r;
}

/** Runs tsbuild, SIGKILLs it after `delayMs` unless it has ended; whether the kill landed, and the duration. */
async function killAt(root: TestRoot, args: readonly string[], delayMs: number): Promise<{ killed: boolean; ms: number; code: number | null }> {
  const started = Date.now();
  const child = spawn(BIN, ['--root', root.root, ...args], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env.env },
    stdio: 'ignore',
  });
  const exited = once(child, 'exit');
  const timer = delayMs === Infinity ? undefined : sleep(delayMs).then(() => (child.exitCode === null && child.signalCode === null ? child.kill('SIGKILL') : false));
  await exited;
  const killed = (await timer) === true && child.signalCode === 'SIGKILL';
  return { killed, ms: Date.now() - started, code: child.exitCode };
}

const imageNames = async (root: TestRoot): Promise<string> => (await ok(root, ['images'])).stdout;

async function wipePullRoot(): Promise<void> {
  await pullRoot.cleanup();
  pullRoot = await createTestRoot();
}

const scenarios: Scenario[] = [
  {
    name: 'bud (COPY, RUN, several layers)',
    weight: 11,
    root: () => t,
    prepare: async (n) => {
      // A new file content per run: every step after the COPY misses the cache and does its work.
      await writeFile(path.join(context, 'f'), `point-${n}\n`);
      return '';
    },
    argv: () => ['bud', '-q', '-t', 'k-bud', context],
    verify: async (_p, n) => {
      const out = await ok(t, ['run', '--rm', 'k-bud', 'cat', '/a', '/f', '/g']);
      expect(out.stdout).toBe(`a\npoint-${n}\npoint-${n}\n`);
    },
  },
  {
    name: 'copy into a working container',
    weight: 4,
    root: () => t,
    prepare: async () => (await ok(t, ['from', 'busybox-base'])).stdout.trim(),
    argv: (wc) => ['copy', wc, path.join(context, 'big'), '/big'],
    verify: async (wc) => {
      const out = await ok(t, ['wc', 'run', wc, '--', 'wc', '-c', '/big']);
      expect(out.stdout.trim()).toMatch(/^1048576 \/big$/);
      await ok(t, ['wc', 'rm', wc]);
    },
  },
  {
    name: 'commit of a working container',
    weight: 7,
    root: () => t,
    prepare: async (n) => {
      const wc = (await ok(t, ['from', 'busybox-base'])).stdout.trim();
      await writeFile(path.join(context, 'x'), `commit-${n}\n`);
      await ok(t, ['copy', wc, path.join(context, 'x'), '/x']);
      await ok(t, ['copy', wc, path.join(context, 'big'), '/big']);
      return wc;
    },
    argv: (wc) => ['commit', '-q', wc, 'k-commit'],
    verify: async (wc, n) => {
      expect((await ok(t, ['run', '--rm', 'k-commit', 'cat', '/x'])).stdout).toBe(`commit-${n}\n`);
      await ok(t, ['wc', 'rm', wc]);
    },
  },
  {
    name: 'pull',
    weight: 6,
    root: () => pullRoot,
    prepare: async () => {
      await wipePullRoot();
      return '';
    },
    argv: () => ['pull', '-q', '--tls-verify=false', `${registry.host}/kill/app:latest`],
    verify: async () => {
      expect((await ok(pullRoot, ['run', '--rm', `${registry.host}/kill/app:latest`, 'cat', '/a'])).stdout).toBe('a\n');
    },
  },
  {
    name: 'push',
    weight: 5,
    root: () => t,
    prepare: async () => '',
    argv: (_p, n) => ['push', '-q', '--tls-verify=false', 'k-app', `${registry.host}/kill/push-${n}:latest`],
    verify: async (_p, n) => {
      const res = await fetch(`${registry.url}/v2/kill/push-${n}/manifests/latest`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
      const manifest = (await res.json()) as { layers: { digest: string }[] };
      expect(res.status).toBe(200);
      for (const layer of manifest.layers) {
        const head = await fetch(`${registry.url}/v2/kill/push-${n}/blobs/${layer.digest}`, { method: 'HEAD' });
        expect(head.status).toBe(200);
      }
    },
  },
  {
    name: 'rmi',
    weight: 5,
    root: () => t,
    prepare: async (n) => {
      // A metadata-only build: a new image (config) of its own, quickly.
      const ctx = await makeContext({ Containerfile: `FROM busybox-base\nLABEL point=${n}\n` });
      await ok(t, ['bud', '-q', '-t', 'k-rmi', ctx]);
      await rm(ctx, { recursive: true, force: true });
      return '';
    },
    argv: () => ['rmi', 'k-rmi'],
    needsRerun: async () => (await run(t, ['inspect', 'k-rmi'])).code === 0,
    verify: async () => {
      expect((await run(t, ['inspect', 'k-rmi'])).code).not.toBe(0);
      expect(await imageNames(t)).toContain('busybox-base');
    },
  },
  {
    name: 'run --rm',
    weight: 5,
    root: () => t,
    prepare: async () => '',
    argv: () => ['run', '--rm', 'busybox-base', 'sh', '-c', 'echo hello > /x && cat /x'],
    verify: async (_p, _n, rerun) => {
      // The timed run's output is not captured; every re-run's is.
      if (rerun) expect(rerun.stdout).toBe('hello\n');
    },
  },
  {
    name: 'run -d',
    weight: 3,
    root: () => t,
    prepare: async (n) => `kd-${n}`,
    argv: (name) => ['run', '-d', '--name', name, 'busybox-base', 'sleep', '60'],
    // A kill after the record was made leaves the name taken (podman's rule too): the container is
    // then removed and the run repeated.
    needsRerun: async (name) => {
      await run(t, ['rm', '-f', name]);
      return true;
    },
    verify: async (name) => {
      expect((await ok(t, ['inspect', '-f', '{{.State.Status}}', name])).stdout).toBe('running\n');
      await ok(t, ['rm', '-f', name]);
    },
  },
  {
    name: 'rm -f of a running container',
    weight: 2,
    root: () => t,
    prepare: async () => (await ok(t, ['run', '-d', 'busybox-base', 'sleep', '60'])).stdout.trim(),
    argv: (id) => ['rm', '-f', id],
    needsRerun: async (id) => (await run(t, ['inspect', id])).code === 0,
    verify: async (id) => {
      expect((await run(t, ['inspect', id])).code).not.toBe(0);
    },
  },
  {
    name: 'tag',
    weight: 2,
    root: () => t,
    prepare: async () => '',
    argv: (_p, n) => ['tag', 'k-app', `k-tag-${n}`],
    verify: async (_p, n) => {
      expect((await ok(t, ['inspect', '-f', '{{.Id}}', `k-tag-${n}`])).stdout).toBe((await ok(t, ['inspect', '-f', '{{.Id}}', 'k-app'])).stdout);
    },
  },
];

/** Kill points per scenario: TOTAL shared by weight (largest remainders), at least 2 each. */
function pointCounts(): number[] {
  const weights = scenarios.reduce((sum, c) => sum + c.weight, 0);
  const exact = scenarios.map((c) => (TOTAL * c.weight) / weights);
  const counts = exact.map((x) => Math.max(2, Math.floor(x)));
  const byRemainder = exact.map((x, i) => [x - Math.floor(x), i] as const).sort((a, b) => b[0] - a[0]);
  for (let k = 0; counts.reduce((a, b) => a + b, 0) < TOTAL; k++) counts[byRemainder[k % byRemainder.length]![1]]++;
  return counts;
}

/** Where the k-th of `count` kills lands, as a fraction of the run: 5 ms first, then spread evenly, the last very late. */
function fraction(k: number, count: number): number {
  return k === count - 1 ? 0.97 : (k - 0.5) / (count - 1);
}

let point = 0;

async function exercise(s: Scenario, count: number): Promise<void> {
  const began = Date.now();
  // Timed once, unkilled; the re-run after the first, very early kill (5 ms: before tsbuild has
  // done anything) is a second full run. The kill points spread over the shorter of the two,
  // since the first run of a command may pay for cold caches.
  const prepared = await s.prepare(point);
  const timed = await killAt(s.root(), s.argv(prepared, point), Infinity);
  expect(timed.code, `${s.name}: the timed run failed`).toBe(0);
  await s.verify(prepared, point++, undefined);
  let ms = timed.ms;
  /** One kill at `delay`; whether it landed before the command finished. */
  const kill = async (delay: number): Promise<boolean> => {
    const n = point++;
    const prepared = await s.prepare(n);
    const result = await killAt(s.root(), s.argv(prepared, n), delay);
    attempted[s.name] = (attempted[s.name] ?? 0) + 1;
    if (result.killed) exercised[s.name] = (exercised[s.name] ?? 0) + 1;
    // The command finished first: it runs faster than timed (load varies), so later points move in.
    else ms = Math.min(ms, result.ms);
    const where = `${s.name}, killed at ${Math.round(delay)} ms of ${ms}`;
    const check = await run(s.root(), ['system', 'check']);
    if (check.code !== 0) {
      failures.push(`${where}: system check exited ${check.code}:\n${check.stdout}${check.stderr}`);
      await run(s.root(), ['system', 'check', '--repair']);
    }
    // The killed command's lease (store/lease.ts) went with the recovery that check ran.
    const leases = await readdir(path.join(s.root().root, 'leases')).catch(() => []);
    if (leases.length > 0) failures.push(`${where}: leases left: ${leases.join(', ')}`);
    try {
      const rerunStarted = Date.now();
      const rerun = s.needsRerun && !(await s.needsRerun(prepared)) ? undefined : await ok(s.root(), s.argv(prepared, n));
      if (rerun && delay === 5) ms = Math.min(ms, Date.now() - rerunStarted);
      await s.verify(prepared, n, rerun);
    } catch (err) {
      failures.push(`${where}: after re-running: ${(err as Error).message}`);
    }
    return result.killed;
  };
  // `count` kills that land, each retried (at most three times) at the same fraction of a shorter
  // estimate when the command beat it.
  for (let k = 0; k < count; k++) {
    for (let attempt = 0; attempt < 4; attempt++) {
      if (await kill(k === 0 ? 5 : ms * fraction(k, count))) break;
    }
  }
  timings.push(`${s.name} ${ms} ms, ${Date.now() - began} ms in all`);
}

beforeAll(async () => {
  env = await createEnv();
  registry = await startRegistry();
  t = await createTestRoot();
  pullRoot = await createTestRoot();
  await buildBusyboxBase(t);
  context = await makeContext({
    Containerfile: ['FROM busybox-base', 'RUN echo a > /a', 'COPY f /f', 'RUN cat /f > /g', 'COPY big /big'].join('\n'),
    f: 'point\n',
    big: Buffer.alloc(1024 * 1024, 'z'),
  });
  await ok(t, ['bud', '-q', '-t', 'k-app', context]);
  await ok(t, ['push', '-q', '--tls-verify=false', 'k-app', `${registry.host}/kill/app:latest`]);
}, 300_000);

afterAll(async () => {
  await rm(context, { recursive: true, force: true });
  const leaked = [...(await mountsUnder(t.root)), ...(await mountsUnder(pullRoot.root))];
  await t?.cleanup();
  await pullRoot?.cleanup();
  await registry?.stop();
  await env?.cleanup();
  expect(leaked).toEqual([]);
});

describe('SIGKILL at many points', () => {
  it(`leaves a store that checks clean and commands that succeed when re-run (${TOTAL} kill points)`, async () => {
    const counts = pointCounts();
    for (const [i, s] of scenarios.entries()) await exercise(s, counts[i]!);
    const total = Object.values(exercised).reduce((a, b) => a + b, 0);
    const tried = Object.values(attempted).reduce((a, b) => a + b, 0);
    const summary = scenarios.map((s) => `${s.name}: ${exercised[s.name] ?? 0}/${attempted[s.name] ?? 0}`).join('; ');
    process.stderr.write(`kill loop timings: ${timings.join('; ')}\n`);
    process.stderr.write(`kill loop: ${total} of ${tried} kills landed before the command finished (${summary})\n`);
    expect(failures).toEqual([]);
    // Kills that came after the command had finished are retried; most points must land.
    expect(total).toBeGreaterThanOrEqual(MIN_LANDED);
    // The final state is consistent too.
    expect((await run(t, ['system', 'check'])).code).toBe(0);
  }, 1_800_000);
});
