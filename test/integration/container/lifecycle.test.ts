// The container lifecycle through the CLI with real runc, overlayfs and the C monitor: detached
// containers outlive the CLI, ps stays right when a container exits by itself, when its monitor is
// killed and after a (simulated) reboot; stop honours STOPSIGNAL and the timeout; restart policies;
// rm -f leaves nothing mounted; and the flags that shape a container are visible inside it.
import { execFileSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBusyboxBase, createTestRoot, makeContext, mountsUnder, type TestRoot } from '../../helpers/tsbuild.js';

let t: TestRoot;
const IMAGE = 'busybox-base';

beforeAll(async () => {
  t = await createTestRoot();
  await buildBusyboxBase(t);
}, 120_000);

afterAll(async () => {
  if (!t) return;
  await t.run(['rm', '-f', '--all']);
  const leaked = await mountsUnder(t.root);
  await t.cleanup();
  expect(leaked).toEqual([]);
});

async function until<T>(fn: () => Promise<T | undefined | false>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(50);
  }
}

async function state(name: string): Promise<string> {
  return (await t.ok(['inspect', '--type', 'container', '-f', '{{.State.Status}} {{.State.ExitCode}}', name])).stdout.trim();
}

async function psLine(name: string): Promise<string> {
  const { stdout } = await t.ok(['ps', '-a', '--format', '{{.Names}} {{.Status}}', '--filter', `name=^${name}$`]);
  return stdout.trim();
}

function runcList(): string {
  return execFileSync('runc', ['--root', path.join(t.root, 'runc'), 'list', '-q'], { encoding: 'utf8' }).trim();
}

function recordFile(id: string): string {
  return path.join(t.root, 'containers', id, 'container.json');
}

describe('detached containers', () => {
  it('keep running after the CLI exits, and ps shows them Up', async () => {
    const { stdout } = await t.ok(['run', '-d', '--name', 'sleeper', IMAGE, 'sleep', '100']);
    expect(stdout.trim()).toMatch(/^[0-9a-f]{64}$/);
    await sleep(300);
    expect(await psLine('sleeper')).toMatch(/^sleeper Up /);
    const table = (await t.ok(['ps'])).stdout.split('\n');
    expect(table[0]).toMatch(/^CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS\s+PORTS\s+NAMES$/);
    expect(table[1]).toContain(stdout.trim().slice(0, 12));
    expect((await t.ok(['ps', '-q'])).stdout).toBe(`${stdout.trim().slice(0, 12)}\n`);
    const json = JSON.parse((await t.ok(['ps', '--format', 'json'])).stdout) as { Names: string[]; State: string }[];
    expect(json.map((c) => [c.Names[0], c.State])).toEqual([['sleeper', 'running']]);
    await t.ok(['rm', '-f', 'sleeper']);
    expect(await mountsUnder(t.root)).toEqual([]);
    expect(runcList()).toBe('');
  });

  it('show Exited (3) once the container exits by itself', async () => {
    await t.ok(['run', '-d', '--name', 'three', IMAGE, 'sh', '-c', 'sleep 0.3; exit 3']);
    expect((await t.ok(['wait', 'three'])).stdout).toBe('3\n');
    // At once, even while the monitor is still finishing.
    expect(await psLine('three')).toMatch(/^three Exited \(3\) /);
    expect(await state('three')).toBe('exited 3');
    // Started again right away: a new run, not a race with the last one's clean-up.
    await t.ok(['restart', 'three']);
    expect((await t.ok(['wait', 'three'])).stdout).toBe('3\n');
    expect((await t.ok(['ps'])).stdout).not.toContain('three');
    expect(await mountsUnder(t.root)).toEqual([]);
    await t.ok(['rm', 'three']);
  });

  it('are reported exited (137) and cleaned up when the monitor is killed with SIGKILL', async () => {
    await t.ok(['run', '-d', '--name', 'orphaned', IMAGE, 'sleep', '100']);
    const monitor = Number((await t.ok(['inspect', '-f', '{{.State.ConmonPid}}', 'orphaned'])).stdout);
    expect(monitor).toBeGreaterThan(0);
    process.kill(monitor, 'SIGKILL');
    await sleep(100);
    expect(await psLine('orphaned')).toMatch(/^orphaned Exited \(137\)/);
    expect(await mountsUnder(t.root)).toEqual([]);
    expect(runcList()).toBe('');
    await t.ok(['rm', 'orphaned']);
  });

  it('are exited after a reboot (another boot id)', async () => {
    const id = (await t.ok(['run', '-d', '--name', 'rebooted', IMAGE, 'sleep', '100'])).stdout.trim();
    const record = JSON.parse(await readFile(recordFile(id), 'utf8')) as { monitor: { bootId: string } };
    record.monitor.bootId = '00000000-0000-0000-0000-000000000000';
    await writeFile(recordFile(id), JSON.stringify(record));
    expect(await state('rebooted')).toMatch(/^exited /);
    expect(await mountsUnder(t.root)).toEqual([]);
    await t.ok(['rm', 'rebooted']);
  });

  it('rm -f kills a running container and leaves no mount; rm without -f refuses', async () => {
    await t.ok(['run', '-d', '--name', 'busy', IMAGE, 'sleep', '100']);
    const refused = await t.run(['rm', 'busy']);
    expect(refused.code).toBe(125);
    expect(refused.stderr).toMatch(/^Error: container "busy" is running\n/);
    await t.ok(['rm', '-f', 'busy']);
    expect((await t.ok(['ps', '-a'])).stdout).not.toContain('busy');
    expect(await mountsUnder(t.root)).toEqual([]);
    expect(runcList()).toBe('');
  });

  it('run -d --rm removes the container when it exits', async () => {
    await t.ok(['run', '-d', '--rm', '--name', 'gone', IMAGE, 'true']);
    await until(async () => !(await t.ok(['ps', '-a'])).stdout.includes('gone'));
    expect(await mountsUnder(t.root)).toEqual([]);
  });
});

describe('stop, kill, restart', () => {
  it('stop sends the image STOPSIGNAL', async () => {
    const context = await makeContext({
      Containerfile: [
        `FROM ${IMAGE}`,
        'STOPSIGNAL SIGUSR1',
        'CMD ["sh", "-c", "trap \'echo got usr1; exit 7\' USR1; echo ready; while true; do sleep 0.1; done"]',
      ].join('\n'),
    });
    await t.ok(['bud', '-q', '-t', 'usr1', context]);
    await t.ok(['run', '-d', '--name', 'usr1', 'usr1']);
    await until(async () => (await readFile(path.join(t.root, 'containers', await idOf('usr1'), 'ctr.log'), 'utf8').catch(() => '')).includes('ready'));
    const started = Date.now();
    await t.ok(['stop', '-t', '5', 'usr1']);
    expect(Date.now() - started).toBeLessThan(4000);
    expect(await state('usr1')).toBe('exited 7');
    const log = await readFile(path.join(t.root, 'containers', await idOf('usr1'), 'ctr.log'), 'utf8');
    expect(log).toContain('got usr1');
    await t.ok(['rm', 'usr1']);
  });

  it('stop -t kills a container that ignores the signal after the timeout (137)', async () => {
    // pid 1 without a handler ignores SIGTERM.
    await t.ok(['run', '-d', '--name', 'stubborn', IMAGE, 'sleep', '100']);
    const started = Date.now();
    await t.ok(['stop', '-t', '1', 'stubborn']);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(await state('stubborn')).toBe('exited 137');
    expect(await mountsUnder(t.root)).toEqual([]);
    await t.ok(['rm', 'stubborn']);
  });

  it('kill -s sends a signal; restart starts the container again', async () => {
    await t.ok(['run', '-d', '--name', 'killme', IMAGE, 'sh', '-c', "trap 'exit 5' HUP; while true; do sleep 0.1; done"]);
    await sleep(200);
    await t.ok(['kill', '-s', 'HUP', 'killme']);
    await until(async () => (await state('killme')) === 'exited 5');
    await t.ok(['restart', '-t', '1', 'killme']);
    expect(await psLine('killme')).toMatch(/^killme Up /);
    await t.ok(['kill', 'killme']);
    expect(await state('killme')).toBe('exited 137');
    await t.ok(['rm', 'killme']);
  });

  it('restart=on-failure:2 restarts a crashing container exactly twice', async () => {
    await t.ok(['run', '-d', '--name', 'crasher', '--restart', 'on-failure:2', IMAGE, 'sh', '-c', 'exit 1']);
    await until(async () => (await state('crasher')) === 'exited 1');
    expect((await t.ok(['inspect', '-f', '{{.RestartCount}} {{.HostConfig.RestartPolicy.Name}}', 'crasher'])).stdout).toBe('2 on-failure\n');
    expect(await mountsUnder(t.root)).toEqual([]);
    await t.ok(['rm', 'crasher']);
  });

  it('restart=always restarts, and a stopped container stays stopped', async () => {
    await t.ok(['run', '-d', '--name', 'always', '--restart', 'always', IMAGE, 'sh', '-c', 'sleep 0.2; exit 1']);
    await until(async () => Number((await t.ok(['inspect', '-f', '{{.RestartCount}}', 'always'])).stdout) >= 1);
    await t.ok(['stop', '-t', '1', 'always']);
    await sleep(700);
    expect(await state('always')).toMatch(/^exited /);
    expect(runcList()).toBe('');
    await t.ok(['rm', 'always']);
  });
});

describe('create and start', () => {
  it('create prints an ID, start runs it, start -a shows its output and exits with its code', async () => {
    const id = (await t.ok(['create', '--name', 'later', IMAGE, 'sh', '-c', 'echo from-later; exit 4'])).stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    expect(await psLine('later')).toBe('later Created');
    const attached = await t.run(['start', '-a', 'later']);
    expect(attached.stdout).toBe('from-later\n');
    expect(attached.code).toBe(4);
    expect(await state('later')).toBe('exited 4');
    await t.ok(['start', 'later']);
    expect((await t.ok(['wait', 'later'])).stdout).toBe('4\n');
    const inspect = JSON.parse((await t.ok(['inspect', 'later'])).stdout) as Record<string, any>[];
    expect(inspect[0]!.Id).toBe(id);
    expect(inspect[0]!.Config.Cmd).toEqual(['sh', '-c', 'echo from-later; exit 4']);
    expect(inspect[0]!.HostConfig.RestartPolicy).toEqual({ Name: 'no', MaximumRetryCount: 0 });
    await t.ok(['container', 'rm', 'later']);
  });

  it('--log-opt max-size rotates the log to ctr.log.1; logs reads across the rotation', async () => {
    const id = (await t.ok(['run', '-d', '--name', 'chatty', '--network', 'none', '--log-opt', 'max-size=2k', IMAGE, 'sh', '-c', 'i=0; while [ $i -lt 300 ]; do echo line-$i; i=$((i+1)); done'])).stdout.trim();
    expect((await t.ok(['wait', 'chatty'])).stdout).toBe('0\n');
    const dir = path.join(t.root, 'containers', id);
    expect((await readFile(path.join(dir, 'ctr.log.1'), 'utf8')).length).toBeGreaterThan(1024);
    expect((await readFile(path.join(dir, 'ctr.log'), 'utf8')).length).toBeLessThan(3 * 1024);
    expect((await t.ok(['logs', '--tail', '1', 'chatty'])).stdout).toBe('line-299\n');
    const inspect = JSON.parse((await t.ok(['inspect', 'chatty'])).stdout) as Record<string, any>[];
    expect(inspect[0]!.HostConfig.LogConfig).toEqual({ Type: 'json-file', Config: { 'max-size': '2048' } });
    await t.ok(['rm', 'chatty']);
    const bad = await t.run(['run', '-d', '--log-opt', 'max-file=3', IMAGE, 'true']);
    expect(bad.code).toBe(125);
    expect(bad.stderr).toBe('Error: --log-opt "max-file=3" is not supported: only max-size=SIZE\n');
  });

  it('wait on a created container blocks until it has been started and has exited', async () => {
    await t.ok(['create', '--name', 'pending', '--network', 'none', IMAGE, 'sh', '-c', 'exit 6']);
    let waited: string | undefined;
    const waiting = t.ok(['wait', 'pending']).then((r) => (waited = r.stdout));
    await sleep(1500);
    expect(waited).toBeUndefined();
    await t.ok(['start', 'pending']);
    expect(await waiting).toBe('6\n');
    await t.ok(['rm', 'pending']);
  });
});

describe('bad input', () => {
  it('a name in use is an error naming it', async () => {
    await t.ok(['create', '--name', 'taken', IMAGE]);
    const r = await t.run(['create', '--name', 'taken', IMAGE]);
    expect(r.code).toBe(125);
    expect(r.stderr.split('\n')[0]).toMatch(/^Error: the container name "taken" is already in use/);
    await t.ok(['rm', 'taken']);
  });

  it('an unknown image or container exits 125 with one line', async () => {
    const image = await t.run(['run', '--pull=never', 'no-such-image']);
    expect(image.code).toBe(125);
    expect(image.stderr).toMatch(/^Error: .*no-such-image.*\n$/);
    for (const cmd of [['stop', 'nope'], ['start', 'nope'], ['rm', 'nope'], ['inspect', '--type', 'container', 'nope'], ['wait', 'nope'], ['port', 'nope']]) {
      const r = await t.run(cmd);
      expect(r.code, cmd.join(' ')).toBe(125);
      expect(r.stderr).toBe('Error: no container with name or ID "nope" found\n');
    }
  });

  it('a bad --memory value is an error naming the flag', async () => {
    const r = await t.run(['run', '--rm', '--memory', 'lots', IMAGE, 'true']);
    expect(r.code).toBe(125);
    expect(r.stderr).toBe('Error: invalid --memory "lots": expected <number>[<unit>] with unit b, k, m or g\n');
    expect((await t.ok(['ps', '-a', '-q'])).stdout).toBe('');
  });

  it('a command that does not exist exits 127 and leaves nothing behind', async () => {
    const r = await t.run(['run', '--rm', IMAGE, 'no-such-command']);
    expect(r.code).toBe(127);
    expect(r.stderr).toContain('no-such-command');
    expect((await t.ok(['ps', '-a', '-q'])).stdout).toBe('');
    // Without --rm too: a run that could not start leaves no record.
    const detached = await t.run(['run', '-d', '--name', 'never-ran', IMAGE, 'no-such-command']);
    expect(detached.code).toBe(127);
    expect((await t.ok(['ps', '-a', '-q'])).stdout).toBe('');
    expect(await mountsUnder(t.root)).toEqual([]);
  });
});

describe('what a container sees', () => {
  it('--init runs tini as pid 1', async () => {
    const { stdout } = await t.ok(['run', '--rm', '--init', IMAGE, 'sh', '-c', "tr '\\0' ' ' < /proc/1/cmdline"]);
    expect(stdout).toMatch(/^\/run\/tsbuild-init -- sh -c/);
  });

  it('-u, -w, -e, --env-file, --hostname, --read-only and --cap-drop', async () => {
    const dir = await makeContext({ 'env.list': '# comment\nFROM_FILE=yes\n' });
    const { stdout } = await t.ok([
      'run', '--rm', '-u', '1000:1000', '-w', '/tmp/work', '-e', 'FOO=bar', '--env-file', path.join(dir, 'env.list'), '--hostname', 'box',
      '--read-only', '--cap-drop', 'ALL', IMAGE, 'sh', '-c',
      'id -u; id -g; pwd; echo $FOO $FROM_FILE; hostname; touch /x 2>/dev/null && echo rw || echo ro; grep CapBnd /proc/self/status',
    ]);
    expect(stdout).toBe('1000\n1000\n/tmp/work\nbar yes\nbox\nro\nCapBnd:\t0000000000000000\n');
  });

  it('--memory, --pids-limit and --cpus reach the cgroup', async () => {
    const { stdout } = await t.ok([
      'run', '--rm', '-m', '64m', '--pids-limit', '50', '--cpus', '0.5', IMAGE, 'sh', '-c',
      'cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null || cat /sys/fs/cgroup/memory.max',
    ]);
    expect(stdout).toBe('67108864\n50\n50000\n');
  });

  it('foreground run passes the exit code and removes the container with --rm', async () => {
    const r = await t.run(['run', '--rm', IMAGE, 'sh', '-c', 'echo out; echo err >&2; exit 9']);
    expect([r.code, r.stdout, r.stderr]).toEqual([9, 'out\n', 'err\n']);
    expect((await t.ok(['ps', '-a', '-q'])).stdout).toBe('');
  });
});

describe('networks and volumes through run', () => {
  it('-p publishes a port on 127.0.0.1; rm -f leaves no netns, veth or iptables rule', async () => {
    const id = (await t.ok([
      'run', '-d', '--name', 'web', '-p', '127.0.0.1:18481:80', IMAGE, 'sh', '-c', 'mkdir /w && echo hello-web > /w/index.html && exec httpd -f -p 80 -h /w',
    ])).stdout.trim();
    expect((await t.ok(['port', 'web'])).stdout).toBe('80/tcp -> 127.0.0.1:18481\n');
    const body = await until(async () => {
      const res = await fetch('http://127.0.0.1:18481/').catch(() => undefined);
      return res?.ok ? res.text() : undefined;
    });
    expect(body).toBe('hello-web\n');
    const ip = (await t.ok(['inspect', '-f', '{{.NetworkSettings.Networks.tsbuild.IPAddress}}', 'web'])).stdout.trim();
    expect(ip).toMatch(/^10\.89\.0\.\d+$/);
    await t.ok(['rm', '-f', 'web']);
    expect(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })).not.toContain(id.slice(0, 12));
    expect(execFileSync('iptables-save', { encoding: 'utf8' })).not.toContain(id.slice(0, 12));
    expect(await mountsUnder(t.root)).toEqual([]);
  });

  it('containers on a user network reach each other by name and alias', async () => {
    await t.ok(['network', 'create', 'lcnet']);
    try {
      await t.ok(['run', '-d', '--name', 'named-srv', '--network', 'lcnet', '--network-alias', 'srv-alias', IMAGE, 'sh', '-c', 'mkdir /w && echo peer > /w/index.html && exec httpd -f -p 80 -h /w']);
      const { stdout } = await t.ok(['run', '--rm', '--network', 'lcnet', IMAGE, 'sh', '-c', 'wget -qO- http://named-srv/ && wget -qO- http://srv-alias/']);
      expect(stdout).toBe('peer\npeer\n');
    } finally {
      await t.run(['rm', '-f', 'named-srv']);
      await t.run(['network', 'rm', 'lcnet']);
    }
  });

  it('-P publishes EXPOSEd ports to free host ports; --network container: shares the namespace', async () => {
    const context = await makeContext({ Containerfile: `FROM ${IMAGE}\nEXPOSE 80\nCMD ["sh", "-c", "mkdir /w && echo exposed > /w/index.html && exec httpd -f -p 80 -h /w"]\n` });
    await t.ok(['bud', '-q', '-t', 'exposer', context]);
    await t.ok(['run', '-d', '--name', 'exposer', '-P', 'exposer']);
    try {
      const port = Number((await t.ok(['port', 'exposer', '80'])).stdout.trim().split(':')[1]);
      expect(port).toBeGreaterThan(0);
      expect(await until(async () => (await fetch(`http://127.0.0.1:${port}/`).catch(() => undefined))?.text())).toBe('exposed\n');
      const shared = await t.ok(['run', '--rm', '--network', 'container:exposer', IMAGE, 'wget', '-qO-', 'http://127.0.0.1:80/']);
      expect(shared.stdout).toBe('exposed\n');
    } finally {
      await t.run(['rm', '-f', 'exposer']);
    }
  });

  it('a named volume keeps data across containers', async () => {
    await t.ok(['run', '--rm', '-v', 'lcdata:/data', IMAGE, 'sh', '-c', 'echo kept > /data/f']);
    expect((await t.ok(['run', '--rm', '-v', 'lcdata:/data:ro', IMAGE, 'cat', '/data/f'])).stdout).toBe('kept\n');
    await t.ok(['volume', 'rm', 'lcdata']);
  });
});

async function idOf(name: string): Promise<string> {
  return (await t.ok(['inspect', '-f', '{{.Id}}', name])).stdout.trim();
}
