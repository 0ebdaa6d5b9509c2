/* Mounts inside the container's root. Every destination is resolved with openat2(RESOLVE_IN_ROOT)
 * so a symlink in the image cannot redirect a mount onto the host; the mount then targets
 * /proc/self/fd/N, the very dentry that was resolved (runc does the same since CVE-2021-30465). */
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static int root_fd = -1;
static char root_path[4096];

static int openat2_in_root(const char *rel, int flags) {
  struct open_how how = {.flags = (unsigned long long)(flags | O_CLOEXEC), .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
  return (int)syscall(SYS_openat2, root_fd, rel, &how, sizeof how);
}

int bsh_set_root(const char *path, struct bsh_err *err) {
  if (root_fd >= 0) close(root_fd);
  root_fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root_fd < 0) return bsh_fail(err, "root", errno, "open rootfs %s", path);
  if (path != root_path) snprintf(root_path, sizeof root_path, "%s", path);
  return 0;
}

static const char *rel_of(const char *path) {
  while (*path == '/') path++;
  return *path ? path : ".";
}

/* Opens path (O_PATH) inside the root, creating what is missing: directories on the way, and the
 * last component as `kind` ("dir", "file", or "none" = must exist). Returns an fd or -1. */
int bsh_open_in_root(const char *path, const char *kind, struct bsh_err *err) {
  const char *rel = rel_of(path);
  int fd = openat2_in_root(rel, O_PATH);
  if (fd >= 0 || errno != ENOENT || strcmp(kind, "none") == 0) {
    if (fd < 0) return bsh_fail(err, "resolve", errno, "%s in rootfs", path);
    return fd;
  }
  char buf[4096];
  snprintf(buf, sizeof buf, "%s", rel);
  char *p = buf;
  for (;;) {
    char *slash = strchr(p, '/');
    int last = slash == NULL;
    if (!last) *slash = 0;
    if (*p != 0) {
      int cur = openat2_in_root(buf, O_PATH);
      if (cur < 0 && errno == ENOENT) {
        /* The parent resolved (we walk from the top), so create this component in it. */
        char *name = strrchr(buf, '/');
        const char *parent = ".";
        if (name) { *name = 0; parent = buf; name++; } else { name = buf; }
        int pfd = openat2_in_root(parent, O_PATH | O_DIRECTORY);
        if (pfd < 0) return bsh_fail(err, "resolve", errno, "%s in rootfs", path);
        struct stat st;
        if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) {
          close(pfd);
          return bsh_fail(err, "resolve", ELOOP, "%s in rootfs: dangling symlink on the way", path);
        }
        int r;
        if (last && strcmp(kind, "file") == 0) {
          r = openat(pfd, name, O_CREAT | O_EXCL | O_NOFOLLOW | O_WRONLY | O_CLOEXEC, 0644);
          if (r >= 0) close(r);
        } else {
          r = mkdirat(pfd, name, 0755);
        }
        int e = errno;
        close(pfd);
        if (r < 0 && e != EEXIST) return bsh_fail(err, "mkdir", e, "%s in rootfs", path);
        if (name != buf) name[-1] = '/';
      } else if (cur < 0) {
        return bsh_fail(err, "resolve", errno, "%s in rootfs", path);
      } else {
        close(cur);
      }
    }
    if (last) break;
    *slash = '/';
    p = slash + 1;
  }
  fd = openat2_in_root(rel, O_PATH);
  if (fd < 0) return bsh_fail(err, "resolve", errno, "%s in rootfs", path);
  return fd;
}

static int is_root_dst(const char *dst) {
  return strcmp(rel_of(dst), ".") == 0;
}

/* Flags of the mount at fd that the kernel locks in a user namespace; a remount must keep them. */
static unsigned long locked_flags(int fd) {
  struct statvfs sv;
  char p[64];
  snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
  if (statvfs(p, &sv) != 0) return 0;
  unsigned long f = 0;
  if (sv.f_flag & ST_NOSUID) f |= MS_NOSUID;
  if (sv.f_flag & ST_NODEV) f |= MS_NODEV;
  if (sv.f_flag & ST_NOEXEC) f |= MS_NOEXEC;
  if (sv.f_flag & ST_NOATIME) f |= MS_NOATIME;
  if (sv.f_flag & ST_NODIRATIME) f |= MS_NODIRATIME;
  if (sv.f_flag & ST_RELATIME) f |= MS_RELATIME;
  return f;
}

/* mount <src> <dst> <fstype> <flags> <data> <kind> */
int bsh_do_mount(char **f, int n, struct bsh_err *err) {
  if (n < 7) return bsh_fail(err, "mount", EINVAL, "malformed directive");
  const char *src = f[1], *dst = f[2], *fstype = f[3], *data = f[5], *kind = f[6];
  unsigned long flags = strtoul(f[4], NULL, 10);
  if (strcmp(fstype, "-") == 0) fstype = NULL;
  if (strcmp(data, "-") == 0) data = NULL;
  if (is_root_dst(dst)) {
    /* Mounting over the root itself: mount on its path and reopen the root, or later
     * mounts would land on the covered directory underneath. */
    if (mount(src, root_path, fstype, flags, data) < 0)
      return bsh_fail(err, "mount", errno, "%s on %s (%s)", src, root_path, fstype ? fstype : "bind");
    return bsh_set_root(root_path, err);
  }
  int fd = bsh_open_in_root(dst, kind, err);
  if (fd < 0) return -1;
  char target[64];
  snprintf(target, sizeof target, "/proc/self/fd/%d", fd);
  int r = mount(src, target, fstype, flags, data);
  int e = errno;
  close(fd);
  if (r < 0) return bsh_fail(err, "mount", e, "\"%s\" on %s (type %s)", src, dst, fstype ? fstype : "bind");
  return 0;
}

/* remount <dst> <flags> <data>: changes flags of the mount at dst, keeping locked ones. */
int bsh_do_remount(char **f, int n, struct bsh_err *err) {
  if (n < 4) return bsh_fail(err, "remount", EINVAL, "malformed directive");
  const char *dst = f[1], *data = f[3];
  unsigned long flags = strtoul(f[2], NULL, 10);
  if (strcmp(data, "-") == 0) data = NULL;
  int fd = bsh_open_in_root(dst, "none", err);
  if (fd < 0) return -1;
  char target[64];
  snprintf(target, sizeof target, "/proc/self/fd/%d", fd);
  flags |= locked_flags(fd);
  int r = mount(NULL, target, NULL, MS_REMOUNT | flags, data);
  int e = errno;
  close(fd);
  if (r < 0) return bsh_fail(err, "remount", e, "%s", dst);
  return 0;
}

static int open_parent(const char *path, const char **name, struct bsh_err *err) {
  static char buf[4096];
  snprintf(buf, sizeof buf, "%s", rel_of(path));
  char *slash = strrchr(buf, '/');
  const char *parent = ".";
  if (slash) { *slash = 0; parent = buf; *name = slash + 1; } else { *name = buf; }
  int pfd = bsh_open_in_root(parent, "dir", err);
  return pfd;
}

/* mknod <dst> <c|b|p> <major> <minor> <mode> <uid> <gid> */
int bsh_do_mknod(char **f, int n, struct bsh_err *err) {
  if (n < 8) return bsh_fail(err, "mknod", EINVAL, "malformed directive");
  const char *name;
  int pfd = open_parent(f[1], &name, err);
  if (pfd < 0) return -1;
  mode_t type = f[2][0] == 'b' ? S_IFBLK : f[2][0] == 'p' ? S_IFIFO : S_IFCHR;
  mode_t mode = (mode_t)strtoul(f[5], NULL, 10);
  dev_t dev = makedev(strtoul(f[3], NULL, 10), strtoul(f[4], NULL, 10));
  unlinkat(pfd, name, 0);
  int r = mknodat(pfd, name, type | (mode & 07777), dev);
  int e = errno;
  if (r == 0) {
    /* mknod applies the umask; the spec's fileMode is exact. */
    int fd = openat(pfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) {
      char p[64];
      snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
      chmod(p, mode & 07777);
      close(fd);
    }
    r = fchownat(pfd, name, (uid_t)strtol(f[6], NULL, 10), (gid_t)strtol(f[7], NULL, 10), AT_SYMLINK_NOFOLLOW);
    e = errno;
  }
  close(pfd);
  if (r < 0) return bsh_fail(err, "mknod", e, "%s", f[1]);
  return 0;
}

/* symlink <target> <linkpath> */
int bsh_do_symlink(char **f, int n, struct bsh_err *err) {
  if (n < 3) return bsh_fail(err, "symlink", EINVAL, "malformed directive");
  const char *name;
  int pfd = open_parent(f[2], &name, err);
  if (pfd < 0) return -1;
  int r = symlinkat(f[1], pfd, name);
  int e = errno;
  close(pfd);
  if (r < 0 && e != EEXIST) return bsh_fail(err, "symlink", e, "%s -> %s", f[2], f[1]);
  return 0;
}

/* pivot_root(".", ".") then detach the old root, which is stacked under the new one
 * (the trick runc and lxc use: no temporary directory inside the rootfs is needed). */
int bsh_do_pivot(int no_pivot, struct bsh_err *err) {
  if (chdir(root_path) < 0) return bsh_fail(err, "pivot_root", errno, "chdir %s", root_path);
  if (no_pivot) {
    if (mount(root_path, "/", NULL, MS_MOVE, NULL) < 0) return bsh_fail(err, "chroot", errno, "move %s to /", root_path);
    if (chroot(".") < 0) return bsh_fail(err, "chroot", errno, "%s", root_path);
  } else {
    if (syscall(SYS_pivot_root, ".", ".") < 0) return bsh_fail(err, "pivot_root", errno, "%s", root_path);
    /* Make the old root a slave so the detach cannot propagate back to the host. */
    if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0) return bsh_fail(err, "pivot_root", errno, "make old root rslave");
    if (umount2(".", MNT_DETACH) < 0) return bsh_fail(err, "pivot_root", errno, "detach old root");
  }
  if (chdir("/") < 0) return bsh_fail(err, "pivot_root", errno, "chdir /");
  return bsh_set_root("/", err);
}

int bsh_do_mask(const char *path, struct bsh_err *err) {
  int fd = openat2_in_root(rel_of(path), O_PATH);
  if (fd < 0) {
    if (errno == ENOENT) return 0;
    return bsh_fail(err, "mask", errno, "%s", path);
  }
  struct stat st;
  fstat(fd, &st);
  char target[64];
  snprintf(target, sizeof target, "/proc/self/fd/%d", fd);
  int r = S_ISDIR(st.st_mode) ? mount("tmpfs", target, "tmpfs", MS_RDONLY, NULL) : mount("/dev/null", target, NULL, MS_BIND, NULL);
  int e = errno;
  close(fd);
  if (r < 0) return bsh_fail(err, "mask", e, "%s", path);
  return 0;
}

int bsh_do_readonly(const char *path, struct bsh_err *err) {
  int fd = openat2_in_root(rel_of(path), O_PATH);
  if (fd < 0) {
    if (errno == ENOENT) return 0;
    return bsh_fail(err, "readonly", errno, "%s", path);
  }
  char target[64];
  snprintf(target, sizeof target, "/proc/self/fd/%d", fd);
  int r = mount(target, target, NULL, MS_BIND | MS_REC, NULL);
  if (r == 0) {
    close(fd);
    /* Reopen: the bind now covers the old dentry. */
    fd = openat2_in_root(rel_of(path), O_PATH);
    if (fd < 0) return bsh_fail(err, "readonly", errno, "%s", path);
    snprintf(target, sizeof target, "/proc/self/fd/%d", fd);
    r = mount(NULL, target, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC | locked_flags(fd), NULL);
  }
  int e = errno;
  close(fd);
  if (r < 0) return bsh_fail(err, "readonly", e, "%s", path);
  return 0;
}

int bsh_do_propagate_host(const char *path, const char *flags, struct bsh_err *err) {
  if (mount(NULL, path, NULL, strtoul(flags, NULL, 10), NULL) < 0) return bsh_fail(err, "propagation", errno, "%s", path);
  return 0;
}

/* propagate <dst> <flags>: propagation type of the mount at dst inside the root. */
int bsh_do_propagate(const char *dst, const char *flags, struct bsh_err *err) {
  int fd = bsh_open_in_root(dst, "none", err);
  if (fd < 0) return -1;
  char target[64];
  snprintf(target, sizeof target, "/proc/self/fd/%d", fd);
  int r = mount(NULL, target, NULL, strtoul(flags, NULL, 10), NULL);
  int e = errno;
  close(fd);
  if (r < 0) return bsh_fail(err, "propagation", e, "%s", dst);
  return 0;
}
