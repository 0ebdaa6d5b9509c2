/* OCI hooks that run in the container's namespaces, from the container process itself:
 * createContainer (after the mounts, before pivot_root, so the path resolves in the runtime's
 * view) and startContainer (just before exec, path resolved in the container). TypeScript
 * decides which hooks and where (src/runtime/plan.ts); this file runs one:
 *   hook-arg <a>, hook-env <k=v>   accumulate the next hook's argv and environment
 *   hook <stage> <timeout-s> <state-head> <state-tail> <path>
 * The hook gets the OCI state on stdin: state-head, this process's pid (as runc: the pid in the
 * container's namespace), state-tail. A hook that fails or outlives its timeout fails the step. */
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_HOOK 256
static char *hargv[MAX_HOOK + 1], *henv[MAX_HOOK + 1];
static int nharg, nhenv;

int bsh_hook_directive(char **f, int n, struct bsh_err *err) {
  if (!strcmp(f[0], "hook-arg") && n > 1) {
    if (nharg < MAX_HOOK) hargv[nharg++] = f[1];
    return 0;
  }
  if (!strcmp(f[0], "hook-env") && n > 1) {
    if (nhenv < MAX_HOOK) henv[nhenv++] = f[1];
    return 0;
  }
  if (strcmp(f[0], "hook") != 0 || n < 6) return bsh_fail(err, "plan", EINVAL, "malformed %s directive", f[0]);
  const char *stage = f[1], *path = f[5];
  long timeout = strtol(f[2], NULL, 10);
  char step[64];
  snprintf(step, sizeof step, "%s hook", stage);
  if (nharg == 0) hargv[nharg++] = (char *)path;
  hargv[nharg] = NULL;
  henv[nhenv] = NULL;
  nharg = nhenv = 0;

  int in[2];
  if (pipe2(in, O_CLOEXEC) < 0) return bsh_fail(err, step, errno, "pipe");
  pid_t pid = fork();
  if (pid < 0) return bsh_fail(err, step, errno, "fork %s", path);
  if (pid == 0) {
    dup2(in[0], 0);
    execve(path, hargv, henv);
    _exit(127);
  }
  close(in[0]);
  dprintf(in[1], "%s%d%s", f[3], getpid(), f[4]);
  close(in[1]);

  struct timespec start, now, tick = {0, 2 * 1000 * 1000};
  clock_gettime(CLOCK_MONOTONIC, &start);
  int st;
  for (;;) {
    pid_t r = waitpid(pid, &st, WNOHANG);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) return bsh_fail(err, step, errno, "wait for %s", path);
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (timeout > 0 && now.tv_sec - start.tv_sec >= timeout) {
      kill(pid, SIGKILL);
      waitpid(pid, &st, 0);
      return bsh_fail(err, step, ETIMEDOUT, "%s did not finish within %lds", path, timeout);
    }
    nanosleep(&tick, NULL);
  }
  if (WIFEXITED(st) && WEXITSTATUS(st) == 127) return bsh_fail(err, step, ENOENT, "%s could not be executed", path);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
    return bsh_fail(err, step, ECANCELED, "%s %s %d", path, WIFEXITED(st) ? "exited with status" : "was killed by signal",
                    WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
  return 0;
}
