// The ptrace platform's host-fd hand-over: a Sentry fd mapped into a stub (SCM_RIGHTS
// over the stub socket, injected recvmsg, mmap and close) without trusting stub memory.
#include "ptrace_internal.h"
#include <sys/mman.h>
#include <sys/uio.h>

namespace tss {

static uint32_t g_fdSeq = 0;

// Takes every datagram queued for the stubs and closes the fds they carry: whatever
// an earlier, failed hand-over left behind. Never blocks.
static void DrainStubSocket() {
  for (;;) {
    uint32_t seq;
    struct iovec iov = {&seq, sizeof seq};
    char ctrl[CMSG_SPACE(sizeof(int) * 8)];
    struct msghdr m = {};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = ctrl;
    m.msg_controllen = sizeof ctrl;
    if (recvmsg(g_stubPeer, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    for (struct cmsghdr* c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      size_t nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < nfd; i++) {
        int fd;
        memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
        close(fd);
      }
    }
  }
}

// Maps host fd `hostFd` into stopped stub thread `tid`: the fd travels over the stub
// socket (SCM_RIGHTS), an injected recvmsg takes it, an injected mmap maps it and an
// injected close drops it again, so the stub never keeps a host fd.
//
// Other guest threads of the address space run meanwhile, and the recvmsg needs its
// msghdr and control buffer in the stub's memory, so nothing injected here depends on
// what that memory holds afterwards:
//  - the fd number is not read back: the kernel puts a received fd at the lowest free
//    number, and a stub holds no fd but its socket (1000; the Sentry injects no other
//    fd-creating call and closes what it received before it returns), so it is 0;
//    close(0) is injected whatever recvmsg did, so a fd never stays behind, and the
//    socket's number is never a value any guest can make the Sentry close or map;
//  - the queue holds at most our one datagram: stale ones (a stub that died mid-way)
//    are drained by the Sentry's own end before sending and after receiving, instead
//    of being recognised by a sequence number read back from guest memory;
//  - the send never blocks (MSG_DONTWAIT; a full queue is drained and retried once);
//  - the scratch page is read-only to guest code except during the recvmsg (so a
//    racing guest write faults almost always; when it lands, it can only make its own
//    mmap fail or write the received bytes somewhere else in its own memory).
static constexpr int kRecvFd = 0;

// Queues host fd `hostFd` on the stubs' socket for a hand-over (stale datagrams drained
// first; never blocks): 0 or -errno. The injected recvmsg then takes it as fd kRecvFd.
long SendFdToStub(int hostFd) {
  if (g_stubSock < 0 || g_stubPeer < 0) return -EBADF;
  DrainStubSocket();
  uint32_t seq = ++g_fdSeq;
  struct msghdr m = {};
  struct iovec iov = {&seq, sizeof seq};
  char ctrl[CMSG_SPACE(sizeof(int))] = {};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = ctrl;
  m.msg_controllen = sizeof ctrl;
  struct cmsghdr* c = CMSG_FIRSTHDR(&m);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &hostFd, sizeof(int));
  for (int attempt = 0;; attempt++) {
    if (sendmsg(g_stubSock, &m, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0) return 0;
    int e = errno;
    if (e == EINTR) continue;
    if (e != EAGAIN || attempt > 0) return e == EAGAIN ? -ENOMEM : -e;
    DrainStubSocket();
  }
}

void DrainStubFds() { DrainStubSocket(); }

// `n` mappings of one host fd (maps[i] = addr, len, prot, flags, off): the fd passed and
// received once, then n mmaps, then one close, all in one InjectSeq. Returns the last
// mmap's result, or the first error (the mappings made before it stay: the caller
// unmaps the batch's ranges).
long MmapHostFdManyIn(pid_t tid, int hostFd, const long (*maps)[5], int n, uint64_t at) {
  if (long e = SendFdToStub(hostFd)) return e;
  // The stub's msghdr, iovec, payload and control buffer, laid out in its scratch page,
  // or at `at`: writable private guest memory the caller knows no guest code can touch
  // meanwhile (no other thread uses the address space), whose bytes are put back after
  // the recvmsg. That spares the two mprotects that keep the scratch page read-only to
  // guest code; memory that cannot be read and written falls back to the scratch page.
  struct Scratch {
    struct msghdr m;
    struct iovec iov;
    uint32_t seq;
    uint32_t pad;
    char ctrl[64];
  } sc = {}, kept;
  struct iovec keptIov = {&kept, sizeof kept}, atIov = {(void*)at, sizeof kept};
  // Readable and writable (written back unchanged), or not used.
  if (at != 0 && (process_vm_readv(tid, &keptIov, 1, &atIov, 1, 0) != (ssize_t)sizeof kept ||
                  process_vm_writev(tid, &keptIov, 1, &atIov, 1, 0) != (ssize_t)sizeof kept))
    at = 0;
  const uint64_t base = at != 0 ? at : kScratch;
  sc.iov.iov_base = (void*)(base + offsetof(Scratch, seq));
  sc.iov.iov_len = sizeof(uint32_t);
  sc.m.msg_iov = (struct iovec*)(base + offsetof(Scratch, iov));
  sc.m.msg_iovlen = 1;
  sc.m.msg_control = (void*)(base + offsetof(Scratch, ctrl));
  sc.m.msg_controllen = sizeof sc.ctrl;
  long rw[6] = {(long)base, 4096, PROT_READ | PROT_WRITE, 0, 0, 0};
  long ro[6] = {(long)base, 4096, PROT_READ, 0, 0, 0};
  InjectSeq inj(tid);
  long res = at != 0 ? 0 : inj.Call(SYS_mprotect, rw);
  if (res == 0) {
    struct iovec local = {&sc, sizeof sc}, remote = {(void*)base, sizeof sc};
    if (process_vm_writev(tid, &local, 1, &remote, 1, 0) != (ssize_t)sizeof sc) {
      res = -EFAULT;
    } else {
      long a[6] = {kStubSockFd, (long)base, MSG_DONTWAIT, 0, 0, 0};
      res = inj.Call(SYS_recvmsg, a);  // only its register result counts
    }
    if (at != 0) {
      if (process_vm_writev(tid, &keptIov, 1, &atIov, 1, 0) != (ssize_t)sizeof kept && res >= 0) res = -EFAULT;
    } else {
      inj.Call(SYS_mprotect, ro);
    }
    if (res >= 0) {
      for (int i = 0; i < n; i++) {
        long mm[6] = {maps[i][0], maps[i][1], maps[i][2], maps[i][3], kRecvFd, maps[i][4]};
        res = inj.Call(SYS_mmap, mm);
        if (res == -EBADF) res = -EIO;  // nothing arrived at kRecvFd
        if (res < 0) break;
      }
    } else if (res != -ESRCH) {
      res = -EIO;
    }
    long cl[6] = {kRecvFd, 0, 0, 0, 0, 0};
    inj.Call(SYS_close, cl);
  }
  DrainStubSocket();
  return res;
}

long MmapHostFdIn(pid_t tid, int hostFd, long addr, long len, long prot, long flags, long off) {
  const long one[1][5] = {{addr, len, prot, flags, off}};
  return MmapHostFdManyIn(tid, hostFd, one, 1, 0);
}

// A guest address for the fd hand-over's msghdr (see MmapHostFdManyIn), or 0: only a
// page-aligned user address outside the stub's range and its platform pages, so the
// stub's own memory is never written through it.
uint64_t ScratchAt(const Napi::Value& v) {
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0x10000 && d <= (double)(0x7ffffffff000ULL - 4096))) return 0;
  uint64_t a = (uint64_t)d;
  if (a & 4095 || (a + 4096 > kStubBase && a < 0x7ff002200000ULL)) return 0;  // src/mm/platform-regions.ts STUB_END
  return a;
}

static Napi::Value MmapHostFd(const Napi::CallbackInfo& info) {
  pid_t tid = info[0].As<Napi::Number>().Int32Value();
  int hostFd = info[1].As<Napi::Number>().Int32Value();
  long addr = ArgL(info, 2), len = ArgL(info, 3), prot = ArgL(info, 4), flags = ArgL(info, 5), off = ArgL(info, 6);
  uint64_t at = info.Length() > 7 && info[7].IsNumber() ? ScratchAt(info[7]) : 0;
  const long one[1][5] = {{addr, len, prot, flags, off}};
  return Num(info.Env(), (double)MmapHostFdManyIn(tid, hostFd, one, 1, at));
}

// mmapHostFd(tid, hostFd, addr, len, prot, flags, off[, at]); mmapHostFdMany(tid, hostFd,
// Float64Array [addr, len, prot, flags, off]*n[, at]): one fd hand-over for several
// mappings of one file (an ELF's segments), 0 or -errno. `at`: see MmapHostFdManyIn.
int MapsArg(const Napi::CallbackInfo& info, long (*maps)[5], uint64_t* at) {
  Napi::Float64Array arr = info[2].As<Napi::Float64Array>();
  size_t n = arr.ElementLength() / 5;
  if (n == 0 || n > 16) return 0;
  for (size_t i = 0; i < n; i++)
    for (int j = 0; j < 5; j++) maps[i][j] = (long)arr[i * 5 + j];
  *at = info.Length() > 3 && info[3].IsNumber() ? ScratchAt(info[3]) : 0;
  return (int)n;
}

static Napi::Value MmapHostFdMany(const Napi::CallbackInfo& info) {
  pid_t tid = info[0].As<Napi::Number>().Int32Value();
  int hostFd = info[1].As<Napi::Number>().Int32Value();
  long maps[16][5];
  uint64_t at;
  int n = MapsArg(info, maps, &at);
  if (n == 0) return Num(info.Env(), -EINVAL);
  long r = MmapHostFdManyIn(tid, hostFd, maps, n, at);
  return Num(info.Env(), r < 0 ? (double)r : 0);
}

void InitPtraceHostFd(Napi::Env env, Napi::Object exports) {
  exports["mmapHostFd"] = Napi::Function::New(env, MmapHostFd);
  exports["mmapHostFdMany"] = Napi::Function::New(env, MmapHostFdMany);
}

}  // namespace tss
