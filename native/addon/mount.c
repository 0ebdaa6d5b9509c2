/* mount(2) and umount2(2). mount can run with a private working directory so
 * relative paths in the data (overlay lowerdir=l/ab:l/cd) resolve against it:
 * the kernel only reads one page of mount data, and relative short names keep
 * deep overlay stacks under that limit. chdir is process-wide and Node is
 * multi-threaded, so the mount runs on a helper thread that first calls
 * unshare(CLONE_FS), giving it its own cwd without touching other threads. */
#include "addon.h"
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#define DATA_CAP 65536

struct mount_req {
  const char *source, *target, *fstype, *data, *cwd;
  unsigned long flags;
  int err;
  const char *failed; /* syscall that failed */
};

static void do_mount(struct mount_req *r) {
  if (mount(r->source, r->target, r->fstype, r->flags, r->data) < 0) {
    r->err = errno;
    r->failed = "mount";
  }
}

static void *mount_thread(void *arg) {
  struct mount_req *r = arg;
  if (unshare(CLONE_FS) < 0) { r->err = errno; r->failed = "unshare(CLONE_FS)"; return NULL; }
  if (chdir(r->cwd) < 0) { r->err = errno; r->failed = "chdir"; return NULL; }
  do_mount(r);
  return NULL;
}

/* Reads an optional string argument (null/undefined → NULL). */
static int opt_str(napi_env env, napi_value v, char *buf, size_t cap, const char *what, const char **out) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t == napi_null || t == napi_undefined) { *out = NULL; return 0; }
  if (arg_path(env, v, buf, cap, what)) return -1;
  *out = buf;
  return 0;
}

/* mount(source|null, target, fstype|null, flags, data|null, cwd?) */
static napi_value js_mount(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  size_t argc = 6;
  char source[PATH_MAX], target[PATH_MAX], fstype[256], cwd[PATH_MAX];
  char *data = NULL;
  int64_t flags;
  struct mount_req r = {0};
  napi_value ret = NULL;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 5) return throw_type(env, "mount(source, target, fstype, flags, data[, cwd])");
  data = malloc(DATA_CAP);
  if (!data) return throw_errno(env, ENOMEM, "mount", NULL);
  if (opt_str(env, argv[0], source, sizeof source, "source", &r.source) ||
      arg_path(env, argv[1], target, sizeof target, "target") ||
      opt_str(env, argv[2], fstype, sizeof fstype, "fstype", &r.fstype) ||
      arg_int64(env, argv[3], &flags, "flags") ||
      opt_str(env, argv[4], data, DATA_CAP, "data", &r.data))
    goto out;
  r.target = target;
  r.flags = (unsigned long)flags;
  if (argc > 5 && opt_str(env, argv[5], cwd, sizeof cwd, "cwd", &r.cwd)) goto out;
  /* The kernel copies at most one page of data and silently drops the rest,
   * which would mount with a truncated option list: refuse instead. */
  if (r.data && strlen(r.data) >= (size_t)sysconf(_SC_PAGESIZE)) {
    throw_errno(env, E2BIG, "mount data longer than a page", target);
    goto out;
  }
  if (r.cwd) {
    pthread_t th;
    int e = pthread_create(&th, NULL, mount_thread, &r);
    if (e) { throw_errno(env, e, "pthread_create", target); goto out; }
    pthread_join(th, NULL);
  } else {
    do_mount(&r);
  }
  if (r.err) throw_errno(env, r.err, r.failed, target);
out:
  free(data);
  return ret;
}

/* umount2(target, flags) */
static napi_value js_umount2(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  char target[PATH_MAX];
  int64_t flags;
  if (get_args(env, info, 2, argv, NULL)) return NULL;
  if (arg_path(env, argv[0], target, sizeof target, "target") || arg_int64(env, argv[1], &flags, "flags"))
    return NULL;
  if (umount2(target, (int)flags) < 0) return throw_errno(env, errno, "umount2", target);
  return NULL;
}

void init_mount(napi_env env, napi_value exports) {
  napi_value c;
  export_fn(env, exports, "mount", js_mount);
  export_fn(env, exports, "umount2", js_umount2);
  napi_create_object(env, &c);
  export_int(env, c, "MS_RDONLY", MS_RDONLY);
  export_int(env, c, "MS_NOSUID", MS_NOSUID);
  export_int(env, c, "MS_NODEV", MS_NODEV);
  export_int(env, c, "MS_NOEXEC", MS_NOEXEC);
  export_int(env, c, "MS_REMOUNT", MS_REMOUNT);
  export_int(env, c, "MS_BIND", MS_BIND);
  export_int(env, c, "MS_REC", MS_REC);
  export_int(env, c, "MS_PRIVATE", MS_PRIVATE);
  export_int(env, c, "MS_SLAVE", MS_SLAVE);
  export_int(env, c, "MS_SHARED", MS_SHARED);
  export_int(env, c, "MNT_FORCE", MNT_FORCE);
  export_int(env, c, "MNT_DETACH", MNT_DETACH);
  export_int(env, c, "UMOUNT_NOFOLLOW", UMOUNT_NOFOLLOW);
  napi_set_named_property(env, exports, "constants", c);
}
