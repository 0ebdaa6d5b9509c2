/* The container process: runs the child section of the plan in order, then execs. */
#include "shim.h"
#include "../common/link-up.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_ENV 4096

static char *envp[MAX_ENV + 1];
static int nenv;
static char *argv[MAX_ENV + 1];
static int nargv;

static int write_file(const char *path, const char *val, struct bsh_err *err, const char *step) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return bsh_fail(err, step, errno, "open %s", path);
  ssize_t n = write(fd, val, strlen(val));
  int e = errno;
  close(fd);
  if (n < 0) return bsh_fail(err, step, e, "write %s to %s", val, path);
  return 0;
}

/* The `link-up` step (native/common/link-up.h, shared with the addon). */
static int link_up(const char *name, struct bsh_err *err) {
  if (berth_link_up(name) < 0) return bsh_fail(err, "link up", errno, "%s", name);
  return 0;
}

static const char *env_path(void) {
  for (int i = 0; i < nenv; i++)
    if (strncmp(envp[i], "PATH=", 5) == 0) return envp[i] + 5;
  return "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
}

/* Finds the executable as execvp would, but with the container's PATH (glibc's execvpe reads
 * the caller's environment, not envp). */
static int resolve_exec(const char *file, char *out, size_t outlen, struct bsh_err *err) {
  struct stat st;
  if (strchr(file, '/')) {
    snprintf(out, outlen, "%s", file);
    if (stat(out, &st) < 0) return bsh_fail(err, "exec", errno, "\"%s\": stat", file);
    if (S_ISDIR(st.st_mode)) return bsh_fail(err, "exec", EACCES, "\"%s\": is a directory", file);
    if (access(out, X_OK) < 0) return bsh_fail(err, "exec", errno, "\"%s\"", file);
    return 0;
  }
  const char *p = env_path();
  int saw_eacces = 0;
  while (*p) {
    const char *colon = strchrnul(p, ':');
    int len = (int)(colon - p);
    snprintf(out, outlen, "%.*s%s%s", len, p, len ? "/" : "", file);
    if (stat(out, &st) == 0 && S_ISREG(st.st_mode)) {
      if (access(out, X_OK) == 0) return 0;
      saw_eacces = 1;
    }
    p = *colon ? colon + 1 : colon;
  }
  if (saw_eacces) return bsh_fail(err, "exec", EACCES, "\"%s\": permission denied", file);
  return bsh_fail(err, "exec", ENOENT, "\"%s\": executable file not found in $PATH", file);
}

static int wait_start(int fifo_fd, struct bsh_err *err) {
  char p[64];
  snprintf(p, sizeof p, "/proc/self/fd/%d", fifo_fd);
  bsh_report("created");
  int fd = open(p, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return bsh_fail(err, "exec fifo", errno, "open for writing");
  if (write(fd, "0", 1) != 1) return bsh_fail(err, "exec fifo", errno, "write");
  close(fd);
  close(fifo_fd);
  return 0;
}

static int check_cwd(struct bsh_err *err) {
  /* A cwd outside the root shows as "(unreachable)/…" (CVE-2024-21626: a leaked host fd as cwd). */
  char buf[4096];
  if (!getcwd(buf, sizeof buf)) return bsh_fail(err, "chdir", errno, "getcwd");
  if (buf[0] != '/') return bsh_fail(err, "chdir", EPERM, "working directory is outside the container root");
  return 0;
}

/*
 * The point where the runtime's go is awaited: it has placed this process in its cgroups, written
 * its id maps and run the runtime hooks. The namespace steps that need that follow at once.
 */
static int wait_parent(struct bsh_child_ctx *ctx, struct bsh_err *err) {
  char c;
  ssize_t n;
  do n = read(ctx->go_fd, &c, 1); while (n < 0 && errno == EINTR);
  if (n != 1) _exit(1); /* the runtime aborted the create */
  close(ctx->go_fd);
  if (ctx->cgroupns && unshare(CLONE_NEWCGROUP) < 0) return bsh_fail(err, "cgroup namespace", errno, "unshare");
  if (ctx->userns && (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0))
    return bsh_fail(err, "user namespace", errno, "become root of the new user namespace");
  return 0;
}

int bsh_child_run(struct bsh_child_ctx *ctx, struct bsh_err *err) {
  char exec_path[4096] = "";
  int resolved = 0, exec_line = -1;
  for (int i = ctx->start; i < ctx->nlines; i++)
    if (strcmp(ctx->lines[i].fields[0], "exec") == 0) exec_line = i;

  for (int i = ctx->start; i < ctx->nlines; i++) {
    struct bsh_line *l = &ctx->lines[i];
    char **f = l->fields;
    int n = l->nfields;
    const char *op = f[0];
    int r = 0;
    if (strcmp(op, "wait-parent") == 0) {
      r = wait_parent(ctx, err);
    } else if (strcmp(op, "setsid") == 0) {
      if (setsid() < 0) r = bsh_fail(err, "setsid", errno, "-");
    } else if (strcmp(op, "link-up") == 0 && n > 1) {
      r = link_up(f[1], err);
    } else if (strcmp(op, "hostname") == 0 && n > 1) {
      if (sethostname(f[1], strlen(f[1])) < 0) r = bsh_fail(err, "sethostname", errno, "%s", f[1]);
    } else if (strcmp(op, "domainname") == 0 && n > 1) {
      if (setdomainname(f[1], strlen(f[1])) < 0) r = bsh_fail(err, "setdomainname", errno, "%s", f[1]);
    } else if (strcmp(op, "propagate-host") == 0 && n > 2) {
      r = bsh_do_propagate_host(f[1], f[2], err);
    } else if (strcmp(op, "propagate") == 0 && n > 2) {
      r = bsh_do_propagate(f[1], f[2], err);
    } else if (strcmp(op, "root") == 0 && n > 1) {
      r = bsh_set_root(f[1], err);
    } else if (strcmp(op, "mount") == 0) {
      r = bsh_do_mount(f, n, err);
    } else if (strcmp(op, "remount") == 0) {
      r = bsh_do_remount(f, n, err);
    } else if (strcmp(op, "mknod") == 0) {
      r = bsh_do_mknod(f, n, err);
    } else if (strcmp(op, "symlink") == 0) {
      r = bsh_do_symlink(f, n, err);
    } else if (strcmp(op, "pivot") == 0) {
      r = bsh_do_pivot(0, err);
    } else if (strcmp(op, "chroot") == 0) {
      r = bsh_do_pivot(1, err);
    } else if (strcmp(op, "mask") == 0 && n > 1) {
      r = bsh_do_mask(f[1], err);
    } else if (strcmp(op, "readonly") == 0 && n > 1) {
      r = bsh_do_readonly(f[1], err);
    } else if (strcmp(op, "sysctl") == 0 && n > 2) {
      char path[512];
      snprintf(path, sizeof path, "/proc/sys/%s", f[1]);
      for (char *c = path + 10; *c; c++)
        if (*c == '.') *c = '/';
      r = write_file(path, f[2], err, "sysctl");
    } else if (strcmp(op, "rlimit") == 0) {
      r = bsh_do_rlimit(f, n, err);
    } else if (strcmp(op, "oom-score-adj") == 0 && n > 1) {
      r = write_file("/proc/self/oom_score_adj", f[1], err, "oom_score_adj");
    } else if (strcmp(op, "apparmor") == 0 && n > 1) {
      char v[600];
      snprintf(v, sizeof v, "exec %s", f[1]);
      r = write_file("/proc/self/attr/apparmor/exec", v, err, "apparmor");
    } else if (strcmp(op, "terminal") == 0 && n > 2) {
      r = bsh_do_terminal(ctx->console_fd, f[1], f[2], err);
      ctx->console_fd = -1;
    } else if (strcmp(op, "chdir") == 0 && n > 1) {
      if (chdir(f[1]) < 0) r = bsh_fail(err, "chdir", errno, "%s", f[1]);
      else r = check_cwd(err);
    } else if (strcmp(op, "umask") == 0 && n > 1) {
      umask((mode_t)strtoul(f[1], NULL, 10));
    } else if (strcmp(op, "identity") == 0) {
      r = bsh_do_identity(f, n, err);
    } else if (strcmp(op, "nnp") == 0) {
      if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) r = bsh_fail(err, "no_new_privs", errno, "-");
    } else if (strncmp(op, "hook", 4) == 0) {
      r = bsh_hook_directive(f, n, err);
    } else if (strcmp(op, "seccomp-load") == 0) {
      r = bsh_seccomp_load(err);
    } else if (strcmp(op, "env") == 0 && n > 1) {
      if (nenv < MAX_ENV) envp[nenv++] = f[1];
    } else if (strcmp(op, "arg") == 0 && n > 1) {
      if (nargv < MAX_ENV) argv[nargv++] = f[1];
    } else if (strcmp(op, "wait-start") == 0) {
      /* Resolve the executable before waiting, so `create` reports a missing binary. */
      if (exec_line >= 0 && ctx->lines[exec_line].nfields > 1) {
        r = resolve_exec(ctx->lines[exec_line].fields[1], exec_path, sizeof exec_path, err);
        resolved = r == 0;
      }
      if (r == 0 && ctx->fifo_fd >= 0) r = wait_start(ctx->fifo_fd, err);
    } else if (strcmp(op, "exec") == 0 && n > 1) {
      if (!resolved && resolve_exec(f[1], exec_path, sizeof exec_path, err) < 0) return -1;
      envp[nenv] = NULL;
      argv[nargv] = NULL;
      if (nargv == 0) return bsh_fail(err, "exec", EINVAL, "process.args is empty");
      /* Nothing of the runtime may reach the container: every fd beyond stdio and the
       * preserved ones closes on exec (CVE-2024-21626). */
      syscall(SYS_close_range, 3 + ctx->preserve_fds, ~0U, CLOSE_RANGE_CLOEXEC);
      execve(exec_path, argv, envp);
      return bsh_fail(err, "exec", errno, "\"%s\"", f[1]);
    } else {
      r = bsh_fail(err, "plan", EINVAL, "unknown directive %s", op);
    }
    if (r < 0) return -1;
  }
  return bsh_fail(err, "plan", EINVAL, "the plan has no exec directive");
}
