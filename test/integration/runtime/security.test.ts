// The runtime defaults that keep a container from reaching the host, with real runc: Docker's default
// seccomp filter (what it denies, what CAP_SYS_ADMIN unlocks, clone3's ENOSYS), no mounts, no modules,
// no keyring, no reboot, no host processes, masked /proc and /sys paths, only the standard /dev
// nodes; and `--security-opt` / `--privileged` as podman, for run, create, exec, inspect and bud.
// What the kernel answers is read with a static probe binary (syscall-probe.ts) making raw calls.
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildBusyboxBase, createTestRoot, makeContext, type TestRoot } from '../../helpers/tsbuild.js';
import { teardownContainers } from '../container/execcp-helpers.js';
import type { SpecOptions } from '../../../src/runtime/spec.js';
import { createFixture, requireTools, runCollect, shellSpec, type Fixture } from './helpers.js';
import { buildProbe, probeResults } from './syscall-probe.js';

let probeDir: string;
let probe: string;

beforeAll(async () => {
  requireTools();
  probeDir = await mkdtemp(path.join(tmpdir(), 'tsbuild-probe-'));
  probe = await buildProbe(probeDir);
});

afterAll(async () => {
  await rm(probeDir, { recursive: true, force: true });
});

/** Every probe and what a default container (root, default capabilities) gets. */
const DEFAULT_RESULTS: Record<string, string> = {
  mount: 'EPERM',
  umount: 'EPERM',
  'unshare-mnt': 'EPERM',
  // Needs no capability at all in the kernel: only the filter stops it.
  'unshare-user': 'EPERM',
  setns: 'EPERM',
  'clone-ns': 'EPERM',
  clone: 'ok',
  // ENOSYS, not EPERM, so glibc falls back to clone, whose flags the filter can read.
  clone3: 'ENOSYS',
  init_module: 'EPERM',
  finit_module: 'EPERM',
  delete_module: 'EPERM',
  // The kernel keyring is not namespaced; any process may add keys unless filtered.
  add_key: 'EPERM',
  keyctl: 'EPERM',
  request_key: 'EPERM',
  reboot: 'EPERM',
  sethostname: 'EPERM',
  kexec_load: 'EPERM',
  swapoff: 'EPERM',
  open_by_handle_at: 'EPERM',
  // Its operations would bypass the filter.
  io_uring_setup: 'EPERM',
  chroot: 'ok',
  'personality-query': 'ok',
  'personality-norandom': 'EPERM',
  'socket-vsock': 'EPERM',
  'socket-unix': 'ok',
  mkdir: 'ok',
};
const ALL_PROBES = Object.keys(DEFAULT_RESULTS);

function status(text: string): Record<string, string> {
  return Object.fromEntries(text.trim().split('\n').map((l) => l.split(/:\s+/) as [string, string]));
}

describe('containers from generateSpec, run by runc', { timeout: 30_000 }, () => {
  let fx: Fixture;
  beforeEach(async () => {
    fx = await createFixture();
    await copyFile(probe, path.join(fx.rootfs, 'bin', 'probe'));
    await mkdir(path.join(fx.rootfs, 'tmp'));
  });
  afterEach(async () => {
    await fx.cleanup();
  });

  const runProbe = async (names: string[], overrides: Partial<SpecOptions> = {}): Promise<Record<string, string>> => {
    const result = await runCollect(fx, shellSpec(fx.rootfs, `exec /bin/probe ${names.join(' ')}`, overrides));
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
    return probeResults(result.stdout);
  };

  it('filters system calls by default: Seccomp 2, and the default profile answers every probe as Docker does', async () => {
    const st = await runCollect(fx, shellSpec(fx.rootfs, 'grep -E "^(Seccomp|NoNewPrivs):" /proc/self/status'));
    expect(status(st.stdout)).toEqual({ Seccomp: '2', NoNewPrivs: '1' });
    expect(await runProbe(ALL_PROBES)).toEqual(DEFAULT_RESULTS);
  });

  it('seccomp unconfined: no filter, so what only the filter denied goes through (user namespaces, keys, clone3)', async () => {
    const unconfined = { resources: { security: { seccomp: 'unconfined' as const } } };
    const st = await runCollect(fx, shellSpec(fx.rootfs, 'grep "^Seccomp:" /proc/self/status', unconfined));
    expect(st.stdout).toBe('Seccomp:\t0\n');
    const r = await runProbe(ALL_PROBES, unconfined);
    expect(r).toMatchObject({ 'unshare-user': 'ok', add_key: 'ok', keyctl: 'ok', clone3: 'ok', 'personality-norandom': 'ok' });
    expect(r['socket-vsock']).not.toBe('EPERM');
    // Still no capability to mount, reboot or load modules (ENOSYS where the kernel has no
    // module support): the capability set stays the default one.
    expect(r).toMatchObject({ mount: 'EPERM', reboot: 'EPERM' });
    expect(r.init_module).not.toBe('ok');
  });

  it('CAP_SYS_ADMIN unlocks mount, unshare, setns and namespace clones; the rest of the profile still applies', async () => {
    const r = await runProbe(ALL_PROBES, { capabilities: ['CAP_SYS_ADMIN', 'CAP_SYS_CHROOT'] });
    expect(r).toMatchObject({ mount: 'ok', 'unshare-mnt': 'ok', 'unshare-user': 'ok', setns: 'ok', 'clone-ns': 'ok', clone3: 'ok', sethostname: 'ok' });
    expect(r).toMatchObject({ init_module: 'EPERM', add_key: 'EPERM', keyctl: 'EPERM', reboot: 'EPERM', kexec_load: 'EPERM', 'personality-norandom': 'EPERM', 'socket-vsock': 'EPERM' });
  });

  it('a capability-conditioned rule is in the filter only with its capability (kcmp and pidfd_getfd need CAP_SYS_PTRACE)', async () => {
    // On its own process the kernel allows both without any capability: only the filter decides.
    expect(await runProbe(['kcmp', 'pidfd_getfd'], { capabilities: ['CAP_CHOWN'] })).toEqual({ kcmp: 'EPERM', pidfd_getfd: 'EPERM' });
    expect(await runProbe(['kcmp', 'pidfd_getfd'], { capabilities: ['CAP_CHOWN', 'CAP_SYS_PTRACE'] })).toEqual({ kcmp: 'ok', pidfd_getfd: 'ok' });
    expect(await runProbe(['kcmp', 'pidfd_getfd'], { capabilities: ['CAP_CHOWN'], resources: { security: { seccomp: 'unconfined' } } })).toEqual({ kcmp: 'ok', pidfd_getfd: 'ok' });
  });

  it('every capability (--cap-add ALL) keeps a working filter; --privileged has none', async () => {
    const { ALL_CAPABILITIES } = await import('../../../src/runtime/spec.js');
    const all = await runCollect(fx, shellSpec(fx.rootfs, 'grep "^Seccomp:" /proc/self/status; /bin/probe add_key mount', { capabilities: [...ALL_CAPABILITIES] }));
    expect(all.stderr).toBe('');
    expect(all.exitCode).toBe(0);
    expect(all.stdout).toBe('Seccomp:\t2\nadd_key EPERM\nmount ok\n');
    const priv = await runCollect(fx, shellSpec(fx.rootfs, 'grep -E "^(Seccomp|NoNewPrivs):" /proc/self/status; /bin/probe add_key', { privileged: true }));
    expect(priv.stdout).toBe('NoNewPrivs:\t0\nSeccomp:\t0\nadd_key ok\n');
  });

  it('a custom profile replaces the default one: denying mkdir makes mkdir fail with its errno', async () => {
    const { parseSeccompProfile } = await import('../../../src/runtime/seccomp.js');
    const profile = parseSeccompProfile(
      JSON.stringify({
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 }],
      }),
      'deny-mkdir.json',
    );
    const r = await runProbe(['mkdir', 'add_key'], { resources: { security: { seccomp: { file: 'deny-mkdir.json', profile } } } });
    expect(r).toEqual({ mkdir: 'EACCES', add_key: 'ok' });
  });

  it('sees only its own processes (a pid namespace)', async () => {
    const result = await runCollect(fx, shellSpec(fx.rootfs, 'ps -o pid,comm; echo; ls /proc | grep -E "^[0-9]+$"'));
    const [table, pids] = result.stdout.split('\n\n');
    const rows = table!.trim().split('\n');
    expect(rows[0]).toMatch(/PID\s+COMMAND/);
    // sh as pid 1 and ps; then sh, ls and grep: nothing of the host's.
    expect(rows.slice(1).map((l) => l.trim().split(/\s+/))).toEqual([['1', 'sh'], [expect.stringMatching(/^\d$/), 'ps']]);
    const numbers = pids!.trim().split('\n').map(Number);
    expect(numbers).toContain(1);
    expect(numbers.length).toBeLessThanOrEqual(3);
    expect(Math.max(...numbers)).toBeLessThan(10);
  });

  it('has only the standard device nodes, and cannot make others', async () => {
    const result = await runCollect(fx, shellSpec(fx.rootfs, 'find /dev -type c -o -type b | sort; mknod /tmp/sda b 8 0 || echo mknod-failed'));
    expect(result.stdout.trim().split('\n')).toEqual(['/dev/full', '/dev/null', '/dev/pts/ptmx', '/dev/random', '/dev/tty', '/dev/urandom', '/dev/zero', 'mknod-failed']);
  });

  it('mask= hides more paths, unmask= lifts default masks and read-only paths', async () => {
    // (This kernel may lack /proc/kcore; /proc/keys and /proc/timer_list are masked alike.)
    const script = 'stat -c "%n %F" /proc/cpuinfo /proc/keys /proc/timer_list; grep -c " /proc/sys " /proc/mounts';
    const plain = await runCollect(fx, shellSpec(fx.rootfs, script));
    expect(plain.stdout).toBe('/proc/cpuinfo regular empty file\n/proc/keys character special file\n/proc/timer_list character special file\n1\n');
    const changed = await runCollect(fx, shellSpec(fx.rootfs, script, { resources: { security: { mask: ['/proc/cpuinfo'], unmask: ['/proc/k*', '/proc/sys'] } } }));
    expect(changed.stdout).toBe('/proc/cpuinfo character special file\n/proc/keys regular empty file\n/proc/timer_list character special file\n0\n');
    const all = await runCollect(fx, shellSpec(fx.rootfs, script, { resources: { security: { unmask: ['ALL'] } } }));
    expect(all.stdout).toBe('/proc/cpuinfo regular empty file\n/proc/keys regular empty file\n/proc/timer_list regular empty file\n0\n');
  });
});

describe('--security-opt and --privileged through the CLI', { timeout: 60_000 }, () => {
  let t: TestRoot;
  const dirs: string[] = [];
  beforeAll(async () => {
    t = await createTestRoot();
    await buildBusyboxBase(t);
  }, 120_000);
  afterAll(async () => {
    await teardownContainers(t);
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  const run = (flags: string[], command: string[]) => t.run(['run', '--rm', '--network', 'none', '-v', `${probeDir}:/probe:ro`, ...flags, 'busybox-base', ...command]);
  const statusOf = async (flags: string[]): Promise<Record<string, string>> => {
    const r = await run(flags, ['grep', '-E', '^(Seccomp|NoNewPrivs):', '/proc/self/status']);
    expect(r.stderr).toBe('');
    return status(r.stdout);
  };

  it('run: Seccomp 2 and no new privileges by default; mount, unshare, modules, keys and reboot fail', async () => {
    expect(await statusOf([])).toEqual({ Seccomp: '2', NoNewPrivs: '1' });
    const r = await run([], ['sh', '-c', '/probe/probe mount unshare-mnt unshare-user init_module finit_module add_key keyctl reboot clone3']);
    expect(probeResults(r.stdout)).toEqual({
      mount: 'EPERM', 'unshare-mnt': 'EPERM', 'unshare-user': 'EPERM', init_module: 'EPERM', finit_module: 'EPERM', add_key: 'EPERM', keyctl: 'EPERM', reboot: 'EPERM', clone3: 'ENOSYS',
    });
    // The tools users reach for fail too.
    const tools = await run([], ['sh', '-c', 'mkdir -p /mnt/t; mount -t tmpfs none /mnt/t || echo mount-failed; insmod /bin/busybox || echo insmod-failed; unshare -m true || echo unshare-failed']);
    expect(tools.stdout).toBe('mount-failed\ninsmod-failed\nunshare-failed\n');
    expect(tools.stderr).toMatch(/Operation not permitted/);
  });

  it('run: /proc/keys, /proc/timer_list and /sys/firmware are masked, /proc/sys is read-only, and no host process is visible', async () => {
    const r = await run([], ['sh', '-c', 'stat -c "%n %F" /proc/keys /proc/timer_list; ls -A /sys/firmware | wc -l; touch /proc/sys/kernel/x 2>/dev/null || echo ro; ps -o pid,comm; true']);
    expect(r.stdout).toMatch(/^\/proc\/keys character special file\n\/proc\/timer_list character special file\n0\nro\nPID\s+COMMAND\n\s+1 sh\n\s+\d+ ps\n$/);
  });

  it('run --privileged and --security-opt seccomp=unconfined: Seccomp 0', async () => {
    expect(await statusOf(['--privileged'])).toEqual({ Seccomp: '0', NoNewPrivs: '0' });
    expect(await statusOf(['--security-opt', 'seccomp=unconfined'])).toEqual({ Seccomp: '0', NoNewPrivs: '1' });
    const r = await run(['--security-opt', 'seccomp=unconfined'], ['sh', '-c', '/probe/probe add_key mount']);
    expect(probeResults(r.stdout)).toEqual({ add_key: 'ok', mount: 'EPERM' });
  });

  it('run --security-opt no-new-privileges=false shows NoNewPrivs 0; =true and the bare option 1', async () => {
    expect(await statusOf(['--security-opt', 'no-new-privileges=false'])).toEqual({ Seccomp: '2', NoNewPrivs: '0' });
    expect(await statusOf(['--security-opt', 'no-new-privileges=true'])).toEqual({ Seccomp: '2', NoNewPrivs: '1' });
    expect(await statusOf(['--security-opt', 'no-new-privileges', '--security-opt', 'label=disable', '--security-opt', 'apparmor=unconfined'])).toEqual({ Seccomp: '2', NoNewPrivs: '1' });
  });

  it('run --cap-add SYS_ADMIN lets a tmpfs mount through, but keys, modules and reboot stay denied', async () => {
    const r = await run(['--cap-add', 'SYS_ADMIN'], ['sh', '-c', 'mkdir -p /mnt/t && mount -t tmpfs none /mnt/t && grep -c " /mnt/t tmpfs " /proc/mounts; /probe/probe add_key init_module reboot']);
    expect(r.stdout).toBe('1\nadd_key EPERM\ninit_module EPERM\nreboot EPERM\n');
  });

  it('run --security-opt seccomp=FILE applies a Docker-format profile: denying mkdir makes mkdir fail', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'tsbuild-profile-'));
    dirs.push(dir);
    const file = path.join(dir, 'deny-mkdir.json');
    const { DEFAULT_PROFILE } = await import('../../../src/runtime/seccomp-profile.js');
    // The default profile without mkdir/mkdirat: everything else keeps working.
    const profile = {
      ...DEFAULT_PROFILE,
      syscalls: [...DEFAULT_PROFILE.syscalls.map((s) => ({ ...s, names: s.names.filter((n) => n !== 'mkdir' && n !== 'mkdirat') })), { names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 }],
    };
    await writeFile(file, JSON.stringify(profile));
    const r = await run(['--security-opt', `seccomp=${file}`], ['sh', '-c', 'mkdir /tmp/d || echo mkdir-failed; echo ok > /tmp/f && cat /tmp/f; grep "^Seccomp:" /proc/self/status']);
    expect(r.stdout).toBe('mkdir-failed\nok\nSeccomp:\t2\n');
    expect(r.stderr).toMatch(/Permission denied/);
  });

  it('a missing or broken profile file and an unknown option fail with one line naming them (exit 125)', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'tsbuild-profile-'));
    dirs.push(dir);
    const missing = await run(['--security-opt', `seccomp=${dir}/none.json`], ['true']);
    expect(missing.code).toBe(125);
    expect(missing.stderr).toBe(`Error: seccomp profile ${dir}/none.json: no such file\n`);
    await writeFile(path.join(dir, 'bad.json'), '{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [');
    const broken = await run(['--security-opt', `seccomp=${dir}/bad.json`], ['true']);
    expect(broken.code).toBe(125);
    expect(broken.stderr).toMatch(new RegExp(`^Error: seccomp profile ${dir}/bad.json: not valid JSON \\(.*\\)\\n$`));
    await writeFile(path.join(dir, 'action.json'), JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'DENY' }] }));
    const action = await run(['--security-opt', `seccomp=${dir}/action.json`], ['true']);
    expect(action.stderr.split('\n')[0]).toBe(`Error: seccomp profile ${dir}/action.json: syscalls[0].action "DENY" is not a seccomp action (SCMP_ACT_KILL, SCMP_ACT_KILL_PROCESS, SCMP_ACT_KILL_THREAD, SCMP_ACT_TRAP, SCMP_ACT_ERRNO, SCMP_ACT_TRACE, SCMP_ACT_ALLOW, SCMP_ACT_LOG)`);
    const unknown = await run(['--security-opt', 'proc-opts=hidepid=2'], ['true']);
    expect(unknown.code).toBe(125);
    expect(unknown.stderr.split('\n')[0]).toBe('Error: --security-opt "proc-opts=hidepid=2": unknown option');
    const label = await run(['--security-opt', 'label=type:container_t'], ['true']);
    expect(label.stderr.split('\n')[0]).toBe('Error: --security-opt "label=type:container_t": tsbuild applies no SELinux labels; only label=disable is accepted');
    // Nothing was created by the failed runs.
    expect((await t.ok(['ps', '-a', '-q'])).stdout).toBe('');
  });

  it('create keeps the options: inspect shows HostConfig.SecurityOpt, start and exec apply them', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'tsbuild-profile-'));
    dirs.push(dir);
    const file = path.join(dir, 'allow-all.json');
    await writeFile(file, JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW' }));
    const opts = ['--security-opt', `seccomp=${file}`, '--security-opt', 'no-new-privileges=false', '--security-opt', 'mask=/proc/cpuinfo'];
    const id = (await t.ok(['create', '--name', 'secopt', '--network', 'none', ...opts, 'busybox-base', 'sleep', '300'])).stdout.trim();
    // The profile was read at create: the file may go.
    await rm(file);
    const inspect = JSON.parse((await t.ok(['inspect', 'secopt'])).stdout) as { HostConfig: { SecurityOpt: string[]; Privileged: boolean } }[];
    expect(inspect[0]!.HostConfig.SecurityOpt).toEqual([`seccomp=${file}`, 'no-new-privileges=false', 'mask=/proc/cpuinfo']);
    await t.ok(['start', 'secopt']);
    try {
      const st = await t.ok(['exec', 'secopt', 'sh', '-c', 'grep -E "^(Seccomp|NoNewPrivs):" /proc/self/status; stat -c %F /proc/cpuinfo']);
      // A filter, but one that allows everything: the file's, not the default.
      expect(st.stdout).toBe('NoNewPrivs:\t0\nSeccomp:\t2\ncharacter special file\n');
      expect((await t.ok(['exec', 'secopt', 'sh', '-c', 'mkdir -p /tmp/k; mount -t tmpfs none /tmp/k || echo denied-by-caps'])).stdout).toBe('denied-by-caps\n');
    } finally {
      await t.run(['rm', '-f', id]);
    }
  });

  it('exec in a default container is filtered too; exec --privileged gets every capability but keeps the container\'s filter', async () => {
    await t.ok(['run', '-d', '--name', 'plain', '--network', 'none', '-v', `${probeDir}:/probe:ro`, 'busybox-base', 'sleep', '300']);
    await t.ok(['run', '-d', '--name', 'priv', '--privileged', '--network', 'none', 'busybox-base', 'sleep', '300']);
    try {
      const plain = await t.ok(['exec', 'plain', '/probe/probe', 'add_key', 'mount']);
      expect(plain.stdout).toBe('add_key EPERM\nmount EPERM\n');
      // runc applies a container's filter to every process in it (so does podman's exec).
      const elevated = await t.ok(['exec', '--privileged', 'plain', 'grep', '^Seccomp:', '/proc/self/status']);
      expect(elevated.stdout).toBe('Seccomp:\t2\n');
      const priv = await t.ok(['exec', 'priv', 'grep', '^Seccomp:', '/proc/self/status']);
      expect(priv.stdout).toBe('Seccomp:\t0\n');
      const inspect = JSON.parse((await t.ok(['inspect', 'plain'])).stdout) as { HostConfig: { SecurityOpt: string[] } }[];
      expect(inspect[0]!.HostConfig.SecurityOpt).toEqual([]);
    } finally {
      await t.run(['rm', '-f', 'plain', 'priv']);
    }
  });

  it('bud: RUN steps get the same filter; --security-opt seccomp=unconfined and no-new-privileges=false change them', async () => {
    const ctx = await makeContext({
      Containerfile: ['FROM busybox-base', 'RUN grep -E "^(Seccomp|NoNewPrivs):" /proc/self/status', 'RUN /probe/probe mount add_key unshare-mnt'].join('\n'),
    });
    dirs.push(ctx);
    const plain = await t.ok(['bud', '--no-cache', '-v', `${probeDir}:/probe:ro`, ctx]);
    expect(plain.stdout).toMatch(/^NoNewPrivs:\s+1\nSeccomp:\s+2$/m);
    expect(plain.stdout).toMatch(/^mount EPERM\nadd_key EPERM\nunshare-mnt EPERM$/m);
    const loose = await t.ok(['bud', '--no-cache', '-v', `${probeDir}:/probe:ro`, '--security-opt', 'seccomp=unconfined', '--security-opt', 'no-new-privileges=false', ctx]);
    expect(loose.stdout).toMatch(/^NoNewPrivs:\s+0\nSeccomp:\s+0$/m);
    expect(loose.stdout).toMatch(/^mount EPERM\nadd_key ok\nunshare-mnt EPERM$/m);
  });

  it('bud: a RUN that mounts fails, unless it runs with --security=insecure', async () => {
    const ctx = await makeContext({ Containerfile: ['FROM busybox-base', 'RUN mkdir -p /mnt/t && mount -t tmpfs none /mnt/t'].join('\n') });
    dirs.push(ctx);
    const denied = await t.run(['bud', '--no-cache', ctx]);
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toMatch(/mount: permission denied/);
    expect(denied.stderr).toMatch(/Error: .*Containerfile:2: RUN exited with status/);
    const insecureCtx = await makeContext({
      Containerfile: ['FROM busybox-base', 'RUN --security=insecure grep "^Seccomp:" /proc/self/status && mkdir -p /mnt/t && mount -t tmpfs none /mnt/t && umount /mnt/t'].join('\n'),
    });
    dirs.push(insecureCtx);
    const insecure = await t.ok(['bud', '--no-cache', '--allow', 'security.insecure', insecureCtx]);
    expect(insecure.stdout).toMatch(/^Seccomp:\s+0$/m);
  });
});
