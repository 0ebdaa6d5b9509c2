/*
 * berth N-API addon: the few syscalls Node lacks (mknod, xattrs on symlinks,
 * mount/umount2, utimensat with nanoseconds on symlinks, bpf(2) for cgroup v2
 * device filters, a network namespace made without a process). Every function is
 * synchronous, policy-free, and throws an Error carrying Node's usual fields
 * (code "EPERM", errno, syscall, path) so callers handle it like an fs error.
 */
#ifndef BERTH_ADDON_H
#define BERTH_ADDON_H

#define NAPI_VERSION 8
#include <node_api.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>

/* Throws a Node-style errno error; always returns NULL so callers can `return throw_errno(...)`. */
napi_value throw_errno(napi_env env, int err, const char *syscall, const char *path);
/* Throws a TypeError naming the bad argument; returns NULL. */
napi_value throw_type(napi_env env, const char *msg);

/* Reads argument as a NUL-free path (string or Buffer) into buf[PATH_MAX]; 0 on success (else threw). */
int arg_path(napi_env env, napi_value v, char *buf, size_t cap, const char *what);
/* Reads an integer argument (number); 0 on success (else threw). */
int arg_int64(napi_env env, napi_value v, int64_t *out, const char *what);
/* Reads argv[0..n) and checks the count; 0 on success (else threw). */
int get_args(napi_env env, napi_callback_info info, size_t n, napi_value *argv, size_t *argc);
/* Adds fn as property `name` of exports. */
void export_fn(napi_env env, napi_value exports, const char *name, napi_callback cb);
void export_int(napi_env env, napi_value obj, const char *name, int64_t value);

void init_fsnode(napi_env env, napi_value exports);
void init_xattr(napi_env env, napi_value exports);
void init_mount(napi_env env, napi_value exports);
void init_bpf(napi_env env, napi_value exports);
void init_netns(napi_env env, napi_value exports);
void init_spawn(napi_env env, napi_value exports);

#endif
