// One datagram (or stream write) with fds by SCM_RIGHTS, for the OCI side's sockets
// (oci_console.cc ociSend, oci_net.cc's helper). Allocation-free: the helper calls it in
// a forked child of Node.
#pragma once
#include <cerrno>
#include <cstring>
#include <sys/socket.h>
#include <sys/uio.h>

namespace tss {

constexpr int kOciMaxFds = 64;

// sendmsg of data[0..len) with nfds (at most kOciMaxFds) fds, EINTR retried: bytes or -1 (errno).
inline ssize_t OciSendFds(int sock, const void* data, size_t len, const int* fds, int nfds) {
  if (nfds > kOciMaxFds) nfds = kOciMaxFds;
  struct iovec iov = {const_cast<void*>(data), len};
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(struct cmsghdr) char ctl[CMSG_SPACE(sizeof(int) * kOciMaxFds)];
  if (nfds > 0) {
    memset(ctl, 0, sizeof ctl);
    msg.msg_control = ctl;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
    struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
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

}  // namespace tss
