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
#include <unistd.h>

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

}  // namespace

void InitNetHost(Napi::Env env, Napi::Object exports) {
  exports.Set("netOpenPacket", Napi::Function::New(env, OpenPacket));
  exports.Set("netOpenTap", Napi::Function::New(env, OpenTap));
  exports.Set("netRecv", Napi::Function::New(env, Recv));
  exports.Set("netSend", Napi::Function::New(env, Send));
  exports.Set("netClose", Napi::Function::New(env, Close));
}

}  // namespace tss
