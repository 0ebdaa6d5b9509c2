/* berth-shim: executes a plan made by berth's TypeScript runtime (docs/shim-protocol.md).
 *
 * The parent section runs here, in a single-threaded process (the reason the shim exists:
 * the kernel refuses unshare/setns of mount and user namespaces to a multi-threaded Node).
 * The child section runs in the clone()d container process (child.c). */
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_LINES 8192
#define SEALED_ENV "_BERTH_SHIM_SEALED"

static struct bsh_line lines[MAX_LINES];
static volatile pid_t child_pid;

/* CVE-2019-5736: a container process that opens /proc/<shim>/exe must not be able to write the
 * shim's binary. Run from a sealed memfd copy, so /proc/self/exe is never the file on disk. */
static void run_sealed(char **argv) {
  if (getenv(SEALED_ENV)) {
    unsetenv(SEALED_ENV);
    return;
  }
  int src = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  int mfd = (int)syscall(SYS_memfd_create, "berth-shim", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  struct stat st;
  if (src < 0 || mfd < 0 || fstat(src, &st) < 0) return;
  off_t off = 0;
  while (off < st.st_size)
    if (sendfile(mfd, src, &off, (size_t)(st.st_size - off)) <= 0) return;
  close(src);
  if (fcntl(mfd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0) return;
  setenv(SEALED_ENV, "1", 1);
  extern char **environ;
  syscall(SYS_execveat, mfd, "", argv, environ, AT_EMPTY_PATH);
  unsetenv(SEALED_ENV); /* fall through: run unsealed rather than not at all */
}

static char *read_all(int fd) {
  size_t cap = 65536, len = 0;
  char *buf = malloc(cap);
  for (;;) {
    if (len + 1 >= cap) buf = realloc(buf, cap *= 2);
    ssize_t n = read(fd, buf + len, cap - len - 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    len += (size_t)n;
  }
  buf[len] = 0;
  return buf;
}

static int read_line(int fd, char *buf, size_t len) {
  size_t i = 0;
  while (i + 1 < len) {
    ssize_t n = read(fd, buf + i, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (buf[i] == '\n') break;
    i++;
  }
  buf[i] = 0;
  return (int)i;
}

static int clone_flags(const char *s, int *cgroupns, int *timens, int *userns) {
  int flags = 0;
  char buf[256];
  snprintf(buf, sizeof buf, "%s", s);
  char *save = NULL;
  for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
    if (!strcmp(t, "pid")) flags |= CLONE_NEWPID;
    else if (!strcmp(t, "mnt")) flags |= CLONE_NEWNS;
    else if (!strcmp(t, "uts")) flags |= CLONE_NEWUTS;
    else if (!strcmp(t, "ipc")) flags |= CLONE_NEWIPC;
    else if (!strcmp(t, "net")) flags |= CLONE_NEWNET;
    else if (!strcmp(t, "user")) { flags |= CLONE_NEWUSER; *userns = 1; }
    else if (!strcmp(t, "cgroup")) *cgroupns = 1;
    else if (!strcmp(t, "time")) *timens = 1;
  }
  return flags;
}

static int connect_unix(const char *path, struct bsh_err *err) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un sa;
  int dirfd;
  if (fd < 0 || bsh_unix_addr(path, &sa, &dirfd) < 0) return bsh_fail(err, "console socket", errno, "%s", path);
  int r = connect(fd, (struct sockaddr *)&sa, sizeof sa), e = errno;
  if (dirfd >= 0) close(dirfd);
  if (r < 0) return bsh_fail(err, "console socket", e, "connect %s", path);
  /* The child uses it: keep it across clone, close on exec. */
  return fd;
}

static void forward(int sig) {
  if (child_pid > 0) kill(child_pid, sig);
}

/* Written by rename, not fsync'd: the exit file lives under the exec root and is read by berthd
 * (now, or after its restart); a power failure ends the container's story anyway. */
static void write_exitfile(const char *path, int status) {
  char tmp[4200], val[32];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  int fd = openat(bsh_host_root, bsh_host_rel(tmp), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return;
  int n = snprintf(val, sizeof val, "%d\n", status);
  ssize_t w = write(fd, val, (size_t)n);
  close(fd);
  if (w == n) renameat(bsh_host_root, bsh_host_rel(tmp), bsh_host_root, bsh_host_rel(path));
}

/* Without monitor-mode stdio: learn whether exec happened (EOF on the CLOEXEC pipe), then reap
 * until the container process itself has exited (we are a subreaper: orphans come to us too). */
static ssize_t wait_plain(int exec_rd, int *status) {
  char c;
  ssize_t n;
  do n = read(exec_rd, &c, 1); while (n < 0 && errno == EINTR);
  close(exec_rd);
  if (n == 0) bsh_report("running");
  for (;;) {
    int st;
    pid_t p = waitpid(-1, &st, 0);
    if (p < 0 && errno == EINTR) continue;
    if (p < 0) break;
    if (p == child_pid) { *status = st; break; }
  }
  child_pid = 0; /* reaped: forward() must not signal a pid that may be reused */
  return n;
}

/* Monitor mode: stay the container's parent, forward signals, reap, report the exit status. */
static int monitor(int exec_rd, const char *exitfile) {
  int fwd[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT, SIGALRM};
  struct sigaction sa = {.sa_handler = forward};
  for (size_t i = 0; i < sizeof fwd / sizeof fwd[0]; i++) sigaction(fwd[i], &sa, NULL);
  /* The caller may stop reading reports once the process runs; a report then must not kill us. */
  signal(SIGPIPE, SIG_IGN);
  ssize_t n;
  int status = 0;
  if (bsh_io_active()) {
    /* io.c: relays the container's stdio while it waits; reports "running" itself. */
    n = bsh_io_loop(child_pid, exec_rd, &status);
    child_pid = 0;
  } else {
    n = wait_plain(exec_rd, &status);
  }
  if (n != 0) return 1; /* setup failed; the child reported why */
  bsh_report("exit %d", status);
  if (exitfile) write_exitfile(exitfile, status);
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

int main(int argc, char **argv) {
  if (argc > 1 && !strcmp(argv[1], "seccomp-compile")) return bsh_seccomp_compile_main();
  run_sealed(argv);
  int base = argc > 1 ? atoi(argv[1]) : 3;
  int plan_fd = base, ack_fd = base + 2;
  bsh_report_fd = base + 1;
  fcntl(plan_fd, F_SETFD, FD_CLOEXEC);
  fcntl(bsh_report_fd, F_SETFD, FD_CLOEXEC);
  fcntl(ack_fd, F_SETFD, FD_CLOEXEC);

  struct bsh_err err = {0};
  char *plan = read_all(plan_fd);
  close(plan_fd);
  int nlines = bsh_parse_plan(plan, lines, MAX_LINES);
  if (nlines == 0) return 0; /* a spare shim whose daemon went away without using it */

  int monitor_mode = 0, flags = 0, cgroupns = 0, timens = 0, userns = 0, preserve = 0;
  int fifo_fd = -1, console_fd = -1, start = nlines;
  const char *exitfile = NULL;
  char timens_offsets[1024] = "";
  enum { MAX_JOINS = 8 };
  struct { int fd; char **line; } joins[MAX_JOINS];
  int njoin = 0;

  for (int i = 0; i < nlines; i++) {
    char **f = lines[i].fields;
    int n = lines[i].nfields;
    int r = 0;
    if (!strcmp(f[0], "child")) { start = i + 1; break; }
    if (!strcmp(f[0], "mode") && n > 1) monitor_mode = !strcmp(f[1], "monitor");
    else if (!strcmp(f[0], "exitfile") && n > 1) exitfile = f[1];
    else if (!strcmp(f[0], "preserve-fds") && n > 1) preserve = atoi(f[1]);
    else if (!strcmp(f[0], "clone") && n > 1) flags = clone_flags(f[1], &cgroupns, &timens, &userns);
    else if (!strcmp(f[0], "timens") && n > 3) {
      size_t l = strlen(timens_offsets);
      snprintf(timens_offsets + l, sizeof timens_offsets - l, "%s %s %s\n", f[1], f[2], f[3]);
    } else if (!strcmp(f[0], "fifo") && n > 1) {
      /* 0622 whatever the umask: the process opens it for writing after it changed to its own
       * user, which may have neither root's uid nor CAP_DAC_OVERRIDE. */
      if (mkfifo(f[1], 0622) < 0 && errno != EEXIST) r = bsh_fail(&err, "exec fifo", errno, "mkfifo %s", f[1]);
      else if (chmod(f[1], 0622) < 0) r = bsh_fail(&err, "exec fifo", errno, "chmod %s", f[1]);
      else fifo_fd = open(f[1], O_PATH | O_CLOEXEC);
      if (r == 0 && fifo_fd < 0) r = bsh_fail(&err, "exec fifo", errno, "open %s", f[1]);
    } else if (!strcmp(f[0], "console-socket") && n > 1) {
      console_fd = connect_unix(f[1], &err);
      if (console_fd < 0) r = -1;
    } else if (!strcmp(f[0], "join") && n > 2) {
      /* Opened now, entered after the stdio below: log, socket and fifo paths are the host's. */
      if (njoin == MAX_JOINS) r = bsh_fail(&err, "join namespace", E2BIG, "more than %d", MAX_JOINS);
      else if ((joins[njoin].fd = open(f[1], O_RDONLY | O_CLOEXEC)) < 0) r = bsh_fail(&err, "join namespace", errno, "%s namespace %s", f[2], f[1]);
      else joins[njoin++].line = f;
    } else if (!strncmp(f[0], "seccomp-", 8)) {
      r = bsh_seccomp_directive(&lines[i], &err);
    } else if (bsh_io_handles(f[0])) { /* io.c: monitor-mode stdio */
      r = bsh_io_directive(&lines[i], &err);
    } else {
      r = bsh_fail(&err, "plan", EINVAL, "unknown directive %s", f[0]);
    }
    if (r < 0) { bsh_report_error(&err); return 1; }
  }

  if (monitor_mode) prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  /* io.c: stdio pipes / terminal-relay socketpair (becomes console_fd), log, sockets. */
  if (bsh_io_prepare(monitor_mode, &console_fd, &err) < 0) { bsh_report_error(&err); return 1; }

  if (njoin > 0 && (bsh_host_root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0) {
    bsh_fail(&err, "join namespace", errno, "open the host root");
    bsh_report_error(&err);
    return 1;
  }
  for (int i = 0; i < njoin; i++) {
    if (setns(joins[i].fd, 0) < 0) {
      bsh_fail(&err, "join namespace", errno, "%s namespace %s", joins[i].line[2], joins[i].line[1]);
      bsh_report_error(&err);
      return 1;
    }
    close(joins[i].fd);
  }

  if (timens) {
    if (unshare(CLONE_NEWTIME) < 0) { bsh_fail(&err, "time namespace", errno, "unshare"); bsh_report_error(&err); return 1; }
    if (timens_offsets[0]) {
      int fd = open("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC);
      if (fd < 0 || write(fd, timens_offsets, strlen(timens_offsets)) < 0) {
        bsh_fail(&err, "time namespace", errno, "write offsets");
        bsh_report_error(&err);
        return 1;
      }
      close(fd);
    }
  }
  /* The child waits for the runtime's go (cgroup placement, id maps, runtime hooks) where the
   * plan says: a child section without that point would run ahead of its placement. */
  int has_wait = 0;
  for (int i = start; i < nlines; i++) has_wait |= !strcmp(lines[i].fields[0], "wait-parent");
  if (!has_wait) { bsh_fail(&err, "plan", EINVAL, "the child section has no wait-parent directive"); bsh_report_error(&err); return 1; }
  int go[2], execp[2];
  if (pipe2(go, O_CLOEXEC) < 0 || pipe2(execp, O_CLOEXEC) < 0) { bsh_fail(&err, "pipe", errno, "-"); bsh_report_error(&err); return 1; }

  pid_t pid = (pid_t)syscall(SYS_clone, flags | SIGCHLD, 0, 0, 0, 0);
  if (pid < 0) {
    bsh_fail(&err, "clone", errno, "namespaces 0x%x", flags);
    bsh_report_error(&err);
    return 1;
  }
  if (pid == 0) {
    close(go[1]);
    close(execp[0]);
    close(ack_fd);
    int r = bsh_io_child(&err); /* io.c: the stdio pipes become 0, 1, 2 before the first step */
    if (r == 0) {
      struct bsh_child_ctx ctx = {.lines = lines, .nlines = nlines, .start = start, .fifo_fd = fifo_fd,
                                  .console_fd = console_fd, .exec_pipe = execp[1], .preserve_fds = preserve,
                                  .userns = userns, .cgroupns = cgroupns, .go_fd = go[0]};
      bsh_child_run(&ctx, &err);
    }
    bsh_report_error(&err);
    if (write(execp[1], "E", 1) < 0) {}
    _exit(1);
  }
  child_pid = pid;
  close(go[0]);
  close(execp[1]);
  if (fifo_fd >= 0) close(fifo_fd);
  if (console_fd >= 0) close(console_fd);

  /* TypeScript now places the pid in its cgroups, writes id maps, runs createRuntime hooks. */
  bsh_report("pid %d", pid);
  char ack[64];
  read_line(ack_fd, ack, sizeof ack);
  close(ack_fd);
  if (strcmp(ack, "go") != 0) {
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return 1;
  }
  /* A child that failed before its wait-parent point is gone (its error is reported): the
   * write fails with EPIPE, and the monitor below reaps it. */
  signal(SIGPIPE, SIG_IGN);
  if (write(go[1], "g", 1) != 1 && !monitor_mode) return 1;
  close(go[1]);
  if (!monitor_mode) return 0;
  return monitor(execp[0], exitfile);
}
