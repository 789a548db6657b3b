/*
 * tsbuild-sys: the system calls Node has no API for, made on request by one small process.
 *
 * Node cannot call mount(2), umount2(2) or unshare(2). Running mount, umount or `ip netns` for each
 * costs a fork of the whole Node process and an exec (3-7 ms of Node's own thread each on a 2-core
 * machine, six of them in a `run --rm`); this helper is started once per tsbuild process
 * (src/sys/helper.ts) and answers requests over its stdin/stdout. libc only, like the monitor.
 *
 * Protocol. A request is NUL-terminated fields ending with an empty field:
 *   ID OP ARG... ""
 * The answer is one line per request, in any order (requests run side by side):
 *   ID ok\n    or    ID error MESSAGE\n
 * Each request runs in a child of its own, so one's chdir or namespace never leaks into another's
 * and a slow unmount (an overlay syncing its upper dir) holds up nothing else. Answers are written
 * with one write(2) of less than PIPE_BUF, so lines never interleave. The helper exits when its
 * stdin closes (its parent is gone); requests still running finish.
 *
 * Operations:
 *   mount-overlay CWD TARGET OPTIONS  mount("overlay", TARGET, "overlay", 0, OPTIONS) from CWD, so
 *                                     relative lowerdir paths (kept short: the options must fit a
 *                                     page) resolve against it
 *   umount TARGET                     umount2(TARGET, 0); when busy, detached (MNT_DETACH)
 *   detach TARGET                     umount2(TARGET, MNT_DETACH)
 *   netns-add DIR NAME                what `ip netns add NAME` does (DIR is /run/netns): a new
 *                                     network namespace bound at DIR/NAME, its loopback up
 *   netns-delete DIR NAME             what `ip netns delete NAME` does: the bind mount detached and
 *                                     the file removed; a missing one is fine
 *   mkfifo PATH                       a FIFO (mode 0600), for `wait-fifo` below
 *
 * `tsbuild-sys wait-fifo PATH` is the other way to run it: a runc createRuntime hook that holds a
 * container's start until its network is up (container/start-gate.ts). It reads one line from the
 * FIFO: "go" lets the start go on (exit 0); anything else, or the last writer closing without a
 * line (tsbuild died), fails the hook and so the start. A FIFO that is gone lets it go on at once:
 * a restart (restart policy) of a container that started before.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#define MAX_FIELDS 8
#define MAX_REQUEST 65536

static void answer(const char *id, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void answer(const char *id, const char *fmt, ...) {
  char line[3072];
  int n = snprintf(line, sizeof line, "%s ", id);
  va_list ap;
  va_start(ap, fmt);
  n += vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
  va_end(ap);
  if (n > (int)sizeof line - 2) n = (int)sizeof line - 2;
  line[n++] = '\n';
  /* Messages come from strerror and paths: no newline may split the answer. */
  for (int i = 0; i < n - 1; i++) if (line[i] == '\n') line[i] = ' ';
  ssize_t ignored = write(1, line, (size_t)n);
  (void)ignored;
}

static int mount_overlay(const char *id, const char *cwd, const char *target, const char *options) {
  if (chdir(cwd) < 0) {
    answer(id, "error cannot enter %s: %s", cwd, strerror(errno));
    return 1;
  }
  if (mount("overlay", target, "overlay", 0, options) < 0) {
    answer(id, "error cannot mount overlay at %s: %s", target, strerror(errno));
    return 1;
  }
  answer(id, "ok");
  return 0;
}

/* detach_now: MNT_DETACH at once; otherwise a plain unmount, detached only when busy (a process
 * still holds it), so nothing stays visible. */
static int unmount(const char *id, const char *target, int detach_now) {
  int r = umount2(target, detach_now ? MNT_DETACH : 0);
  if (r < 0 && !detach_now && errno == EBUSY) r = umount2(target, MNT_DETACH);
  if (r < 0) {
    answer(id, "error cannot unmount %s: %s", target, strerror(errno));
    return 1;
  }
  answer(id, "ok");
  return 0;
}

/* The netns dir is made a shared mount point (once), as iproute2 does, so that unmounting a
 * namespace file here unmounts it in mount namespaces that copied it, and the namespace is freed. */
static int share_netns_dir(const char *dir, char *msg, size_t size) {
  if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
    snprintf(msg, size, "cannot create %s: %s", dir, strerror(errno));
    return -1;
  }
  /* iproute2's lock: concurrent upgrades would stack bind mounts of the dir on itself. */
  int lock = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (lock < 0 || flock(lock, LOCK_EX) < 0) {
    snprintf(msg, size, "cannot lock %s: %s", dir, strerror(errno));
    if (lock >= 0) close(lock);
    return -1;
  }
  int made = 0, ret = 0;
  while (mount("", dir, "none", MS_SHARED | MS_REC, NULL) < 0) {
    if (errno != EINVAL || made || mount(dir, dir, "none", MS_BIND | MS_REC, NULL) < 0) {
      snprintf(msg, size, "cannot make %s a shared mount point: %s", dir, strerror(errno));
      ret = -1;
      break;
    }
    made = 1;
  }
  close(lock);
  return ret;
}

static int netns_add(const char *id, const char *dir, const char *name) {
  char path[4096], msg[1024];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  if (share_netns_dir(dir, msg, sizeof msg) < 0) {
    answer(id, "error %s", msg);
    return 1;
  }
  int fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
  if (fd < 0) {
    answer(id, "error cannot create %s: %s", path, strerror(errno));
    return 1;
  }
  close(fd);
  /* This process exists for this request only: its own namespace changes with nobody else's. */
  const char *failed = NULL;
  if (unshare(CLONE_NEWNET) < 0) {
    failed = "cannot create a network namespace";
  } else {
    /* runc brings loopback up only in namespaces it makes itself. */
    int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
    if (sock < 0 || ioctl(sock, SIOCGIFFLAGS, &ifr) < 0) {
      failed = "cannot read the loopback's flags";
    } else {
      ifr.ifr_flags |= IFF_UP;
      if (ioctl(sock, SIOCSIFFLAGS, &ifr) < 0) failed = "cannot bring the loopback up";
    }
    if (sock >= 0) close(sock);
    if (!failed && mount("/proc/self/ns/net", path, "none", MS_BIND, NULL) < 0) failed = "cannot bind the network namespace";
  }
  if (failed) {
    int err = errno;
    unlink(path);
    answer(id, "error %s at %s: %s", failed, path, strerror(err));
    return 1;
  }
  answer(id, "ok");
  return 0;
}

static int netns_delete(const char *id, const char *dir, const char *name) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  if (umount2(path, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT) {
    answer(id, "error cannot unmount %s: %s", path, strerror(errno));
    return 1;
  }
  if (unlink(path) < 0 && errno != ENOENT) {
    answer(id, "error cannot remove %s: %s", path, strerror(errno));
    return 1;
  }
  answer(id, "ok");
  return 0;
}

static int make_fifo(const char *id, const char *path) {
  if (mkfifo(path, 0600) < 0) {
    answer(id, "error cannot create the FIFO %s: %s", path, strerror(errno));
    return 1;
  }
  answer(id, "ok");
  return 0;
}

static int wait_fifo(const char *path) {
  /* Non-blocking open: no writer is needed to open it, and the FIFO may be gone (a restart). */
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return 0;
    fprintf(stderr, "tsbuild-sys: cannot open %s: %s\n", path, strerror(errno));
    return 1;
  }
  char line[64];
  size_t len = 0;
  for (;;) {
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    ssize_t r = read(fd, line + len, sizeof line - 1 - len);
    if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (r <= 0) break;
    len += (size_t)r;
    if (memchr(line, '\n', len) || len == sizeof line - 1) break;
  }
  close(fd);
  line[len] = '\0';
  if (strncmp(line, "go\n", 3) == 0) return 0;
  if (len > 0 && line[len - 1] == '\n') line[len - 1] = '\0';
  fprintf(stderr, "tsbuild-sys: the start was called off%s%s\n", len > 0 ? ": " : "", line);
  return 1;
}

static int perform(char **f, int n) {
  const char *id = f[0], *op = n > 1 ? f[1] : "";
  if (strcmp(op, "mount-overlay") == 0 && n == 5) return mount_overlay(id, f[2], f[3], f[4]);
  if (strcmp(op, "umount") == 0 && n == 3) return unmount(id, f[2], 0);
  if (strcmp(op, "detach") == 0 && n == 3) return unmount(id, f[2], 1);
  if (strcmp(op, "netns-add") == 0 && n == 4) return netns_add(id, f[2], f[3]);
  if (strcmp(op, "netns-delete") == 0 && n == 4) return netns_delete(id, f[2], f[3]);
  if (strcmp(op, "mkfifo") == 0 && n == 3) return make_fifo(id, f[2]);
  answer(id, "error unknown request \"%s\" with %d arguments", op, n - 2);
  return 2;
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "wait-fifo") == 0) return wait_fifo(argv[2]);
  if (argc != 1) {
    fprintf(stderr, "usage: tsbuild-sys (requests on stdin) | tsbuild-sys wait-fifo PATH\n");
    return 2;
  }
  /* Children are never waited for: their answers say everything. */
  signal(SIGCHLD, SIG_IGN);
  /* A parent gone mid-request: the answer's write fails quietly. */
  signal(SIGPIPE, SIG_IGN);
  static char buf[MAX_REQUEST];
  size_t len = 0;
  for (;;) {
    ssize_t r = read(0, buf + len, sizeof buf - len);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return 0;
    len += (size_t)r;
    /* Every complete request in the buffer: fields up to an empty one. */
    size_t start = 0;
    for (;;) {
      char *fields[MAX_FIELDS];
      int n = 0;
      size_t at = start;
      int complete = 0;
      while (at < len) {
        char *end = memchr(buf + at, '\0', len - at);
        if (!end) break;
        if (end == buf + at) {
          complete = 1;
          at++;
          break;
        }
        if (n < MAX_FIELDS) fields[n] = buf + at;
        n++;
        at = (size_t)(end - buf) + 1;
      }
      if (!complete) break;
      start = at;
      if (n == 0) continue;
      if (n > MAX_FIELDS) {
        answer(fields[0], "error too many fields");
        continue;
      }
      pid_t pid = fork();
      if (pid == 0) _exit(perform(fields, n));
      if (pid < 0) answer(fields[0], "error cannot fork: %s", strerror(errno));
    }
    memmove(buf, buf + start, len - start);
    len -= start;
    if (len == sizeof buf) {
      /* One request larger than the buffer: nothing sane sends that. */
      return 2;
    }
  }
}
