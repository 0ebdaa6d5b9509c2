/* berth-shim: a policy-free plan executor. See docs/shim-protocol.md. */
#ifndef BERTH_SHIM_H
#define BERTH_SHIM_H

#include <stddef.h>

#define BSH_MAX_FIELDS 64

/* One failure: the directive that failed, errno, and what it was doing. */
struct bsh_err {
  const char *step;
  int errnum;
  char detail[512];
};

/* Fills err and returns -1, so call sites read `return bsh_fail(err, "mount", errno, "...", ...)`. */
int bsh_fail(struct bsh_err *err, const char *step, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* One decoded plan line: fields[0] is the directive name. */
struct bsh_line {
  int nfields;
  char *fields[BSH_MAX_FIELDS + 1];
};

/* Report records to TypeScript (report fd). */
void bsh_report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void bsh_report_error(const struct bsh_err *err);

/* seccomp.c: a plan's `seccomp-bpf` directive is decoded here (in the parent, before clone);
 * bsh_seccomp_load runs in the child. `berth-shim seccomp-compile` runs bsh_seccomp_compile_main. */
int bsh_seccomp_directive(const struct bsh_line *line, struct bsh_err *err);
int bsh_seccomp_load(struct bsh_err *err);
int bsh_seccomp_compile_main(void);

#endif

/* util.c */
extern int bsh_report_fd;
/* The host's root, kept as a descriptor once the shim has joined a container's mount namespace
 * (exec), so host paths in the plan (exit file, sockets, log) still name host files: use
 * *at(bsh_host_root, bsh_host_rel(path)). AT_FDCWD until then. */
extern int bsh_host_root;
const char *bsh_host_rel(const char *path);
/* Fills a unix socket address for path. A path longer than sun_path is reached through an
 * O_PATH descriptor of its directory (/proc/self/fd/N/name); *dirfd holds it, to be closed
 * after bind or connect (-1 when none was needed). */
struct sockaddr_un;
int bsh_unix_addr(const char *path, struct sockaddr_un *sa, int *dirfd);
void bsh_decode(char *s);
int bsh_parse_plan(char *buf, struct bsh_line *lines, int max);

/* The container process's side (child.c): runs the child section; returns only on failure. */
struct bsh_child_ctx {
  struct bsh_line *lines;
  int nlines;
  int start;            /* index of the first child directive */
  int fifo_fd;          /* O_PATH fd of the exec fifo, or -1 */
  int console_fd;       /* connected console socket, or -1 */
  int exec_pipe;        /* CLOEXEC write end; 'E' is written on failure (monitor mode) */
  int preserve_fds;     /* extra fds kept open after 0,1,2 */
  int userns;           /* a user namespace was created: become its root after maps */
  int cgroupns;         /* a cgroup namespace is to be created, once placed in the cgroup */
  int go_fd;            /* read end: one byte when the runtime has placed the child */
};
int bsh_child_run(struct bsh_child_ctx *ctx, struct bsh_err *err);

/* mount.c */
int bsh_set_root(const char *path, struct bsh_err *err);
int bsh_open_in_root(const char *path, const char *kind, struct bsh_err *err);
int bsh_do_mount(char **f, int n, struct bsh_err *err);
int bsh_do_remount(char **f, int n, struct bsh_err *err);
int bsh_do_mknod(char **f, int n, struct bsh_err *err);
int bsh_do_symlink(char **f, int n, struct bsh_err *err);
int bsh_do_pivot(int no_pivot, struct bsh_err *err);
int bsh_do_mask(const char *path, struct bsh_err *err);
int bsh_do_readonly(const char *path, struct bsh_err *err);
int bsh_do_propagate_host(const char *path, const char *flags, struct bsh_err *err);
int bsh_do_propagate(const char *dst, const char *flags, struct bsh_err *err);

/* identity.c */
int bsh_do_identity(char **f, int n, struct bsh_err *err);
int bsh_do_rlimit(char **f, int n, struct bsh_err *err);

/* hooks.c: hook-arg, hook-env, hook (createContainer/startContainer, in the container process) */
int bsh_hook_directive(char **f, int n, struct bsh_err *err);

/* terminal.c */
int bsh_do_terminal(int console_fd, const char *rows, const char *cols, struct bsh_err *err);

/* ---- Monitor-mode stdio (io.c, io-log.c; docs/shim-protocol.md "Monitor-mode stdio") ---- */
#include <sys/types.h>
/* Parent section: `log`, `stdin`, `stdin-once`, `attach-socket`, `control-socket`, `terminal-relay`. */
int bsh_io_handles(const char *directive);
int bsh_io_directive(const struct bsh_line *line, struct bsh_err *err);
int bsh_io_active(void);
/* Before clone: pipes (or, with terminal-relay, a socketpair whose child end is stored in
 * *console_fd for the terminal step), the log file, the listening sockets. */
int bsh_io_prepare(int monitor_mode, int *console_fd, struct bsh_err *err);
/* In the child after `go`, before its first step: the pipes become fds 0, 1, 2. */
int bsh_io_child(struct bsh_err *err);
/* Monitor mode after `go`: relays until the child was reaped (status) and its output reached EOF;
 * reports `running` at exec. Returns 1 when setup failed (the child reported why), else 0. */
int bsh_io_loop(pid_t child, int exec_rd, int *status);
/* io-log.c: docker's json-file log; stream 0 stdout, 1 stderr. */
int bsh_log_open(const char *path, unsigned long long max_size, int max_files, struct bsh_err *err);
void bsh_log_append(int stream, const char *p, size_t n);
void bsh_log_flush(int stream);
/* ---- end of monitor-mode stdio ---- */
