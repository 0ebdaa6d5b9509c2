/* The container's output as docker's json-file log (the format `docker logs` and its tools read):
 * one JSON object per line, {"log":"<text incl. newline>","stream":"stdout|stderr","time":"…"},
 * rotated path → path.1 → … like docker's max-size/max-file. Used by io.c's relay loop. */
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LINE_CAP 16384 /* docker's json-file also cuts a line without newline at 16 KiB */

static struct {
  const char *path;
  unsigned long long max_size, size;
  int max_files, fd;
  size_t len[2];           /* unfinished line per stream; invariant: it holds no '\n' */
  char line[2][LINE_CAP];
} lg = {.fd = -1};

static const char *const names[2] = {"stdout", "stderr"};

int bsh_log_open(const char *path, unsigned long long max_size, int max_files, struct bsh_err *err) {
  lg.path = path;
  lg.max_size = max_size;
  lg.max_files = max_files;
  lg.fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  struct stat st;
  if (lg.fd < 0 || fstat(lg.fd, &st) < 0) return bsh_fail(err, "log", errno, "open %s", path);
  lg.size = (unsigned long long)st.st_size;
  return lg.fd;
}

/* Length of a valid UTF-8 sequence at p (RFC 3629: no overlongs, surrogates or > U+10FFFF), or 0. */
static size_t utf8_len(const unsigned char *p, size_t n) {
  unsigned char c = p[0], lo = 0x80, hi = 0xBF;
  size_t len = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
  if (len == 0 || len > n) return 0;
  if (c == 0xE0) lo = 0xA0;
  else if (c == 0xED) hi = 0x9F;
  else if (c == 0xF0) lo = 0x90;
  else if (c == 0xF4) hi = 0x8F;
  if (p[1] < lo || p[1] > hi) return 0;
  for (size_t i = 2; i < len; i++)
    if ((p[i] & 0xC0) != 0x80) return 0;
  return len;
}

/* Invalid UTF-8 becomes U+FFFD, as Go's encoding/json (docker's) does, so every line stays JSON. */
static size_t json_escape(char *o, const unsigned char *p, size_t n) {
  static const char hex[] = "0123456789abcdef";
  size_t k = 0;
  for (size_t i = 0; i < n;) {
    unsigned char c = p[i];
    if (c >= 0x80) {
      size_t len = utf8_len(p + i, n - i);
      if (len) memcpy(o + k, p + i, len), k += len, i += len;
      else memcpy(o + k, "\\ufffd", 6), k += 6, i++;
      continue;
    }
    i++;
    if (c == '"' || c == '\\') o[k++] = '\\', o[k++] = (char)c;
    else if (c == '\n') o[k++] = '\\', o[k++] = 'n';
    else if (c == '\r') o[k++] = '\\', o[k++] = 'r';
    else if (c == '\t') o[k++] = '\\', o[k++] = 't';
    else if (c < 0x20) k += (size_t)sprintf(o + k, "\\u00%c%c", hex[c >> 4], hex[c & 15]);
    else o[k++] = (char)c;
  }
  return k;
}

/* path → path.1 → … → path.<max-files - 1>; the oldest falls off. One file only: start it over. */
static void rotate(void) {
  char from[4200], to[4200];
  if (lg.max_files <= 1) {
    if (ftruncate(lg.fd, 0) == 0) lg.size = 0;
    return;
  }
  for (int i = lg.max_files - 1; i >= 1; i--) {
    snprintf(to, sizeof to, "%s.%d", lg.path, i);
    if (i == 1) snprintf(from, sizeof from, "%s", lg.path);
    else snprintf(from, sizeof from, "%s.%d", lg.path, i - 1);
    renameat(bsh_host_root, bsh_host_rel(from), bsh_host_root, bsh_host_rel(to)); /* ENOENT: that generation does not exist yet */
  }
  close(lg.fd);
  /* If the new file cannot be made (disk gone), logging stops; the container keeps running. */
  lg.fd = openat(bsh_host_root, bsh_host_rel(lg.path), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  lg.size = 0;
}

static void entry(int stream, const char *p, size_t n) {
  static char buf[LINE_CAP * 6 + 128]; /* worst case: every byte as \u00XX */
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  size_t k = (size_t)sprintf(buf, "{\"log\":\"");
  k += json_escape(buf + k, (const unsigned char *)p, n);
  k += (size_t)sprintf(buf + k, "\",\"stream\":\"%s\",\"time\":\"", names[stream]);
  k += strftime(buf + k, 32, "%Y-%m-%dT%H:%M:%S", &tm);
  /* Nine fixed digits, as docker writes them; still RFC 3339, and parsed by Go's RFC3339Nano. */
  k += (size_t)sprintf(buf + k, ".%09ldZ\"}\n", ts.tv_nsec);
  /* Rotate before a write that would take the file past max-size, so no file outgrows it
   * (but for one entry larger than max-size on its own). */
  if (lg.max_size && lg.max_files && lg.size > 0 && lg.size + k > lg.max_size) rotate();
  if (lg.fd < 0) return;
  ssize_t w = write(lg.fd, buf, k); /* O_APPEND and one write per entry: never interleaved */
  if (w > 0) lg.size += (unsigned long long)w;
}

void bsh_log_append(int stream, const char *p, size_t n) {
  char *line = lg.line[stream];
  size_t *len = &lg.len[stream];
  if (lg.fd < 0) return;
  while (n > 0) {
    size_t k = n < LINE_CAP - *len ? n : LINE_CAP - *len, start = 0;
    memcpy(line + *len, p, k);
    for (size_t i = *len; i < *len + k; i++)
      if (line[i] == '\n') entry(stream, line + start, i + 1 - start), start = i + 1;
    *len += k, p += k, n -= k;
    if (start == 0 && *len == LINE_CAP) entry(stream, line, *len), start = *len; /* no newline in 16 KiB */
    memmove(line, line + start, *len - start);
    *len -= start;
  }
}

void bsh_log_flush(int stream) {
  if (lg.fd >= 0 && lg.len[stream]) entry(stream, lg.line[stream], lg.len[stream]);
  lg.len[stream] = 0;
}
