// Host side of the network stack (src/net/fd-link.ts, src/net/host-net.ts): opening the
// interface the Sentry drives in sandbox mode, inside a network namespace, and moving
// Ethernet frames through it without blocking.
//
//  - netOpenPacket(nsPath, ifname): AF_PACKET/SOCK_RAW bound to ifname in the namespace
//    at nsPath ("" = the current one), with PACKET_VNET_HDR (frames carry a
//    virtio_net_hdr: checksum-offloaded and GSO frames from the peer are recognised) and
//    PACKET_IGNORE_OUTGOING (our own transmissions do not loop back).
//  - netOpenTap(nsPath, ifname): a TAP device (IFF_TAP|IFF_NO_PI|IFF_VNET_HDR), created
//    or attached in that namespace.
//  - netRecv(fd, buf) / netSend(fd, buf, off, len): one frame, nonblocking (-EAGAIN).
//  - netBrokerStart(): forks the socket broker (network mode "host"), see below.
//  - netBrokerSocket(ch, domain, type, protocol): a host socket made by the broker.
//  - netSock*: the calls of a host-mode socket on the host fd the Sentry holds for the
//    guest (src/net/host-socket.ts): bind, connect, listen, accept, sendmsg, recvmsg,
//    names, options, shutdown, FIONREAD/SIOCOUTQ. The guest never holds these fds.
//    netSockRecvToGuest / netSockSendFromGuest: read(2)/write(2) of a stream straight
//    between that fd and guest memory.
//  - netEpoll*: the edge-triggered host epoll set those sockets' readiness comes from.
// The namespace is entered by this thread only (setns) for the socket()/open() call and
// left again at once: a socket stays in the namespace it was created in.
#include "common.h"
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <net/ethernet.h>
#include <arpa/inet.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#include <csignal>
#include <poll.h>
#include <sys/epoll.h>
#include <algorithm>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include "seccomp_bpf.h"
#include "keep_caps.h"

namespace tss {

namespace {

struct NsGuard {
  int self = -1;
  int err = 0;
  explicit NsGuard(const std::string& path) {
    if (path.empty()) return;
    self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (self < 0) {
      err = errno;
      return;
    }
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      err = errno;
      return;
    }
    if (setns(fd, CLONE_NEWNET) != 0) err = errno;
    close(fd);
  }
  ~NsGuard() {
    if (self >= 0) {
      if (setns(self, CLONE_NEWNET) != 0) {
        // Cannot happen unless the kernel refuses going back: better die than serve the wrong namespace.
        abort();
      }
      close(self);
    }
  }
};

Napi::Value Fail(Napi::Env env, int e) { return Napi::Number::New(env, -e); }

// {fd, ifindex, mac: Buffer, mtu} or -errno.
Napi::Value Describe(Napi::Env env, int fd, const char* name) {
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
  if (ioctl(fd, SIOCGIFINDEX, &ifr) != 0) return Fail(env, errno);
  int index = ifr.ifr_ifindex;
  if (ioctl(fd, SIOCGIFHWADDR, &ifr) != 0) return Fail(env, errno);
  auto mac = Napi::Buffer<uint8_t>::Copy(env, reinterpret_cast<uint8_t*>(ifr.ifr_hwaddr.sa_data), 6);
  if (ioctl(fd, SIOCGIFMTU, &ifr) != 0) return Fail(env, errno);
  auto o = Napi::Object::New(env);
  o.Set("fd", fd);
  o.Set("ifindex", index);
  o.Set("mac", mac);
  o.Set("mtu", ifr.ifr_mtu);
  return o;
}

Napi::Value OpenPacket(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string ns = info[0].As<Napi::String>().Utf8Value();
  std::string name = info[1].As<Napi::String>().Utf8Value();
  if (name.size() >= IFNAMSIZ) return Fail(env, EINVAL);
  int fd;
  {
    NsGuard g(ns);
    if (g.err) return Fail(env, g.err);
    fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_ALL));
    if (fd < 0) return Fail(env, errno);
  }
  int one = 1;
  if (setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof one) != 0) {
    int e = errno;
    close(fd);
    return Fail(env, e);
  }
#ifdef PACKET_IGNORE_OUTGOING
  setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one);
#endif
  int buf = 8 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof buf);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof buf);
  Napi::Value d = Describe(env, fd, name.c_str());
  if (d.IsNumber()) {
    close(fd);
    return d;
  }
  struct sockaddr_ll sll;
  memset(&sll, 0, sizeof sll);
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(ETH_P_ALL);
  sll.sll_ifindex = d.As<Napi::Object>().Get("ifindex").As<Napi::Number>().Int32Value();
  if (bind(fd, reinterpret_cast<sockaddr*>(&sll), sizeof sll) != 0) {
    int e = errno;
    close(fd);
    return Fail(env, e);
  }
  return d;
}

Napi::Value OpenTap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string ns = info[0].As<Napi::String>().Utf8Value();
  std::string name = info[1].As<Napi::String>().Utf8Value();
  if (name.size() >= IFNAMSIZ) return Fail(env, EINVAL);
  int fd, ctl;
  {
    NsGuard g(ns);
    if (g.err) return Fail(env, g.err);
    fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return Fail(env, errno);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
    if (ioctl(fd, TUNSETIFF, &ifr) != 0) {
      int e = errno;
      close(fd);
      return Fail(env, e);
    }
    int hdr = 10;
    ioctl(fd, TUNSETVNETHDRSZ, &hdr);
    ctl = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (ctl < 0) {
      int e = errno;
      close(fd);
      return Fail(env, e);
    }
  }
  Napi::Value d = Describe(env, ctl, name.c_str());
  close(ctl);
  if (d.IsNumber()) {
    close(fd);
    return d;
  }
  d.As<Napi::Object>().Set("fd", fd);
  return d;
}

Napi::Value Recv(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  auto b = info[1].As<Napi::Buffer<uint8_t>>();
  ssize_t n;
  do n = read(fd, b.Data(), b.Length());
  while (n < 0 && errno == EINTR);
  return Napi::Number::New(env, n < 0 ? -errno : n);
}

Napi::Value Send(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  auto b = info[1].As<Napi::Buffer<uint8_t>>();
  size_t off = info[2].As<Napi::Number>().Uint32Value();
  size_t len = info[3].As<Napi::Number>().Uint32Value();
  if (off + len > b.Length()) return Fail(env, EINVAL);
  ssize_t n;
  do n = write(fd, b.Data() + off, len);
  while (n < 0 && errno == EINTR);
  return Napi::Number::New(env, n < 0 ? -errno : n);
}

Napi::Value Close(const Napi::CallbackInfo& info) {
  int fd = info[0].As<Napi::Number>().Int32Value();
  return Napi::Number::New(info.Env(), close(fd) == 0 ? 0 : -errno);
}


// ---------------------------------------------------------------------------------
// The socket broker. In network mode "host" the guest's sockets are host sockets, but
// the confined Sentry may create no socket but AF_UNIX (native/sentry_confine.cc keeps
// that rule in every mode). The broker, forked before the Sentry confines itself, makes
// them: it answers {domain, type, protocol} on a SOCK_SEQPACKET pair with the new fd
// (SCM_RIGHTS) or -errno, and makes only TCP, UDP, UDP-Lite and ping sockets of
// AF_INET/AF_INET6. It holds no capability, and its own seccomp filter lets it do
// nothing else (socket, recvmsg, sendmsg, close, exit). It dies with the Sentry.

constexpr int kBrokerSock = 3;

// One int32 result and, optionally, one fd (SCM_RIGHTS): the broker's reply.
struct FdMsg {
  int32_t res = 0;
  struct iovec iov;
  struct msghdr m = {};
  union {  // last: cmsghdr ends in a flexible array
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } u;
  FdMsg() {
    iov = {&res, sizeof res};
    memset(&u, 0, sizeof u);
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = u.buf;
    m.msg_controllen = sizeof u.buf;
  }
  void Attach(int fd) {
    struct cmsghdr* c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof fd);
  }
  void NoFd() {
    m.msg_control = nullptr;
    m.msg_controllen = 0;
  }
  int Fd() {
    int fd = -1;
    for (struct cmsghdr* c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len == CMSG_LEN(sizeof(int)))
        memcpy(&fd, CMSG_DATA(c), sizeof fd);
    return fd;
  }
};

bool BrokerAllows(int domain, int type, int protocol) {
  if (domain != AF_INET && domain != AF_INET6) return false;
  int base = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (base == SOCK_STREAM) return protocol == 0 || protocol == IPPROTO_TCP;
  if (base == SOCK_DGRAM)
    return protocol == 0 || protocol == IPPROTO_UDP || protocol == IPPROTO_UDPLITE ||
           (domain == AF_INET && protocol == IPPROTO_ICMP) || (domain == AF_INET6 && protocol == IPPROTO_ICMPV6);
  return false;
}

[[noreturn]] void BrokerMain() {
  for (;;) {
    int32_t req[3];
    ssize_t n = recv(kBrokerSock, req, sizeof req, 0);
    if (n == 0) _exit(0);
    if (n < 0) {
      if (errno == EINTR) continue;
      _exit(1);
    }
    int32_t res = -EINVAL;
    int fd = -1;
    if (n == (ssize_t)sizeof req && BrokerAllows(req[0], req[1], req[2])) {
      int base = req[1] & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
      fd = socket(req[0], base | SOCK_NONBLOCK | SOCK_CLOEXEC, req[2]);
      res = fd < 0 ? -errno : 0;
    } else if (n == (ssize_t)sizeof req) {
      res = -EPROTONOSUPPORT;
    }
    FdMsg msg;
    msg.res = res;
    if (fd >= 0) msg.Attach(fd);
    else msg.NoFd();
    ssize_t w;
    do w = sendmsg(kBrokerSock, &msg.m, MSG_NOSIGNAL);
    while (w < 0 && errno == EINTR);
    if (fd >= 0) close(fd);
    if (w < 0) _exit(1);
  }
}

size_t BrokerFilter(struct sock_filter* buf, size_t cap) {
  BpfProg b(buf, cap);
  b.Prologue();
  static const int allow[] = {SYS_socket, SYS_recvfrom, SYS_recvmsg, SYS_sendmsg, SYS_close,
                              SYS_exit, SYS_exit_group, SYS_rt_sigreturn, SYS_restart_syscall};
  for (int nr : allow) b.Rule((uint32_t)nr, SECCOMP_RET_ALLOW);
  b.Ret(SECCOMP_RET_KILL_PROCESS);
  return b.overflow ? 0 : b.n;
}

// netBrokerStart() -> {fd, pid} (the Sentry's end of the pair) or -errno.
Napi::Value BrokerStart(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  static struct sock_filter filt[64];
  size_t len = BrokerFilter(filt, 64);
  if (!len) return Fail(env, E2BIG);
  int sv[2];
  pid_t parent = getpid();
  pid_t pid = ForkWithSeqpacket(sv);
  if (pid < 0) return Fail(env, -pid);
  if (pid == 0) {
    // Only what is async-signal-safe: the Sentry is multi-threaded.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(0);
    prctl(PR_SET_NAME, "tss-net-broker");
    setpgid(0, 0);
    ResetSignalsInChild();
    if (dup2(sv[1], kBrokerSock) != kBrokerSock) _exit(120);
    syscall(SYS_close_range, 0, 1, 0);  // stderr (2) stays for a dying message
    syscall(SYS_close_range, kBrokerSock + 1, ~0U, 0);
    KeepOnlyCaps(0);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) _exit(121);
    struct sock_fprog prog = {(unsigned short)len, filt};
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) _exit(122);
    BrokerMain();
  }
  close(sv[1]);
  auto o = Napi::Object::New(env);
  o.Set("fd", sv[0]);
  o.Set("pid", pid);
  return o;
}

// netBrokerSocket(ch, domain, type, protocol) -> host fd (nonblocking, cloexec) or -errno.
Napi::Value BrokerSocket(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int ch = info[0].As<Napi::Number>().Int32Value();
  int32_t req[3] = {info[1].As<Napi::Number>().Int32Value(), info[2].As<Napi::Number>().Int32Value(),
                    info[3].As<Napi::Number>().Int32Value()};
  ssize_t w;
  do w = send(ch, req, sizeof req, MSG_NOSIGNAL);
  while (w < 0 && errno == EINTR);
  if (w < 0) return Fail(env, errno == EPIPE ? ENOBUFS : errno);
  FdMsg msg;
  ssize_t n;
  do n = recvmsg(ch, &msg.m, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n < 0) return Fail(env, errno);
  if (n != (ssize_t)sizeof msg.res) return Fail(env, ENOBUFS);
  int fd = msg.Fd();
  int32_t res = msg.res;
  if (res < 0) {
    if (fd >= 0) close(fd);
    return Napi::Number::New(env, res);
  }
  return Napi::Number::New(env, fd < 0 ? -ENOBUFS : fd);
}

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

// netSockRecvToGuest(fd, pid, addr, len, checked) -> bytes moved, or -errno when none did
// (EAGAIN: nothing queued). Unless checked, the bytes are peeked, copied, and only then
// taken off the host queue (MSG_TRUNC discards without a copy), so a bad guest range
// leaves them queued as Linux does. checked: the Sentry found the range writable
// private memory, so they are taken at once (one host call fewer per chunk, and the
// host frees its buffers and opens its window a copy earlier); a write that fails then
// (a concurrent munmap, a private file page past EOF) loses the chunk's bytes, the
// guest's own. Stops at EOF, when the host queue is drained (a short read), or at len.
Napi::Value SockRecvToGuest(const Napi::CallbackInfo& info) {
  const GuestIo g(info);
  const bool checked = info.Length() > 4 && info[4].ToBoolean().Value();
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
    if (w <= 0) return done ? Napi::Number::New(info.Env(), (double)done) : Fail(info.Env(), EFAULT);
    if (!checked) RecvRetry(g.fd, nullptr, (size_t)w, MSG_DONTWAIT | MSG_TRUNC);
    done += (size_t)w;
    if (w < n || (size_t)n < chunk) break;
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

void InitNetHost(Napi::Env env, Napi::Object exports) {
  exports.Set("netOpenPacket", Napi::Function::New(env, OpenPacket));
  exports.Set("netOpenTap", Napi::Function::New(env, OpenTap));
  exports.Set("netRecv", Napi::Function::New(env, Recv));
  exports.Set("netSend", Napi::Function::New(env, Send));
  exports.Set("netClose", Napi::Function::New(env, Close));
  exports.Set("netBrokerStart", Napi::Function::New(env, BrokerStart));
  exports.Set("netBrokerSocket", Napi::Function::New(env, BrokerSocket));
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
