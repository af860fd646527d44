// The container's network taken over by a helper, so that the Sentry confines itself
// before it reads the image even when a create hook (Docker's libnetwork prestart hook)
// configures the network namespace after the Sentry is built. The takeover needs
// CAP_NET_RAW (AF_PACKET) and CAP_NET_ADMIN (removing the addresses the sandbox answers
// for), which confinement removes. So, before confining, the Sentry forks this helper
// (ociNetHelper), in the container's network namespace (the forking thread's), with
// only those two capabilities and no fd but its socket; it waits. Once the hooks have
// run, the confined Sentry says "go" (a byte on the socket): the helper does what
// `run --netns`'s front does (launch_netns.h: the `ip` records into memfds, an AF_PACKET
// socket per Ethernet interface, then the addresses flushed), sends the fds over the
// socket and exits. The Sentry keeps the fds only (src/oci/network.ts takeNetwork).
// The helper dies with the Sentry (PDEATHSIG) and on the socket's EOF.
#include "common.h"
#include "keep_caps.h"
#include "oci_fds.h"
#include "launch_netns.h"
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace tss {

namespace {

[[noreturn]] void Helper(int sock, pid_t parent) {
  // Node's handlers (libuv's SIGCHLD one writes to its pipe's fd number, which is some
  // other fd here once they are closed) must not run in this copy of it.
  ResetSignalsInChild();
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(1);
  prctl(PR_SET_NAME, "tss-net-helper");
  // No fd of the Sentry's but the socket (at 3); only the two capabilities (bounding too:
  // the `ip` it runs as root gets no more).
  if (!KeepOnlyFd(sock)) _exit(1);
  if (!KeepOnlyCaps((1ull << CAP_NET_ADMIN) | (1ull << CAP_NET_RAW))) _exit(1);
  char go;
  ssize_t r;
  while ((r = read(3, &go, 1)) < 0 && errno == EINTR) {
  }
  if (r != 1) _exit(0);  // the Sentry gave up (a failed create): nothing touched
  tss_launch::NetTakeover t;
  char text[1024];
  int fds[3 + tss_launch::kMaxNetIfs];
  int nfds = 0;
  size_t k = 0;
  // Nothing but lo (Docker's --network=none): nothing to take over, and the three `ip`
  // runs that would find that out cost more than the rest of create after the hook.
  bool onlyLo = true;
  if (struct if_nameindex* names = if_nameindex()) {
    for (struct if_nameindex* n = names; n->if_index != 0; n++) onlyLo = onlyLo && strcmp(n->if_name, "lo") == 0;
    if_freenameindex(names);
  } else {
    onlyLo = false;
  }
  if (onlyLo) {
    k = (size_t)snprintf(text, sizeof text, "none\n");
  } else if (!tss_launch::TakeOverHere(nullptr, &t)) {
    tss_launch::CloseNet(&t);
    k = (size_t)snprintf(text, sizeof text, "error\n");
  } else {
    // Recorded and opened: now the namespace's kernel stops answering for the addresses.
    tss_launch::FlushAddresses(t);
    k = (size_t)snprintf(text, sizeof text, "ok\n");
    // `ip -j` prints nothing for an empty table (no IPv6 in Docker's namespaces): none is [].
    for (int i = 0; i < 3; i++) {
      struct stat st;
      if (fstat(t.info[i], &st) == 0 && st.st_size == 0 && write(t.info[i], "[]", 2) == 2) lseek(t.info[i], 0, SEEK_SET);
      fds[nfds++] = t.info[i];
    }
    for (int i = 0; i < t.nifs && k < sizeof text; i++) {
      k += (size_t)snprintf(text + k, sizeof text - k, "%s %s\n", t.ifs[i].name, t.ifs[i].tap ? "tap" : "packet");
      fds[nfds++] = t.ifs[i].fd;
    }
  }
  ociSendFds(3, text, k < sizeof text ? k : sizeof text - 1, fds, nfds);
  _exit(0);
}

// ociNetHelper(): [pid, socket] of the helper (the socket close-on-exec, a SOCK_SEQPACKET
// pair's end), or -errno.
Napi::Value NetHelperFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int sv[2];
  pid_t parent = getpid();
  pid_t pid = ForkWithSeqpacket(sv);
  if (pid < 0) return Num(env, pid);
  if (pid == 0) Helper(sv[1], parent);
  close(sv[1]);
  Napi::Array a = Napi::Array::New(env, 2);
  a.Set(0u, Num(env, pid));
  a.Set(1u, Num(env, sv[0]));
  return a;
}

}  // namespace

void InitOciNet(Napi::Env env, Napi::Object exports) {
  exports["ociNetHelper"] = Napi::Function::New(env, NetHelperFn);
}

}  // namespace tss
