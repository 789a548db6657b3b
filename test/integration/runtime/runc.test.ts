// The runc driver against the real runc: exit codes, output streams, start-up failures, abort and
// state cleanup, and an overlay rootfs like the one a RUN step uses.
import { readFileSync } from 'node:fs';
import { chmod, readFile, readdir, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { isTsbuildError } from '../../../src/errors.js';
import { silentLogger } from '../../../src/log.js';
import { checkExecutable, createRuncRuntime } from '../../../src/runtime/runc.js';
import { Collector, RUNC, createFixture, requireTools, runCollect, runcList, shellSpec, type Fixture } from './helpers.js';

describe('runc runtime', { timeout: 30_000 }, () => {
  let fx: Fixture;
  beforeAll(requireTools);
  beforeEach(async () => {
    fx = await createFixture();
  });
  afterEach(async () => {
    await fx.cleanup();
  });

  it('runs a command and returns its exit code', async () => {
    expect((await runCollect(fx, shellSpec(fx.rootfs, 'exit 0'))).exitCode).toBe(0);
    expect((await runCollect(fx, shellSpec(fx.rootfs, 'exit 3'))).exitCode).toBe(3);
  });

  it('streams stdout and stderr separately', async () => {
    const result = await runCollect(fx, shellSpec(fx.rootfs, 'echo to-out; echo to-err >&2; echo more-out'));
    expect(result).toEqual({ exitCode: 0, stdout: 'to-out\nmore-out\n', stderr: 'to-err\n' });
  });

  it('delivers large output completely when the destination applies backpressure', async () => {
    // 4 MiB through a slow writable: the container must block on the pipe, not lose data.
    const slow = new Collector({ highWaterMark: 1024 });
    const write = slow._write.bind(slow);
    slow._write = (chunk, enc, done) => setImmediate(() => write(chunk, enc, done));
    const id = fx.newId();
    const exitCode = await fx.runtime.run(
      id,
      fx.bundle,
      shellSpec(fx.rootfs, 'head -c 4194304 /dev/zero | tr "\\0" x'),
      { stdout: slow, stderr: 'inherit' },
    );
    expect(exitCode).toBe(0);
    const text = slow.text();
    expect(text.length).toBe(4 * 1024 * 1024);
    expect(/^x+$/.test(text)).toBe(true);
  });

  it('leaves no runc state behind after a run', async () => {
    await runCollect(fx, shellSpec(fx.rootfs, 'exit 5'));
    expect(runcList(fx.stateRoot)).toEqual([]);
  });

  it('aborting kills the container and leaves no runc state', async () => {
    const controller = new AbortController();
    const stdout = new Collector();
    // Abort once the container has certainly started: when it has printed.
    const started = new Promise<void>((resolve) => {
      const orig = stdout._write.bind(stdout);
      stdout._write = (chunk, enc, done) => {
        resolve();
        orig(chunk, enc, done);
      };
    });
    const begin = Date.now();
    const running = fx.runtime.run(
      fx.newId(),
      fx.bundle,
      shellSpec(fx.rootfs, 'echo started; sleep 300; echo not-reached'),
      { stdout, stderr: 'inherit' },
      controller.signal,
    );
    await started;
    controller.abort(new Error('user pressed Ctrl-C'));
    await expect(running).rejects.toThrow('user pressed Ctrl-C');
    expect(Date.now() - begin).toBeLessThan(10_000);
    expect(stdout.text()).toBe('started\n');
    expect(runcList(fx.stateRoot)).toEqual([]);
  });

  it('aborting right after the start still kills the container', async () => {
    const controller = new AbortController();
    const running = runCollect(fx, shellSpec(fx.rootfs, 'sleep 300'), controller.signal);
    setTimeout(() => controller.abort(), 5);
    await expect(running).rejects.toThrow();
    expect(runcList(fx.stateRoot)).toEqual([]);
  });

  it('returns and cleans up when runc itself is killed while the container runs', async () => {
    const stdout = new Collector();
    const started = new Promise<void>((resolve) => {
      const orig = stdout._write.bind(stdout);
      stdout._write = (chunk, enc, done) => {
        resolve();
        orig(chunk, enc, done);
      };
    });
    const id = fx.newId();
    const running = fx.runtime.run(id, fx.bundle, shellSpec(fx.rootfs, 'echo started; sleep 300'), { stdout, stderr: 'inherit' });
    await started;
    // The runc process is the one whose argv ends with the container id.
    const runcPids = (await readdir('/proc')).filter((p) => /^\d+$/.test(p)).filter((pid) => {
      try {
        const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
        return argv[0] === RUNC && argv.at(-1) === id;
      } catch {
        return false;
      }
    });
    expect(runcPids).toHaveLength(1);
    process.kill(Number(runcPids[0]), 'SIGKILL');
    expect(await running).toBe(137);
    expect(runcList(fx.stateRoot)).toEqual([]);
  });

  it('does not start a container for an already aborted signal', async () => {
    const controller = new AbortController();
    controller.abort(new Error('too late'));
    await expect(runCollect(fx, shellSpec(fx.rootfs, 'exit 0'), controller.signal)).rejects.toThrow('too late');
  });

  it('reports a missing executable as 127 and a non-executable file as 126', async () => {
    const notFound = await runCollect(fx, shellSpec(fx.rootfs, '', { args: ['no-such-command'] }));
    expect(notFound.exitCode).toBe(127);
    expect(notFound.stderr).toContain('executable file not found in $PATH');
    expect((await runCollect(fx, shellSpec(fx.rootfs, '', { args: ['/bin/nope'] }))).exitCode).toBe(127);
    await writeFile(path.join(fx.rootfs, 'bin', 'data'), 'not a program');
    await chmod(path.join(fx.rootfs, 'bin', 'data'), 0o644);
    expect((await runCollect(fx, shellSpec(fx.rootfs, '', { args: ['/bin/data'] }))).exitCode).toBe(126);
  });

  it('checkExecutable finds commands through PATH inside the rootfs only', async () => {
    expect(await checkExecutable(fx.rootfs, 'sh', '/usr/bin:/bin', '/')).toBeUndefined();
    expect(await checkExecutable(fx.rootfs, 'sh', ['HOME=/', 'PATH=/bin'], '/')).toBeUndefined();
    expect(await checkExecutable(fx.rootfs, '/bin/busybox', undefined, '/')).toBeUndefined();
    expect(await checkExecutable(fx.rootfs, './busybox', undefined, '/bin')).toBeUndefined();
    expect(await checkExecutable(fx.rootfs, 'nope', '/bin', '/')).toBe('executable file "nope" not found in $PATH');
    expect(await checkExecutable(fx.rootfs, '/bin/nope', '/bin', '/')).toBe(
      'executable file "/bin/nope" not found: no such file or directory',
    );
    // The host has runc in /usr/sbin; the rootfs does not, so it must not be found.
    expect(await checkExecutable(fx.rootfs, 'runc', '/usr/sbin', '/')).toBe('executable file "runc" not found in $PATH');
    // A symlink pointing out of the rootfs resolves inside it.
    await symlink('/usr/sbin/runc', path.join(fx.rootfs, 'bin', 'escape'));
    expect(await checkExecutable(fx.rootfs, 'escape', '/bin', '/')).toBe('executable file "escape" not found in $PATH');
  });

  it('fails with a RUNTIME error carrying runc\'s message when the container cannot be set up', async () => {
    const spec = shellSpec(fx.rootfs, 'exit 0', {
      mounts: [{ destination: '/etc/hosts', type: 'bind', source: path.join(fx.dir, 'missing-hosts'), options: ['rbind', 'ro'] }],
    });
    const err = await runCollect(fx, spec).catch((e: unknown) => e);
    expect(isTsbuildError(err, 'RUNTIME')).toBe(true);
    expect((err as Error).message).toMatch(/runc failed to run container tsbuild-test-\w+: .*missing-hosts.*no such file or directory/);
    expect(runcList(fx.stateRoot)).toEqual([]);
  });

  it('fails with a RUNTIME error and a hint when runc is not installed', async () => {
    const runtime = createRuncRuntime({ binary: path.join(fx.dir, 'no-runc'), stateRoot: fx.stateRoot, logger: silentLogger() });
    const err = await runtime
      .run(fx.newId(), fx.bundle, shellSpec(fx.rootfs, 'exit 0'), { stdout: 'inherit', stderr: 'inherit' })
      .catch((e: unknown) => e);
    expect(isTsbuildError(err, 'RUNTIME')).toBe(true);
    expect((err as Error).message).toContain('cannot run');
    expect((err as { hint?: string }).hint).toContain('install runc');
  });

  it('rejects a terminal when stdin is not a TTY', async () => {
    const err = await fx.runtime
      .run(fx.newId(), fx.bundle, shellSpec(fx.rootfs, 'exit 0', { terminal: true }), { stdout: 'inherit', stderr: 'inherit' })
      .catch((e: unknown) => e);
    expect(isTsbuildError(err, 'INVALID_ARGUMENT')).toBe(true);
  });

  it('deleting a container that does not exist succeeds', async () => {
    await expect(fx.runtime.delete('tsbuild-test-never-created')).resolves.toBeUndefined();
  });

  it('writes config.json into the bundle, readable only by root', async () => {
    const spec = shellSpec(fx.rootfs, 'exit 0', { env: ['PATH=/bin', 'SECRET_ARG=1'] });
    await runCollect(fx, spec);
    const file = path.join(fx.bundle, 'config.json');
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual(spec);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
  });

  it('runs on an overlay rootfs and its writes land in the upper dir', async () => {
    const { merged, upper } = await fx.overlay(fx.rootfs);
    const result = await runCollect(fx, shellSpec(merged, 'echo hello > /created; rm /bin/ls; cat /created'));
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe('hello\n');
    expect(await readFile(path.join(upper, 'created'), 'utf8')).toBe('hello\n');
    // The deletion is a whiteout (a 0/0 character device) in the upper dir; the lower is untouched.
    expect((await stat(path.join(upper, 'bin', 'ls'))).isCharacterDevice()).toBe(true);
    expect((await stat(path.join(fx.rootfs, 'bin', 'busybox'))).isFile()).toBe(true);
  });
});
