/* Report records, errors and plan decoding. */
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int bsh_report_fd = -1;
int bsh_host_root = AT_FDCWD;

const char *bsh_host_rel(const char *path) {
  if (bsh_host_root == AT_FDCWD) return path;
  while (*path == '/') path++;
  return *path ? path : ".";
}

int bsh_fail(struct bsh_err *err, const char *step, int errnum, const char *fmt, ...) {
  va_list ap;
  err->step = step;
  err->errnum = errnum;
  va_start(ap, fmt);
  vsnprintf(err->detail, sizeof err->detail, fmt, ap);
  va_end(ap);
  return -1;
}

/* Records are single lines; fields are percent-encoded by bsh_report_error so a detail
 * holding spaces or newlines stays one field. Writes of at most PIPE_BUF are atomic,
 * so the parent and the child may both write to the same pipe. */
static void write_all(const char *buf, size_t len) {
  if (bsh_report_fd < 0) return;
  while (len > 0) {
    ssize_t n = write(bsh_report_fd, buf, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    buf += n;
    len -= (size_t)n;
  }
}

void bsh_report(const char *fmt, ...) {
  char buf[2048];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n > sizeof buf - 2) n = sizeof buf - 2;
  buf[n++] = '\n';
  write_all(buf, (size_t)n);
}

static void encode(const char *in, char *out, size_t outlen) {
  static const char hex[] = "0123456789ABCDEF";
  size_t o = 0;
  for (; *in && o + 4 < outlen; in++) {
    unsigned char c = (unsigned char)*in;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("._/:=,+@-", c)) {
      out[o++] = (char)c;
    } else {
      out[o++] = '%';
      out[o++] = hex[c >> 4];
      out[o++] = hex[c & 15];
    }
  }
  out[o] = 0;
}

void bsh_report_error(const struct bsh_err *err) {
  char step[128], detail[1600];
  encode(err->step ? err->step : "shim", step, sizeof step);
  encode(err->detail, detail, sizeof detail);
  bsh_report("error %s %d %s", step, err->errnum, detail[0] ? detail : "-");
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Decodes %XX in place. */
void bsh_decode(char *s) {
  char *o = s;
  for (; *s; s++) {
    if (*s == '%' && hexval(s[1]) >= 0 && hexval(s[2]) >= 0) {
      *o++ = (char)(hexval(s[1]) * 16 + hexval(s[2]));
      s += 2;
    } else {
      *o++ = *s;
    }
  }
  *o = 0;
}

/* Splits the plan buffer into lines of decoded fields. Returns the number of lines. */
int bsh_parse_plan(char *buf, struct bsh_line *lines, int max) {
  int n = 0;
  char *save = NULL;
  for (char *ln = strtok_r(buf, "\n", &save); ln && n < max; ln = strtok_r(NULL, "\n", &save)) {
    struct bsh_line *l = &lines[n];
    l->nfields = 0;
    char *fsave = NULL;
    for (char *f = strtok_r(ln, " ", &fsave); f && l->nfields < BSH_MAX_FIELDS; f = strtok_r(NULL, " ", &fsave)) {
      bsh_decode(f);
      l->fields[l->nfields++] = f;
    }
    l->fields[l->nfields] = NULL;
    if (l->nfields > 0) n++;
  }
  return n;
}

int bsh_unix_addr(const char *path, struct sockaddr_un *sa, int *dirfd) {
  *dirfd = -1;
  memset(sa, 0, sizeof *sa);
  sa->sun_family = AF_UNIX;
  if (strlen(path) < sizeof sa->sun_path) {
    strcpy(sa->sun_path, path);
    return 0;
  }
  const char *slash = strrchr(path, '/');
  if (!slash || slash == path) { errno = ENAMETOOLONG; return -1; }
  char dir[4096];
  size_t dl = (size_t)(slash - path);
  if (dl >= sizeof dir) { errno = ENAMETOOLONG; return -1; }
  memcpy(dir, path, dl);
  dir[dl] = 0;
  *dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (*dirfd < 0) return -1;
  int n = snprintf(sa->sun_path, sizeof sa->sun_path, "/proc/self/fd/%d/%s", *dirfd, slash + 1);
  if (n < 0 || (size_t)n >= sizeof sa->sun_path) {
    close(*dirfd);
    *dirfd = -1;
    errno = ENAMETOOLONG;
    return -1;
  }
  return 0;
}
