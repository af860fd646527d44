// `run --netns PATH` / `--tap NAME` with the Sentry in a user namespace of its own
// (sentry_launch.cc). Taking over a host network namespace needs the host's privileges
// over it: setns (CAP_SYS_ADMIN over the user namespace owning it), AF_PACKET sockets
// (CAP_NET_RAW there), TUNSETIFF (CAP_NET_ADMIN unless the TAP is the caller's) and
// removing the addresses the sandbox now answers for (CAP_NET_ADMIN). The Sentry has
// none of them outside its namespace, so the front does what src/net/setup.ts
// `attachNamespace` did on the old path, before it unshares, and hands on fds only:
//   - it enters the namespace (and comes back: the Sentry stays in the host's, where
//     --publish binds and host sockets live, as on the old path),
//   - records `ip -d -j addr show` and the main table's v4/v6 routes into memfds (the
//     Sentry parses them as it parsed `ip`'s output before),
//   - opens an AF_PACKET socket per Ethernet interface, or the TAP (--tap: only that
//     one), with net_host.cc netOpenPacket/netOpenTap's options,
//   - and the gofer-to-be (root outside, in the host's user namespace) removes the
//     namespace's addresses from those interfaces once the unshare has succeeded, so a
//     run that falls back to the old path finds the namespace as it was.
// Each fd is passed as --tss-net=FD:packet|tap:NAME, the records as
// --tss-netinfo=ADDR,ROUTE4,ROUTE6 (bin/tssandbox, src/platform/launched-files.ts).
// Anything that fails here keeps the old path, which says why.
#pragma once
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <linux/ethtool.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <arpa/inet.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace tss_launch {

struct NetIf {
  char name[IFNAMSIZ];
  bool tap;
  int fd;
};
constexpr int kMaxNetIfs = 16;

struct NetTakeover {
  int nsfd = -1;  // the namespace taken over; -1: the front's own (--tap alone)
  NetIf ifs[kMaxNetIfs];
  int nifs = 0;
  int info[3] = {-1, -1, -1};  // memfds: addr show, -4 route, -6 route
};

inline void CloseNet(NetTakeover* t) {
  for (int i = 0; i < t->nifs; i++) close(t->ifs[i].fd);
  for (int& fd : t->info)
    if (fd >= 0) close(fd), fd = -1;
  if (t->nsfd >= 0) close(t->nsfd), t->nsfd = -1;
  t->nifs = 0;
}

// fork() without the atfork handlers: the OCI takeover's helper (oci_net.cc) is a fork of
// Node, whose libuv handler would close and remake its pipe's fds, by then other fds (the
// records' memfds). Both callers are single-threaded.
inline pid_t ForkPlain() { return (pid_t)syscall(SYS_clone, SIGCHLD, 0, nullptr, nullptr, 0); }

// Runs `ip ARGS` (as execvp finds it, as the old path's execFileSync did) in this process's
// network namespace, its stdout into out (a memfd, rewound; -1: none). Its complaints are
// not the user's: a failure here keeps the old path, which names the error.
inline bool RunIp(const char* const* args, int out) {
  pid_t p = ForkPlain();
  if (p < 0) return false;
  if (p == 0) {
    int null = open("/dev/null", O_RDWR);
    if (null < 0 || dup2(null, 0) < 0 || dup2(out >= 0 ? out : null, 1) < 0 || dup2(null, 2) < 0) _exit(127);
    syscall(SYS_close_range, 3, ~0U, 0);  // nothing of the front's (the Sentry's fds, the netns)
    execvp("ip", const_cast<char* const*>(args));
    _exit(127);
  }
  int st;
  while (waitpid(p, &st, 0) < 0)
    if (errno != EINTR) return false;
  return WIFEXITED(st) && WEXITSTATUS(st) == 0 && (out < 0 || lseek(out, 0, SEEK_SET) == 0);
}

inline int OpenPacketFd(const char* name) {
  int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_ALL));
  if (fd < 0) return -1;
  int one = 1;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
  bool ok = setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof one) == 0 && ioctl(fd, SIOCGIFINDEX, &ifr) == 0;
#ifdef PACKET_IGNORE_OUTGOING
  setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one);
#endif
  int buf = 8 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof buf);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof buf);
  struct sockaddr_ll sll;
  memset(&sll, 0, sizeof sll);
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(ETH_P_ALL);
  sll.sll_ifindex = ifr.ifr_ifindex;
  if (!ok || bind(fd, reinterpret_cast<sockaddr*>(&sll), sizeof sll) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

inline int OpenTapFd(const char* name) {
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return -1;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
  if (ioctl(fd, TUNSETIFF, &ifr) != 0) {
    close(fd);
    return -1;
  }
  int hdr = 10;
  ioctl(fd, TUNSETVNETHDRSZ, &hdr);
  return fd;
}

// Is `name` Ethernet (as `ip` says link/ether), and a TAP (the tun driver, bus "tap")?
inline bool Classify(int ctl, const char* name, bool* ether, bool* tap) {
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
  if (ioctl(ctl, SIOCGIFHWADDR, &ifr) != 0) return false;
  *ether = ifr.ifr_hwaddr.sa_family == ARPHRD_ETHER;
  struct ethtool_drvinfo info;
  memset(&info, 0, sizeof info);
  info.cmd = ETHTOOL_GDRVINFO;
  ifr.ifr_data = reinterpret_cast<char*>(&info);
  *tap = ioctl(ctl, SIOCETHTOOL, &ifr) == 0 && strcmp(info.driver, "tun") == 0 && strcmp(info.bus_info, "tap") == 0;
  return true;
}

// In the namespace (entered by the caller): the records and the interfaces' fds.
inline bool TakeOverHere(const char* tap, NetTakeover* t) {
  static const char* const addr[] = {"ip", "-d", "-j", "addr", "show", nullptr};
  static const char* const r4[] = {"ip", "-j", "-4", "route", "show", "table", "main", nullptr};
  static const char* const r6[] = {"ip", "-j", "-6", "route", "show", "table", "main", nullptr};
  static const char* const* cmds[] = {addr, r4, r6};
  for (int i = 0; i < 3; i++) {
    t->info[i] = memfd_create("tss-netinfo", MFD_CLOEXEC);
    if (t->info[i] < 0 || !RunIp(cmds[i], t->info[i])) return false;
  }
  struct if_nameindex* names = if_nameindex();
  if (!names) return false;
  int ctl = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  bool ok = ctl >= 0, found = tap == nullptr;
  for (struct if_nameindex* n = names; ok && n->if_index != 0; n++) {
    bool ether = false, isTap = false;
    if (tap && strcmp(n->if_name, tap) != 0) continue;
    if (!Classify(ctl, n->if_name, &ether, &isTap)) {
      ok = false;
      break;
    }
    if (tap) {
      found = true;
      if (!isTap || !ether) ok = false;  // the old path names what it is
    }
    if (!ether || !ok) continue;
    if (t->nifs == kMaxNetIfs || strlen(n->if_name) >= IFNAMSIZ) {
      ok = false;
      break;
    }
    NetIf& f = t->ifs[t->nifs];
    snprintf(f.name, sizeof f.name, "%s", n->if_name);
    f.tap = isTap;
    f.fd = isTap ? OpenTapFd(f.name) : OpenPacketFd(f.name);
    if (f.fd < 0) ok = false;
    else t->nifs++;
  }
  if (ctl >= 0) close(ctl);
  if_freenameindex(names);
  return ok && found;
}

// netns: the --netns path or nullptr; tap: the --tap name or nullptr. False: nothing kept
// open, the front's own namespace unchanged (or the front must not go on at all: it aborts
// rather than serve the wrong namespace).
inline bool TakeOverNetwork(const char* netns, const char* tap, NetTakeover* t) {
  int self = -1;
  if (netns) {
    self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    t->nsfd = open(netns, O_RDONLY | O_CLOEXEC);
    if (self < 0 || t->nsfd < 0 || setns(t->nsfd, CLONE_NEWNET) != 0) {
      if (self >= 0) close(self);
      CloseNet(t);
      return false;
    }
  }
  bool ok = TakeOverHere(tap, t);
  if (self >= 0) {
    if (setns(self, CLONE_NEWNET) != 0) abort();  // cannot happen: never run in the wrong one
    close(self);
  }
  if (!ok) CloseNet(t);
  return ok;
}

// Run by the gofer-to-be, outside, once the Sentry's namespace exists: the namespace's
// kernel must no longer answer for the addresses the sandbox's stack took over (as runsc,
// the sandbox owns the namespace for good). A failure is left as the old path left it (a
// --debug line there; here the run goes on).
inline void FlushAddresses(const NetTakeover& t) {
  for (int i = 0; i < t.nifs; i++) {
    pid_t p = ForkPlain();
    if (p < 0) return;
    if (p == 0) {
      if (t.nsfd >= 0 && setns(t.nsfd, CLONE_NEWNET) != 0) _exit(1);
      const char* const args[] = {"ip", "addr", "flush", "dev", t.ifs[i].name, nullptr};
      _exit(RunIp(args, -1) ? 0 : 1);
    }
    int st;
    while (waitpid(p, &st, 0) < 0 && errno == EINTR) {
    }
  }
}

}  // namespace tss_launch
