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

/* seccomp.c: directives starting with "seccomp-" other than "seccomp-load" are handed here
 * (in the parent, before clone); bsh_seccomp_load runs in the child. */
int bsh_seccomp_directive(const struct bsh_line *line, struct bsh_err *err);
int bsh_seccomp_load(struct bsh_err *err);
int bsh_seccomp_configured(void);

#endif

/* util.c */
extern int bsh_report_fd;
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

/* terminal.c */
int bsh_do_terminal(int console_fd, const char *rows, const char *cols, struct bsh_err *err);
