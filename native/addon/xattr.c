/* Extended attributes without following symlinks (l*xattr): layers carry
 * security.capability, trusted.overlay.* and user.* on files and symlinks. */
#include "addon.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#define XATTR_NAME_CAP 256

static int arg_name(napi_env env, napi_value v, char *buf) {
  return arg_path(env, v, buf, XATTR_NAME_CAP, "xattr name");
}

/* lsetxattr(path, name, value: Buffer, flags = 0) */
static napi_value js_lsetxattr(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  size_t argc = 4;
  char path[PATH_MAX], name[XATTR_NAME_CAP];
  void *data;
  size_t len;
  bool isbuf;
  int64_t flags = 0;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 3) return throw_type(env, "lsetxattr(path, name, value[, flags])");
  if (arg_path(env, argv[0], path, sizeof path, "path") || arg_name(env, argv[1], name)) return NULL;
  napi_is_buffer(env, argv[2], &isbuf);
  if (!isbuf) return throw_type(env, "xattr value must be a Buffer");
  napi_get_buffer_info(env, argv[2], &data, &len);
  if (argc > 3 && arg_int64(env, argv[3], &flags, "flags")) return NULL;
  if (lsetxattr(path, name, data, len, (int)flags) < 0) return throw_errno(env, errno, "lsetxattr", path);
  return NULL;
}

/* lgetxattr(path, name) → Buffer; throws ENODATA when absent. */
static napi_value js_lgetxattr(napi_env env, napi_callback_info info) {
  napi_value argv[2], out;
  char path[PATH_MAX], name[XATTR_NAME_CAP];
  if (get_args(env, info, 2, argv, NULL)) return NULL;
  if (arg_path(env, argv[0], path, sizeof path, "path") || arg_name(env, argv[1], name)) return NULL;
  for (;;) {
    ssize_t n = lgetxattr(path, name, NULL, 0);
    if (n < 0) return throw_errno(env, errno, "lgetxattr", path);
    void *buf = malloc(n ? (size_t)n : 1);
    if (!buf) return throw_errno(env, ENOMEM, "lgetxattr", path);
    ssize_t m = lgetxattr(path, name, buf, (size_t)n);
    if (m < 0 && errno == ERANGE) { free(buf); continue; } /* grew in between */
    if (m < 0) { int e = errno; free(buf); return throw_errno(env, e, "lgetxattr", path); }
    void *dst;
    napi_create_buffer_copy(env, (size_t)m, buf, &dst, &out);
    free(buf);
    return out;
  }
}

/* llistxattr(path) → string[] */
static napi_value js_llistxattr(napi_env env, napi_callback_info info) {
  napi_value argv[1], out;
  char path[PATH_MAX];
  if (get_args(env, info, 1, argv, NULL)) return NULL;
  if (arg_path(env, argv[0], path, sizeof path, "path")) return NULL;
  for (;;) {
    ssize_t n = llistxattr(path, NULL, 0);
    if (n < 0) return throw_errno(env, errno, "llistxattr", path);
    char *buf = malloc(n ? (size_t)n : 1);
    if (!buf) return throw_errno(env, ENOMEM, "llistxattr", path);
    ssize_t m = llistxattr(path, buf, (size_t)n);
    if (m < 0 && errno == ERANGE) { free(buf); continue; }
    if (m < 0) { int e = errno; free(buf); return throw_errno(env, e, "llistxattr", path); }
    napi_create_array(env, &out);
    uint32_t i = 0;
    for (char *p = buf; p < buf + m; p += strlen(p) + 1) {
      napi_value s;
      napi_create_string_utf8(env, p, NAPI_AUTO_LENGTH, &s);
      napi_set_element(env, out, i++, s);
    }
    free(buf);
    return out;
  }
}

/* lremovexattr(path, name) */
static napi_value js_lremovexattr(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  char path[PATH_MAX], name[XATTR_NAME_CAP];
  if (get_args(env, info, 2, argv, NULL)) return NULL;
  if (arg_path(env, argv[0], path, sizeof path, "path") || arg_name(env, argv[1], name)) return NULL;
  if (lremovexattr(path, name) < 0) return throw_errno(env, errno, "lremovexattr", path);
  return NULL;
}

void init_xattr(napi_env env, napi_value exports) {
  export_fn(env, exports, "lsetxattr", js_lsetxattr);
  export_fn(env, exports, "lgetxattr", js_lgetxattr);
  export_fn(env, exports, "llistxattr", js_llistxattr);
  export_fn(env, exports, "lremovexattr", js_lremovexattr);
}
