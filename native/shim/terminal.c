/* The container's pty: made from the container's own devpts (so the slave belongs to it), set as
 * the controlling terminal and stdio, and its master sent to the caller's console socket with
 * SCM_RIGHTS, as runc's --console-socket contract says. */
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

static int send_fd(int sock, int fd, const char *name) {
  char cbuf[CMSG_SPACE(sizeof(int))];
  memset(cbuf, 0, sizeof cbuf);
  struct iovec iov = {.iov_base = (void *)name, .iov_len = strlen(name)};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof(int));
  return sendmsg(sock, &msg, 0) < 0 ? -1 : 0;
}

int bsh_do_terminal(int console_fd, const char *rows, const char *cols, struct bsh_err *err) {
  if (console_fd < 0) return bsh_fail(err, "terminal", EINVAL, "process.terminal is set but no console socket was given");
  int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0) return bsh_fail(err, "terminal", errno, "open /dev/ptmx");
  int unlock = 0;
  if (ioctl(master, TIOCSPTLCK, &unlock) < 0) return bsh_fail(err, "terminal", errno, "unlock pty");
  int ptn = 0;
  if (ioctl(master, TIOCGPTN, &ptn) < 0) return bsh_fail(err, "terminal", errno, "pty number");
  /* TIOCGPTPEER opens the slave through the master, never through a path an image could swap. */
  int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY);
  if (slave < 0) return bsh_fail(err, "terminal", errno, "open pty slave");
  struct winsize ws = {.ws_row = (unsigned short)atoi(rows), .ws_col = (unsigned short)atoi(cols)};
  if (ws.ws_row && ws.ws_col) ioctl(slave, TIOCSWINSZ, &ws);
  if (ioctl(slave, TIOCSCTTY, 0) < 0) return bsh_fail(err, "terminal", errno, "set controlling terminal");
  for (int i = 0; i < 3; i++)
    if (dup2(slave, i) < 0) return bsh_fail(err, "terminal", errno, "dup2 pty to %d", i);
  if (slave > 2) close(slave);
  char name[64];
  snprintf(name, sizeof name, "/dev/pts/%d", ptn);
  if (send_fd(console_fd, master, name) < 0) return bsh_fail(err, "terminal", errno, "send pty master to the console socket");
  close(master);
  close(console_fd);
  return 0;
}
