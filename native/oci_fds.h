// One datagram (or stream write) with fds by SCM_RIGHTS, for the OCI side's sockets
// (oci_console.cc ociSend, oci_net.cc's helper, oci_pool.c's create). Plain C, for the
// C entry and the C++ addon alike; allocation-free (the helper calls it in a forked
// child of Node).
#pragma once
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#define OCI_MAX_FDS 64

// sendmsg of data[0..len) with nfds (at most OCI_MAX_FDS) fds, EINTR retried: bytes or -1 (errno).
static inline ssize_t ociSendFds(int sock, const void *data, size_t len, const int *fds, int nfds) {
  if (nfds > OCI_MAX_FDS) nfds = OCI_MAX_FDS;
  struct iovec iov;
  iov.iov_base = (void *)data;
  iov.iov_len = len;
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  union {
    struct cmsghdr align;
    char buf[CMSG_SPACE(sizeof(int) * OCI_MAX_FDS)];
  } ctl;
  if (nfds > 0) {
    memset(&ctl, 0, sizeof ctl);
    msg.msg_control = ctl.buf;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
    memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
  }
  ssize_t r;
  do {
    r = sendmsg(sock, &msg, MSG_NOSIGNAL);
  } while (r < 0 && errno == EINTR);
  return r;
}
