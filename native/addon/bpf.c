/* Cgroup v2 device filters: load an eBPF program of type BPF_PROG_TYPE_CGROUP_DEVICE and attach it
 * to a cgroup2 directory, replacing the programs attached there before. The program itself — which
 * devices, which access — is written by TypeScript (src/runtime/cgroups/device-filter.ts); this
 * file only performs the bpf(2) calls. */
#include "addon.h"
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static long bpf(int cmd, union bpf_attr *attr) { return syscall(SYS_bpf, cmd, attr, sizeof *attr); }

/* attachDeviceFilter(cgroupDir, insns: Buffer | null): attaches the program; earlier device programs
 * on that directory are detached once the new one is in place (no moment without a filter). With
 * null, only the earlier programs are detached (every device allowed again). */
static napi_value attach_device_filter(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  char dir[PATH_MAX];
  if (get_args(env, info, 2, argv, NULL) < 0 || arg_path(env, argv[0], dir, sizeof dir, "cgroupDir") < 0) return NULL;
  bool isbuf = false;
  napi_valuetype t;
  napi_typeof(env, argv[1], &t);
  napi_is_buffer(env, argv[1], &isbuf);
  void *insns = NULL;
  size_t len = 0;
  if (t != napi_null && (!isbuf || napi_get_buffer_info(env, argv[1], &insns, &len) != napi_ok || len == 0 || len % sizeof(struct bpf_insn)))
    return throw_type(env, "insns must be null or a Buffer of whole eBPF instructions");

  int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return throw_errno(env, errno, "open", dir);

  /* The programs attached now, to detach after the new one is attached. */
  __u32 old[64];
  union bpf_attr q;
  memset(&q, 0, sizeof q);
  q.query.target_fd = (__u32)dfd;
  q.query.attach_type = BPF_CGROUP_DEVICE;
  q.query.prog_ids = (__u64)(unsigned long)old;
  q.query.prog_cnt = 64;
  if (bpf(BPF_PROG_QUERY, &q) < 0) {
    int e = errno;
    close(dfd);
    return throw_errno(env, e, "bpf(BPF_PROG_QUERY)", dir);
  }
  __u32 nold = q.query.prog_cnt;

  if (insns == NULL) goto detach;
  char log[4096] = "";
  union bpf_attr l;
  memset(&l, 0, sizeof l);
  l.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  l.insns = (__u64)(unsigned long)insns;
  l.insn_cnt = (__u32)(len / sizeof(struct bpf_insn));
  l.license = (__u64)(unsigned long)"Apache";
  l.log_buf = (__u64)(unsigned long)log;
  l.log_size = sizeof log;
  l.log_level = 1;
  int pfd = (int)bpf(BPF_PROG_LOAD, &l);
  if (pfd < 0) {
    int e = errno;
    close(dfd);
    /* The verifier's last line says why (EACCES/EINVAL). */
    char *last = log[0] ? log : NULL;
    if (last) {
      size_t n = strlen(log);
      while (n > 0 && log[n - 1] == '\n') log[--n] = 0;
      char *nl = strrchr(log, '\n');
      if (nl) last = nl + 1;
    }
    return throw_errno(env, e, "bpf(BPF_PROG_LOAD)", last ? last : dir);
  }

  union bpf_attr a;
  memset(&a, 0, sizeof a);
  a.target_fd = (__u32)dfd;
  a.attach_bpf_fd = (__u32)pfd;
  a.attach_type = BPF_CGROUP_DEVICE;
  a.attach_flags = BPF_F_ALLOW_MULTI;
  if (bpf(BPF_PROG_ATTACH, &a) < 0) {
    int e = errno;
    close(pfd);
    close(dfd);
    return throw_errno(env, e, "bpf(BPF_PROG_ATTACH)", dir);
  }
  close(pfd); /* the attachment holds the program */

detach:
  for (__u32 i = 0; i < nold && i < 64; i++) {
    union bpf_attr g;
    memset(&g, 0, sizeof g);
    g.prog_id = old[i];
    int ofd = (int)bpf(BPF_PROG_GET_FD_BY_ID, &g);
    if (ofd < 0) continue; /* already gone */
    union bpf_attr d;
    memset(&d, 0, sizeof d);
    d.target_fd = (__u32)dfd;
    d.attach_bpf_fd = (__u32)ofd;
    d.attach_type = BPF_CGROUP_DEVICE;
    long r = bpf(BPF_PROG_DETACH, &d);
    int e = errno;
    close(ofd);
    if (r < 0 && e != ENOENT) {
      close(dfd);
      return throw_errno(env, e, "bpf(BPF_PROG_DETACH)", dir);
    }
  }
  close(dfd);
  return NULL;
}

/* deviceFilterCount(cgroupDir): how many device programs are attached (for tests and inspection). */
static napi_value device_filter_count(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  char dir[PATH_MAX];
  if (get_args(env, info, 1, argv, NULL) < 0 || arg_path(env, argv[0], dir, sizeof dir, "cgroupDir") < 0) return NULL;
  int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return throw_errno(env, errno, "open", dir);
  union bpf_attr q;
  memset(&q, 0, sizeof q);
  q.query.target_fd = (__u32)dfd;
  q.query.attach_type = BPF_CGROUP_DEVICE;
  long r = bpf(BPF_PROG_QUERY, &q);
  int e = errno;
  close(dfd);
  if (r < 0) return throw_errno(env, e, "bpf(BPF_PROG_QUERY)", dir);
  napi_value out;
  napi_create_uint32(env, q.query.prog_cnt, &out);
  return out;
}

void init_bpf(napi_env env, napi_value exports) {
  export_fn(env, exports, "attachDeviceFilter", attach_device_filter);
  export_fn(env, exports, "deviceFilterCount", device_filter_count);
}
