/* Seccomp. Compiling a profile (libseccomp: rules to BPF) costs more CPU than the rest of a
 * container's setup, and a host runs the same few profiles over and over, so it is done apart:
 * `berth-shim seccomp-compile` reads `seccomp-*` rule directives on stdin and prints the program
 * as one `seccomp-bpf <flags> <hex>` plan directive, which TypeScript keeps and puts in plans
 * (src/runtime/seccomp-compile.ts). A plan's `seccomp-bpf` is decoded in the parent (a malformed
 * program fails create before any process exists) and loaded by the child's `seccomp-load` step.
 * The decisions — which rules, loaded before or after the identity change — are TypeScript's
 * (src/runtime/seccomp.ts). */
#include "shim.h"

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static scmp_filter_ctx ctx;

static int action_of(const char *name, const char *errno_s, uint32_t *out) {
  int e = atoi(errno_s);
  if (!strcmp(name, "SCMP_ACT_KILL") || !strcmp(name, "SCMP_ACT_KILL_THREAD")) *out = SCMP_ACT_KILL_THREAD;
  else if (!strcmp(name, "SCMP_ACT_KILL_PROCESS")) *out = SCMP_ACT_KILL_PROCESS;
  else if (!strcmp(name, "SCMP_ACT_TRAP")) *out = SCMP_ACT_TRAP;
  /* The OCI spec: errnoRet defaults to EPERM. */
  else if (!strcmp(name, "SCMP_ACT_ERRNO")) *out = SCMP_ACT_ERRNO(e ? e : EPERM);
  else if (!strcmp(name, "SCMP_ACT_TRACE")) *out = SCMP_ACT_TRACE(e ? e : EPERM);
  else if (!strcmp(name, "SCMP_ACT_ALLOW")) *out = SCMP_ACT_ALLOW;
  else if (!strcmp(name, "SCMP_ACT_LOG")) *out = SCMP_ACT_LOG;
  else return -1;
  return 0;
}

static int op_of(const char *name, enum scmp_compare *out) {
  static const struct { const char *n; enum scmp_compare op; } ops[] = {
    {"SCMP_CMP_NE", SCMP_CMP_NE}, {"SCMP_CMP_LT", SCMP_CMP_LT}, {"SCMP_CMP_LE", SCMP_CMP_LE},
    {"SCMP_CMP_EQ", SCMP_CMP_EQ}, {"SCMP_CMP_GE", SCMP_CMP_GE}, {"SCMP_CMP_GT", SCMP_CMP_GT},
    {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ},
  };
  for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
    if (!strcmp(ops[i].n, name)) { *out = ops[i].op; return 0; }
  return -1;
}

static uint32_t default_action;

static int rule_directive(const struct bsh_line *line, struct bsh_err *err) {
  char *const *f = line->fields;
  int n = line->nfields;
  if (!strcmp(f[0], "seccomp-default") && n > 2) {
    if (action_of(f[1], f[2], &default_action) < 0) return bsh_fail(err, "seccomp", EINVAL, "unknown default action %s", f[1]);
    ctx = seccomp_init(default_action);
    if (!ctx) return bsh_fail(err, "seccomp", ENOMEM, "seccomp_init");
    /* no_new_privs is the plan's decision (process.noNewPrivileges), not libseccomp's. */
    seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
    return 0;
  }
  if (!ctx) return bsh_fail(err, "seccomp", EINVAL, "%s before seccomp-default", f[0]);
  if (!strcmp(f[0], "seccomp-arch") && n > 1) {
    char name[64];
    const char *a = strncmp(f[1], "SCMP_ARCH_", 10) == 0 ? f[1] + 10 : f[1];
    size_t i = 0;
    for (; a[i] && i < sizeof name - 1; i++) name[i] = (char)(a[i] >= 'A' && a[i] <= 'Z' ? a[i] + 32 : a[i]);
    name[i] = 0;
    uint32_t arch = seccomp_arch_resolve_name(name);
    if (arch == 0) return bsh_fail(err, "seccomp", EINVAL, "unknown architecture %s", f[1]);
    int r = seccomp_arch_add(ctx, arch);
    if (r < 0 && r != -EEXIST) return bsh_fail(err, "seccomp", -r, "add architecture %s", f[1]);
    return 0;
  }
  if (!strcmp(f[0], "seccomp-flag") && n > 1) {
    int r = 0;
    if (!strcmp(f[1], "SECCOMP_FILTER_FLAG_LOG")) r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_LOG, 1);
    else if (!strcmp(f[1], "SECCOMP_FILTER_FLAG_SPEC_ALLOW")) r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_SSB, 1);
    else if (!strcmp(f[1], "SECCOMP_FILTER_FLAG_TSYNC")) r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
    else return bsh_fail(err, "seccomp", EINVAL, "unknown flag %s", f[1]);
    if (r < 0) return bsh_fail(err, "seccomp", -r, "flag %s", f[1]);
    return 0;
  }
  if (!strcmp(f[0], "seccomp-rule") && n > 4) {
    uint32_t act;
    if (action_of(f[1], f[2], &act) < 0) return bsh_fail(err, "seccomp", EINVAL, "unknown action %s for %s", f[1], f[3]);
    /* libseccomp refuses a rule whose action equals the default; it would change nothing. */
    if (act == default_action) return 0;
    int nr = seccomp_syscall_resolve_name(f[3]);
    if (nr == __NR_SCMP_ERROR) {
      bsh_report("warn seccomp:%%20unknown%%20syscall%%20%s%%20skipped", f[3]);
      return 0;
    }
    struct scmp_arg_cmp conds[6];
    unsigned nc = 0;
    if (strcmp(f[4], "-") != 0) {
      char buf[1024];
      snprintf(buf, sizeof buf, "%s", f[4]);
      char *save = NULL;
      for (char *c = strtok_r(buf, ",", &save); c && nc < 6; c = strtok_r(NULL, ",", &save)) {
        char *idx = strtok(c, ":"), *op = strtok(NULL, ":"), *v1 = strtok(NULL, ":"), *v2 = strtok(NULL, ":");
        enum scmp_compare cmp;
        if (!idx || !op || !v1 || op_of(op, &cmp) < 0) return bsh_fail(err, "seccomp", EINVAL, "bad condition for %s", f[3]);
        conds[nc].arg = (unsigned)atoi(idx);
        conds[nc].op = cmp;
        conds[nc].datum_a = strtoull(v1, NULL, 10);
        conds[nc].datum_b = v2 ? strtoull(v2, NULL, 10) : 0;
        nc++;
      }
    }
    int r = seccomp_rule_add_array(ctx, act, nr, nc, conds);
    if (r < 0) return bsh_fail(err, "seccomp", -r, "rule for %s", f[3]);
    return 0;
  }
  return bsh_fail(err, "seccomp", EINVAL, "malformed directive %s", f[0]);
}

/* ---- seccomp-compile mode ---- */

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

/* Reads rule directives on stdin; prints `seccomp-bpf <flags> <hex>` (and `warn` records) on
 * stdout, or an `error` record. Exit status 0 on success. */
int bsh_seccomp_compile_main(void) {
  bsh_report_fd = 1;
  struct bsh_err err = {0};
  size_t cap = 65536, len = 0;
  char *buf = malloc(cap);
  for (;;) {
    if (len + 1 >= cap) buf = realloc(buf, cap *= 2);
    ssize_t n = read(0, buf + len, cap - len - 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    len += (size_t)n;
  }
  buf[len] = 0;
  static struct bsh_line lines[16384];
  int nlines = bsh_parse_plan(buf, lines, 16384);
  for (int i = 0; i < nlines; i++)
    if (rule_directive(&lines[i], &err) < 0) { bsh_report_error(&err); return 1; }
  if (!ctx) { bsh_fail(&err, "seccomp", EINVAL, "no seccomp-default directive"); bsh_report_error(&err); return 1; }
  int mfd = (int)syscall(SYS_memfd_create, "bpf", MFD_CLOEXEC);
  int r = mfd < 0 ? -errno : seccomp_export_bpf(ctx, mfd);
  if (r < 0) { bsh_fail(&err, "seccomp", -r, "compile the filter"); bsh_report_error(&err); return 1; }
  off_t size = lseek(mfd, 0, SEEK_END);
  unsigned char *prog = malloc((size_t)size + 1);
  if (pread(mfd, prog, (size_t)size, 0) != size) { bsh_fail(&err, "seccomp", EIO, "read the compiled filter"); bsh_report_error(&err); return 1; }
  uint32_t v, flags = 0;
  if (seccomp_attr_get(ctx, SCMP_FLTATR_CTL_TSYNC, &v) == 0 && v) flags |= SECCOMP_FILTER_FLAG_TSYNC;
  if (seccomp_attr_get(ctx, SCMP_FLTATR_CTL_LOG, &v) == 0 && v) flags |= SECCOMP_FILTER_FLAG_LOG;
  if (seccomp_attr_get(ctx, SCMP_FLTATR_CTL_SSB, &v) == 0 && v) flags |= SECCOMP_FILTER_FLAG_SPEC_ALLOW;
  char *hex = malloc((size_t)size * 2 + 1);
  for (off_t i = 0; i < size; i++) sprintf(hex + i * 2, "%02x", prog[i]);
  hex[size * 2] = 0;
  printf("seccomp-bpf %u %s\n", flags, hex);
  return fflush(stdout) == 0 ? 0 : 1;
}

/* ---- run mode ---- */

static struct sock_fprog loaded;
static unsigned loaded_flags;

int bsh_seccomp_directive(const struct bsh_line *line, struct bsh_err *err) {
  char *const *f = line->fields;
  if (strcmp(f[0], "seccomp-bpf") != 0 || line->nfields != 3)
    return bsh_fail(err, "seccomp", EINVAL, "%s: a plan carries a compiled filter (seccomp-bpf <flags> <hex>)", f[0]);
  size_t n = strlen(f[2]);
  if (n == 0 || n % (2 * sizeof(struct sock_filter)) != 0 || n / 2 / sizeof(struct sock_filter) > BPF_MAXINSNS)
    return bsh_fail(err, "seccomp", EINVAL, "seccomp-bpf: a program of %zu hex digits", n);
  unsigned char *p = malloc(n / 2);
  for (size_t i = 0; i < n / 2; i++) {
    int hi = hexval(f[2][2 * i]), lo = hexval(f[2][2 * i + 1]);
    if (hi < 0 || lo < 0) { free(p); return bsh_fail(err, "seccomp", EINVAL, "seccomp-bpf: not hex"); }
    p[i] = (unsigned char)(hi << 4 | lo);
  }
  loaded.len = (unsigned short)(n / 2 / sizeof(struct sock_filter));
  loaded.filter = (struct sock_filter *)p;
  loaded_flags = (unsigned)strtoul(f[1], NULL, 10);
  return 0;
}

int bsh_seccomp_load(struct bsh_err *err) {
  if (!loaded.filter) return 0;
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, loaded_flags, &loaded) < 0)
    return bsh_fail(err, "seccomp", errno, "load the filter");
  return 0;
}
