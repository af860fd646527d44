// systrap: several injected calls in one ptrace round trip (stub.c st_batch). Each
// injection is a stop and a resume of the injector on the Sentry's CPU: two context
// switches, and on a machine other jobs share, a chance for the Sentry to lose its CPU
// for a time slice. A host fd's hand-over was 3 of them (recvmsg, mmap, close), a
// fork's frames and first thread 5 (recvmsg, two mmaps, close, clone), an exec's unmaps
// 2; batched each is one.
//
// The table the injector runs is read by it while it runs, so it must lie in memory no
// guest code can write meanwhile: a lent page (private, writable, of an address space
// whose only task is stopped in the Sentry, or of a fork's copy that runs nothing yet),
// or the control page of an address space with no guest thread running. A guest that
// could write it would choose the injector's calls.

#include "systrap_internal.h"

namespace tss {
namespace systrap {

// Runs n calls (nr, a0..a5 each) from the table at stub address `table`: the last
// result, or the first error (the calls before it done). *ran: how many ran, the
// failed one included.
long RunBatch(pid_t leader, uint64_t table, int n, int* ran, pid_t* newTid) {
  user_regs_struct r;
  if (syscall(SYS_ptrace, PTRACE_GETREGS, leader, 0, &r) != 0) return -errno;
  r.rip = ST_BATCH_START;
  r.rbx = table;
  r.rbp = (unsigned long)n;
  r.orig_rax = (unsigned long)-1;
  int sig = InjectRun(leader, &r, newTid);
  if (sig < 0) return sig;
  if (sig != SIGTRAP || r.rip != ST_BATCH_TRAP + 1) return -EFAULT;
  if (ran) *ran = n - (int)r.rbp;
  return (long)r.rax;
}

// TSS_SYSTRAP_BATCH=0: one injection a call, as before (to compare).
bool BatchEnabled() {
  static const bool on = !getenv("TSS_SYSTRAP_BATCH") || strcmp(getenv("TSS_SYSTRAP_BATCH"), "0") != 0;
  return on;
}

namespace {

// The hand-over's layout in a lent page: the msghdr and its buffers, then the table.
struct HandOver {
  struct msghdr m;
  struct iovec iov;
  uint32_t seq, pad;
  char ctrl[64];
  long calls[kBatchMax][7];
};

}  // namespace

// Hands host fd `hostFd` to stopped injector `leader` and runs calls[0..n) after the
// recvmsg that takes it (as fd 0), from a table in the lent page `at`, whose bytes are
// put back after; fd 0 is closed again whatever happened. The last call's result or the
// first error; -ENOTSUP (nothing done) where `at` cannot be used: the caller falls back
// to one injection a call.
long BatchHandOver(pid_t leader, int hostFd, uint64_t at, const long (*calls)[7], int n, pid_t* newTid) {
  if (!BatchEnabled() || at == 0 || n < 1 || n > kBatchMax - 1) return -ENOTSUP;
  HandOver h = {}, kept;
  const size_t len = offsetof(HandOver, calls) + sizeof h.calls[0] * (size_t)(n + 1);
  struct iovec keptIov = {&kept, len}, atIov = {(void*)at, len};
  if (process_vm_readv(leader, &keptIov, 1, &atIov, 1, 0) != (ssize_t)len ||
      process_vm_writev(leader, &keptIov, 1, &atIov, 1, 0) != (ssize_t)len)
    return -ENOTSUP;
  if (long e = SendFdToStub(hostFd)) return e;
  h.iov.iov_base = (void*)(at + offsetof(HandOver, seq));
  h.iov.iov_len = sizeof h.seq;
  h.m.msg_iov = (struct iovec*)(at + offsetof(HandOver, iov));
  h.m.msg_iovlen = 1;
  h.m.msg_control = (void*)(at + offsetof(HandOver, ctrl));
  h.m.msg_controllen = sizeof h.ctrl;
  const long recv[7] = {SYS_recvmsg, 1000 /* the stubs' socket */, (long)(at + offsetof(HandOver, m)), MSG_DONTWAIT, 0, 0, 0};
  memcpy(h.calls[0], recv, sizeof recv);
  memcpy(h.calls[1], calls, sizeof h.calls[0] * (size_t)n);
  struct iovec ours = {&h, len};
  long r;
  int ran = 0;
  if (process_vm_writev(leader, &ours, 1, &atIov, 1, 0) != (ssize_t)len) {
    r = -EFAULT;
  } else {
    r = RunBatch(leader, at + offsetof(HandOver, calls), n + 1, &ran, newTid);
    if (ran == 1 && r >= 0) r = -EIO;  // (a recvmsg that took nothing fails at the next call)
  }
  // (The stub's scratch page, lent by a fresh clone of the template, is not put back: its
  // batch ends by making it read-only again, and nothing reads what it holds.)
  if (at != ST_SCRATCH && process_vm_writev(leader, &keptIov, 1, &atIov, 1, 0) != (ssize_t)len && r >= 0) r = -EFAULT;
  if (r == -EBADF) r = -EIO;  // nothing arrived at fd 0
  if (r < 0) {
    // Whatever arrived goes: a fd left at 0 would be taken for the next hand-over's.
    const long cl[6] = {0, 0, 0, 0, 0, 0};
    InjectSyscall(leader, SYS_close, cl, nullptr);
  }
  DrainStubFds();
  return r;
}

// The calls of an mmap hand-over: maps[i] = addr, len, prot, flags, off of fd 0, then
// its close. Only MAP_FIXED maps (their result is their address, known beforehand).
int MapCalls(const long (*maps)[5], int n, long (*calls)[7]) {
  if (n < 1 || n > kBatchMax - 2) return -1;
  for (int i = 0; i < n; i++) {
    if (!(maps[i][3] & MAP_FIXED)) return -1;
    const long c[7] = {SYS_mmap, maps[i][0], maps[i][1], maps[i][2], maps[i][3], 0, maps[i][4]};
    memcpy(calls[i], c, sizeof c);
  }
  const long cl[7] = {SYS_close, 0, 0, 0, 0, 0, 0};
  memcpy(calls[n], cl, sizeof cl);
  return n + 1;
}

// mmaps of a host fd into an address space's injector: one injection with a lent page,
// else as ptrace does (one a call). The last map's address or -errno.
long MmapHostFdBatch(pid_t leader, int hostFd, const long (*maps)[5], int n, uint64_t at) {
  long calls[kBatchMax][7];
  int k = MapCalls(maps, n, calls);
  if (k > 0) {
    long r = BatchHandOver(leader, hostFd, at, calls, k, nullptr);
    if (r != -ENOTSUP) return r < 0 ? r : maps[n - 1][0];
  }
  return MmapHostFdManyIn(leader, hostFd, maps, n, at);
}

}  // namespace systrap

namespace {
using namespace systrap;

// systrapMmapHostFdMany(ctx, hostFd, maps, at): mmapHostFd(Many) through the batch (maps:
// Float64Array of addr, len, prot, flags, off each); the last map's address or -errno.
Napi::Value MmapHostFdMany(const Napi::CallbackInfo& info) {
  As* as = AsOfCtx(info[0].As<Napi::Number>().Int32Value());
  if (!as) return Num(info.Env(), -ESRCH);
  int hostFd = info[1].As<Napi::Number>().Int32Value();
  long maps[16][5];
  uint64_t at;
  int n = MapsArg(info, maps, &at);
  if (n == 0) return Num(info.Env(), -EINVAL);
  return Num(info.Env(), (double)MmapHostFdBatch(as->leader, hostFd, maps, n, at));
}

}  // namespace

void InitSystrapBatch(Napi::Env env, Napi::Object exports) {
  exports["systrapMmapHostFdMany"] = Napi::Function::New(env, MmapHostFdMany);
}

}  // namespace tss
