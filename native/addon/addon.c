/* Module registration and argument/error helpers shared by the addon's files. */
#include "addon.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>

napi_value throw_errno(napi_env env, int err, const char *syscall, const char *path) {
  const char *code = strerrorname_np(err);
  char msg[PATH_MAX + 256];
  if (!code) code = "EUNKNOWN";
  if (path)
    snprintf(msg, sizeof msg, "%s: %s, %s '%s'", code, strerror(err), syscall, path);
  else
    snprintf(msg, sizeof msg, "%s: %s, %s", code, strerror(err), syscall);
  napi_value m, c, e, n, s;
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &m);
  napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &c);
  napi_create_error(env, c, m, &e);
  napi_create_int32(env, -err, &n);
  napi_set_named_property(env, e, "errno", n);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &s);
  napi_set_named_property(env, e, "syscall", s);
  if (path) {
    napi_value p;
    napi_create_string_utf8(env, path, NAPI_AUTO_LENGTH, &p);
    napi_set_named_property(env, e, "path", p);
  }
  napi_throw(env, e);
  return NULL;
}

napi_value throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
  return NULL;
}

int arg_path(napi_env env, napi_value v, char *buf, size_t cap, const char *what) {
  char msg[128];
  bool isbuf = false;
  napi_valuetype t;
  napi_typeof(env, v, &t);
  napi_is_buffer(env, v, &isbuf);
  if (isbuf) {
    void *data;
    size_t len;
    napi_get_buffer_info(env, v, &data, &len);
    if (len >= cap || memchr(data, 0, len)) goto bad;
    memcpy(buf, data, len);
    buf[len] = 0;
    return 0;
  }
  if (t == napi_string) {
    size_t len;
    napi_get_value_string_utf8(env, v, NULL, 0, &len);
    if (len >= cap) goto bad;
    napi_get_value_string_utf8(env, v, buf, cap, &len);
    if (strlen(buf) != len) goto bad; /* embedded NUL */
    return 0;
  }
bad:
  snprintf(msg, sizeof msg, "%s must be a string or Buffer without NUL, shorter than %zu bytes", what, cap);
  throw_type(env, msg);
  return -1;
}

int arg_int64(napi_env env, napi_value v, int64_t *out, const char *what) {
  char msg[128];
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t == napi_number && napi_get_value_int64(env, v, out) == napi_ok) return 0;
  snprintf(msg, sizeof msg, "%s must be a number", what);
  throw_type(env, msg);
  return -1;
}

int get_args(napi_env env, napi_callback_info info, size_t n, napi_value *argv, size_t *argc) {
  size_t got = n;
  napi_get_cb_info(env, info, &got, argv, NULL, NULL);
  if (argc) *argc = got;
  if (got < n) {
    char msg[96];
    snprintf(msg, sizeof msg, "expected %zu arguments, got %zu", n, got);
    throw_type(env, msg);
    return -1;
  }
  return 0;
}

void export_fn(napi_env env, napi_value exports, const char *name, napi_callback cb) {
  napi_value fn;
  napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, NULL, &fn);
  napi_set_named_property(env, exports, name, fn);
}

void export_int(napi_env env, napi_value obj, const char *name, int64_t value) {
  napi_value v;
  napi_create_int64(env, value, &v);
  napi_set_named_property(env, obj, name, v);
}

static napi_value init(napi_env env, napi_value exports) {
  init_fsnode(env, exports);
  init_xattr(env, exports);
  init_mount(env, exports);
  init_bpf(env, exports);
  init_netns(env, exports);
  init_spawn(env, exports);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
