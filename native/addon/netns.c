/* makeNetns(path): a new network namespace, bound at path (an existing empty file), with lo up.
 * Done on the calling thread — unshare(CLONE_NEWNET) moves only that thread — which then returns
 * to its own namespace, so no process is started (a fork of the daemon costs ~10 ms here). */
#include "addon.h"
#include "../common/link-up.h"
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

static napi_value make_netns(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  char path[PATH_MAX];
  if (get_args(env, info, 1, argv, NULL) < 0 || arg_path(env, argv[0], path, sizeof path, "path") < 0) return NULL;
  int home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (home < 0) return throw_errno(env, errno, "open", "/proc/thread-self/ns/net");
  const char *what = "unshare(CLONE_NEWNET)";
  int err = 0;
  if (unshare(CLONE_NEWNET) < 0) err = errno;
  else {
    if (mount("/proc/thread-self/ns/net", path, NULL, MS_BIND, NULL) < 0) { err = errno; what = "mount"; }
    else if (berth_link_up("lo") < 0) { err = errno; what = "bring lo up"; umount2(path, MNT_DETACH); }
    /* Back to where this thread was, whatever happened. */
    if (setns(home, CLONE_NEWNET) < 0 && !err) { err = errno; what = "setns back"; }
  }
  close(home);
  if (err) return throw_errno(env, err, what, path);
  return NULL;
}

void init_netns(napi_env env, napi_value exports) {
  export_fn(env, exports, "makeNetns", make_netns);
}
