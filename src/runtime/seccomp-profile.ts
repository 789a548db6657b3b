// The default seccomp profile of every container, as data: Docker's default rules (moby's
// profiles/seccomp/default.json, which podman's containers.conf default follows in spirit) in the
// Docker profile format, so a user's `--security-opt seccomp=FILE` in that format goes through the
// same builder (seccomp.ts). An allow-list: whatever is not named fails with EPERM. Rules marked with
// `includes.caps` are only in the filter of a container that holds every one of those capabilities,
// rules with `excludes.caps` only in one that holds none of them; `arches` and `minKernel` narrow a
// rule to some architectures (Docker's native names: amd64, x86, x32, arm64, ...) or kernels.

export const SECCOMP_ACTIONS = [
  'SCMP_ACT_KILL',
  'SCMP_ACT_KILL_PROCESS',
  'SCMP_ACT_KILL_THREAD',
  'SCMP_ACT_TRAP',
  'SCMP_ACT_ERRNO',
  'SCMP_ACT_TRACE',
  'SCMP_ACT_ALLOW',
  'SCMP_ACT_LOG',
] as const;
export type SeccompAction = (typeof SECCOMP_ACTIONS)[number];

export const SECCOMP_OPERATORS = ['SCMP_CMP_NE', 'SCMP_CMP_LT', 'SCMP_CMP_LE', 'SCMP_CMP_EQ', 'SCMP_CMP_GE', 'SCMP_CMP_GT', 'SCMP_CMP_MASKED_EQ'] as const;
export type SeccompOperator = (typeof SECCOMP_OPERATORS)[number];

/** The filter flags runc 1.1 knows (seccomp(2) SECCOMP_FILTER_FLAG_*). */
export const SECCOMP_FLAGS = ['SECCOMP_FILTER_FLAG_TSYNC', 'SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW'] as const;

export interface SeccompArg {
  index: number;
  value: number;
  valueTwo?: number;
  op: SeccompOperator;
}

/** When a rule applies: all of these capabilities / one of these architectures / at least this kernel. */
export interface SeccompCondition {
  caps?: string[];
  arches?: string[];
  minKernel?: string;
}

export interface SeccompRule {
  names: string[];
  action: SeccompAction;
  errnoRet?: number;
  args?: SeccompArg[];
  includes?: SeccompCondition;
  excludes?: SeccompCondition;
}

/** A profile in Docker's format (also an OCI linux.seccomp section: no archMap, no conditions). */
export interface SeccompProfile {
  defaultAction: SeccompAction;
  defaultErrnoRet?: number;
  /** Filtered architectures as given (OCI form); exclusive with archMap. */
  architectures?: string[];
  /** Docker's form: the native architecture and the ones its binaries may also use (x86 and x32 on x86_64). */
  archMap?: { architecture: string; subArchitectures: string[] }[];
  flags?: string[];
  syscalls: SeccompRule[];
}

const ALLOW = 'SCMP_ACT_ALLOW';
const ERRNO = 'SCMP_ACT_ERRNO';
const ENOSYS = 38;

/** Rule builder: the names as one whitespace-separated string keep the table readable. */
function rule(names: string, action: SeccompAction, extra: Omit<SeccompRule, 'names' | 'action'> = {}): SeccompRule {
  return { names: names.trim().split(/\s+/), action, ...extra };
}
const withCaps = (names: string, ...caps: string[]): SeccompRule => rule(names, ALLOW, { includes: { caps } });
const onArches = (names: string, ...arches: string[]): SeccompRule => rule(names, ALLOW, { includes: { arches } });
const personality = (value: number): SeccompRule => rule('personality', ALLOW, { args: [{ index: 0, value, op: 'SCMP_CMP_EQ' }] });

/** clone(2) flags that make namespaces (CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET): 0x7E020000. */
export const CLONE_NAMESPACE_FLAGS = 0x7e020000;
/** socket(2) family AF_VSOCK: talks to the hypervisor, not the container's network. */
const AF_VSOCK = 40;

// Everything an ordinary program needs, whatever its capabilities.
const ALWAYS_ALLOWED = `
  accept accept4 access adjtimex alarm bind brk capget capset chdir chmod chown chown32
  clock_adjtime clock_adjtime64 clock_getres clock_getres_time64 clock_gettime clock_gettime64
  clock_nanosleep clock_nanosleep_time64 close close_range connect copy_file_range creat dup dup2 dup3
  epoll_create epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2 epoll_wait epoll_wait_old
  eventfd eventfd2 execve execveat exit exit_group faccessat faccessat2 fadvise64 fadvise64_64 fallocate
  fanotify_mark fchdir fchmod fchmodat fchown fchown32 fchownat fcntl fcntl64 fdatasync fgetxattr
  flistxattr flock fork fremovexattr fsetxattr fstat fstat64 fstatat64 fstatfs fstatfs64 fsync ftruncate
  ftruncate64 futex futex_time64 futex_waitv futimesat getcpu getcwd getdents getdents64 getegid
  getegid32 geteuid geteuid32 getgid getgid32 getgroups getgroups32 getitimer getpeername getpgid getpgrp
  getpid getppid getpriority getrandom getresgid getresgid32 getresuid getresuid32 getrlimit
  get_robust_list getrusage getsid getsockname getsockopt get_thread_area gettid gettimeofday getuid
  getuid32 getxattr inotify_add_watch inotify_init inotify_init1 inotify_rm_watch io_cancel ioctl
  io_destroy io_getevents io_pgetevents io_pgetevents_time64 ioprio_get ioprio_set io_setup io_submit
  ipc kill landlock_add_rule landlock_create_ruleset
  landlock_restrict_self lchown lchown32 lgetxattr link linkat listen listxattr llistxattr _llseek
  lremovexattr lseek lsetxattr lstat lstat64 madvise membarrier memfd_create memfd_secret mincore mkdir
  mkdirat mknod mknodat mlock mlock2 mlockall mmap mmap2 mprotect mq_getsetattr mq_notify mq_open
  mq_timedreceive mq_timedreceive_time64 mq_timedsend mq_timedsend_time64 mq_unlink mremap msgctl msgget
  msgrcv msgsnd msync munlock munlockall munmap name_to_handle_at nanosleep newfstatat _newselect open
  openat openat2 pause pidfd_open pidfd_send_signal pipe pipe2 pkey_alloc pkey_free pkey_mprotect poll
  ppoll ppoll_time64 prctl pread64 preadv preadv2 prlimit64 process_mrelease pselect6 pselect6_time64
  pwrite64 pwritev pwritev2 read readahead readlink readlinkat readv recv recvfrom recvmmsg
  recvmmsg_time64 recvmsg remap_file_pages removexattr rename renameat renameat2 restart_syscall rmdir
  rseq rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend
  rt_sigtimedwait rt_sigtimedwait_time64 rt_tgsigqueueinfo sched_getaffinity sched_getattr
  sched_getparam sched_get_priority_max sched_get_priority_min sched_getscheduler sched_rr_get_interval
  sched_rr_get_interval_time64 sched_setaffinity sched_setattr sched_setparam sched_setscheduler
  sched_yield seccomp select semctl semget semop semtimedop semtimedop_time64 send sendfile sendfile64
  sendmmsg sendmsg sendto setfsgid setfsgid32 setfsuid setfsuid32 setgid setgid32 setgroups setgroups32
  setitimer setpgid setpriority setregid setregid32 setresgid setresgid32 setresuid setresuid32 setreuid
  setreuid32 setrlimit set_robust_list setsid setsockopt set_thread_area set_tid_address setuid setuid32
  setxattr shmat shmctl shmdt shmget shutdown sigaltstack signalfd signalfd4 sigprocmask sigreturn
  socketcall socketpair splice stat stat64 statfs statfs64 statx symlink symlinkat sync sync_file_range
  syncfs sysinfo tee tgkill time timer_create timer_delete timer_getoverrun timer_gettime
  timer_gettime64 timer_settime timer_settime64 timerfd_create timerfd_gettime timerfd_gettime64
  timerfd_settime timerfd_settime64 times tkill truncate truncate64 ugetrlimit umask uname unlink
  unlinkat utime utimensat utimensat_time64 utimes vfork vmsplice wait4 waitid waitpid write writev`;

/**
 * Not here, so denied unless a capability below unlocks them: mount and friends, unshare, setns,
 * sethostname, namespace-making clone, module loading, reboot, kexec, keyctl/add_key/request_key
 * (the kernel keyring is not namespaced), swapon/swapoff, acct, settimeofday, iopl, bpf, perf,
 * io_uring (its operations bypass seccomp; Docker 25, containerd and podman leave it out too) and
 * the obsolete ones (uselib, nfsservctl, ...).
 */
export const DEFAULT_PROFILE: SeccompProfile = {
  defaultAction: ERRNO,
  defaultErrnoRet: 1, // EPERM
  archMap: [
    { architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_X32'] },
    { architecture: 'SCMP_ARCH_AARCH64', subArchitectures: ['SCMP_ARCH_ARM'] },
    { architecture: 'SCMP_ARCH_MIPS64', subArchitectures: ['SCMP_ARCH_MIPS', 'SCMP_ARCH_MIPS64N32'] },
    { architecture: 'SCMP_ARCH_MIPS64N32', subArchitectures: ['SCMP_ARCH_MIPS', 'SCMP_ARCH_MIPS64'] },
    { architecture: 'SCMP_ARCH_MIPSEL64', subArchitectures: ['SCMP_ARCH_MIPSEL', 'SCMP_ARCH_MIPSEL64N32'] },
    { architecture: 'SCMP_ARCH_MIPSEL64N32', subArchitectures: ['SCMP_ARCH_MIPSEL', 'SCMP_ARCH_MIPSEL64'] },
    { architecture: 'SCMP_ARCH_S390X', subArchitectures: ['SCMP_ARCH_S390'] },
    { architecture: 'SCMP_ARCH_RISCV64', subArchitectures: [] },
  ],
  syscalls: [
    rule(ALWAYS_ALLOWED, ALLOW),
    // Before 4.8 ptrace could bypass seccomp altogether.
    rule('process_vm_readv process_vm_writev ptrace', ALLOW, { includes: { minKernel: '4.8' } }),
    rule('socket', ALLOW, { args: [{ index: 0, value: AF_VSOCK, op: 'SCMP_CMP_NE' }] }),
    // PER_LINUX, PER_LINUX32, UNAME26, UNAME26|PER_LINUX32, and 0xffffffff (a query): no persona
    // that turns off address randomisation (ADDR_NO_RANDOMIZE) or maps page 0 (MMAP_PAGE_ZERO).
    personality(0x0),
    personality(0x8),
    personality(0x20000),
    personality(0x20008),
    personality(0xffffffff),
    onArches('sync_file_range2 swapcontext', 'ppc64le'),
    onArches('arm_fadvise64_64 arm_sync_file_range sync_file_range2 breakpoint cacheflush set_tls', 'arm', 'arm64'),
    onArches('arch_prctl', 'amd64', 'x32'),
    onArches('modify_ldt', 'amd64', 'x32', 'x86'),
    onArches('s390_pci_mmio_read s390_pci_mmio_write s390_runtime_instr', 's390', 's390x'),
    onArches('riscv_flush_icache', 'riscv64'),
    withCaps('open_by_handle_at', 'CAP_DAC_READ_SEARCH'),
    withCaps(
      `bpf clone clone3 fanotify_init fsconfig fsmount fsopen fspick lookup_dcookie mount mount_setattr
       move_mount open_tree perf_event_open quotactl quotactl_fd setdomainname sethostname setns syslog
       umount umount2 unshare`,
      'CAP_SYS_ADMIN',
    ),
    // Without CAP_SYS_ADMIN: clone only without namespace flags (threads, fork); s390 swaps the
    // first two arguments.
    rule('clone', ALLOW, { args: [{ index: 0, value: CLONE_NAMESPACE_FLAGS, op: 'SCMP_CMP_MASKED_EQ' }], excludes: { caps: ['CAP_SYS_ADMIN'], arches: ['s390', 's390x'] } }),
    rule('clone', ALLOW, {
      args: [{ index: 1, value: CLONE_NAMESPACE_FLAGS, op: 'SCMP_CMP_MASKED_EQ' }],
      includes: { arches: ['s390', 's390x'] },
      excludes: { caps: ['CAP_SYS_ADMIN'] },
    }),
    // clone3 passes its flags in memory, which seccomp cannot read: ENOSYS makes glibc fall back
    // to clone, whose flags the rule above checks.
    rule('clone3', ERRNO, { errnoRet: ENOSYS, excludes: { caps: ['CAP_SYS_ADMIN'] } }),
    withCaps('reboot', 'CAP_SYS_BOOT'),
    withCaps('chroot', 'CAP_SYS_CHROOT'),
    withCaps('delete_module init_module finit_module', 'CAP_SYS_MODULE'),
    withCaps('acct', 'CAP_SYS_PACCT'),
    withCaps('kcmp pidfd_getfd process_madvise process_vm_readv process_vm_writev ptrace', 'CAP_SYS_PTRACE'),
    withCaps('iopl ioperm', 'CAP_SYS_RAWIO'),
    withCaps('settimeofday stime clock_settime clock_settime64', 'CAP_SYS_TIME'),
    withCaps('vhangup', 'CAP_SYS_TTY_CONFIG'),
    withCaps('get_mempolicy mbind set_mempolicy set_mempolicy_home_node', 'CAP_SYS_NICE'),
    withCaps('syslog', 'CAP_SYSLOG'),
    withCaps('bpf', 'CAP_BPF'),
    withCaps('perf_event_open', 'CAP_PERFMON'),
  ],
};
