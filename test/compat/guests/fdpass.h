/* Passing one fd over a unix socket (SCM_RIGHTS), for the seccomp notification guests. */
#ifndef TSS_FDPASS_H
#define TSS_FDPASS_H
#include <string.h>
#include <sys/socket.h>

static void sendfd(int s, int fd) {
  char c = 0;
  struct iovec io = { &c, 1 };
  char buf[CMSG_SPACE(sizeof(int))];
  struct msghdr m = { .msg_iov = &io, .msg_iovlen = 1, .msg_control = buf, .msg_controllen = sizeof buf };
  struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(cm), &fd, sizeof fd);
  MUST(sendmsg(s, &m, 0));
}

static int recvfd(int s) {
  char c;
  struct iovec io = { &c, 1 };
  char buf[CMSG_SPACE(sizeof(int))];
  struct msghdr m = { .msg_iov = &io, .msg_iovlen = 1, .msg_control = buf, .msg_controllen = sizeof buf };
  MUST(recvmsg(s, &m, 0));
  int fd;
  memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&m)), sizeof fd);
  return fd;
}

#endif
