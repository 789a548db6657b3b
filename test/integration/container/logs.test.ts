// `tsbuild logs` over what a real monitor logged: streams kept apart, --tail, -t, --since, and -f
// following a running container until it exits. The container record is written by hand (as
// `run` would) so this tests logs alone.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readExit, startMonitor, type MonitorSpec } from '../../../src/container/monitor.js';
import { defaultConfig, type ContainerRecord } from '../../../src/container/types.js';
import { createTestRoot, type TestRoot } from '../../helpers/tsbuild.js';
import { createMonitorFixture, waitFor, type MonitorFixture } from './monitor-helpers.js';

let f: MonitorFixture;
let t: TestRoot;

beforeAll(async () => {
  f = await createMonitorFixture();
  t = await createTestRoot();
});

afterAll(async () => {
  await f?.cleanup();
  await t?.cleanup();
});

/** Starts `args` under a detached monitor with its files where `logs` looks, and writes its record. */
async function startContainer(name: string, args: string[]): Promise<{ spec: MonitorSpec; id: string }> {
  const id = randomBytes(32).toString('hex');
  const dir = path.join(t.root, 'containers', id);
  await mkdir(dir, { recursive: true });
  const base = await f.container(name, args);
  const spec: MonitorSpec = {
    ...base,
    logFile: path.join(dir, 'ctr.log'),
    stateFile: path.join(dir, 'monitor.json'),
    exitFile: path.join(dir, 'exit.json'),
    stopFlagFile: path.join(dir, 'stop-requested'),
  };
  const started = await startMonitor(spec, { detached: true });
  f.track(started.monitorPid);
  const stat = (await readFile(`/proc/${started.monitorPid}/stat`, 'utf8').catch(() => '')).replace(/^.*\) /, '').split(' ');
  const record: ContainerRecord = {
    id,
    name,
    kind: 'container',
    image: 'busybox',
    imageId: '',
    created: new Date().toISOString(),
    state: 'running',
    config: defaultConfig({ args }),
    startedAt: new Date().toISOString(),
    monitor: {
      pid: started.monitorPid,
      startTime: Number(stat[19] ?? 0),
      bootId: (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim(),
    },
    pid: started.containerPid,
  };
  await writeFile(path.join(dir, 'container.json'), JSON.stringify(record));
  return { spec, id };
}

describe('tsbuild logs', () => {
  let done: { spec: MonitorSpec; id: string };

  beforeAll(async () => {
    done = await startContainer('done', ['sh', '-c', 'echo one; echo oops >&2; sleep 0.1; echo two; echo three']);
    await waitFor('exit.json', () => readExit(done.spec.exitFile));
  });

  it('prints stdout to stdout and stderr to stderr', async () => {
    const r = await t.ok(['logs', 'done']);
    expect(r.stdout).toBe('one\ntwo\nthree\n');
    expect(r.stderr).toBe('oops\n');
  });

  it('finds the container by ID prefix too', async () => {
    const r = await t.ok(['logs', done.id.slice(0, 12)]);
    expect(r.stdout).toBe('one\ntwo\nthree\n');
  });

  // The two streams are separate pipes: their order in the log is only kept across a pause.
  it('--tail N prints the last N lines, across both streams', async () => {
    const r = await t.ok(['logs', '--tail', '2', 'done']);
    expect(r.stdout).toBe('two\nthree\n');
    expect(r.stderr).toBe('');
  });

  it('-t prefixes each line with its RFC 3339 time', async () => {
    const r = await t.ok(['logs', '-t', '--tail', '1', 'done']);
    expect(r.stdout).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z three\n$/);
  });

  it('--since a relative time or a future timestamp filters by time', async () => {
    expect((await t.ok(['logs', '--since', '10m', 'done'])).stdout).toBe('one\ntwo\nthree\n');
    expect((await t.ok(['logs', '--since', '2099-01-01T00:00:00Z', 'done'])).stdout).toBe('');
    expect((await t.ok(['logs', '--until', '10m', 'done'])).stdout).toBe('');
  });

  it('-f follows a running container until it exits', async () => {
    const live = await startContainer('live', ['sh', '-c', 'echo first; sleep 1; echo second; sleep 0.3; echo third']);
    await waitFor('first', async () => (await readFile(live.spec.logFile, 'utf8').catch(() => '')).includes('first'));
    const started = Date.now();
    const r = await t.ok(['logs', '-f', 'live']);
    expect(r.stdout).toBe('first\nsecond\nthird\n');
    // It waited for the container rather than printing what was there.
    expect(Date.now() - started).toBeGreaterThan(700);
    expect(await readExit(live.spec.exitFile)).toMatchObject({ exitCode: 0 });
  });

  it('fails with exit code 125 naming a container that does not exist', async () => {
    const r = await t.run(['logs', 'no-such-container']);
    expect(r.code).toBe(125);
    expect(r.stderr).toContain('Error: container "no-such-container" not found');
  });

  it('rejects a --since it cannot read', async () => {
    const r = await t.run(['logs', '--since', 'last week', 'done']);
    expect(r.code).toBe(125);
    expect(r.stderr).toContain('invalid time "last week"');
  });

  it('--help shows examples', async () => {
    const r = await t.ok(['logs', '--help']);
    expect(r.stdout).toContain('logs -f --tail 10 web');
  });
});
