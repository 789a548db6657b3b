// What a process sees inside a container made from generateSpec: its environment, identity,
// namespaces, devices, masked and read-only paths, capabilities and rlimits.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_CAPABILITIES, currentLimit, generateSpec } from '../../../src/runtime/spec.js';
import { createFixture, requireTools, runCollect, shellSpec, type Fixture } from './helpers.js';

// Bit numbers from linux/capability.h, for decoding CapEff in /proc/self/status.
const CAP_BITS: Record<string, number> = {
  CAP_CHOWN: 0,
  CAP_DAC_OVERRIDE: 1,
  CAP_FOWNER: 3,
  CAP_FSETID: 4,
  CAP_KILL: 5,
  CAP_SETGID: 6,
  CAP_SETUID: 7,
  CAP_SETPCAP: 8,
  CAP_NET_BIND_SERVICE: 10,
  CAP_NET_RAW: 13,
  CAP_SYS_CHROOT: 18,
  CAP_SETFCAP: 31,
};

function capMask(caps: readonly string[]): string {
  let mask = 0n;
  for (const c of caps) mask |= 1n << BigInt(CAP_BITS[c] ?? Number.NaN);
  return mask.toString(16).padStart(16, '0');
}

describe('containers from generateSpec', { timeout: 30_000 }, () => {
  let fx: Fixture;
  beforeAll(requireTools);
  beforeEach(async () => {
    fx = await createFixture();
  });
  afterEach(async () => {
    await fx.cleanup();
  });

  it('applies env, working directory and user', async () => {
    const result = await runCollect(
      fx,
      shellSpec(fx.rootfs, 'echo "$GREETING"; pwd; id', {
        env: ['PATH=/bin', 'GREETING=hello world'],
        cwd: '/etc',
        user: { uid: 1000, gid: 1001, additionalGids: [20, 30] },
      }),
    );
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe('hello world\n/etc\nuid=1000 gid=1001 groups=20,30\n');
  });

  it('sets the hostname', async () => {
    const result = await runCollect(fx, shellSpec(fx.rootfs, 'hostname', { hostname: 'builder-7' }));
    expect(result.stdout).toBe('builder-7\n');
  });

  it('network none has only the loopback interface, and it is up', async () => {
    const result = await runCollect(fx, shellSpec(fx.rootfs, 'tail -n +3 /proc/net/dev | cut -d: -f1; ip -o link show lo'));
    const [ifaces, lo] = [result.stdout.split('\n').slice(0, -2), result.stdout.split('\n').at(-2) ?? ''];
    expect(ifaces.map((l) => l.trim())).toEqual(['lo']);
    expect(lo).toMatch(/UP/);
  });

  it('network host sees the host interfaces and a read-only /sys', async () => {
    // veth pairs come and go as other test files' bridge containers start and stop meanwhile, so
    // they are left out of the comparison on both sides; every other interface must match.
    const stable = (names: string[]): string[] => names.filter((n) => !n.startsWith('veth')).sort();
    const hostIfaces = stable(
      (await readFile('/proc/net/dev', 'utf8'))
        .split('\n')
        .slice(2)
        .map((l) => l.split(':')[0]?.trim() ?? '')
        .filter(Boolean),
    );
    const result = await runCollect(
      fx,
      shellSpec(fx.rootfs, 'tail -n +3 /proc/net/dev | cut -d: -f1; ls /sys/class/net >/dev/null && echo sys-ok; touch /sys/x', {
        network: 'host',
      }),
    );
    const lines = result.stdout.split('\n').filter(Boolean);
    expect(stable(lines.slice(0, -1).map((l) => l.trim()))).toEqual(hostIfaces);
    // Not a trivial match of two loopback-only lists: the host has other interfaces to see.
    expect(hostIfaces.filter((n) => n !== 'lo').length).toBeGreaterThan(0);
    expect(lines.at(-1)).toBe('sys-ok');
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr).toMatch(/Read-only file system/);
  });

  it('mounts sysfs read-only in its own network namespace', async () => {
    const result = await runCollect(fx, shellSpec(fx.rootfs, 'grep " /sys " /proc/mounts; ls /sys/class/net'));
    expect(result.stdout).toMatch(/^sysfs \/sys sysfs ro,/);
    expect(result.stdout.split('\n').slice(1).filter(Boolean)).toEqual(['lo']);
  });

  it('masks /proc/kcore, /proc/keys, /proc/timer_list and /sys/firmware, and makes /proc/sys read-only', async () => {
    // This kernel may lack /proc/kcore; /proc/keys and /proc/timer_list show the masking as well.
    for (const f of ['/proc/keys', '/proc/timer_list']) expect((await readFile(f)).length).toBeGreaterThan(0);
    const result = await runCollect(
      fx,
      shellSpec(
        fx.rootfs,
        [
          'for f in /proc/kcore /proc/keys /proc/timer_list; do [ -e $f ] && echo "$f $(wc -c < $f)"; done',
          'echo "acpi $(ls /proc/acpi | wc -l) firmware $(ls /sys/firmware | wc -l)"',
          'echo x > /proc/sys/kernel/domainname; echo status=$?',
        ].join('; '),
      ),
    );
    const lines = result.stdout.trim().split('\n');
    expect(lines.filter((l) => l.startsWith('/proc/')).sort()).toEqual(
      expect.arrayContaining(['/proc/keys 0', '/proc/timer_list 0']),
    );
    for (const l of lines.filter((l) => l.startsWith('/proc/'))) expect(l).toMatch(/ 0$/);
    expect(lines).toContain('acpi 0 firmware 0');
    expect(lines.at(-1)).not.toBe('status=0');
    expect(result.stderr).toMatch(/Read-only file system/);
  });

  it('provides the default devices, ptys, shm and mqueue', async () => {
    const result = await runCollect(
      fx,
      shellSpec(fx.rootfs, 'ls /dev; echo x > /dev/null && head -c 4 /dev/urandom | wc -c; grep -E " /dev/(pts|shm|mqueue) " /proc/mounts | cut -d" " -f2,3'),
    );
    expect(result.exitCode).toBe(0);
    const lines = result.stdout.split('\n');
    for (const dev of ['null', 'zero', 'full', 'random', 'urandom', 'tty', 'pts', 'shm', 'mqueue', 'ptmx']) {
      expect(lines).toContain(dev);
    }
    expect(lines).toContain('4');
    expect(lines).toEqual(expect.arrayContaining(['/dev/pts devpts', '/dev/shm tmpfs', '/dev/mqueue mqueue']));
  });

  it('refuses device nodes outside the allowed set', async () => {
    // CAP_MKNOD is not in the default set, and the device cgroup denies everything else anyway.
    const result = await runCollect(fx, shellSpec(fx.rootfs, 'mknod /tmp-sda b 8 0'));
    expect(result.exitCode).not.toBe(0);
  });

  it('gives root the default capabilities and no new privileges', async () => {
    const result = await runCollect(fx, shellSpec(fx.rootfs, 'grep -E "^(CapEff|CapBnd|CapInh|CapAmb|NoNewPrivs):" /proc/self/status'));
    const status = Object.fromEntries(result.stdout.trim().split('\n').map((l) => l.split(/:\s+/) as [string, string]));
    expect(status).toEqual({
      CapEff: capMask(DEFAULT_CAPABILITIES),
      CapBnd: capMask(DEFAULT_CAPABILITIES),
      CapInh: capMask([]),
      CapAmb: capMask([]),
      NoNewPrivs: '1',
    });
  });

  it('honours a custom capability set and noNewPrivileges false', async () => {
    const result = await runCollect(
      fx,
      shellSpec(fx.rootfs, 'grep -E "^(CapEff|NoNewPrivs):" /proc/self/status', {
        capabilities: ['chown', 'CAP_NET_RAW'],
        noNewPrivileges: false,
      }),
    );
    expect(result.stdout).toBe(`CapEff:\t${capMask(['CAP_CHOWN', 'CAP_NET_RAW'])}\nNoNewPrivs:\t0\n`);
  });

  it('leaves a non-root user without effective capabilities', async () => {
    const result = await runCollect(
      fx,
      shellSpec(fx.rootfs, 'grep "^CapEff:" /proc/self/status', { user: { uid: 1000, gid: 1000, additionalGids: [] } }),
    );
    expect(result.stdout).toBe(`CapEff:\t${capMask([])}\n`);
  });

  it('sets NOFILE to the caller\'s hard limit, so runc never fails to set rlimits', async () => {
    const limit = currentLimit('Max open files');
    expect(limit).toBeDefined();
    const result = await runCollect(fx, shellSpec(fx.rootfs, 'ulimit -n; ulimit -Hn'));
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe(`${limit!.hard}\n${limit!.hard}\n`);
  });

  it('makes the root read-only on request', async () => {
    const result = await runCollect(fx, shellSpec(fx.rootfs, 'touch /newfile', { readonlyRootfs: true }));
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr).toMatch(/Read-only file system/);
  });

  it('bind-mounts extra files such as /etc/hosts', async () => {
    const hosts = path.join(fx.dir, 'hosts');
    await writeFile(hosts, '127.0.0.1\tlocalhost\n10.1.2.3\tregistry.test\n');
    await writeFile(path.join(fx.rootfs, 'etc', 'hosts'), '');
    const result = await runCollect(
      fx,
      shellSpec(fx.rootfs, 'cat /etc/hosts; echo x >> /etc/hosts', {
        mounts: [{ destination: '/etc/hosts', type: 'bind', source: hosts, options: ['rbind', 'ro'] }],
      }),
    );
    expect(result.stdout).toBe('127.0.0.1\tlocalhost\n10.1.2.3\tregistry.test\n');
    expect(result.stderr).toMatch(/Read-only file system/);
  });

  it('rejects a relative working directory and an empty command', () => {
    const base = { rootfs: fx.rootfs, env: [], user: { uid: 0, gid: 0, additionalGids: [] }, hostname: 'h', terminal: false, network: 'none' as const };
    expect(() => generateSpec({ ...base, args: ['/bin/sh'], cwd: 'etc' })).toThrow(/not an absolute path/);
    expect(() => generateSpec({ ...base, args: [], cwd: '/' })).toThrow(/needs a command/);
  });
});
