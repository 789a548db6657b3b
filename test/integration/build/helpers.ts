// Shared fixtures for the build integration tests: a private root with the busybox base image, builds
// from an in-memory context, and the few views of an image a user would look at (inspect fields,
// output of a command run in it, the build's step lines).
import { execFileSync, spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { expect } from 'vitest';
import { BIN, buildBusyboxBase, createTestRoot, makeContext, mountsUnder, type CliResult, type TestRoot } from '../../helpers/tsbuild.js';

export { makeContext, mountsUnder, type CliResult, type TestRoot };

/** A test root with localhost/busybox-base in it. */
export async function setupRoot(): Promise<TestRoot> {
  const t = await createTestRoot();
  try {
    await buildBusyboxBase(t);
  } catch (err) {
    await t.cleanup();
    throw err;
  }
  return t;
}

/** Cleans up the root, failing when anything was left mounted under it (a leak in tsbuild). */
export async function teardownRoot(t: TestRoot | undefined): Promise<void> {
  if (!t) return;
  const leaked = await mountsUnder(t.root);
  await t.cleanup();
  expect(leaked).toEqual([]);
}

/** Removes the temp contexts a test file made. */
export class Contexts {
  private readonly dirs: string[] = [];
  async make(files: Record<string, string | Buffer>): Promise<string> {
    const dir = await makeContext(files);
    this.dirs.push(dir);
    return dir;
  }
  async cleanup(): Promise<void> {
    await Promise.all(this.dirs.map((d) => rm(d, { recursive: true, force: true })));
  }
}

/** `tsbuild bud` of the context with extra args; the context must hold a Containerfile unless -f is given. */
export function bud(t: TestRoot, context: string, args: readonly string[] = []): Promise<CliResult> {
  return t.run(['bud', ...args, context]);
}

/** Like bud, but fails with the output when the build fails. */
export function budOk(t: TestRoot, context: string, args: readonly string[] = []): Promise<CliResult> {
  return t.ok(['bud', ...args, context]);
}

/** `inspect -f '{{json .X}}'` parsed. */
export async function inspectJson<T = unknown>(t: TestRoot, image: string, field: string): Promise<T> {
  const { stdout } = await t.ok(['inspect', '-f', `{{json .${field}}}`, image]);
  return JSON.parse(stdout) as T;
}

/** stdout of `run --rm IMAGE sh -c SCRIPT` (failing the test on a non-zero exit); `user` adds `-u`. */
export async function sh(t: TestRoot, image: string, script: string, user?: string): Promise<string> {
  return (await t.ok(['run', '--rm', ...(user === undefined ? [] : ['-u', user]), image, 'sh', '-c', script])).stdout;
}

/** Image names `tsbuild images --json` lists. */
export async function imageNames(t: TestRoot): Promise<string[]> {
  const { stdout } = await t.ok(['images', '--json']);
  return (JSON.parse(stdout) as { names: string[] }[]).flatMap((i) => i.names);
}

export interface StepReport {
  /** The step text after "STEP n/m: ". */
  text: string;
  cached: boolean;
}

/**
 * Each STEP line of a build's output and whether `--> Using cache` followed it. In a multi-stage
 * build every line carries its stage's `[name] ` prefix, and a cache line belongs to its own stage's
 * last step (stages may build at once, so their lines interleave).
 */
export function steps(stdout: string): StepReport[] {
  const out: StepReport[] = [];
  const lastOfStage = new Map<string, StepReport>();
  for (const line of stdout.split('\n')) {
    const [, prefix = '', rest = ''] = /^(\[[^\]]*\] )?(.*)$/.exec(line)!;
    const step = /^STEP \d+\/\d+: (.*)$/.exec(rest);
    if (step) {
      const report = { text: step[1]!, cached: false };
      out.push(report);
      lastOfStage.set(prefix, report);
    } else if (rest.startsWith('--> Using cache') && lastOfStage.has(prefix)) {
      lastOfStage.get(prefix)!.cached = true;
    }
  }
  return out;
}

/** Runs a host command (tar, skopeo, ...) and returns its stdout. */
export function host(argv: string[], options: { cwd?: string } = {}): string {
  return execFileSync(argv[0]!, argv.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], cwd: options.cwd });
}

export interface RunningCli {
  /** Resolves once stdout contains `text`; rejects if the process ends first. */
  waitForOutput(text: string): Promise<void>;
  /** Sends a signal to the tsbuild process (not to its children). */
  kill(signal: NodeJS.Signals): void;
  /** Resolves with the exit code and all output when the process has ended. */
  exited: Promise<CliResult>;
}

/** Starts `tsbuild --root <root> ...args` in the background, for tests that interrupt it. */
export function startCli(t: TestRoot, args: readonly string[]): RunningCli {
  const child = spawn(BIN, ['--root', t.root, ...args], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const waiters: Array<{ text: string; resolve: () => void }> = [];
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
    for (const w of waiters.filter((w) => stdout.includes(w.text))) w.resolve();
  });
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
  return {
    waitForOutput: (text) =>
      new Promise<void>((resolve, reject) => {
        if (stdout.includes(text)) return resolve();
        waiters.push({ text, resolve });
        void exited.then((r) => reject(new Error(`tsbuild ${args.join(' ')} ended before printing ${text}:\n${r.stdout}\n${r.stderr}`)));
      }),
    kill: (signal) => child.kill(signal),
    exited,
  };
}
