// exec into running containers with real runc: output, exit codes, env, user, workdir, stdin, and
// the failures (not running, not found, not executable, no terminal).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestRoot } from '../../helpers/tsbuild.js';
import { runDetached, setupContainers, teardownContainers } from './execcp-helpers.js';

let t: TestRoot;

beforeAll(async () => {
  t = await setupContainers();
  await runDetached(t, 'web', ['sleep', '300'], ['-e', 'BASE=from-run', '-w', '/etc']);
}, 120_000);

afterAll(async () => {
  await teardownContainers(t);
});

describe('exec', () => {
  it('runs a command in the running container with its output and exit code', async () => {
    const r = await t.run(['exec', 'web', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
    expect(r.code).toBe(3);
    expect(r.stdout).toBe('out\n');
    expect(r.stderr).toBe('err\n');
  });

  it('gives every argument after the container to the command (exec web ls -l)', async () => {
    const r = await t.ok(['exec', 'web', 'ls', '-l', '-d', '/bin']);
    expect(r.stdout).toMatch(/^d.* \/bin\n$/);
  });

  it('runs in the container: its environment, working directory and pid namespace', async () => {
    const r = await t.ok(['exec', 'web', 'sh', '-c', 'echo $BASE $(pwd); cat /proc/1/cmdline | tr "\\0" " "']);
    expect(r.stdout).toBe('from-run /etc\nsleep 300 ');
  });

  it('adds -e and --env-file variables, overriding the container\'s', async () => {
    const { writeFile, rm } = await import('node:fs/promises');
    const file = `${t.root}/vars.env`;
    await writeFile(file, '# comment\nFROM_FILE=1\nBASE=file\n');
    try {
      const r = await t.ok(['exec', '--env-file', file, '-e', 'FOO=bar', 'web', 'sh', '-c', 'echo $FOO $FROM_FILE $BASE']);
      expect(r.stdout).toBe('bar 1 file\n');
      const e = await t.ok(['exec', '-e', 'BASE=flag', '--env-file', file, 'web', 'sh', '-c', 'echo $BASE']);
      expect(e.stdout).toBe('flag\n');
    } finally {
      await rm(file, { force: true });
    }
  });

  it('runs as -u 1000 in -w /tmp', async () => {
    const r = await t.ok(['exec', '-u', '1000', '-w', '/tmp', 'web', 'sh', '-c', 'echo $(id -u) $(pwd)']);
    expect(r.stdout).toBe('1000 /tmp\n');
  });

  it('keeps the container\'s capabilities and no-new-privileges; --privileged gives more', async () => {
    const plain = await t.ok(['exec', 'web', 'grep', '-E', '^(CapEff|NoNewPrivs)', '/proc/self/status']);
    const ctr = await t.ok(['exec', 'web', 'grep', '^CapEff', '/proc/1/status']);
    expect(plain.stdout).toContain(ctr.stdout.trim());
    expect(plain.stdout).toMatch(/NoNewPrivs:\s+1/);
    const priv = await t.ok(['exec', '--privileged', 'web', 'grep', '^CapEff', '/proc/self/status']);
    expect(priv.stdout).not.toBe(ctr.stdout);
  });

  it('passes piped stdin with -i, and none without', async () => {
    const withI = await t.ok(['exec', '-i', 'web', 'cat'], { input: 'piped line\n' });
    expect(withI.stdout).toBe('piped line\n');
    const withoutI = await t.ok(['exec', 'web', 'cat'], { input: 'ignored\n' });
    expect(withoutI.stdout).toBe('');
  });

  it('starts a command with -d and returns at once', async () => {
    const r = await t.ok(['exec', '-d', 'web', 'sh', '-c', 'echo done > /tmp/detached']);
    expect(r.stdout).toBe('');
    let out = '';
    for (let i = 0; i < 50 && out === ''; i++) {
      out = (await t.run(['exec', 'web', 'cat', '/tmp/detached'])).stdout;
      if (out === '') await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(out).toBe('done\n');
  });

  it('exits 127 for a command that is not found and 126 for one that is not executable', async () => {
    const missing = await t.run(['exec', 'web', 'no-such-command']);
    expect(missing.code).toBe(127);
    expect(missing.stderr).toContain('no-such-command');
    const notExec = await t.run(['exec', 'web', '/etc/passwd']);
    expect(notExec.code).toBe(126);
    expect(notExec.stderr).toContain('permission denied');
  });

  it('runs with a terminal for -t (under script(1), which gives us one) and keeps the exit code', async () => {
    const { spawnSync } = await import('node:child_process');
    const { BIN } = await import('../../helpers/tsbuild.js');
    const cmd = `${BIN} --root ${t.root} exec -t web sh -c 'tty; echo $TERM; exit 5'`;
    const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
    expect(r.status).toBe(5);
    expect(r.stdout).toMatch(/\/dev\/pts\/\d+\r?\nxterm/);
  });

  it('refuses -t without a terminal', async () => {
    const r = await t.run(['exec', '-t', 'web', 'true']);
    expect(r.code).toBe(125);
    expect(r.stderr).toContain('not a TTY');
  });

  it('fails with 125 for a container that is not running or does not exist', async () => {
    await t.ok(['create', '--name', 'idle', '--network', 'none', 'busybox-base', 'sleep', '300']);
    const created = await t.run(['exec', 'idle', 'true']);
    expect(created.code).toBe(125);
    expect(created.stderr).toContain('Error: container idle is not running');

    await runDetached(t, 'short', ['true']);
    await t.ok(['wait', 'short']);
    const exited = await t.run(['exec', 'short', 'true']);
    expect(exited.code).toBe(125);
    expect(exited.stderr).toContain('Error: container short is not running');

    const unknown = await t.run(['exec', 'nosuch', 'true']);
    expect(unknown.code).toBe(125);
    expect(unknown.stderr).toContain('nosuch');
  });

  it('works as container exec too', async () => {
    const r = await t.ok(['container', 'exec', 'web', 'echo', '-n', 'grouped']);
    expect(r.stdout).toBe('grouped');
  });
});
