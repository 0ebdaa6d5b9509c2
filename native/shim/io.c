/* Monitor-mode stdio (docs/shim-protocol.md, "Monitor-mode stdio"): the shim owns the container's
 * output (two pipes, or the pty master with terminal-relay), writes it as docker's json-file log,
 * relays it live to attach clients, and feeds their input to the container's stdin — what conmon
 * and containerd-shim do, so a container and its log outlive berthd. One poll(2) loop, one thread:
 * nothing here may ever block on a client, or a stalled reader would stall the container. */
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#define STDIN_CAP 65536
#define CLIENT_SNDBUF (1 << 20)
#define DRAIN_GRACE_MS 2000

enum { OUT, ERR };
enum { T_SIG, T_EXEC, T_OUT, T_ERR, T_CONSOLE, T_STDIN, T_ATTACH_L, T_CONTROL_L, T_CLIENT };

struct stream {
  int fd, frame; /* frame: attach stream type 1 stdout, 2 stderr, 0 raw (pty) */
};

struct client {
  int fd;           /* -1 once dropped; the array is compacted after each poll round */
  int control;      /* control-socket connection (line commands) rather than attach */
  int reading;      /* 0 after the client half-closed */
  size_t len;
  char buf[256];    /* control: an unfinished command line */
};

static struct {
  int active, relay, want_stdin, stdin_once, stdin_closing, stdin_closed;
  const char *log_path, *attach_path, *control_path;
  unsigned long long max_size;
  int max_files, log_fd;
  int child_fd[3];  /* the container's ends: stdin read, stdout write, stderr write */
  int stdin_fd;     /* our end of the stdin pipe */
  int console;      /* our end of the terminal-relay socketpair, until the master arrives */
  int master;
  int attach_l, control_l;
  pid_t owner;
  struct stream s[2];
  struct client *cl;
  int ncl;
  size_t npend;
  char pend[STDIN_CAP]; /* client input the container has not taken yet */
} io = {.log_fd = -1, .child_fd = {-1, -1, -1}, .stdin_fd = -1, .console = -1, .master = -1,
        .attach_l = -1, .control_l = -1,
        .s = {{.fd = -1, .frame = 1}, {.fd = -1, .frame = 2}}};

static const char *const directives[] = {"log", "stdin", "stdin-once", "attach-socket", "control-socket", "terminal-relay"};

int bsh_io_handles(const char *name) {
  for (size_t i = 0; i < sizeof directives / sizeof directives[0]; i++)
    if (!strcmp(name, directives[i])) return 1;
  return 0;
}

int bsh_io_active(void) { return io.active; }

int bsh_io_directive(const struct bsh_line *l, struct bsh_err *err) {
  char *const *f = l->fields;
  int n = l->nfields;
  if (!strcmp(f[0], "log") && n > 3) {
    io.log_path = f[1];
    io.max_size = strtoull(f[2], NULL, 10);
    io.max_files = atoi(f[3]);
  } else if (!strcmp(f[0], "attach-socket") && n > 1) io.attach_path = f[1];
  else if (!strcmp(f[0], "control-socket") && n > 1) io.control_path = f[1];
  else if (!strcmp(f[0], "stdin")) io.want_stdin = 1;
  else if (!strcmp(f[0], "stdin-once")) io.stdin_once = 1;
  else if (!strcmp(f[0], "terminal-relay")) io.relay = 1;
  else return bsh_fail(err, "plan", EINVAL, "malformed directive %s", f[0]);
  io.active = 1;
  return 0;
}

static void set_nonblock(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

static int listen_unix(const char *path, const char *step, struct bsh_err *err) {
  struct sockaddr_un sa;
  int dirfd;
  if (bsh_unix_addr(path, &sa, &dirfd) < 0) return bsh_fail(err, step, errno, "%s", path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    int e = errno;
    if (dirfd >= 0) close(dirfd);
    return bsh_fail(err, step, e, "socket for %s", path);
  }
  /* A socket left by a shim that was killed would make bind fail with EADDRINUSE. */
  struct stat st;
  if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode)) unlink(path);
  /* The umask, not a chmod after bind, so there is no moment another user could connect. */
  mode_t old = umask(0177);
  int r = bind(fd, (struct sockaddr *)&sa, sizeof sa);
  int e = errno;
  umask(old);
  if (dirfd >= 0) close(dirfd);
  errno = e;
  if (r == 0 && listen(fd, 16) == 0) return fd;
  e = errno;
  close(fd);
  return bsh_fail(err, step, e, "listen on %s", path);
}

static void cleanup(void) {
  if (getpid() != io.owner) return; /* the clone()d child shares this atexit list */
  if (io.attach_l >= 0) unlinkat(bsh_host_root, bsh_host_rel(io.attach_path), 0);
  if (io.control_l >= 0) unlinkat(bsh_host_root, bsh_host_rel(io.control_path), 0);
}

int bsh_io_prepare(int monitor_mode, int *console_fd, struct bsh_err *err) {
  if (!io.active) return 0;
  if (!monitor_mode) return bsh_fail(err, "stdio", EINVAL, "log, stdin, attach and terminal-relay need mode monitor");
  int p[2];
  if (io.relay) {
    if (*console_fd >= 0) return bsh_fail(err, "terminal-relay", EINVAL, "both console-socket and terminal-relay given");
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) < 0) return bsh_fail(err, "terminal-relay", errno, "socketpair");
    io.console = p[0];
    *console_fd = p[1]; /* the child's terminal step sends the master here, unchanged */
  } else {
    for (int i = OUT; i <= ERR; i++) {
      if (pipe2(p, O_CLOEXEC) < 0) return bsh_fail(err, "stdio", errno, "pipe for %s", i == OUT ? "stdout" : "stderr");
      io.s[i].fd = p[0];
      io.child_fd[1 + i] = p[1];
      set_nonblock(p[0]);
    }
    if (io.want_stdin) {
      if (pipe2(p, O_CLOEXEC) < 0) return bsh_fail(err, "stdio", errno, "pipe for stdin");
      io.child_fd[0] = p[0];
      io.stdin_fd = p[1];
      set_nonblock(p[1]); /* only our end: the container reads a blocking stdin */
    }
  }
  if (io.log_path && (io.log_fd = bsh_log_open(io.log_path, io.max_size, io.max_files, err)) < 0) return -1;
  if (io.attach_path && (io.attach_l = listen_unix(io.attach_path, "attach socket", err)) < 0) return -1;
  if (io.control_path && (io.control_l = listen_unix(io.control_path, "control socket", err)) < 0) return -1;
  /* Every way out of the shim removes the socket files, after the exit status was written. */
  io.owner = getpid();
  atexit(cleanup);
  return 0;
}

int bsh_io_child(struct bsh_err *err) {
  for (int i = 0; i < 3; i++) {
    if (io.child_fd[i] < 0) continue;
    if (dup2(io.child_fd[i], i) < 0) return bsh_fail(err, "stdio", errno, "dup2 pipe to %d", i);
    if (io.child_fd[i] != i) close(io.child_fd[i]);
  }
  /* The shim's ends are CLOEXEC anyway; closing them now keeps setup steps from touching them. */
  int mine[] = {io.s[OUT].fd, io.s[ERR].fd, io.stdin_fd, io.console, io.log_fd, io.attach_l, io.control_l};
  for (size_t i = 0; i < sizeof mine / sizeof mine[0]; i++)
    if (mine[i] >= 0) close(mine[i]);
  return 0;
}

/* ---- attach clients and stdin ---- */

static void drop(struct client *c) { close(c->fd), c->fd = -1; }

/* One frame per read chunk; a client whose socket buffer is full is dropped rather than waited
 * for, since waiting would stop us draining the container's pipes and block its writes. */
static void broadcast(int frame, const char *p, size_t n) {
  unsigned char h[8] = {(unsigned char)frame, 0, 0, 0, (unsigned char)(n >> 24), (unsigned char)(n >> 16),
                        (unsigned char)(n >> 8), (unsigned char)n};
  struct iovec iov[2] = {{.iov_base = h, .iov_len = 8}, {.iov_base = (void *)p, .iov_len = n}};
  struct msghdr m = {.msg_iov = frame ? iov : iov + 1, .msg_iovlen = frame ? 2 : 1};
  size_t total = n + (frame ? 8 : 0);
  for (int i = 0; i < io.ncl; i++) {
    struct client *c = &io.cl[i];
    if (c->fd >= 0 && !c->control && sendmsg(c->fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)total) drop(c);
  }
}

/* Where client input goes now: the pty master or the stdin pipe; -2 while the master has not
 * arrived yet (keep it), -1 when there is no stdin (discard). */
static int stdin_target(void) {
  if (!io.want_stdin || io.stdin_closed) return -1;
  if (io.relay) return io.master >= 0 ? io.master : io.console >= 0 ? -2 : -1;
  return io.stdin_fd;
}

static void flush_stdin(void) {
  int fd = stdin_target();
  if (fd == -2) return;
  while (io.npend > 0 && fd >= 0) {
    ssize_t w = write(fd, io.pend, io.npend);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EAGAIN) return; /* POLLOUT on fd brings us back */
    if (w < 0) break; /* EPIPE: the container closed its stdin; what is left has no reader */
    memmove(io.pend, io.pend + w, io.npend - (size_t)w);
    io.npend -= (size_t)w;
  }
  io.npend = 0;
  if (!io.stdin_closing || io.stdin_closed) return;
  if (io.relay && io.master >= 0) {
    /* A pty has no half-close: send the EOF character, which ends a read at the start of a line. */
    struct termios t;
    char eof = tcgetattr(io.master, &t) == 0 ? (char)t.c_cc[VEOF] : 4;
    if (write(io.master, &eof, 1) < 0) {}
  } else if (io.stdin_fd >= 0) close(io.stdin_fd), io.stdin_fd = -1;
  io.stdin_closed = 1;
}

/* Pending input goes first; the close follows when it is written. */
static void close_stdin(void) { io.stdin_closing = 1, flush_stdin(); }

static void control_line(struct client *c, char *line) {
  char reply[160] = "ok\n";
  unsigned rows, cols;
  line[strcspn(line, "\r")] = 0;
  if (sscanf(line, "resize %u %u", &rows, &cols) == 2) {
    struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
    if (io.master < 0) snprintf(reply, sizeof reply, "error no terminal\n");
    else if (ioctl(io.master, TIOCSWINSZ, &ws) < 0) snprintf(reply, sizeof reply, "error resize: %s\n", strerror(errno));
  } else if (!strcmp(line, "close-stdin")) {
    if (!io.want_stdin) snprintf(reply, sizeof reply, "error the container has no stdin\n");
    else close_stdin();
  } else {
    snprintf(reply, sizeof reply, "error unknown command: %.100s\n", line);
  }
  if (send(c->fd, reply, strlen(reply), MSG_DONTWAIT | MSG_NOSIGNAL) < 0) drop(c);
}

static void on_client(struct client *c) {
  char tmp[sizeof c->buf];
  if (!c->control && io.npend > 0) return; /* another client's input still waits for the container */
  char *dst = c->control ? c->buf + c->len : stdin_target() == -1 ? tmp : io.pend;
  size_t room = c->control ? sizeof c->buf - 1 - c->len : stdin_target() == -1 ? sizeof tmp : STDIN_CAP;
  ssize_t n = read(c->fd, dst, room);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n < 0 || (n == 0 && c->control)) { drop(c); return; }
  if (n == 0) {
    c->reading = 0; /* half-closed: it may still want the output */
    if (io.stdin_once && !io.relay) close_stdin(); /* as docker: a terminal's stdin outlives its client */
    return;
  }
  if (!c->control) {
    if (dst == io.pend) io.npend = (size_t)n, flush_stdin();
    return;
  }
  c->len += (size_t)n;
  c->buf[c->len] = 0;
  char *nl;
  while (c->fd >= 0 && (nl = strchr(c->buf, '\n'))) {
    *nl = 0;
    control_line(c, c->buf);
    c->len -= (size_t)(nl + 1 - c->buf);
    memmove(c->buf, nl + 1, c->len + 1);
  }
  if (c->fd >= 0 && c->len == sizeof c->buf - 1) drop(c); /* a line this long is no command */
}

static void on_accept(int lfd, int control) {
  int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd < 0) return;
  /* Headroom for a client that reads at a normal pace through an output burst; FORCE passes
   * wmem_max (we are root), plain SO_SNDBUF is the capped fallback. */
  int sz = CLIENT_SNDBUF;
  if (!control && setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof sz) < 0)
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
  struct client *cl = realloc(io.cl, sizeof *cl * (size_t)(io.ncl + 1));
  if (!cl) { close(fd); return; }
  io.cl = cl;
  io.cl[io.ncl++] = (struct client){.fd = fd, .control = control, .reading = 1};
}

/* The pty master, sent by the child's terminal step over our socketpair (SCM_RIGHTS). */
static void on_console(void) {
  char name[64], cbuf[CMSG_SPACE(sizeof(int))];
  struct iovec iov = {.iov_base = name, .iov_len = sizeof name};
  struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
  ssize_t n = recvmsg(io.console, &m, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  struct cmsghdr *c = n > 0 ? CMSG_FIRSTHDR(&m) : NULL;
  if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
    memcpy(&io.master, CMSG_DATA(c), sizeof(int));
    set_nonblock(io.master);
    io.s[OUT].fd = io.master;
    io.s[OUT].frame = 0; /* a terminal has one stream: raw bytes to clients */
  } else if (n > 0) {
    return; /* bytes without a descriptor: keep waiting */
  }
  close(io.console);
  io.console = -1;
  flush_stdin();
}

static void on_output(struct stream *s) {
  static char buf[65536];
  ssize_t n = read(s->fd, buf, sizeof buf);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n > 0) {
    broadcast(s->frame, buf, (size_t)n);
    bsh_log_append(s == &io.s[ERR], buf, (size_t)n);
    return;
  }
  /* EOF, or EIO from a pty master once every slave fd is closed: flush the unfinished line. */
  bsh_log_flush(s == &io.s[ERR]);
  if (s->fd == io.master) io.master = -1;
  close(s->fd);
  s->fd = -1;
}

/* ---- the loop ---- */

int bsh_io_loop(pid_t child, int exec_rd, int *status) {
  /* The child holds its own copies now; ours would keep EOF from ever arriving. */
  for (int i = 0; i < 3; i++)
    if (io.child_fd[i] >= 0) close(io.child_fd[i]), io.child_fd[i] = -1;
  /* SIGCHLD through a signalfd so poll wakes on an exit; blocked first, then a WNOHANG sweep
   * catches an exit that happened before (an unblocked default SIGCHLD is discarded). */
  sigset_t set;
  sigemptyset(&set), sigaddset(&set, SIGCHLD);
  sigprocmask(SIG_BLOCK, &set, NULL);
  int sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  int exited = 0, failed = 0;

  for (;;) {
    int st; pid_t p;
    /* We are a subreaper: orphans of the container are ours to reap too. */
    while ((p = waitpid(-1, &st, WNOHANG)) > 0)
      if (p == child) *status = st, exited = 1;
    if (p < 0 && errno == ECHILD && !exited) exited = 1, failed = 1; /* cannot happen; never spin */
    int open_fds = exec_rd >= 0 || io.s[OUT].fd >= 0 || io.s[ERR].fd >= 0 || io.console >= 0;
    if (exited && !open_fds) break;

    struct pollfd pfd[T_CLIENT + io.ncl];
    int tag[T_CLIENT + io.ncl], np = 0, tgt = stdin_target();
#define WATCH(fd_, ev_, tag_) do { if ((fd_) >= 0) pfd[np] = (struct pollfd){.fd = (fd_), .events = (ev_)}, tag[np++] = (tag_); } while (0)
    WATCH(sfd, POLLIN, T_SIG);
    WATCH(exec_rd, POLLIN, T_EXEC);
    WATCH(io.s[OUT].fd, POLLIN, T_OUT);
    WATCH(io.s[ERR].fd, POLLIN, T_ERR);
    WATCH(io.console, POLLIN, T_CONSOLE);
    if (io.npend > 0) WATCH(tgt, POLLOUT, T_STDIN);
    WATCH(io.attach_l, POLLIN, T_ATTACH_L);
    WATCH(io.control_l, POLLIN, T_CONTROL_L);
    for (int i = 0; i < io.ncl; i++) {
      struct client *c = &io.cl[i];
      /* Stop taking input while the container has not consumed the last piece (backpressure). */
      int in = c->reading && (c->control || io.npend == 0);
      WATCH(c->fd, in ? POLLIN : 0, T_CLIENT + i);
    }
    /* After the exit, a writer outside the container's pid namespace may keep a pipe open
     * forever: stop once it has been quiet for DRAIN_GRACE_MS. */
    int r = poll(pfd, (nfds_t)np, exited ? DRAIN_GRACE_MS : sfd < 0 ? 100 : -1);
    if (r < 0 && errno == EINTR) continue; /* a forwarded signal */
    if (r < 0) break;
    if (r == 0 && exited) break;
    /* First the console (a resize in this round needs the master it carries) and new clients
     * (one that connected before output arrived must not miss it). */
    for (int i = 0; i < np; i++) {
      if (!pfd[i].revents) continue;
      if (tag[i] == T_CONSOLE) on_console();
      else if (tag[i] == T_ATTACH_L || tag[i] == T_CONTROL_L) on_accept(pfd[i].fd, tag[i] == T_CONTROL_L);
    }
    for (int i = 0; i < np; i++) {
      if (!pfd[i].revents) continue;
      if (tag[i] == T_SIG) {
        struct signalfd_siginfo si; /* drain; the reaping is the waitpid sweep above */
        while (read(sfd, &si, sizeof si) > 0) {}
      } else if (tag[i] == T_EXEC) {
        char c;
        ssize_t n = read(exec_rd, &c, 1);
        if (n < 0 && errno == EINTR) continue;
        if (n == 0) bsh_report("running"); /* exec closed the CLOEXEC pipe */
        else failed = 1;                   /* 'E': setup failed and the child reported why */
        close(exec_rd);
        exec_rd = -1;
      } else if (tag[i] == T_OUT || tag[i] == T_ERR) {
        struct stream *s = &io.s[tag[i] == T_OUT ? OUT : ERR];
        if (s->fd == pfd[i].fd) on_output(s);
      } else if (tag[i] == T_STDIN) {
        flush_stdin();
      } else if (tag[i] >= T_CLIENT) {
        struct client *c = &io.cl[tag[i] - T_CLIENT];
        if (c->fd < 0) continue;
        if (pfd[i].revents & (POLLERR | POLLHUP | POLLNVAL) && !(pfd[i].revents & POLLIN)) {
          if (c->reading && !c->control && io.stdin_once && !io.relay) close_stdin();
          drop(c);
        } else {
          on_client(c);
        }
      }
    }
#undef WATCH
    int k = 0;
    for (int i = 0; i < io.ncl; i++)
      if (io.cl[i].fd >= 0) io.cl[k++] = io.cl[i];
    io.ncl = k;
  }
  bsh_log_flush(OUT); /* left only when the grace period ran out */
  bsh_log_flush(ERR);
  if (sfd >= 0) close(sfd);
  return failed;
}
