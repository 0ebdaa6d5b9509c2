/* Brings a network interface up in the calling thread's network namespace (lo of a new namespace
 * starts down). Shared by berth-shim (a `link-up` step) and the addon (makeNetns). Returns 0, or
 * -1 with errno set. */
#ifndef BERTH_LINK_UP_H
#define BERTH_LINK_UP_H

#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static inline int berth_link_up(const char *name) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return -1;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
  int r = ioctl(s, SIOCGIFFLAGS, &ifr);
  if (r == 0) {
    ifr.ifr_flags |= IFF_UP;
    r = ioctl(s, SIOCSIFFLAGS, &ifr);
  }
  int e = errno;
  close(s);
  errno = e;
  return r < 0 ? -1 : 0;
}

#endif
