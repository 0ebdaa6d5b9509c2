/* The process's identity: groups, uid/gid, capability sets, rlimits. The order follows the
 * kernel's rules: the bounding set is dropped while we still hold CAP_SETPCAP, uid changes keep
 * permitted caps only with PR_SET_KEEPCAPS, and capset comes last. */
#include "shim.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

static int last_cap(void) {
  FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "r");
  int n = 40;
  if (f) {
    if (fscanf(f, "%d", &n) != 1) n = 40;
    fclose(f);
  }
  return n;
}

static int parse_groups(const char *s, gid_t *out, int max) {
  int n = 0;
  if (strcmp(s, "-") == 0) return 0;
  const char *p = s;
  while (*p && n < max) {
    char *end;
    out[n++] = (gid_t)strtoul(p, &end, 10);
    if (*end != ',') break;
    p = end + 1;
  }
  return n;
}

/* identity <uid> <gid> <groups|-|skip> <bnd> <eff> <prm> <inh> <amb> (cap sets as hex masks) */
int bsh_do_identity(char **f, int n, struct bsh_err *err) {
  if (n < 9) return bsh_fail(err, "identity", EINVAL, "malformed directive");
  uid_t uid = (uid_t)strtoul(f[1], NULL, 10);
  gid_t gid = (gid_t)strtoul(f[2], NULL, 10);
  unsigned long long bnd = strtoull(f[4], NULL, 16), eff = strtoull(f[5], NULL, 16);
  unsigned long long prm = strtoull(f[6], NULL, 16), inh = strtoull(f[7], NULL, 16);
  unsigned long long amb = strtoull(f[8], NULL, 16);
  int last = last_cap();

  for (int c = 0; c <= last; c++) {
    if (bnd & (1ULL << c)) continue;
    if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
      return bsh_fail(err, "capabilities", errno, "drop %d from the bounding set", c);
  }
  if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) return bsh_fail(err, "capabilities", errno, "keep caps");
  if (strcmp(f[3], "skip") != 0) {
    gid_t groups[256];
    int ng = parse_groups(f[3], groups, 256);
    if (setgroups((size_t)ng, groups) < 0) return bsh_fail(err, "setgroups", errno, "%s", f[3]);
  }
  if (setresgid(gid, gid, gid) < 0) return bsh_fail(err, "setgid", errno, "%u", gid);
  if (setresuid(uid, uid, uid) < 0) return bsh_fail(err, "setuid", errno, "%u", uid);

  struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
  struct __user_cap_data_struct data[2];
  data[0].effective = (__u32)eff;
  data[1].effective = (__u32)(eff >> 32);
  data[0].permitted = (__u32)prm;
  data[1].permitted = (__u32)(prm >> 32);
  data[0].inheritable = (__u32)inh;
  data[1].inheritable = (__u32)(inh >> 32);
  if (syscall(SYS_capset, &hdr, data) < 0) return bsh_fail(err, "capset", errno, "eff=%llx prm=%llx inh=%llx", eff, prm, inh);
  if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0) return bsh_fail(err, "capabilities", errno, "clear keep caps");
  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  for (int c = 0; c <= last; c++) {
    if (!(amb & (1ULL << c))) continue;
    /* The kernel raises an ambient cap only if it is also inheritable and permitted; specs
     * (runc's default among them) often list ambient caps without inheritable ones, and runc
     * skips those quietly, so do we. */
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0 && errno != EPERM)
      return bsh_fail(err, "capabilities", errno, "raise ambient %d", c);
  }
  return 0;
}

/* rlimit <resource> <soft> <hard>; -1 or 18446744073709551615 is unlimited. */
int bsh_do_rlimit(char **f, int n, struct bsh_err *err) {
  if (n < 4) return bsh_fail(err, "rlimit", EINVAL, "malformed directive");
  int res = atoi(f[1]);
  struct rlimit rl;
  rl.rlim_cur = f[2][0] == '-' ? RLIM_INFINITY : (rlim_t)strtoull(f[2], NULL, 10);
  rl.rlim_max = f[3][0] == '-' ? RLIM_INFINITY : (rlim_t)strtoull(f[3], NULL, 10);
  if (setrlimit(res, &rl) < 0) return bsh_fail(err, "rlimit", errno, "resource %d soft %s hard %s", res, f[2], f[3]);
  return 0;
}
