/*
 * tsbuild-monitor: the per-container monitor (tsbuild's conmon).
 *
 * One monitor process lives as long as a container is meant to run. It is written in C with only
 * libc, like conmon, because one stays resident per running container: a Node process would cost
 * 40+ MB of RSS each, this one about 1 MB (the tests assert < 15 MB). It does no JSON parsing
 * beyond reading runc's last error message, and never touches container.json.
 *
 * What it does:
 *   - becomes a child subreaper, so the container's init is reparented to it when `runc create`
 *     exits, and reaps it with waitpid;
 *   - runs `runc create` with pipes it holds as the container's stdio (or a pty received over
 *     --console-socket for -t), then `runc start`; attached -t runs `runc run` on its own terminal;
 *   - writes the container's output as json-file log lines to --log, rotating to <log>.1;
 *   - writes --state-file at every (re)start and --exit-file at every exit (atomically);
 *   - applies the restart policy unless the --stop-flag file exists;
 *   - reports "ok <containerPid>\n" or "error <message>\n" once over the sync fd;
 *   - when done for good, execs the exit command (detached, or attached with a dead parent).
 *     A failed first start only reports the error (after `runc delete`): the caller cleans up.
 *   - attached: a restart that cannot start, or the last exit, ends it with the container's code
 *     (125 when a restart failed); the exit files say the same.
 *
 * Flags (all "--name value" except the switches):
 *   --id ID               runc container ID (required)
 *   --bundle DIR          OCI bundle (required); runc.log and the pid file are written there
 *   --runc-root DIR       runc --root (required)
 *   --runc PATH           runc binary (default "runc", looked up in PATH)
 *   --log FILE            json-file log (required unless attached -t)
 *   --log-max BYTES       rotate the log beyond this size (0 = never; default 0)
 *   --state-file FILE     {"monitorPid","containerPid","startedAt","restartCount"}
 *   --exit-file FILE      {"exitCode","finishedAt"}
 *   --stop-flag FILE      when it exists, the restart policy no longer applies; when it is not
 *                         empty, the stopping CLI cleans up and the exit command is not run
 *   --stdin MODE          null (default) | hold (a pipe held open) | inherit (our own stdin)
 *   --terminal            give the container a terminal
 *   --attach              foreground: copy output to our stdout/stderr, forward SIGINT/SIGTERM,
 *                         exit with the container's exit code; without it the monitor daemonizes
 *   --restart POLICY      no | always | unless-stopped | on-failure[:N]   (default no)
 *   --exit-command PATH   run (execv) when done for good; --exit-arg ARG adds argv (repeatable)
 *   --sync-fd N           where to report start-up (default 3)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_ARGS 256
#define DRAIN_MS 2000          /* how long output may stay open after the container's init died */
#define BACKOFF_START_MS 100
#define BACKOFF_MAX_MS 5000
#define BACKOFF_RESET_MS 10000 /* a run this long resets the backoff (docker's rule) */

static const char *opt_id, *opt_bundle, *opt_runc_root, *opt_runc = "runc", *opt_log;
static const char *opt_state, *opt_exit, *opt_stop, *opt_stdin = "null", *opt_restart = "no";
static const char *opt_exit_cmd;
static const char *exit_argv[MAX_ARGS];
static int exit_argc;
static long long opt_log_max;
static int opt_terminal, opt_attach, sync_fd = 3;

static char runc_log[4096], pid_file[4096];
static int sigfd = -1;
static sigset_t blocked;
static pid_t orig_ppid;

/* ---------- small helpers ---------- */

static void die_usage(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "tsbuild-monitor: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  exit(2);
}

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* RFC 3339 with nanoseconds, UTC: 2026-12-01T10:00:00.123456789Z */
static void rfc3339(char *buf, size_t size) {
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  size_t n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buf + n, size - n, ".%09ldZ", ts.tv_nsec);
}

static int write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* temp file + rename, so a reader never sees half a file. */
static void write_atomic(const char *file, const char *text) {
  if (!file) return;
  char tmp[4200];
  snprintf(tmp, sizeof tmp, "%s.tmp-%d", file, (int)getpid());
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return;
  if (write_all(fd, text, strlen(text)) == 0 && fsync(fd) == 0) {
    close(fd);
    rename(tmp, file);
  } else {
    close(fd);
    unlink(tmp);
  }
}

static int file_exists(const char *p) { return p && access(p, F_OK) == 0; }

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
  }
}

/* ---------- child processes ---------- */

/* fork + exec argv with fds 0/1/2 set as given (-1 = /dev/null); returns the pid. With new_group,
 * the child (and the container it creates) gets its own process group, so a Ctrl-C on the user's
 * terminal reaches the container once, through our forwarding, not also directly. */
static pid_t spawn_group(char *const argv[], int in, int out, int err, int new_group) {
  pid_t pid = fork();
  if (pid != 0) return pid;
  if (new_group) setpgid(0, 0);
  sigprocmask(SIG_UNBLOCK, &blocked, NULL);
  signal(SIGPIPE, SIG_DFL);
  int devnull = open("/dev/null", O_RDWR);
  dup2(in >= 0 ? in : devnull, 0);
  dup2(out >= 0 ? out : devnull, 1);
  dup2(err >= 0 ? err : devnull, 2);
  execvp(argv[0], argv);
  _exit(127);
}

static pid_t spawn(char *const argv[], int in, int out, int err) { return spawn_group(argv, in, out, err, 0); }

/* Waits for one specific child (others stay zombies for the main loop); returns its status. */
static int wait_pid(pid_t pid) {
  int status;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return status;
}

static int exit_code_of(int status) {
  if (status < 0) return 125;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 125;
}

/* runc --root R --log L --log-format json <args...> */
static int runc_argv(char **argv, const char *const *args) {
  int n = 0;
  argv[n++] = (char *)opt_runc;
  argv[n++] = "--root";
  argv[n++] = (char *)opt_runc_root;
  argv[n++] = "--log";
  argv[n++] = runc_log;
  argv[n++] = "--log-format";
  argv[n++] = "json";
  for (; *args && n < MAX_ARGS - 1; args++) argv[n++] = (char *)*args;
  argv[n] = NULL;
  return n;
}

/* Runs a short runc command with no stdio and waits for it. */
static int runc_simple(const char *const *args) {
  char *argv[MAX_ARGS];
  runc_argv(argv, args);
  pid_t pid = spawn(argv, -1, -1, -1);
  if (pid < 0) return -1;
  return wait_pid(pid);
}

static void runc_delete(void) {
  const char *args[] = {"delete", "--force", opt_id, NULL};
  runc_simple(args);
}

static void runc_kill(int sig) {
  char num[16];
  snprintf(num, sizeof num, "%d", sig);
  const char *args[] = {"kill", opt_id, num, NULL};
  runc_simple(args);
}

/* The last error/fatal "msg" in runc's JSON log, unescaped into out. */
static void runc_error(char *out, size_t size, const char *fallback) {
  snprintf(out, size, "%s", fallback);
  FILE *f = fopen(runc_log, "re");
  if (!f) return;
  char line[8192];
  while (fgets(line, sizeof line, f)) {
    if (!strstr(line, "\"level\":\"error\"") && !strstr(line, "\"level\":\"fatal\"")) continue;
    char *m = strstr(line, "\"msg\":\"");
    if (!m) continue;
    m += 7;
    size_t o = 0;
    for (; *m && *m != '"' && o + 1 < size; m++) {
      char c = *m;
      if (c == '\\' && m[1]) {
        m++;
        switch (*m) {
          case 'n': c = ' '; break;
          case 't': c = ' '; break;
          case 'u': /* \u00XX: keep it simple, show a '?' and skip the digits */
            c = '?';
            for (int i = 0; i < 4 && m[1]; i++) m++;
            break;
          default: c = *m;
        }
      }
      if (c == '\n') c = ' ';
      out[o++] = c;
    }
    out[o] = 0;
  }
  fclose(f);
}

static pid_t read_pid_file(void) {
  FILE *f = fopen(pid_file, "re");
  if (!f) return -1;
  long pid = -1;
  if (fscanf(f, "%ld", &pid) != 1) pid = -1;
  fclose(f);
  return (pid_t)pid;
}

/* ---------- the json-file log ---------- */

static int log_fd = -1;
static long long log_size;

static void log_open(void) {
  if (!opt_log) return;
  log_fd = open(opt_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  struct stat st;
  log_size = (log_fd >= 0 && fstat(log_fd, &st) == 0) ? st.st_size : 0;
}

static void log_rotate(void) {
  char old[4200];
  snprintf(old, sizeof old, "%s.1", opt_log);
  close(log_fd);
  rename(opt_log, old); /* replaces the previous .1 */
  log_fd = -1;
  log_open();
}

/* Length of a valid UTF-8 sequence at p (max n bytes), 0 if invalid, -1 if cut short. */
static int utf8_len(const unsigned char *p, size_t n) {
  unsigned char c = p[0];
  int len;
  if (c < 0x80) return 1;
  if (c >= 0xc2 && c <= 0xdf) len = 2;
  else if (c >= 0xe0 && c <= 0xef) len = 3;
  else if (c >= 0xf0 && c <= 0xf4) len = 4;
  else return 0;
  for (int i = 1; i < len; i++) {
    if ((size_t)i >= n) return -1;
    if ((p[i] & 0xc0) != 0x80) return 0;
  }
  if (len == 3 && c == 0xe0 && p[1] < 0xa0) return 0;         /* overlong */
  if (len == 3 && c == 0xed && p[1] >= 0xa0) return 0;        /* surrogate */
  if (len == 4 && c == 0xf0 && p[1] < 0x90) return 0;         /* overlong */
  if (len == 4 && c == 0xf4 && p[1] >= 0x90) return 0;        /* > U+10FFFF */
  return len;
}

/* Writes one log entry for text[0..n) (a line with its \n, or a partial line). */
static void log_entry(const char *stream, const unsigned char *text, size_t n) {
  if (log_fd < 0 || n == 0) return;
  /* worst case: every byte becomes \u00XX (6) or \ufffd (6) */
  size_t cap = n * 6 + 128;
  char *buf = malloc(cap);
  if (!buf) return;
  size_t o = 0;
  o += (size_t)sprintf(buf + o, "{\"log\":\"");
  for (size_t i = 0; i < n;) {
    unsigned char c = text[i];
    if (c == '"' || c == '\\') {
      buf[o++] = '\\';
      buf[o++] = (char)c;
      i++;
    } else if (c == '\n') {
      buf[o++] = '\\', buf[o++] = 'n', i++;
    } else if (c == '\r') {
      buf[o++] = '\\', buf[o++] = 'r', i++;
    } else if (c == '\t') {
      buf[o++] = '\\', buf[o++] = 't', i++;
    } else if (c < 0x20 || c == 0x7f) {
      o += (size_t)sprintf(buf + o, "\\u%04x", c);
      i++;
    } else if (c < 0x80) {
      buf[o++] = (char)c;
      i++;
    } else {
      int len = utf8_len(text + i, n - i);
      if (len <= 0) {
        o += (size_t)sprintf(buf + o, "\\ufffd");
        i++;
      } else {
        memcpy(buf + o, text + i, (size_t)len);
        o += (size_t)len;
        i += (size_t)len;
      }
    }
  }
  char ts[64];
  rfc3339(ts, sizeof ts);
  o += (size_t)snprintf(buf + o, cap - o, "\",\"stream\":\"%s\",\"time\":\"%s\"}\n", stream, ts);
  if (opt_log_max > 0 && log_size > 0 && log_size + (long long)o > opt_log_max) log_rotate();
  if (log_fd >= 0 && write_all(log_fd, buf, o) == 0) log_size += (long long)o;
  free(buf);
}

/* One output stream of the container: its fd and the bytes not logged yet. */
struct stream {
  const char *name;
  int fd;
  int copy_fd; /* attached: our own stdout/stderr, else -1 */
  unsigned char pending[65536];
  size_t len;
};

/* Logs every complete line, then the rest as a partial entry, keeping back only a UTF-8 sequence
 * cut by the read (at most 3 bytes) so a character is never split into two invalid halves. */
static void stream_flush(struct stream *s, int final) {
  size_t start = 0;
  for (size_t i = 0; i < s->len; i++) {
    if (s->pending[i] == '\n') {
      log_entry(s->name, s->pending + start, i + 1 - start);
      start = i + 1;
    }
  }
  size_t rest = s->len - start;
  size_t keep = 0;
  if (!final) {
    for (size_t k = 1; k <= 3 && k <= rest; k++) {
      unsigned char c = s->pending[s->len - k];
      if ((c & 0xc0) == 0x80) continue;
      if (c >= 0xc0 && utf8_len(s->pending + s->len - k, k) == -1) keep = k;
      break;
    }
  }
  log_entry(s->name, s->pending + start, rest - keep);
  memmove(s->pending, s->pending + s->len - keep, keep);
  s->len = keep;
}

/* Reads what is there; returns 0 at EOF (or EIO from a pty whose other side closed). */
static int stream_read(struct stream *s) {
  ssize_t n = read(s->fd, s->pending + s->len, sizeof s->pending - s->len);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return 1;
  if (n <= 0) {
    stream_flush(s, 1);
    close(s->fd);
    s->fd = -1;
    return 0;
  }
  if (s->copy_fd >= 0 && write_all(s->copy_fd, (char *)s->pending + s->len, (size_t)n) < 0) s->copy_fd = -1;
  s->len += (size_t)n;
  stream_flush(s, 0);
  return 1;
}

/* ---------- one run of the container ---------- */

struct run {
  pid_t container; /* the container's init (host pid) */
  pid_t runc_run;  /* attached -t: the `runc run` process */
  int status;
  int exited;
  struct stream out, err;
  int stdin_hold; /* write end held open for --stdin hold */
};

static struct run cur;
static int restart_count;

static void write_state(void) {
  char ts[64], text[512];
  rfc3339(ts, sizeof ts);
  snprintf(text, sizeof text, "{\"monitorPid\":%d,\"containerPid\":%d,\"startedAt\":\"%s\",\"restartCount\":%d}\n",
           (int)getpid(), (int)cur.container, ts, restart_count);
  write_atomic(opt_state, text);
}

static void write_exit(int code) {
  char ts[64], text[256];
  rfc3339(ts, sizeof ts);
  snprintf(text, sizeof text, "{\"exitCode\":%d,\"finishedAt\":\"%s\"}\n", code, ts);
  write_atomic(opt_exit, text);
}

/* Receives the pty master runc sends over the console socket (SCM_RIGHTS). */
static int recv_fd(int sock) {
  char data[256];
  struct iovec iov = {data, sizeof data};
  union {
    struct cmsghdr h;
    char buf[CMSG_SPACE(sizeof(int))];
  } ctl;
  struct msghdr msg = {0};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = ctl.buf;
  msg.msg_controllen = sizeof ctl.buf;
  if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) < 0) return -1;
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  if (!c || c->cmsg_type != SCM_RIGHTS) return -1;
  int fd;
  memcpy(&fd, CMSG_DATA(c), sizeof fd);
  return fd;
}

/* runc create + start with our pipes (or a pty) as stdio. Returns 0, or -1 with msg set. */
static int start_detachable(char *msg, size_t msg_size) {
  int out[2] = {-1, -1}, err[2] = {-1, -1}, in[2] = {-1, -1};
  int in_fd = -1, listen_fd = -1, master = -1;
  char sock_dir[64] = "", sock_path[128] = "";
  char *argv[MAX_ARGS];
  int ret = -1;

  if (opt_terminal) {
    /* runc makes the pty and sends us its master; the path must fit in sun_path, so not in the bundle. */
    snprintf(sock_dir, sizeof sock_dir, "/tmp/tsbuild-console-XXXXXX");
    if (!mkdtemp(sock_dir)) {
      snprintf(msg, msg_size, "cannot create the console socket directory: %s", strerror(errno));
      return -1;
    }
    snprintf(sock_path, sizeof sock_path, "%s/sock", sock_dir);
    struct sockaddr_un addr = {0};
    addr.sun_family = AF_UNIX;
    snprintf(addr.sun_path, sizeof addr.sun_path, "%s", sock_path);
    listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(listen_fd, 1) < 0) {
      snprintf(msg, msg_size, "cannot listen on the console socket: %s", strerror(errno));
      goto out;
    }
  } else {
    if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0) {
      snprintf(msg, msg_size, "cannot create pipes: %s", strerror(errno));
      goto out;
    }
    if (strcmp(opt_stdin, "hold") == 0) {
      if (pipe2(in, O_CLOEXEC) < 0) goto out;
      in_fd = in[0];
    } else if (strcmp(opt_stdin, "inherit") == 0) {
      in_fd = 0;
    }
  }

  unlink(pid_file);
  truncate(runc_log, 0);
  const char *create_args[] = {"create", "--bundle", opt_bundle, "--pid-file", pid_file, "--no-new-keyring",
                               opt_terminal ? "--console-socket" : opt_id, opt_terminal ? sock_path : NULL,
                               opt_terminal ? opt_id : NULL, NULL};
  runc_argv(argv, create_args);
  /* Not when it reads our terminal directly (attached -i): a background group would get SIGTTIN. */
  int new_group = !(in_fd == 0 && isatty(0));
  pid_t create = spawn_group(argv, in_fd, opt_terminal ? -1 : out[1], opt_terminal ? -1 : err[1], new_group);
  if (create < 0) {
    snprintf(msg, msg_size, "cannot run %s: %s", opt_runc, strerror(errno));
    goto out;
  }
  /* The container holds the write ends now (through runc); ours would keep EOF from coming. */
  if (out[1] >= 0) close(out[1]), out[1] = -1;
  if (err[1] >= 0) close(err[1]), err[1] = -1;
  if (in[0] >= 0) close(in[0]), in[0] = -1;

  int status = -1;
  if (opt_terminal) {
    /* runc create blocks until it has handed over the pty; watch for its failure meanwhile. */
    for (;;) {
      struct pollfd p = {listen_fd, POLLIN, 0};
      int r = poll(&p, 1, 50);
      if (r > 0) {
        int conn = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (conn >= 0) {
          master = recv_fd(conn);
          close(conn);
        }
        break;
      }
      int st;
      if (waitpid(create, &st, WNOHANG) == create) {
        status = st;
        break;
      }
    }
  }
  if (status == -1) status = wait_pid(create);
  if (exit_code_of(status) != 0) {
    char fallback[128];
    snprintf(fallback, sizeof fallback, "runc create exited with status %d", exit_code_of(status));
    runc_error(msg, msg_size, fallback);
    goto fail;
  }
  if (opt_terminal && master < 0) {
    snprintf(msg, msg_size, "runc did not send the container's terminal");
    goto fail;
  }
  cur.container = read_pid_file();
  if (cur.container <= 0) {
    snprintf(msg, msg_size, "runc create wrote no pid file");
    goto fail;
  }
  const char *start_args[] = {"start", opt_id, NULL};
  status = runc_simple(start_args);
  if (exit_code_of(status) != 0) {
    char fallback[128];
    snprintf(fallback, sizeof fallback, "runc start exited with status %d", exit_code_of(status));
    runc_error(msg, msg_size, fallback);
    goto fail;
  }
  cur.out.fd = opt_terminal ? master : out[0];
  cur.err.fd = opt_terminal ? -1 : err[0];
  out[0] = err[0] = master = -1;
  cur.stdin_hold = in[1];
  in[1] = -1;
  ret = 0;
  goto out;

fail:
  runc_delete();
  /* Reap the init runc left behind, if any. */
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
out:
  for (int i = 0; i < 2; i++) {
    if (out[i] >= 0) close(out[i]);
    if (err[i] >= 0) close(err[i]);
    if (in[i] >= 0) close(in[i]);
  }
  if (master >= 0) close(master);
  if (listen_fd >= 0) close(listen_fd);
  if (sock_path[0]) unlink(sock_path);
  if (sock_dir[0]) rmdir(sock_dir);
  return ret;
}

/* One `runc run` with the given stdio, for the attached modes: the container is up when the pid
 * file appears; runc run then reaps it, exits with its status and deletes it. */
static int start_runc_run(int in, int out, int err, int new_group, char *msg, size_t msg_size) {
  char *argv[MAX_ARGS];
  unlink(pid_file);
  truncate(runc_log, 0);
  const char *args[] = {"run", "--bundle", opt_bundle, "--pid-file", pid_file, "--no-new-keyring", opt_id, NULL};
  runc_argv(argv, args);
  cur.runc_run = spawn_group(argv, in, out, err, new_group);
  if (cur.runc_run < 0) {
    snprintf(msg, msg_size, "cannot run %s: %s", opt_runc, strerror(errno));
    return -1;
  }
  for (;;) {
    pid_t pid = read_pid_file();
    if (pid > 0) {
      cur.container = pid;
      return 0;
    }
    int st;
    if (waitpid(cur.runc_run, &st, WNOHANG) == cur.runc_run) {
      cur.runc_run = 0;
      pid = read_pid_file();
      if (pid > 0 || exit_code_of(st) == 0) {
        /* It ran and finished before we looked: wait_run drains what it wrote. */
        cur.container = pid;
        cur.exited = 1;
        cur.status = st;
        return 0;
      }
      char fallback[128];
      snprintf(fallback, sizeof fallback, "runc run exited with status %d", exit_code_of(st));
      runc_error(msg, msg_size, fallback);
      runc_delete();
      return -1;
    }
    sleep_ms(2);
  }
}

/* Attached without a terminal (a foreground run): one `runc run` instead of create + start +
 * delete, one Go start-up instead of three (about 30 ms of a `run --rm`). Its stdio are our pipes,
 * so the output is still logged and copied to ours. */
static int start_attached_pipes(char *msg, size_t msg_size) {
  int out[2] = {-1, -1}, err[2] = {-1, -1};
  if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0) {
    snprintf(msg, msg_size, "cannot create pipes: %s", strerror(errno));
    for (int i = 0; i < 2; i++) {
      if (out[i] >= 0) close(out[i]);
      if (err[i] >= 0) close(err[i]);
    }
    return -1;
  }
  int in_fd = strcmp(opt_stdin, "inherit") == 0 ? 0 : -1;
  /* As for create: its own group, unless it reads our terminal (a background group gets SIGTTIN). */
  int r = start_runc_run(in_fd, out[1], err[1], !(in_fd == 0 && isatty(0)), msg, msg_size);
  /* runc (and the container) hold the write ends now; ours would keep EOF from coming. */
  close(out[1]);
  close(err[1]);
  if (r < 0) {
    close(out[0]);
    close(err[0]);
    return -1;
  }
  cur.out.fd = out[0];
  cur.err.fd = err[0];
  return 0;
}

/* Attached -t: `runc run` proxies our terminal (runc makes the pty), so no log is captured. */
static int start_attached_terminal(char *msg, size_t msg_size) {
  return start_runc_run(0, 1, 2, 0, msg, msg_size);
}

static void handle_signals(void) {
  struct signalfd_siginfo si;
  while (read(sigfd, &si, sizeof si) == sizeof si) {
    if (si.ssi_signo == SIGCHLD) {
      int st;
      pid_t pid;
      while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
        pid_t waited = cur.runc_run ? cur.runc_run : cur.container;
        if (pid == waited && !cur.exited) {
          cur.exited = 1;
          cur.status = st;
        }
      }
    } else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
      /* podman's sig-proxy: the container gets the signal; we stay to log and report its exit. */
      if (!cur.exited) runc_kill((int)si.ssi_signo);
    }
  }
}

/* Logs the output until the container's init is reaped and its pipes are drained (bounded). */
static int wait_run(void) {
  long long deadline = -1;
  for (;;) {
    if (cur.exited && deadline < 0) deadline = now_ms() + DRAIN_MS;
    if (cur.exited && (cur.out.fd < 0 && cur.err.fd < 0)) break;
    int timeout = -1;
    if (deadline >= 0) {
      long long left = deadline - now_ms();
      if (left <= 0) break;
      timeout = (int)left;
    }
    struct pollfd p[3] = {{sigfd, POLLIN, 0}, {cur.out.fd, POLLIN, 0}, {cur.err.fd, POLLIN, 0}};
    int r = poll(p, 3, timeout);
    if (r < 0 && errno != EINTR) break;
    if (r <= 0) continue;
    if (p[0].revents) handle_signals();
    if (p[1].revents) stream_read(&cur.out);
    if (p[2].revents) stream_read(&cur.err);
  }
  /* Whatever still holds them (an escaped process), we stop listening. */
  if (cur.out.fd >= 0) stream_flush(&cur.out, 1), close(cur.out.fd), cur.out.fd = -1;
  if (cur.err.fd >= 0) stream_flush(&cur.err, 1), close(cur.err.fd), cur.err.fd = -1;
  if (cur.stdin_hold >= 0) close(cur.stdin_hold), cur.stdin_hold = -1;
  return exit_code_of(cur.status);
}

/* ---------- restart policy ---------- */

static int should_restart(int code) {
  if (file_exists(opt_stop)) return 0;
  if (strcmp(opt_restart, "always") == 0 || strcmp(opt_restart, "unless-stopped") == 0) return 1;
  if (strncmp(opt_restart, "on-failure", 10) == 0) {
    if (code == 0) return 0;
    int max = opt_restart[10] == ':' ? atoi(opt_restart + 11) : 0;
    return max == 0 || restart_count < max;
  }
  return 0;
}

/* Sleeps for the backoff, still reaping and forwarding; returns 0 if a stop came meanwhile. */
static int backoff_wait(long ms) {
  long long end = now_ms() + ms;
  for (;;) {
    long long left = end - now_ms();
    if (left <= 0) break;
    struct pollfd p = {sigfd, POLLIN, 0};
    if (poll(&p, 1, (int)(left > 50 ? 50 : left)) > 0) {
      struct signalfd_siginfo si;
      while (read(sigfd, &si, sizeof si) == sizeof si) {
        if (si.ssi_signo == SIGCHLD) {
          while (waitpid(-1, NULL, WNOHANG) > 0) {
          }
        } else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
          return 0; /* stopped between two runs: nothing to forward to */
        }
      }
    }
    if (file_exists(opt_stop)) return 0;
  }
  return 1;
}

static void run_exit_command(void) {
  if (!opt_exit_cmd) return;
  char *argv[MAX_ARGS + 2];
  int n = 0;
  argv[n++] = (char *)opt_exit_cmd;
  for (int i = 0; i < exit_argc; i++) argv[n++] = (char *)exit_argv[i];
  argv[n] = NULL;
  sigprocmask(SIG_UNBLOCK, &blocked, NULL);
  signal(SIGPIPE, SIG_DFL);
  execv(argv[0], argv);
  execvp(argv[0], argv);
  _exit(127);
}

static void report(const char *fmt, ...) {
  if (sync_fd < 0) return;
  char buf[8192];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  write_all(sync_fd, buf, strlen(buf));
  close(sync_fd);
  sync_fd = -1;
}

/* ---------- main ---------- */

static void parse_args(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--terminal") == 0) {
      opt_terminal = 1;
      continue;
    }
    if (strcmp(a, "--attach") == 0) {
      opt_attach = 1;
      continue;
    }
    if (i + 1 >= argc) die_usage("%s needs a value", a);
    const char *v = argv[++i];
    if (strcmp(a, "--id") == 0) opt_id = v;
    else if (strcmp(a, "--bundle") == 0) opt_bundle = v;
    else if (strcmp(a, "--runc-root") == 0) opt_runc_root = v;
    else if (strcmp(a, "--runc") == 0) opt_runc = v;
    else if (strcmp(a, "--log") == 0) opt_log = v;
    else if (strcmp(a, "--log-max") == 0) opt_log_max = atoll(v);
    else if (strcmp(a, "--state-file") == 0) opt_state = v;
    else if (strcmp(a, "--exit-file") == 0) opt_exit = v;
    else if (strcmp(a, "--stop-flag") == 0) opt_stop = v;
    else if (strcmp(a, "--stdin") == 0) opt_stdin = v;
    else if (strcmp(a, "--restart") == 0) opt_restart = v;
    else if (strcmp(a, "--exit-command") == 0) opt_exit_cmd = v;
    else if (strcmp(a, "--exit-arg") == 0) {
      if (exit_argc >= MAX_ARGS) die_usage("too many --exit-arg");
      exit_argv[exit_argc++] = v;
    } else if (strcmp(a, "--sync-fd") == 0) sync_fd = atoi(v);
    else die_usage("unknown flag %s", a);
  }
  if (!opt_id || !opt_bundle || !opt_runc_root) die_usage("--id, --bundle and --runc-root are required");
  if (strcmp(opt_stdin, "null") && strcmp(opt_stdin, "hold") && strcmp(opt_stdin, "inherit"))
    die_usage("--stdin must be null, hold or inherit");
  if (strcmp(opt_restart, "no") && strcmp(opt_restart, "always") && strcmp(opt_restart, "unless-stopped") &&
      strcmp(opt_restart, "on-failure") && strncmp(opt_restart, "on-failure:", 11))
    die_usage("--restart must be no, always, unless-stopped or on-failure[:N]");
  if (strcmp(opt_stdin, "inherit") == 0 && !opt_attach) die_usage("--stdin inherit needs --attach");
}

int main(int argc, char **argv) {
  parse_args(argc, argv);
  snprintf(runc_log, sizeof runc_log, "%s/runc.log", opt_bundle);
  snprintf(pid_file, sizeof pid_file, "%s/pidfile", opt_bundle);
  /* Neither runc nor the container may inherit the sync fd (its EOF tells the parent we are done). */
  if (sync_fd >= 0 && fcntl(sync_fd, F_SETFD, FD_CLOEXEC) < 0) sync_fd = -1;
  orig_ppid = getppid();

  if (!opt_attach) {
    /* A daemon: own session, no cwd pinning a mount, no stdio tying us to the CLI. */
    setsid();
    if (chdir("/") < 0) {
    }
    int devnull = open("/dev/null", O_RDWR);
    if (devnull >= 0) {
      dup2(devnull, 0);
      dup2(devnull, 1);
      dup2(devnull, 2);
      if (devnull > 2) close(devnull);
    }
  }
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  signal(SIGPIPE, SIG_IGN); /* a closed stdout (attached, parent gone) must not kill us */
  signal(SIGHUP, SIG_IGN);
  sigemptyset(&blocked);
  sigaddset(&blocked, SIGCHLD);
  sigaddset(&blocked, SIGTERM);
  sigaddset(&blocked, SIGINT);
  sigprocmask(SIG_BLOCK, &blocked, NULL);
  sigfd = signalfd(-1, &blocked, SFD_NONBLOCK | SFD_CLOEXEC);
  log_open();

  cur.out.name = "stdout";
  cur.err.name = "stderr";
  long backoff = BACKOFF_START_MS;
  int code = 0;
  for (int first = 1;; first = 0) {
    char msg[4096] = "";
    cur.container = cur.runc_run = 0;
    cur.exited = 0;
    cur.status = -1;
    cur.out.fd = cur.err.fd = cur.stdin_hold = -1;
    cur.out.len = cur.err.len = 0;
    cur.out.copy_fd = opt_attach ? 1 : -1;
    cur.err.copy_fd = opt_attach ? 2 : -1;
    int attached_tty = opt_attach && opt_terminal;
    int attached_pipes = opt_attach && !opt_terminal && strcmp(opt_stdin, "hold") != 0;
    int r = attached_tty ? start_attached_terminal(msg, sizeof msg)
            : attached_pipes ? start_attached_pipes(msg, sizeof msg)
                             : start_detachable(msg, sizeof msg);
    if (r < 0) {
      if (first) {
        report("error %s\n", msg);
        return 1;
      }
      /* A restart that cannot start is the end: the container stays exited (status 125). */
      code = 125;
      write_exit(code);
      break;
    }
    write_state();
    if (first) report("ok %d\n", (int)cur.container);
    long long started = now_ms();
    code = attached_tty && cur.exited ? exit_code_of(cur.status) : wait_run();
    write_exit(code);
    /* runc run deletes its container itself, unless it was killed before it could. */
    if (!(attached_pipes || attached_tty) || !WIFEXITED(cur.status)) runc_delete();
    if (!should_restart(code)) break;
    if (now_ms() - started > BACKOFF_RESET_MS) backoff = BACKOFF_START_MS;
    if (!backoff_wait(backoff)) break;
    backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
    if (file_exists(opt_stop)) break;
    restart_count++;
  }
  if (log_fd >= 0) close(log_fd);
  /* A stop flag with content says the stopping CLI cleans up itself (tsbuild stop): no exit command,
   * so no second process touches the root after that CLI has returned. */
  struct stat stop_st;
  int cli_cleans_up = opt_stop && stat(opt_stop, &stop_st) == 0 && stop_st.st_size > 0;
  if ((!opt_attach || getppid() != orig_ppid) && !cli_cleans_up) run_exit_command();
  return code;
}
