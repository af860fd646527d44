// The host calls of the Gofer protocol (src/gofer/): a SOCK_SEQPACKET socket pair,
// messages carrying at most one fd (SCM_RIGHTS), and openat2(2), which Node lacks.
// Used by both sides: the gofer process (openat2 + send) and the Sentry's client
// (blocking call = send + receive). Also hostLseek, for host fds the Sentry was handed
// (a guest `head` repositions a redirected stdin). All functions return -errno on failure.
#include "common.h"
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace tss {

// goferSocketpair(): [fd0, fd1] (close-on-exec) or -errno.
static Napi::Value GoferSocketpair(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) return Num(env, -errno);
  Napi::Array a = Napi::Array::New(env, 2);
  a.Set(0u, Num(env, sv[0]));
  a.Set(1u, Num(env, sv[1]));
  return a;
}

// openat2(dirfd, path, flags, mode, resolve): fd (close-on-exec) or -errno.
static Napi::Value Openat2(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int dirfd = info[0].As<Napi::Number>().Int32Value();
  std::string path = info[1].As<Napi::String>().Utf8Value();
  struct open_how how;
  memset(&how, 0, sizeof how);
  how.flags = (uint64_t)(uint32_t)info[2].As<Napi::Number>().Int64Value() | O_CLOEXEC;
  how.mode = (uint64_t)info[3].As<Napi::Number>().Int64Value();
  how.resolve = (uint64_t)info[4].As<Napi::Number>().Int64Value();
  long r;
  do {
    r = syscall(SYS_openat2, dirfd, path.c_str(), &how, sizeof how);
  } while (r < 0 && errno == EINTR);
  return Num(env, r < 0 ? -errno : (double)r);
}

static int SendOne(int sock, const uint8_t* data, size_t len, int fd) {
  struct iovec iov = {(void*)data, len};
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(struct cmsghdr) char ctl[CMSG_SPACE(sizeof(int))];
  if (fd >= 0) {
    memset(ctl, 0, sizeof ctl);
    msg.msg_control = ctl;
    msg.msg_controllen = sizeof ctl;
    struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof fd);
  }
  ssize_t r;
  do {
    r = sendmsg(sock, &msg, MSG_NOSIGNAL);
  } while (r < 0 && errno == EINTR);
  return r < 0 ? -errno : (int)r;
}

static int RecvOne(int sock, uint8_t* data, size_t len, int* fdOut) {
  struct iovec iov = {data, len};
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(struct cmsghdr) char ctl[CMSG_SPACE(sizeof(int) * 4)];
  msg.msg_control = ctl;
  msg.msg_controllen = sizeof ctl;
  ssize_t r;
  do {
    r = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  } while (r < 0 && errno == EINTR);
  *fdOut = -1;
  if (r < 0) return -errno;
  for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    int n = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
    int fds[4];
    memcpy(fds, CMSG_DATA(c), sizeof(int) * (n > 4 ? 4 : n));
    for (int i = 0; i < n && i < 4; i++) {
      if (*fdOut < 0) *fdOut = fds[i];
      else close(fds[i]);  // never more than one per message; drop extras
    }
  }
  if (msg.msg_flags & MSG_TRUNC) return -EMSGSIZE;
  return (int)r;
}

// goferSend(sock, buf, len, fd): bytes sent or -errno (-EPIPE when the peer is gone).
static Napi::Value GoferSend(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int sock = info[0].As<Napi::Number>().Int32Value();
  Napi::Uint8Array b = info[1].As<Napi::Uint8Array>();
  size_t len = info[2].As<Napi::Number>().Uint32Value();
  int fd = info[3].As<Napi::Number>().Int32Value();
  if (len > b.ByteLength()) return Num(env, -EINVAL);
  return Num(env, SendOne(sock, b.Data(), len, fd));
}

// goferRecv(sock, buf, fdOut: Int32Array(1)): bytes (0 = peer closed) or -errno. Blocks.
static Napi::Value GoferRecv(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int sock = info[0].As<Napi::Number>().Int32Value();
  Napi::Uint8Array b = info[1].As<Napi::Uint8Array>();
  Napi::Int32Array out = info[2].As<Napi::Int32Array>();
  int fd = -1;
  int r = RecvOne(sock, b.Data(), b.ByteLength(), &fd);
  out[0] = fd;
  return Num(env, r);
}

// goferCall(sock, req, reqLen, reqFd, resp, fdOut): send then wait for the reply (the
// Sentry's synchronous round trip in one N-API call). Returns reply length or -errno.
static Napi::Value GoferCall(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int sock = info[0].As<Napi::Number>().Int32Value();
  Napi::Uint8Array req = info[1].As<Napi::Uint8Array>();
  size_t len = info[2].As<Napi::Number>().Uint32Value();
  int reqFd = info[3].As<Napi::Number>().Int32Value();
  Napi::Uint8Array resp = info[4].As<Napi::Uint8Array>();
  Napi::Int32Array out = info[5].As<Napi::Int32Array>();
  if (len > req.ByteLength()) return Num(env, -EINVAL);
  int s = SendOne(sock, req.Data(), len, reqFd);
  if (s < 0) return Num(env, s);
  int fd = -1;
  int r = RecvOne(sock, resp.Data(), resp.ByteLength(), &fd);
  out[0] = fd;
  return Num(env, r);
}

// hostLseek(fd, off, whence): new offset or -errno (for host fds the Sentry was handed).
static Napi::Value HostLseek(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  off_t off = (off_t)info[1].As<Napi::Number>().Int64Value();
  int whence = info[2].As<Napi::Number>().Int32Value();
  off_t r = lseek(fd, off, whence);
  return Num(env, r < 0 ? -errno : (double)r);
}

// hostCopyRange(fdIn, offIn, fdOut, offOut, len): copy_file_range(2) between two host
// files the Sentry holds (the bytes stay in the host kernel; reflinks where the fs has
// them). Bytes copied (0 at EOF) or -errno (EXDEV etc.: the caller copies itself).
static Napi::Value HostCopyRange(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int in = info[0].As<Napi::Number>().Int32Value();
  loff_t offIn = (loff_t)info[1].As<Napi::Number>().Int64Value();
  int out = info[2].As<Napi::Number>().Int32Value();
  loff_t offOut = (loff_t)info[3].As<Napi::Number>().Int64Value();
  size_t len = (size_t)info[4].As<Napi::Number>().Int64Value();
  ssize_t r = copy_file_range(in, &offIn, out, &offOut, len, 0);
  return Num(env, r < 0 ? -errno : (double)r);
}

// hostFutimens(fd, aSec, aNsec, mSec, mNsec): utimensat(fd, NULL, ...) on a host fd
// the Sentry holds, with the nanoseconds exact (Node's futimes takes float seconds)
// and UTIME_NOW/UTIME_OMIT passed through: 0 or -errno, never a thrown error.
static Napi::Value HostFutimens(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  struct timespec ts[2];
  ts[0].tv_sec = (time_t)info[1].As<Napi::Number>().Int64Value();
  ts[0].tv_nsec = (long)info[2].As<Napi::Number>().Int64Value();
  ts[1].tv_sec = (time_t)info[3].As<Napi::Number>().Int64Value();
  ts[1].tv_nsec = (long)info[4].As<Napi::Number>().Int64Value();
  return Num(env, syscall(SYS_utimensat, fd, nullptr, ts, 0) != 0 ? -errno : 0);
}

// hostReadNb(fd, buf): read(2) into buf, bytes or -errno (EAGAIN of a nonblocking fd is
// an answer, not a thrown error: the host inotify fd is drained around every change).
static Napi::Value HostReadNb(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  Napi::Uint8Array b = info[1].As<Napi::Uint8Array>();
  ssize_t r = read(fd, b.Data(), b.ByteLength());
  return Num(env, r < 0 ? -errno : (double)r);
}

void InitGofer(Napi::Env env, Napi::Object exports) {
  exports.Set("hostReadNb", Napi::Function::New(env, HostReadNb));
  exports.Set("hostFutimens", Napi::Function::New(env, HostFutimens));
  exports.Set("hostLseek", Napi::Function::New(env, HostLseek));
  exports.Set("hostCopyRange", Napi::Function::New(env, HostCopyRange));
  exports.Set("goferSocketpair", Napi::Function::New(env, GoferSocketpair));
  exports.Set("openat2", Napi::Function::New(env, Openat2));
  exports.Set("goferSend", Napi::Function::New(env, GoferSend));
  exports.Set("goferRecv", Napi::Function::New(env, GoferRecv));
  exports.Set("goferCall", Napi::Function::New(env, GoferCall));
}

}  // namespace tss
