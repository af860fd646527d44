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
//  - netSock*, netEpoll*: the calls on a host-mode socket, in native/net_sock.cc.
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

}  // namespace

void InitNetHost(Napi::Env env, Napi::Object exports) {
  exports.Set("netOpenPacket", Napi::Function::New(env, OpenPacket));
  exports.Set("netOpenTap", Napi::Function::New(env, OpenTap));
  exports.Set("netRecv", Napi::Function::New(env, Recv));
  exports.Set("netSend", Napi::Function::New(env, Send));
  exports.Set("netClose", Napi::Function::New(env, Close));
  exports.Set("netBrokerStart", Napi::Function::New(env, BrokerStart));
  exports.Set("netBrokerSocket", Napi::Function::New(env, BrokerSocket));
}

}  // namespace tss
