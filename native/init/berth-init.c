/* berth-init: the small init `--init` puts at PID 1 of a container. It starts the command given
 * after "--", forwards every catchable signal to it, reaps any zombie re-parented to it (a PID 1
 * that never waits fills the pid table), and exits with the command's status (128+signal when
 * killed), as docker's tini-based init does. */

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
  int first = 1;
  if (argc > 1 && strcmp(argv[1], "--") == 0) first = 2;
  if (first >= argc) {
    fprintf(stderr, "berth-init: usage: berth-init -- command [args...]\n");
    return 2;
  }
  sigset_t all, old;
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, &old);
  pid_t child = fork();
  if (child < 0) {
    perror("berth-init: fork");
    return 1;
  }
  if (child == 0) {
    sigprocmask(SIG_SETMASK, &old, NULL);
    /* Own process group, so a terminal's ^C reaches the command and its children. */
    setpgid(0, 0);
    if (isatty(0)) tcsetpgrp(0, getpid());
    execvp(argv[first], &argv[first]);
    fprintf(stderr, "berth-init: exec %s: %s\n", argv[first], strerror(errno));
    _exit(errno == ENOENT ? 127 : 126);
  }
  for (;;) {
    siginfo_t si;
    struct timespec ts = {.tv_sec = 1};
    int sig = sigtimedwait(&all, &si, &ts);
    if (sig > 0 && sig != SIGCHLD) kill(child, sig);
    for (;;) {
      int st;
      pid_t p = waitpid(-1, &st, WNOHANG);
      if (p <= 0) break;
      if (p == child) {
        if (WIFEXITED(st)) return WEXITSTATUS(st);
        if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
      }
    }
  }
}
