// Host calls of the OCI runtime mode (src/oci/) that Node lacks: the control socket
// (a unix stream socket whose messages may carry fds, SCM_RIGHTS), a host pty for
// --console-socket, flock(2) for the per-container lock, and the window size of a pty.
// All synchronous; failures come back as -errno. Registered by tss::InitOci.
#include "common.h"
#include "oci_fds.h"
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

namespace tss {

static uint8_t* Bytes(const Napi::CallbackInfo& info, int i, size_t* len) {
  Napi::TypedArray ta = info[i].As<Napi::TypedArray>();
  *len = ta.ByteLength();
  return static_cast<uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
}

// A sockaddr_un for path; a path too long for sun_path is reached through its directory
// (/proc/self/fd/N/name), N returned in *dirfd to close afterwards.
static int Addr(const std::string& path, struct sockaddr_un* sa, int* dirfd) {
  memset(sa, 0, sizeof *sa);
  sa->sun_family = AF_UNIX;
  *dirfd = -1;
  std::string p = path;
  if (p.size() >= sizeof sa->sun_path) {
    size_t slash = p.rfind('/');
    if (slash == std::string::npos) return -ENAMETOOLONG;
    std::string dir = slash == 0 ? "/" : p.substr(0, slash);
    *dirfd = open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (*dirfd < 0) return -errno;
    p = "/proc/self/fd/" + std::to_string(*dirfd) + "/" + p.substr(slash + 1);
    if (p.size() >= sizeof sa->sun_path) {
      close(*dirfd);
      *dirfd = -1;
      return -ENAMETOOLONG;
    }
  }
  memcpy(sa->sun_path, p.c_str(), p.size());
  return 0;
}

// ociListen(path): a listening, non-blocking, close-on-exec stream socket bound at path.
static Napi::Value Listen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  struct sockaddr_un sa;
  int dirfd;
  int r = Addr(info[0].As<Napi::String>().Utf8Value(), &sa, &dirfd);
  if (r < 0) return Num(env, r);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) r = -errno;
  else if (bind(fd, (struct sockaddr*)&sa, sizeof sa) != 0 || listen(fd, 64) != 0) {
    r = -errno;
    close(fd);
  } else {
    r = fd;
  }
  if (dirfd >= 0) close(dirfd);
  return Num(env, r);
}

// ociConnect(path): a connected, blocking, close-on-exec stream socket.
static Napi::Value Connect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  struct sockaddr_un sa;
  int dirfd;
  int r = Addr(info[0].As<Napi::String>().Utf8Value(), &sa, &dirfd);
  if (r < 0) return Num(env, r);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) r = -errno;
  else {
    int c;
    do {
      c = connect(fd, (struct sockaddr*)&sa, sizeof sa);
    } while (c != 0 && errno == EINTR);
    if (c != 0) {
      r = -errno;
      close(fd);
    } else {
      r = fd;
    }
  }
  if (dirfd >= 0) close(dirfd);
  return Num(env, r);
}

// ociAccept(fd): a new connection (non-blocking, close-on-exec) or -EAGAIN.
static Napi::Value Accept(const Napi::CallbackInfo& info) {
  int fd = info[0].As<Napi::Number>().Int32Value();
  int c = accept4(fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
  return Num(info.Env(), c < 0 ? -errno : c);
}

// ociSend(sock, buf, len, fds, nfds): sends len bytes of buf with nfds fds; bytes or -errno.
static Napi::Value Send(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int sock = info[0].As<Napi::Number>().Int32Value();
  size_t blen;
  uint8_t* data = Bytes(info, 1, &blen);
  size_t len = info[2].As<Napi::Number>().Uint32Value();
  if (len > blen) len = blen;
  int nfds = 0;
  int32_t* fds = nullptr;
  if (info.Length() > 4 && info[3].IsTypedArray()) {
    size_t fl;
    fds = reinterpret_cast<int32_t*>(Bytes(info, 3, &fl));
    nfds = info[4].As<Napi::Number>().Int32Value();
  }
  ssize_t r = ociSendFds(sock, data, len, fds, nfds);
  return Num(env, r < 0 ? -errno : (double)r);
}

// ociRecv(sock, buf, fdsOut, dontwait): bytes (0 = peer closed) or -errno; fdsOut[0] is
// the number of fds received (close-on-exec), fdsOut[1..] the fds.
static Napi::Value Recv(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int sock = info[0].As<Napi::Number>().Int32Value();
  size_t blen, flen;
  uint8_t* data = Bytes(info, 1, &blen);
  int32_t* out = reinterpret_cast<int32_t*>(Bytes(info, 2, &flen));
  size_t maxFds = flen / sizeof(int32_t) - 1;
  if (maxFds > 64) maxFds = 64;
  bool dontwait = info.Length() > 3 && info[3].ToBoolean().Value();
  out[0] = 0;
  struct iovec iov = {data, blen};
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(struct cmsghdr) char ctl[CMSG_SPACE(sizeof(int) * 64)];
  msg.msg_control = ctl;
  msg.msg_controllen = sizeof ctl;
  ssize_t r;
  do {
    r = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | (dontwait ? MSG_DONTWAIT : 0));
  } while (r < 0 && errno == EINTR);
  if (r < 0) return Num(env, -errno);
  size_t n = 0;
  for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    int* fds = reinterpret_cast<int*>(CMSG_DATA(c));
    for (size_t i = 0; i < k; i++) {
      if (n < maxFds) out[1 + n++] = fds[i];
      else close(fds[i]);
    }
  }
  out[0] = (int32_t)n;
  return Num(env, (double)r);
}

// ociOpenPty(rows, cols): [master, slave] (both close-on-exec) or -errno.
static Napi::Value OpenPty(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (m < 0) return Num(env, -errno);
  char name[128];
  if (grantpt(m) != 0 || unlockpt(m) != 0 || ptsname_r(m, name, sizeof name) != 0) {
    int e = errno;
    close(m);
    return Num(env, -e);
  }
  int s = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (s < 0) {
    int e = errno;
    close(m);
    return Num(env, -e);
  }
  if (info.Length() > 1) {
    struct winsize ws = {};
    ws.ws_row = (unsigned short)info[0].As<Napi::Number>().Uint32Value();
    ws.ws_col = (unsigned short)info[1].As<Napi::Number>().Uint32Value();
    if (ws.ws_row && ws.ws_col) ioctl(m, TIOCSWINSZ, &ws);
  }
  Napi::Array a = Napi::Array::New(env, 2);
  a.Set(0u, Num(env, m));
  a.Set(1u, Num(env, s));
  return a;
}

// ociSetWinsize(fd, rows, cols): 0 or -errno.
static Napi::Value SetWinsize(const Napi::CallbackInfo& info) {
  int fd = info[0].As<Napi::Number>().Int32Value();
  struct winsize ws = {};
  ws.ws_row = (unsigned short)info[1].As<Napi::Number>().Uint32Value();
  ws.ws_col = (unsigned short)info[2].As<Napi::Number>().Uint32Value();
  return Num(info.Env(), ioctl(fd, TIOCSWINSZ, &ws) != 0 ? -errno : 0);
}

// ociFlock(fd, op): flock(2) (op: LOCK_SH 1, LOCK_EX 2, LOCK_NB 4, LOCK_UN 8); 0 or -errno.
static Napi::Value Flock(const Napi::CallbackInfo& info) {
  int fd = info[0].As<Napi::Number>().Int32Value();
  int op = info[1].As<Napi::Number>().Int32Value();
  int r;
  do {
    r = flock(fd, op);
  } while (r != 0 && errno == EINTR);
  return Num(info.Env(), r != 0 ? -errno : 0);
}

// ociSetCloexec(fd, on): FD_CLOEXEC on or off (fds handed to a child on purpose).
static Napi::Value SetCloexec(const Napi::CallbackInfo& info) {
  int fd = info[0].As<Napi::Number>().Int32Value();
  bool on = info[1].ToBoolean().Value();
  int f = fcntl(fd, F_GETFD);
  if (f < 0) return Num(info.Env(), -errno);
  f = on ? (f | FD_CLOEXEC) : (f & ~FD_CLOEXEC);
  return Num(info.Env(), fcntl(fd, F_SETFD, f) != 0 ? -errno : 0);
}

// ociDup(fd, min): fcntl(F_DUPFD_CLOEXEC): a copy of fd at min or above.
static Napi::Value Dup(const Napi::CallbackInfo& info) {
  int fd = info[0].As<Napi::Number>().Int32Value();
  int min = info.Length() > 1 ? info[1].As<Napi::Number>().Int32Value() : 0;
  int r = fcntl(fd, F_DUPFD_CLOEXEC, min);
  return Num(info.Env(), r < 0 ? -errno : r);
}

// ociDup2(fd, to): dup2 (the pool Sentry puts the container's stdio at 0..2).
static Napi::Value Dup2(const Napi::CallbackInfo& info) {
  int fd = info[0].As<Napi::Number>().Int32Value();
  int to = info[1].As<Napi::Number>().Int32Value();
  return Num(info.Env(), dup2(fd, to) < 0 ? -errno : 0);
}

// ociEnterNetns(fd): the calling (main) thread joins the network namespace fd names;
// fd -1: a new one (unshare). Per thread for CLONE_NEWNET, so Node's threads do not
// matter: the main thread is the one /proc/<pid>/ns/net shows, and forks (Gofer, stub)
// copy its namespaces.
static Napi::Value EnterNetns(const Napi::CallbackInfo& info) {
  int fd = info[0].As<Napi::Number>().Int32Value();
  int r = fd >= 0 ? setns(fd, CLONE_NEWNET) : unshare(CLONE_NEWNET);
  return Num(info.Env(), r != 0 ? -errno : 0);
}

static void* WatchFront(void* arg) {
  int fd = (int)(intptr_t)arg;
  struct pollfd p = {fd, POLLIN, 0};
  // The front process only ever closes its end (it dies): then the Sentry goes too, as
  // it would have had it been the killed pid itself (stubs and Gofer die with it).
  while (poll(&p, 1, -1) < 0 && errno == EINTR) {
  }
  syscall(SYS_exit_group, 128 + 9);
  return nullptr;
}

// ociWatchFront(fd): a thread that ends the process when the peer of socket fd closes
// (the pool Sentry's front, the container's pid, is gone: killed by SIGKILL).
static Napi::Value WatchFrontFn(const Napi::CallbackInfo& info) {
  int fd = info[0].As<Napi::Number>().Int32Value();
  pthread_t th;
  int r = pthread_create(&th, nullptr, WatchFront, (void*)(intptr_t)fd);
  if (r == 0) pthread_detach(th);
  return Num(info.Env(), -r);
}

// ociWaitPid(pid, timeoutMs): the wait status of child pid once it exits, -ETIMEDOUT if
// it has not within timeoutMs (-1: no limit), or -errno. For a hook started while the
// Sentry builds the sandbox: its thread never returns to the event loop that would reap.
static Napi::Value WaitPid(const Napi::CallbackInfo& info) {
  pid_t pid = info[0].As<Napi::Number>().Int32Value();
  int ms = info[1].As<Napi::Number>().Int32Value();
  int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
  if (pfd < 0) return Num(info.Env(), -errno);
  struct pollfd p = {pfd, POLLIN, 0};
  int r;
  while ((r = poll(&p, 1, ms)) < 0 && errno == EINTR) {
  }
  close(pfd);
  if (r == 0) return Num(info.Env(), -ETIMEDOUT);
  int st = 0;
  while ((r = waitpid(pid, &st, 0)) < 0 && errno == EINTR) {
  }
  return Num(info.Env(), r < 0 ? -errno : st);
}

void InitOciCgroup(Napi::Env env, Napi::Object exports);  // oci_cgroup.cc
void InitOciNet(Napi::Env env, Napi::Object exports);     // oci_net.cc

void InitOci(Napi::Env env, Napi::Object exports) {
  InitOciCgroup(env, exports);
  InitOciNet(env, exports);
  exports["ociWaitPid"] = Napi::Function::New(env, WaitPid);
  exports["ociListen"] = Napi::Function::New(env, Listen);
  exports["ociConnect"] = Napi::Function::New(env, Connect);
  exports["ociAccept"] = Napi::Function::New(env, Accept);
  exports["ociSend"] = Napi::Function::New(env, Send);
  exports["ociRecv"] = Napi::Function::New(env, Recv);
  exports["ociOpenPty"] = Napi::Function::New(env, OpenPty);
  exports["ociSetWinsize"] = Napi::Function::New(env, SetWinsize);
  exports["ociFlock"] = Napi::Function::New(env, Flock);
  exports["ociSetCloexec"] = Napi::Function::New(env, SetCloexec);
  exports["ociDup"] = Napi::Function::New(env, Dup);
  exports["ociDup2"] = Napi::Function::New(env, Dup2);
  exports["ociEnterNetns"] = Napi::Function::New(env, EnterNetns);
  exports["ociWatchFront"] = Napi::Function::New(env, WatchFrontFn);
}

}  // namespace tss
