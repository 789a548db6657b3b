// A static test binary that makes one raw system call per argument and prints "NAME ok" or
// "NAME ERRNO" (EPERM, ENOSYS, ...), each in a child process of its own, so the security tests see
// what the kernel and the seccomp filter answer, not what a busybox applet makes of it. Compiled at test time with the host's cc
// (gcc and libc6-dev are set-up packages); no binary is committed. Every call is harmless inside a
// container: the module buffers are not modules, reboot asks for CAD_OFF (EINVAL in a pid
// namespace even when allowed), the keys go to the probe's own process keyring.
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

const SOURCE = String.raw`
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

struct clone3_args { uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls; };

static long child_exit(long r) {
  if (r == 0) _exit(0);
  if (r > 0) waitpid((pid_t)r, NULL, 0);
  return r < 0 ? -1 : 0;
}

static long call(const char *name) {
  static char buf[256];
  if (!strcmp(name, "mount")) { mkdir("/tmp/probe-mnt", 0755); return mount("none", "/tmp/probe-mnt", "tmpfs", 0, NULL); }
  if (!strcmp(name, "umount")) return umount2("/proc/kcore", MNT_DETACH);
  if (!strcmp(name, "unshare-mnt")) return unshare(CLONE_NEWNS);
  if (!strcmp(name, "unshare-user")) return unshare(CLONE_NEWUSER);
  if (!strcmp(name, "setns")) { int fd = open("/proc/self/ns/uts", O_RDONLY); return setns(fd, CLONE_NEWUTS); }
  if (!strcmp(name, "clone-ns")) return child_exit(syscall(SYS_clone, CLONE_NEWUTS | SIGCHLD, 0, 0, 0, 0));
  if (!strcmp(name, "clone")) return child_exit(syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0));
  if (!strcmp(name, "clone3")) {
    struct clone3_args a; memset(&a, 0, sizeof a); a.exit_signal = SIGCHLD;
    return child_exit(syscall(SYS_clone3, &a, sizeof a));
  }
  if (!strcmp(name, "init_module")) return syscall(SYS_init_module, buf, sizeof buf, "");
  if (!strcmp(name, "finit_module")) { int fd = open("/bin/busybox", O_RDONLY); return syscall(SYS_finit_module, fd, "", 0); }
  if (!strcmp(name, "delete_module")) return syscall(SYS_delete_module, "tsbuild_probe_none", O_NONBLOCK);
  if (!strcmp(name, "add_key")) return syscall(SYS_add_key, "user", "tsbuild-probe", "x", 1, -2 /* KEY_SPEC_PROCESS_KEYRING */);
  if (!strcmp(name, "keyctl")) return syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -2, 1);
  if (!strcmp(name, "request_key")) return syscall(SYS_request_key, "user", "tsbuild-probe-none", NULL, 0);
  if (!strcmp(name, "reboot")) return syscall(SYS_reboot, 0xfee1dead, 672274793, 0 /* LINUX_REBOOT_CMD_CAD_OFF */, NULL);
  if (!strcmp(name, "sethostname")) return sethostname("probe", 5);
  if (!strcmp(name, "chroot")) return chroot("/");
  if (!strcmp(name, "personality-query")) return personality(0xffffffff) < 0 ? -1 : 0;
  if (!strcmp(name, "personality-norandom")) return personality(ADDR_NO_RANDOMIZE) < 0 ? -1 : 0;
  if (!strcmp(name, "socket-vsock")) return socket(40 /* AF_VSOCK */, SOCK_STREAM, 0) < 0 ? -1 : 0;
  if (!strcmp(name, "socket-unix")) return socket(AF_UNIX, SOCK_STREAM, 0) < 0 ? -1 : 0;
  if (!strcmp(name, "mkdir")) return mkdir("/tmp/probe-dir", 0755);
  if (!strcmp(name, "kexec_load")) return syscall(SYS_kexec_load, 0, 0, NULL, 0);
  if (!strcmp(name, "swapoff")) return syscall(SYS_swapoff, "/tmp/none");
  if (!strcmp(name, "kcmp")) return syscall(SYS_kcmp, getpid(), getpid(), 0 /* KCMP_FILE */, 1, 1);
  if (!strcmp(name, "pidfd_getfd")) { int pfd = syscall(SYS_pidfd_open, getpid(), 0); return pfd < 0 ? -1 : syscall(SYS_pidfd_getfd, pfd, 1, 0); }
  if (!strcmp(name, "io_uring_setup")) return syscall(SYS_io_uring_setup, 1, buf);
  if (!strcmp(name, "open_by_handle_at")) return syscall(SYS_open_by_handle_at, AT_FDCWD, buf, O_RDONLY);
  errno = EINVAL;
  fprintf(stderr, "unknown probe %s\n", name);
  _exit(2);
}

int main(int argc, char **argv) {
  // Each call in a child of its own, so one that changes the process (unshare, personality,
  // setns) leaves the next call as it found it.
  for (int i = 1; i < argc; i++) {
    pid_t pid = fork();
    if (pid < 0) { perror("fork"); return 1; }
    if (pid == 0) {
      errno = 0;
      long r = call(argv[i]);
      const char *name = strerrorname_np(errno);
      if (r >= 0) printf("%s ok\n", argv[i]);
      else printf("%s %s\n", argv[i], name ? name : "E?");
      fflush(stdout);
      _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) { fprintf(stderr, "probe %s died\n", argv[i]); return 1; }
  }
  return 0;
}
`;

/** Compiles the probe into `dir/probe` (static, so any rootfs can run it); returns its path. */
export async function buildProbe(dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const src = path.join(dir, 'probe.c');
  const out = path.join(dir, 'probe');
  await writeFile(src, SOURCE);
  execFileSync('cc', ['-static', '-O1', '-o', out, src], { stdio: ['ignore', 'pipe', 'pipe'] });
  return out;
}

/** "NAME RESULT" lines as a map. */
export function probeResults(stdout: string): Record<string, string> {
  return Object.fromEntries(stdout.trim().split('\n').filter(Boolean).map((l) => l.split(' ') as [string, string]));
}
