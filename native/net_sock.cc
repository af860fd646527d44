// Calls on a host-mode socket (network mode "host", src/net/host-socket.ts; and the NAT's
// and published ports' host sockets, src/net/host-io.ts) on the host fd the Sentry holds:
// bind, connect, listen, accept, sendmsg, recvmsg, names, options, shutdown,
// FIONREAD/SIOCOUTQ, poll, and the edge-triggered host epoll set their readiness comes
// from. netSockRecvToGuest / netSockSendFromGuest move a stream's bytes straight between
// that fd and guest memory. The fds come from the broker (native/net_host.cc).
#include "common.h"
#include <cerrno>
#include <cstring>
#include <algorithm>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

namespace tss {

namespace {

Napi::Value Fail(Napi::Env env, int e) { return Napi::Number::New(env, -e); }
// ---------------------------------------------------------------------------------
// Calls on a host-mode socket. Addresses are sockaddr bytes the Sentry encoded itself
// (never the guest's raw bytes); results are -errno on failure.

int Fd(const Napi::CallbackInfo& info) { return info[0].As<Napi::Number>().Int32Value(); }

const sockaddr* Sa(const Napi::Value& v, socklen_t* len) {
  if (!v.IsBuffer()) {
    *len = 0;
    return nullptr;
  }
  auto b = v.As<Napi::Buffer<uint8_t>>();
  *len = (socklen_t)b.Length();
  return reinterpret_cast<const sockaddr*>(b.Data());
}

Napi::Value R(Napi::Env env, long r) { return Napi::Number::New(env, r < 0 ? -errno : r); }

Napi::Value SockBind(const Napi::CallbackInfo& info) {
  socklen_t l;
  const sockaddr* a = Sa(info[1], &l);
  return R(info.Env(), bind(Fd(info), a, l));
}

Napi::Value SockConnect(const Napi::CallbackInfo& info) {
  socklen_t l;
  const sockaddr* a = Sa(info[1], &l);
  long r;
  do r = connect(Fd(info), a, l);
  while (r < 0 && errno == EINTR);
  return R(info.Env(), r);
}

Napi::Value SockListen(const Napi::CallbackInfo& info) {
  return R(info.Env(), listen(Fd(info), info[1].As<Napi::Number>().Int32Value()));
}

// netSockAccept(fd, nameOut: Buffer(128), lenOut: Int32Array) -> new fd or -errno.
Napi::Value SockAccept(const Napi::CallbackInfo& info) {
  auto name = info[1].As<Napi::Buffer<uint8_t>>();
  auto lenOut = info[2].As<Napi::Int32Array>();
  socklen_t l = (socklen_t)name.Length();
  long r;
  do r = accept4(Fd(info), reinterpret_cast<sockaddr*>(name.Data()), &l, SOCK_NONBLOCK | SOCK_CLOEXEC);
  while (r < 0 && errno == EINTR);
  if (r >= 0) lenOut[0] = (int32_t)l;
  return R(info.Env(), r);
}

// netSockSend(fd, buf, off, len, flags, to: Buffer|null[, ctl: Buffer]) -> bytes or -errno.
// ctl: IP-level ancillary data (IP_TTL, IP_TOS, IP_PKTINFO, IPV6_*) the Sentry built
// from checked values (src/net/send-cmsg.ts); never SCM_RIGHTS (refused here too).
Napi::Value SockSend(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto b = info[1].As<Napi::Buffer<uint8_t>>();
  size_t off = info[2].As<Napi::Number>().Uint32Value();
  size_t len = info[3].As<Napi::Number>().Uint32Value();
  int flags = info[4].As<Napi::Number>().Int32Value();
  if (off + len > b.Length()) return Fail(env, EINVAL);
  socklen_t l;
  const sockaddr* a = Sa(info[5], &l);
  long r;
  if (info.Length() > 6 && info[6].IsBuffer() && info[6].As<Napi::Buffer<uint8_t>>().Length() > 0) {
    auto ctl = info[6].As<Napi::Buffer<uint8_t>>();
    struct iovec iov = {b.Data() + off, len};
    struct msghdr m = {};
    m.msg_name = const_cast<sockaddr*>(a);
    m.msg_namelen = l;
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = ctl.Data();
    m.msg_controllen = ctl.Length();
    for (struct cmsghdr* c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
      if (c->cmsg_level == SOL_SOCKET) return Fail(env, EINVAL);
    do r = sendmsg(Fd(info), &m, flags | MSG_DONTWAIT | MSG_NOSIGNAL);
    while (r < 0 && errno == EINTR);
    return R(env, r);
  }
  do r = sendto(Fd(info), b.Data() + off, len, flags | MSG_DONTWAIT | MSG_NOSIGNAL, a, l);
  while (r < 0 && errno == EINTR);
  return R(env, r);
}

// netSockRecv(fd, buf, off, len, flags, name: Buffer(128), ctl: Buffer, out: Int32Array[3])
// -> bytes (or the datagram's length with MSG_TRUNC) or -errno; out = {namelen, ctllen, msg_flags}.
Napi::Value SockRecv(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto b = info[1].As<Napi::Buffer<uint8_t>>();
  size_t off = info[2].As<Napi::Number>().Uint32Value();
  size_t len = info[3].As<Napi::Number>().Uint32Value();
  int flags = info[4].As<Napi::Number>().Int32Value();
  auto name = info[5].As<Napi::Buffer<uint8_t>>();
  auto ctl = info[6].As<Napi::Buffer<uint8_t>>();
  auto out = info[7].As<Napi::Int32Array>();
  if (off + len > b.Length()) return Fail(env, EINVAL);
  struct iovec iov = {b.Data() + off, len};
  struct msghdr m = {};
  m.msg_name = name.Data();
  m.msg_namelen = (socklen_t)name.Length();
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = ctl.Length() ? ctl.Data() : nullptr;
  m.msg_controllen = ctl.Length();
  long r;
  do r = recvmsg(Fd(info), &m, flags | MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  while (r < 0 && errno == EINTR);
  if (r < 0) return R(env, r);
  // An inet socket carries no fds; were one to arrive, it is closed, never kept.
  for (struct cmsghdr* c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < n; i++) {
        int fd;
        memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
        close(fd);
      }
      c->cmsg_level = -1;
    }
  }
  out[0] = (int32_t)m.msg_namelen;
  out[1] = (int32_t)m.msg_controllen;
  out[2] = m.msg_flags;
  return Napi::Number::New(env, (double)r);
}

// Stream bytes between a host-mode socket and guest memory with no JS buffer: through one
// 256 KiB native buffer, so the second copy reads what the first left in the cache (a 1 MiB
// staging buffer went to memory and back between the two copies).
uint8_t g_streamBuf[256 << 10];

// The arguments (fd, pid, addr, len) of the two calls below.
struct GuestIo {
  int fd;
  pid_t pid;
  uint64_t addr;
  size_t len;
  explicit GuestIo(const Napi::CallbackInfo& info)
      : fd(Fd(info)),
        pid(info[1].As<Napi::Number>().Int32Value()),
        addr((uint64_t)info[2].As<Napi::Number>().Int64Value()),
        len((size_t)info[3].As<Napi::Number>().Int64Value()) {}
};

long RecvRetry(int fd, void* buf, size_t len, int flags) {
  long n;
  do n = recvfrom(fd, buf, len, flags, nullptr, nullptr);
  while (n < 0 && errno == EINTR);
  return n;
}

// netSockRecvToGuest(fd, pid, addr, len, checked, spill, spilled) -> bytes moved, or -errno
// when none did (EAGAIN: nothing queued). Unless checked, the bytes are peeked, copied,
// and only then taken off the host queue (MSG_TRUNC discards without a copy), so a bad
// guest range leaves them queued as Linux does. checked: the Sentry found the range
// writable private memory, so they are taken at once (one host call fewer per chunk,
// and the host frees its buffers and opens its window a copy earlier); the bytes of a
// chunk the write then fails for (a private file page past EOF, which faults as SIGBUS)
// are handed back in spill (a Buffer of at least 256 KiB), their count in spilled[0],
// and the Sentry reads them first from then on: none is lost (Linux keeps them queued).
// Stops at EOF, when the host queue is drained (a short read), or at len.
Napi::Value SockRecvToGuest(const Napi::CallbackInfo& info) {
  const GuestIo g(info);
  const bool checked = info.Length() > 6 && info[4].ToBoolean().Value();
  size_t done = 0;
  while (done < g.len) {
    size_t chunk = std::min(g.len - done, sizeof g_streamBuf);
    long n = RecvRetry(g.fd, g_streamBuf, chunk, MSG_DONTWAIT | (checked ? 0 : MSG_PEEK));
    if (n < 0) {
      if (done) break;
      return R(info.Env(), n);
    }
    if (n == 0) break;
    struct iovec local = {g_streamBuf, (size_t)n}, remote = {(void*)(g.addr + done), (size_t)n};
    ssize_t w = process_vm_writev(g.pid, &local, 1, &remote, 1, 0);
    size_t wrote = w > 0 ? (size_t)w : 0;
    if (checked && wrote < (size_t)n) {
      auto spill = info[5].As<Napi::Buffer<uint8_t>>();
      size_t k = std::min((size_t)n - wrote, spill.Length());
      memcpy(spill.Data(), g_streamBuf + wrote, k);
      info[6].As<Napi::Int32Array>()[0] = (int32_t)k;
    }
    if (!wrote) return done ? Napi::Number::New(info.Env(), (double)done) : Fail(info.Env(), EFAULT);
    if (!checked) RecvRetry(g.fd, nullptr, wrote, MSG_DONTWAIT | MSG_TRUNC);
    done += wrote;
    if (wrote < (size_t)n || (size_t)n < chunk) break;
  }
  return Napi::Number::New(info.Env(), (double)done);
}

// netSockSendFromGuest(fd, pid, addr, len) -> bytes the host socket took, or -errno when
// none (EAGAIN: its buffer is full; EFAULT: a bad guest range).
Napi::Value SockSendFromGuest(const Napi::CallbackInfo& info) {
  const GuestIo g(info);
  size_t done = 0;
  while (done < g.len) {
    size_t chunk = std::min(g.len - done, sizeof g_streamBuf);
    struct iovec local = {g_streamBuf, chunk}, remote = {(void*)(g.addr + done), chunk};
    ssize_t got = process_vm_readv(g.pid, &local, 1, &remote, 1, 0);
    if (got <= 0) {
      if (done) break;
      return Fail(info.Env(), EFAULT);
    }
    struct iovec iov = {g_streamBuf, (size_t)got};
    struct msghdr m = {};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    long n;
    do n = sendmsg(g.fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
      if (done) break;
      return R(info.Env(), n);
    }
    done += (size_t)n;
    if (n < got) break;  // the host's send buffer is full
  }
  return Napi::Number::New(info.Env(), (double)done);
}

// netSockName(fd, peer: bool, out: Buffer(128)) -> length or -errno.
Napi::Value SockName(const Napi::CallbackInfo& info) {
  auto out = info[2].As<Napi::Buffer<uint8_t>>();
  socklen_t l = (socklen_t)out.Length();
  sockaddr* a = reinterpret_cast<sockaddr*>(out.Data());
  long r = info[1].ToBoolean().Value() ? getpeername(Fd(info), a, &l) : getsockname(Fd(info), a, &l);
  return R(info.Env(), r < 0 ? r : (long)l);
}

// netSockGetOpt(fd, level, name, out: Buffer) -> length or -errno.
Napi::Value SockGetOpt(const Napi::CallbackInfo& info) {
  auto out = info[3].As<Napi::Buffer<uint8_t>>();
  socklen_t l = (socklen_t)out.Length();
  long r = getsockopt(Fd(info), info[1].As<Napi::Number>().Int32Value(), info[2].As<Napi::Number>().Int32Value(),
                      out.Data(), &l);
  return R(info.Env(), r < 0 ? r : (long)l);
}

Napi::Value SockSetOpt(const Napi::CallbackInfo& info) {
  auto v = info[3].As<Napi::Buffer<uint8_t>>();
  return R(info.Env(), setsockopt(Fd(info), info[1].As<Napi::Number>().Int32Value(),
                                  info[2].As<Napi::Number>().Int32Value(), v.Data(), (socklen_t)v.Length()));
}

Napi::Value SockShutdown(const Napi::CallbackInfo& info) {
  return R(info.Env(), shutdown(Fd(info), info[1].As<Napi::Number>().Int32Value()));
}

// netSockIoctlInt(fd, cmd): FIONREAD / SIOCOUTQ / SIOCOUTQNSD only -> value or -errno.
Napi::Value SockIoctlInt(const Napi::CallbackInfo& info) {
  unsigned long cmd = info[1].As<Napi::Number>().Uint32Value();
  if (cmd != FIONREAD && cmd != TIOCOUTQ && cmd != 0x894B /* SIOCOUTQNSD */) return Fail(info.Env(), ENOTTY);
  int v = 0;
  long r = ioctl(Fd(info), cmd, &v);
  return R(info.Env(), r < 0 ? r : v);
}

// netSockPoll(fd, events) -> revents now (0 when none), or -errno.
Napi::Value SockPoll(const Napi::CallbackInfo& info) {
  struct pollfd p = {Fd(info), (short)info[1].As<Napi::Number>().Int32Value(), 0};
  long r = poll(&p, 1, 0);
  return R(info.Env(), r < 0 ? r : p.revents);
}


// One host epoll set (edge-triggered) for all host-mode sockets: its fd is on the
// Sentry's host poller, and each edge wakes the socket's wait queue, so the guest's
// epoll ET sees the host's edges, not a level re-reported on every poll.
// netEpollCreate() -> epfd; netEpollAdd(epfd, fd) / netEpollDel(epfd, fd);
// netEpollWait(epfd, out: Int32Array of 2n) -> n pairs {fd, events}, never blocking.
Napi::Value EpollCreate(const Napi::CallbackInfo& info) {
  return R(info.Env(), epoll_create1(EPOLL_CLOEXEC));
}

Napi::Value EpollCtl(const Napi::CallbackInfo& info, int op) {
  int ep = info[0].As<Napi::Number>().Int32Value();
  int fd = info[1].As<Napi::Number>().Int32Value();
  struct epoll_event ev = {};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLPRI | EPOLLRDHUP | EPOLLET;
  ev.data.fd = fd;
  return R(info.Env(), epoll_ctl(ep, op, fd, &ev));
}
Napi::Value EpollAdd(const Napi::CallbackInfo& info) { return EpollCtl(info, EPOLL_CTL_ADD); }
Napi::Value EpollDel(const Napi::CallbackInfo& info) { return EpollCtl(info, EPOLL_CTL_DEL); }

Napi::Value EpollWait(const Napi::CallbackInfo& info) {
  int ep = info[0].As<Napi::Number>().Int32Value();
  auto out = info[1].As<Napi::Int32Array>();
  struct epoll_event evs[128];
  int max = (int)std::min<size_t>(128, out.ElementLength() / 2);
  int n = epoll_wait(ep, evs, max, 0);
  if (n < 0) return R(info.Env(), n);
  for (int i = 0; i < n; i++) {
    out[2 * i] = evs[i].data.fd;
    out[2 * i + 1] = (int32_t)evs[i].events;
  }
  return Napi::Number::New(info.Env(), n);
}

}  // namespace

void InitNetSock(Napi::Env env, Napi::Object exports) {
  exports.Set("netSockBind", Napi::Function::New(env, SockBind));
  exports.Set("netSockConnect", Napi::Function::New(env, SockConnect));
  exports.Set("netSockListen", Napi::Function::New(env, SockListen));
  exports.Set("netSockAccept", Napi::Function::New(env, SockAccept));
  exports.Set("netSockSend", Napi::Function::New(env, SockSend));
  exports.Set("netSockRecv", Napi::Function::New(env, SockRecv));
  exports.Set("netSockRecvToGuest", Napi::Function::New(env, SockRecvToGuest));
  exports.Set("netSockSendFromGuest", Napi::Function::New(env, SockSendFromGuest));
  exports.Set("netSockName", Napi::Function::New(env, SockName));
  exports.Set("netSockGetOpt", Napi::Function::New(env, SockGetOpt));
  exports.Set("netSockSetOpt", Napi::Function::New(env, SockSetOpt));
  exports.Set("netSockShutdown", Napi::Function::New(env, SockShutdown));
  exports.Set("netSockIoctlInt", Napi::Function::New(env, SockIoctlInt));
  exports.Set("netSockPoll", Napi::Function::New(env, SockPoll));
  exports.Set("netEpollCreate", Napi::Function::New(env, EpollCreate));
  exports.Set("netEpollAdd", Napi::Function::New(env, EpollAdd));
  exports.Set("netEpollDel", Napi::Function::New(env, EpollDel));
  exports.Set("netEpollWait", Napi::Function::New(env, EpollWait));
}

}  // namespace tss
