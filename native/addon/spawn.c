/* run(path, argv, env, input): runs a short-lived program without forking the daemon (Node's spawn
 * copies the whole process: ~10 ms of blocked event loop here). posix_spawn (vfork-like) on a
 * thread-pool thread, input written to its stdin, stdout and stderr collected, exit awaited;
 * resolves to { status, signal, stdout, stderr }. For programs that finish (CNI plugins), never for
 * long-lived ones: the thread waits for the exit. */
#include "addon.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct job {
  napi_async_work work;
  napi_deferred deferred;
  char *path;
  char **argv, **envp;
  char *input;
  size_t input_len;
  char *out, *err;
  size_t out_len, err_len;
  int status, error;
  const char *what;
};

static char **strings(napi_env env, napi_value arr) {
  uint32_t n = 0;
  napi_get_array_length(env, arr, &n);
  char **out = calloc(n + 1, sizeof(char *));
  for (uint32_t i = 0; i < n; i++) {
    napi_value v;
    size_t len;
    napi_get_element(env, arr, i, &v);
    napi_get_value_string_utf8(env, v, NULL, 0, &len);
    out[i] = malloc(len + 1);
    napi_get_value_string_utf8(env, v, out[i], len + 1, &len);
  }
  return out;
}

static void free_strings(char **s) {
  if (!s) return;
  for (char **p = s; *p; p++) free(*p);
  free(s);
}

static void append(char **buf, size_t *len, const char *data, size_t n) {
  *buf = realloc(*buf, *len + n + 1);
  memcpy(*buf + *len, data, n);
  *len += n;
  (*buf)[*len] = 0;
}

static void execute(napi_env env, void *data) {
  struct job *j = data;
  int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
  if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0) { j->error = errno; j->what = "pipe"; goto done; }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err[1], 2);
  posix_spawnattr_t at;
  posix_spawnattr_init(&at);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&at, &none);
  posix_spawnattr_setsigdefault(&at, &all); /* Node ignores SIGPIPE; the program must not inherit that */
  posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid;
  int r = posix_spawn(&pid, j->path, &fa, &at, j->argv, j->envp);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&at);
  close(in[0]); in[0] = -1;
  close(out[1]); out[1] = -1;
  close(err[1]); err[1] = -1;
  if (r != 0) { j->error = r; j->what = "posix_spawn"; goto done; }
  fcntl(in[1], F_SETFL, O_NONBLOCK);
  size_t written = 0;
  if (j->input_len == 0) { close(in[1]); in[1] = -1; }
  while (out[0] >= 0 || err[0] >= 0) {
    struct pollfd p[3] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}, {in[1], POLLOUT, 0}};
    if (poll(p, 3, -1) < 0) { if (errno == EINTR) continue; break; }
    char buf[65536];
    for (int k = 0; k < 2; k++) {
      if (p[k].fd < 0 || !(p[k].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = read(p[k].fd, buf, sizeof buf);
      if (n > 0) {
        if (k == 0) append(&j->out, &j->out_len, buf, (size_t)n);
        else append(&j->err, &j->err_len, buf, (size_t)n);
      } else if (n == 0 || errno != EINTR) {
        close(p[k].fd);
        if (k == 0) out[0] = -1; else err[0] = -1;
      }
    }
    if (in[1] >= 0 && (p[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
      ssize_t n = write(in[1], j->input + written, j->input_len - written);
      if (n > 0) written += (size_t)n;
      if ((n < 0 && errno != EAGAIN && errno != EINTR) || written == j->input_len) { close(in[1]); in[1] = -1; }
    }
  }
  while (waitpid(pid, &j->status, 0) < 0 && errno == EINTR) {}
done:
  for (int k = 0; k < 2; k++) {
    if (in[k] >= 0) close(in[k]);
    if (out[k] >= 0) close(out[k]);
    if (err[k] >= 0) close(err[k]);
  }
}

static void complete(napi_env env, napi_status st, void *data) {
  struct job *j = data;
  if (j->error) {
    char msg[PATH_MAX + 128];
    snprintf(msg, sizeof msg, "%s %s: %s", j->what, j->path, strerror(j->error));
    napi_value m, e, code;
    napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &m);
    napi_create_string_utf8(env, strerrorname_np(j->error) ? strerrorname_np(j->error) : "EUNKNOWN", NAPI_AUTO_LENGTH, &code);
    napi_create_error(env, code, m, &e);
    napi_reject_deferred(env, j->deferred, e);
  } else {
    napi_value o, v;
    napi_create_object(env, &o);
    export_int(env, o, "status", WIFEXITED(j->status) ? WEXITSTATUS(j->status) : -1);
    export_int(env, o, "signal", WIFSIGNALED(j->status) ? WTERMSIG(j->status) : 0);
    napi_create_string_utf8(env, j->out ? j->out : "", j->out_len, &v);
    napi_set_named_property(env, o, "stdout", v);
    napi_create_string_utf8(env, j->err ? j->err : "", j->err_len, &v);
    napi_set_named_property(env, o, "stderr", v);
    napi_resolve_deferred(env, j->deferred, o);
  }
  napi_delete_async_work(env, j->work);
  free(j->path);
  free_strings(j->argv);
  free_strings(j->envp);
  free(j->input);
  free(j->out);
  free(j->err);
  free(j);
}

static napi_value run(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (get_args(env, info, 4, argv, NULL) < 0) return NULL;
  struct job *j = calloc(1, sizeof *j);
  char path[PATH_MAX];
  if (arg_path(env, argv[0], path, sizeof path, "path") < 0) { free(j); return NULL; }
  j->path = strdup(path);
  j->argv = strings(env, argv[1]);
  j->envp = strings(env, argv[2]);
  size_t len = 0;
  napi_get_value_string_utf8(env, argv[3], NULL, 0, &len);
  j->input = malloc(len + 1);
  napi_get_value_string_utf8(env, argv[3], j->input, len + 1, &len);
  j->input_len = len;
  napi_value promise, name;
  napi_create_promise(env, &j->deferred, &promise);
  napi_create_string_utf8(env, "berth.run", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, NULL, name, execute, complete, j, &j->work);
  napi_queue_async_work(env, j->work);
  return promise;
}

void init_spawn(napi_env env, napi_value exports) {
  export_fn(env, exports, "run", run);
}
