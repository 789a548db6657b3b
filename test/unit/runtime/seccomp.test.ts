// The seccomp profile builder (Docker's rules filtered by capability, architecture and kernel), the
// profile file checker, the --security-opt parser, and how generateSpec puts them together.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSeccomp, kernelAtLeast, loadSeccompProfile, nativeArch, parseSeccompProfile, type LinuxSeccomp } from '../../../src/runtime/seccomp.js';
import { CLONE_NAMESPACE_FLAGS, DEFAULT_PROFILE } from '../../../src/runtime/seccomp-profile.js';
import { parseSecurityOpts, unmasks } from '../../../src/runtime/security-opt.js';
import { ALL_CAPABILITIES, DEFAULT_CAPABILITIES, MASKED_PATHS, READONLY_PATHS, generateSpec, type SpecOptions } from '../../../src/runtime/spec.js';

const KERNEL = '6.1.0-18-amd64';
const build = (caps: readonly string[], arch = 'amd64', kernel = KERNEL): LinuxSeccomp => buildSeccomp(DEFAULT_PROFILE, { capabilities: caps, arch, kernel });
/** Syscalls with an unconditional allow rule (no argument filter). */
const allowed = (s: LinuxSeccomp): Set<string> => new Set(s.syscalls.filter((r) => r.action === 'SCMP_ACT_ALLOW' && !r.args).flatMap((r) => r.names));
const rulesFor = (s: LinuxSeccomp, name: string) => s.syscalls.filter((r) => r.names.includes(name));

describe('the default profile for a container', () => {
  it('denies with EPERM by default and filters x86_64 with its 32-bit sub-architectures', () => {
    const s = build(DEFAULT_CAPABILITIES);
    expect(s.defaultAction).toBe('SCMP_ACT_ERRNO');
    expect(s.defaultErrnoRet).toBe(1);
    expect(s.architectures).toEqual(['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
  });

  it('with the default capabilities: ordinary calls allowed; mount, namespaces, modules, keys, reboot, kexec left out', () => {
    const names = allowed(build(DEFAULT_CAPABILITIES));
    for (const n of ['read', 'write', 'openat', 'execve', 'fork', 'mknodat', 'setuid', 'capset', 'arch_prctl', 'modify_ldt', 'chroot', 'ptrace']) expect(names, n).toContain(n);
    for (const n of ['mount', 'umount2', 'unshare', 'setns', 'sethostname', 'init_module', 'finit_module', 'delete_module', 'keyctl', 'add_key', 'request_key', 'reboot', 'kexec_load', 'swapon', 'io_uring_setup', 'io_uring_enter', 'bpf', 'perf_event_open', 'syslog', 'open_by_handle_at', 'clone', 'clone3', 'personality', 'socket', 'set_tls', 's390_runtime_instr']) {
      expect(names, n).not.toContain(n);
    }
  });

  it('allows clone only without namespace flags, answers clone3 with ENOSYS, socket except AF_VSOCK, five personalities', () => {
    const s = build(DEFAULT_CAPABILITIES);
    expect(rulesFor(s, 'clone')).toEqual([{ names: ['clone'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }] }]);
    expect(CLONE_NAMESPACE_FLAGS).toBe(0x10000000 | 0x20000000 | 0x04000000 | 0x08000000 | 0x40000000 | 0x00020000 | 0x02000000);
    expect(rulesFor(s, 'clone3')).toEqual([{ names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 }]);
    expect(rulesFor(s, 'socket')).toEqual([{ names: ['socket'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 40, valueTwo: 0, op: 'SCMP_CMP_NE' }] }]);
    expect(rulesFor(s, 'personality').map((r) => r.args?.[0]?.value)).toEqual([0, 8, 0x20000, 0x20008, 0xffffffff]);
  });

  it('CAP_SYS_ADMIN adds mount, umount, unshare, setns, sethostname and plain clone/clone3, and drops the clone filters', () => {
    const s = build([...DEFAULT_CAPABILITIES, 'CAP_SYS_ADMIN']);
    const names = allowed(s);
    for (const n of ['mount', 'umount', 'umount2', 'unshare', 'setns', 'sethostname', 'setdomainname', 'clone', 'clone3', 'fsopen', 'fsmount', 'move_mount', 'open_tree', 'syslog', 'quotactl']) expect(names, n).toContain(n);
    expect(rulesFor(s, 'clone').every((r) => !r.args)).toBe(true);
    expect(rulesFor(s, 'clone3').every((r) => r.action === 'SCMP_ACT_ALLOW')).toBe(true);
    // What other capabilities gate stays out.
    for (const n of ['init_module', 'reboot', 'keyctl', 'kexec_load', 'iopl']) expect(names, n).not.toContain(n);
  });

  it('each capability unlocks only its own calls', () => {
    const cases: [string, string[]][] = [
      ['CAP_SYS_MODULE', ['init_module', 'finit_module', 'delete_module']],
      ['CAP_SYS_BOOT', ['reboot']],
      ['CAP_SYS_PACCT', ['acct']],
      ['CAP_SYS_PTRACE', ['kcmp', 'pidfd_getfd', 'process_madvise']],
      ['CAP_SYS_RAWIO', ['iopl', 'ioperm']],
      ['CAP_SYS_TIME', ['settimeofday', 'stime', 'clock_settime', 'clock_settime64']],
      ['CAP_SYS_TTY_CONFIG', ['vhangup']],
      ['CAP_SYS_NICE', ['get_mempolicy', 'mbind', 'set_mempolicy', 'set_mempolicy_home_node']],
      ['CAP_SYSLOG', ['syslog']],
      ['CAP_BPF', ['bpf']],
      ['CAP_PERFMON', ['perf_event_open']],
      ['CAP_DAC_READ_SEARCH', ['open_by_handle_at']],
    ];
    const base = allowed(build([]));
    for (const [cap, calls] of cases) {
      const added = [...allowed(build([cap]))].filter((n) => !base.has(n));
      expect(added.sort(), cap).toEqual([...calls].sort());
    }
    // No capabilities at all: not even chroot.
    expect(base).not.toContain('chroot');
  });

  it('every capability still leaves a filter: kexec, keys, swapon and obsolete calls stay denied', () => {
    const names = allowed(build(ALL_CAPABILITIES));
    for (const n of ['mount', 'init_module', 'reboot', 'bpf', 'ptrace']) expect(names, n).toContain(n);
    for (const n of ['kexec_load', 'kexec_file_load', 'keyctl', 'add_key', 'swapon', 'uselib', 'nfsservctl', 'userfaultfd']) expect(names, n).not.toContain(n);
  });

  it('follows the architecture: arm64 gets ARM and its own calls, s390x its clone argument order, an unknown one no arch list', () => {
    const arm = build(DEFAULT_CAPABILITIES, 'arm64');
    expect(arm.architectures).toEqual(['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
    expect(allowed(arm)).toContain('set_tls');
    expect(allowed(arm)).not.toContain('arch_prctl');
    const s390 = build(DEFAULT_CAPABILITIES, 's390x');
    expect(s390.architectures).toEqual(['SCMP_ARCH_S390X', 'SCMP_ARCH_S390']);
    expect(rulesFor(s390, 'clone').map((r) => r.args?.[0]?.index)).toEqual([1]);
    expect(build(DEFAULT_CAPABILITIES, 'riscv64').architectures).toEqual(['SCMP_ARCH_RISCV64']);
    expect(build(DEFAULT_CAPABILITIES, 'loong64').architectures).toBeUndefined();
  });

  it('follows the kernel: before 4.8 ptrace is only for CAP_SYS_PTRACE', () => {
    expect(allowed(build(DEFAULT_CAPABILITIES, 'amd64', '4.4.0-210-generic'))).not.toContain('ptrace');
    expect(allowed(build(['CAP_SYS_PTRACE'], 'amd64', '4.4.0'))).toContain('ptrace');
    expect(kernelAtLeast('6.18.44-fc-v857', '4.8')).toBe(true);
    expect(kernelAtLeast('4.8.0', '4.8')).toBe(true);
    expect(kernelAtLeast('4.7.10', '4.8')).toBe(false);
    expect(kernelAtLeast('5.10.1', '5.10.2')).toBe(false);
  });

  it('names Node\'s architectures as Docker does', () => {
    expect(nativeArch('x64')).toBe('amd64');
    expect(nativeArch('ia32')).toBe('x86');
    expect(nativeArch('arm64')).toBe('arm64');
    expect(nativeArch('ppc64', 'LE')).toBe('ppc64le');
    expect(nativeArch('ppc64', 'BE')).toBe('ppc64');
    expect(nativeArch('s390x')).toBe('s390x');
  });
});

describe('profile files', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'tsbuild-seccomp-unit-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('the built-in profile passes its own checks unchanged', () => {
    expect(parseSeccompProfile(JSON.stringify(DEFAULT_PROFILE), 'default.json')).toEqual(DEFAULT_PROFILE);
  });

  it('reads podman\'s profile (containers-common) and Docker\'s field forms (name, null subArchitectures, lower-case caps)', async () => {
    const podman = await loadSeccompProfile('/usr/share/containers/seccomp.json');
    expect(podman.defaultAction).toBe('SCMP_ACT_ERRNO');
    expect(podman.syscalls.length).toBeGreaterThan(10);
    const p = parseSeccompProfile(
      JSON.stringify({
        defaultAction: 'SCMP_ACT_ALLOW',
        archMap: [{ architecture: 'SCMP_ARCH_X86_64', subArchitectures: null }],
        syscalls: [{ name: 'mkdir', action: 'SCMP_ACT_ERRNO', includes: { caps: ['sys_admin'] }, comment: 'x', unknownField: 1 }],
      }),
      'f.json',
    );
    expect(p).toEqual({
      defaultAction: 'SCMP_ACT_ALLOW',
      archMap: [{ architecture: 'SCMP_ARCH_X86_64', subArchitectures: [] }],
      syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', includes: { caps: ['CAP_SYS_ADMIN'] } }],
    });
    // An OCI section as written in config.json works too.
    const oci = parseSeccompProfile(JSON.stringify(build(DEFAULT_CAPABILITIES)), 'oci.json');
    expect(buildSeccomp(oci, { capabilities: [], arch: 'amd64', kernel: KERNEL })).toEqual(build(DEFAULT_CAPABILITIES));
  });

  it('refuses what runc would reject or tsbuild cannot serve, naming the file and the field', () => {
    const bad: [unknown, string][] = [
      ['{', 'not valid JSON'],
      [[], 'expected a JSON object with defaultAction and syscalls'],
      [{ syscalls: [] }, 'defaultAction undefined is not a seccomp action'],
      [{ defaultAction: 'SCMP_ACT_NOTIFY' }, 'defaultAction SCMP_ACT_NOTIFY needs a seccomp agent'],
      [{ defaultAction: 'SCMP_ACT_ALLOW', listenerPath: '/run/agent.sock' }, 'listenerPath needs a seccomp agent'],
      [{ defaultAction: 'SCMP_ACT_ALLOW', defaultErrnoRet: -1 }, 'defaultErrnoRet -1: expected a whole number from 0 to 4095'],
      [{ defaultAction: 'SCMP_ACT_ALLOW', architectures: ['x86_64'] }, 'architectures[0] "x86_64" is not a seccomp architecture'],
      [{ defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X86'], archMap: [] }, 'give either architectures or archMap, not both'],
      [{ defaultAction: 'SCMP_ACT_ALLOW', flags: ['SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV'] }, 'flags: unknown flag SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV'],
      [{ defaultAction: 'SCMP_ACT_ALLOW', syscalls: {} }, 'syscalls: expected a list of rules'],
      [{ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ action: 'SCMP_ACT_ERRNO' }] }, 'syscalls[0]: no syscall names'],
      [{ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['a'], name: 'b', action: 'SCMP_ACT_ERRNO' }] }, 'syscalls[0]: give either name or names, not both'],
      [{ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: [1], action: 'SCMP_ACT_ERRNO' }] }, 'syscalls[0].names: expected a list of names'],
      [{ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['a'], action: 'deny' }] }, 'syscalls[0].action "deny" is not a seccomp action'],
      [{ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['a'], action: 'SCMP_ACT_ERRNO', args: [{ index: 6, value: 0, op: 'SCMP_CMP_EQ' }] }] }, 'syscalls[0].args[0].index 6: expected a whole number from 0 to 5'],
      [{ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['a'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 0, op: 'EQ' }] }] }, 'syscalls[0].args[0].op "EQ" is not an operator'],
      [{ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['a'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 1.5, op: 'SCMP_CMP_EQ' }] }] }, 'syscalls[0].args[0].value 1.5'],
      [{ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['a'], action: 'SCMP_ACT_ALLOW', includes: { minKernel: 'new' } }] }, 'syscalls[0].includes.minKernel "new": expected a kernel version'],
    ];
    for (const [json, message] of bad) {
      const text = typeof json === 'string' ? json : JSON.stringify(json);
      expect(() => parseSeccompProfile(text, '/etc/p.json'), text).toThrow(`seccomp profile /etc/p.json: ${message}`);
    }
  });

  it('a missing file, a directory and a huge file fail naming the file', async () => {
    await expect(loadSeccompProfile(`${dir}/none.json`)).rejects.toThrow(`seccomp profile ${dir}/none.json: no such file`);
    await expect(loadSeccompProfile(dir)).rejects.toThrow(`seccomp profile ${dir}: not a regular file`);
    const huge = path.join(dir, 'huge.json');
    await writeFile(huge, Buffer.alloc(5 * 1024 * 1024, 0x20));
    await expect(loadSeccompProfile(huge)).rejects.toThrow(/is too big for a profile/);
  });
});

describe('--security-opt', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'tsbuild-secopt-unit-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('parses podman\'s options, and docker\'s KEY:VALUE form', async () => {
    expect(await parseSecurityOpts([])).toBeUndefined();
    expect(await parseSecurityOpts(['label=disable', 'apparmor=unconfined'])).toBeUndefined();
    expect(await parseSecurityOpts(['seccomp=unconfined'])).toEqual({ seccomp: 'unconfined' });
    expect(await parseSecurityOpts(['seccomp:unconfined'])).toEqual({ seccomp: 'unconfined' });
    expect(await parseSecurityOpts(['no-new-privileges'])).toEqual({ noNewPrivileges: true });
    expect(await parseSecurityOpts(['no-new-privileges:false'])).toEqual({ noNewPrivileges: false });
    expect(await parseSecurityOpts(['no-new-privileges=false', 'no-new-privileges=true'])).toEqual({ noNewPrivileges: true });
    expect(await parseSecurityOpts(['mask=/proc/cpuinfo:/sys/kernel/', 'mask=/a'])).toEqual({ mask: ['/proc/cpuinfo', '/sys/kernel/', '/a'] });
    expect(await parseSecurityOpts(['unmask=ALL'])).toEqual({ unmask: ['ALL'] });
    expect(await parseSecurityOpts(['unmask=/proc/*:/sys/firmware'])).toEqual({ unmask: ['/proc/*', '/sys/firmware'] });
    expect(await parseSecurityOpts(['systempaths=unconfined'])).toEqual({ unmask: ['ALL'] });
  });

  it('reads a seccomp=FILE profile at once, keeping the absolute path', async () => {
    const file = path.join(dir, 'p.json');
    await writeFile(file, JSON.stringify({ defaultAction: 'SCMP_ACT_LOG' }));
    const rel = path.relative(process.cwd(), file);
    expect(await parseSecurityOpts([`seccomp=${rel}`])).toEqual({ seccomp: { file, profile: { defaultAction: 'SCMP_ACT_LOG', syscalls: [] } } });
  });

  it('refuses unknown options and values, and asks for a label or profile tsbuild cannot apply', async () => {
    const cases: [string, string][] = [
      ['seccomp', '--security-opt "seccomp": expected seccomp=unconfined or seccomp=PROFILE-FILE'],
      ['seccomp=', '--security-opt "seccomp=": expected seccomp=unconfined or seccomp=PROFILE-FILE'],
      [`seccomp=${'/nonexistent/p.json'}`, 'seccomp profile /nonexistent/p.json: no such file'],
      ['no-new-privileges=yes', '--security-opt "no-new-privileges=yes": expected no-new-privileges, no-new-privileges=true or no-new-privileges=false'],
      ['label=user:system_u', '--security-opt "label=user:system_u": tsbuild applies no SELinux labels; only label=disable is accepted'],
      ['label=nested', '--security-opt "label=nested": tsbuild applies no SELinux labels'],
      ['apparmor=docker-default', '--security-opt "apparmor=docker-default": tsbuild applies no AppArmor profile; only apparmor=unconfined is accepted'],
      ['mask=proc/kcore', '--security-opt "mask=proc/kcore": "proc/kcore" is not an absolute path (expected absolute paths separated by colons)'],
      ['mask=ALL', '--security-opt "mask=ALL": "ALL" is not an absolute path'],
      ['mask=', '--security-opt "mask=": expected absolute paths separated by colons'],
      ['unmask=', '--security-opt "unmask=": expected ALL or absolute paths separated by colons'],
      ['systempaths=confined', '--security-opt "systempaths=confined": expected systempaths=unconfined'],
      ['proc-opts=hidepid=2', '--security-opt "proc-opts=hidepid=2": unknown option'],
      ['', '--security-opt "": unknown option'],
    ];
    for (const [opt, message] of cases) await expect(parseSecurityOpts([opt]), opt).rejects.toThrow(message);
  });

  it('unmask matches paths and * / ? globs within a component', () => {
    expect(unmasks(['/proc/keys'], '/proc/keys')).toBe(true);
    expect(unmasks(['/proc/k*'], '/proc/kcore')).toBe(true);
    expect(unmasks(['/proc/*'], '/proc/sys')).toBe(true);
    expect(unmasks(['/proc/*'], '/sys/firmware')).toBe(false);
    expect(unmasks(['/*'], '/proc/keys')).toBe(false);
    expect(unmasks(['/proc/time?_list'], '/proc/timer_list')).toBe(true);
    expect(unmasks(['/proc/acp.'], '/proc/acpi')).toBe(false);
    expect(unmasks(['ALL'], '/anything')).toBe(true);
  });
});

describe('generateSpec with the security options', () => {
  const base: SpecOptions = {
    rootfs: '/tmp/rootfs',
    args: ['/bin/true'],
    env: [],
    cwd: '/',
    user: { uid: 0, gid: 0, additionalGids: [] },
    hostname: 'h',
    terminal: false,
    network: 'none',
  };

  it('puts the default filter for the default capabilities into every spec', () => {
    expect(generateSpec(base).linux.seccomp).toEqual(buildSeccomp(DEFAULT_PROFILE, { capabilities: DEFAULT_CAPABILITIES }));
    const admin = generateSpec({ ...base, capabilities: ['sys_admin'] }).linux.seccomp!;
    expect(allowed(admin)).toContain('mount');
  });

  it('privileged and seccomp=unconfined: no filter; a file\'s profile replaces the default', async () => {
    expect(generateSpec({ ...base, privileged: true }).linux.seccomp).toBeUndefined();
    expect(generateSpec({ ...base, resources: { security: { seccomp: 'unconfined' } } }).linux.seccomp).toBeUndefined();
    const profile = parseSeccompProfile(JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }] }), 'p.json');
    expect(generateSpec({ ...base, resources: { security: { seccomp: { file: 'p.json', profile } } } }).linux.seccomp).toEqual({
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }],
    });
    // Privileged wins over a profile, as podman and docker.
    expect(generateSpec({ ...base, privileged: true, resources: { security: { seccomp: { file: 'p.json', profile } } } }).linux.seccomp).toBeUndefined();
  });

  it('no-new-privileges from the options, unless the caller or --privileged says otherwise', () => {
    expect(generateSpec(base).process.noNewPrivileges).toBe(true);
    expect(generateSpec({ ...base, resources: { security: { noNewPrivileges: false } } }).process.noNewPrivileges).toBe(false);
    expect(generateSpec({ ...base, noNewPrivileges: true, resources: { security: { noNewPrivileges: false } } }).process.noNewPrivileges).toBe(true);
    expect(generateSpec({ ...base, privileged: true, resources: { security: { noNewPrivileges: true } } }).process.noNewPrivileges).toBe(false);
  });

  it('mask adds paths (also when privileged); unmask lifts default masked and read-only paths', () => {
    const masked = generateSpec({ ...base, resources: { security: { mask: ['/proc/cpuinfo', '/proc/kcore'] } } }).linux;
    expect(masked.maskedPaths).toEqual([...MASKED_PATHS, '/proc/cpuinfo']);
    expect(generateSpec({ ...base, privileged: true, resources: { security: { mask: ['/proc/cpuinfo'] } } }).linux.maskedPaths).toEqual(['/proc/cpuinfo']);
    const open = generateSpec({ ...base, resources: { security: { unmask: ['/proc/k*', '/proc/sys'] } } }).linux;
    expect(open.maskedPaths).toEqual(MASKED_PATHS.filter((p) => p !== '/proc/kcore' && p !== '/proc/keys'));
    expect(open.readonlyPaths).toEqual(READONLY_PATHS.filter((p) => p !== '/proc/sys'));
    const all = generateSpec({ ...base, resources: { security: { unmask: ['ALL'] } } }).linux;
    expect([all.maskedPaths, all.readonlyPaths]).toEqual([[], []]);
    expect(MASKED_PATHS).toEqual(expect.arrayContaining(['/proc/kcore', '/proc/keys', '/sys/firmware', '/sys/devices/virtual/powercap']));
  });

  it('writes only OCI fields into the spec: no archMap, includes or excludes', () => {
    const section = generateSpec({ ...base, capabilities: [...ALL_CAPABILITIES] }).linux.seccomp!;
    expect(Object.keys(section).sort()).toEqual(['architectures', 'defaultAction', 'defaultErrnoRet', 'syscalls']);
    for (const rule of section.syscalls) {
      expect(Object.keys(rule).every((k) => ['names', 'action', 'errnoRet', 'args'].includes(k)), rule.names.join(' ')).toBe(true);
      expect(rule.names.length).toBeGreaterThan(0);
    }
  });
});
