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
  char *fields[BSH_MAX_FIELDS];
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
