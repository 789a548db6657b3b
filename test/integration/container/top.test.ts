// top on real containers: the container's processes in podman's columns, pids as the container
// sees them, format descriptors, and the not-running error.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestRoot } from '../../helpers/tsbuild.js';
import { runDetached, setupContainers, teardownContainers } from './execcp-helpers.js';

let t: TestRoot;

beforeAll(async () => {
  t = await setupContainers();
  await runDetached(t, 'web', ['sh', '-c', 'sleep 301 & exec sleep 300']);
}, 120_000);

afterAll(async () => {
  await teardownContainers(t);
});

describe('top', () => {
  it('lists the container\'s processes with podman top\'s default columns', async () => {
    const r = await t.ok(['top', 'web']);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]!.split(/\s+/)).toEqual(['USER', 'PID', 'PPID', '%CPU', 'ELAPSED', 'TTY', 'TIME', 'COMMAND']);
    const rows = lines.slice(1).map((l) => l.split(/\s+/));
    expect(rows).toHaveLength(2);
    // pid 1 is the container's init (its parent is outside: 0); the background sleep is its child.
    expect(rows[0]!.slice(0, 3)).toEqual(['root', '1', '0']);
    expect(rows[0]!.slice(-2)).toEqual(['sleep', '300']);
    expect(rows[1]![2]).toBe('1');
    expect(rows[1]!.slice(-2)).toEqual(['sleep', '301']);
    expect(rows[0]![3]).toMatch(/^\d+\.\d{3}$/);
    expect(rows[0]![4]).toMatch(/^(\d+h)?(\d+m)?[\d.]+(ms|s)$/);
    expect(rows[0]![5]).toBe('?');
  });

  it('takes format descriptors, host pids included', async () => {
    const r = await t.ok(['top', 'web', 'pid,hpid', 'comm']);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]!.split(/\s+/)).toEqual(['PID', 'HPID', 'COMMAND']);
    const [pid, hpid, comm] = lines[1]!.split(/\s+/);
    expect([pid, comm]).toEqual(['1', 'sleep']);
    const cmdline = await import('node:fs/promises').then((fs) => fs.readFile(`/proc/${hpid}/cmdline`, 'utf8'));
    expect(cmdline).toBe('sleep\u0000300\u0000');
    const bad = await t.run(['top', 'web', 'nonsense']);
    expect(bad.code).toBe(125);
    expect(bad.stderr).toContain('unknown top descriptor "nonsense"');
  });

  it('fails with 125 for a container that is not running', async () => {
    await t.ok(['create', '--name', 'idle', '--network', 'none', 'busybox-base', 'true']);
    const r = await t.run(['top', 'idle']);
    expect(r.code).toBe(125);
    expect(r.stderr).toContain('Error: container idle is not running');
  });
});
