/* Filesystem nodes: mknod (devices, fifos, overlay whiteouts), nanosecond
 * timestamps on symlinks and open files (Node's lutimes/futimes take float seconds), statfs type. */
#include "addon.h"
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>

/* mknod(path, mode, major, minor): mode includes the file type bits (S_IFCHR…). */
static napi_value js_mknod(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  char path[PATH_MAX];
  int64_t mode, major, minor;
  if (get_args(env, info, 4, argv, NULL)) return NULL;
  if (arg_path(env, argv[0], path, sizeof path, "path")) return NULL;
  if (arg_int64(env, argv[1], &mode, "mode") || arg_int64(env, argv[2], &major, "major") ||
      arg_int64(env, argv[3], &minor, "minor"))
    return NULL;
  if (mknod(path, (mode_t)mode, makedev((unsigned)major, (unsigned)minor)) < 0)
    return throw_errno(env, errno, "mknod", path);
  return NULL;
}

/* lutimens(path, atimeSec, atimeNsec, mtimeSec, mtimeNsec): utimensat with
 * AT_SYMLINK_NOFOLLOW, so a symlink's own times are set, never its target's. */
static napi_value js_lutimens(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  char path[PATH_MAX];
  int64_t v[4];
  if (get_args(env, info, 5, argv, NULL)) return NULL;
  if (arg_path(env, argv[0], path, sizeof path, "path")) return NULL;
  for (int i = 0; i < 4; i++)
    if (arg_int64(env, argv[i + 1], &v[i], "time")) return NULL;
  struct timespec ts[2] = {{.tv_sec = v[0], .tv_nsec = v[1]}, {.tv_sec = v[2], .tv_nsec = v[3]}};
  if (utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW) < 0)
    return throw_errno(env, errno, "utimensat", path);
  return NULL;
}

/* futimens(fd, atimeSec, atimeNsec, mtimeSec, mtimeNsec): an open file's times, nanosecond
 * precision (Node's futimes takes float seconds), without a path lookup. */
static napi_value js_futimens(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  int64_t v[5];
  if (get_args(env, info, 5, argv, NULL)) return NULL;
  for (int i = 0; i < 5; i++)
    if (arg_int64(env, argv[i], &v[i], i == 0 ? "fd" : "time")) return NULL;
  struct timespec ts[2] = {{.tv_sec = v[1], .tv_nsec = v[2]}, {.tv_sec = v[3], .tv_nsec = v[4]}};
  if (futimens((int)v[0], ts) < 0) return throw_errno(env, errno, "futimens", NULL);
  return NULL;
}

/* statfsType(path) → f_type magic (OVERLAYFS_SUPER_MAGIC 0x794c7630, TMPFS 0x01021994, …). */
static napi_value js_statfs_type(napi_env env, napi_callback_info info) {
  napi_value argv[1], out;
  char path[PATH_MAX];
  struct statfs st;
  if (get_args(env, info, 1, argv, NULL)) return NULL;
  if (arg_path(env, argv[0], path, sizeof path, "path")) return NULL;
  if (statfs(path, &st) < 0) return throw_errno(env, errno, "statfs", path);
  napi_create_int64(env, (int64_t)(unsigned long)st.f_type, &out);
  return out;
}

void init_fsnode(napi_env env, napi_value exports) {
  export_fn(env, exports, "mknod", js_mknod);
  export_fn(env, exports, "lutimens", js_lutimens);
  export_fn(env, exports, "futimens", js_futimens);
  export_fn(env, exports, "statfsType", js_statfs_type);
}
