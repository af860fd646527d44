// The ptrace platform: stub processes whose every syscall stops under PTRACE_SYSEMU.
//
// All ptrace requests come from the Node main thread (the tracer). One N-API call
// returns the next stop with the registers already in the shared event buffer, and
// the hot path (resumeSyscallAndWait) writes the result, resumes and waits in one call.
#include "common.h"
#include "platform_internal.h"
#include <cerrno>
#include <cpuid.h>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <elf.h>
#include <fcntl.h>
#include <linux/ptrace.h>
#include <poll.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef PTRACE_SYSEMU
#define PTRACE_SYSEMU 31
#endif

namespace tss {

static uint8_t g_fallbackBuf[kBufSize];
static uint8_t* g_buf = g_fallbackBuf;
static napi_ref g_bufRef = nullptr;
static pid_t g_pgid = 0;  // process group of every stub process
static int g_stubSock = -1;  // the Sentry's end of the fd-passing socket
static int g_stubPeer = -1;  // a copy of the stubs' end, only to drain stale datagrams
static uint32_t g_fdSeq = 0;
constexpr int kStubSockFd = 1000;            // the stubs' end (see stub.c)
constexpr uint64_t kScratch = 0x7ff000010000ULL;  // a page of every stub the Sentry may use

// Time the Sentry spends serving each thread's syscalls, which Linux would count as
// that thread's system time (slot = host tid & 0xffff; read and reset by JS).
static double g_sentryNs[1 << 16];
static int64_t g_stopAt = 0;
static pid_t g_stopTid = 0;

static int64_t MonoNs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void NoteSentryStop(pid_t tid) {
  g_stopAt = MonoNs();
  g_stopTid = tid;
}

pid_t StubPgid() { return g_pgid; }

void ChargePendingStop() {
  if (g_stopTid) ChargeSentryTime(g_stopTid);
}

void ChargeSentryTime(pid_t tid) {
  if (tid != g_stopTid) return;
  g_sentryNs[tid & 0xffff] += (double)(MonoNs() - g_stopAt);
  g_stopTid = 0;
}

uint8_t* EventBuffer() { return g_buf; }
int32_t* Info() { return reinterpret_cast<int32_t*>(g_buf + kInfoOff); }
user_regs_struct* Regs() { return reinterpret_cast<user_regs_struct*>(g_buf + kRegsOff); }

static long Ptrace(int req, pid_t pid, void* addr, void* data) {
  return syscall(SYS_ptrace, req, pid, addr, data);
}

static Napi::Value SetEventBuffer(const Napi::CallbackInfo& info) {
  Napi::ArrayBuffer ab = info[0].As<Napi::ArrayBuffer>();
  if (ab.ByteLength() < kBufSize) {
    Napi::TypeError::New(info.Env(), "event buffer too small").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  if (g_bufRef) napi_delete_reference(info.Env(), g_bufRef);
  napi_create_reference(info.Env(), ab, 1, &g_bufRef);
  g_buf = static_cast<uint8_t*>(ab.Data());
  return info.Env().Undefined();
}

void FillSyscallArgs() {
  user_regs_struct* r = Regs();
  double* a = reinterpret_cast<double*>(g_buf + kArgsOff);
  a[0] = ArgToDouble(r->rdi);
  a[1] = ArgToDouble(r->rsi);
  a[2] = ArgToDouble(r->rdx);
  a[3] = ArgToDouble(r->r10);
  a[4] = ArgToDouble(r->r8);
  a[5] = ArgToDouble(r->r9);
  *reinterpret_cast<double*>(g_buf + kNrOff) = ArgToDouble(r->orig_rax);
}

// ---- syscalls that are not x86-64 `syscall`s, and the vsyscall page ----

constexpr uint64_t kVsyscallPage = 0xffffffffff600000ULL;
// The thread whose current stop is a vsyscall reported as a syscall, and its entry.
static pid_t g_vsysTid = 0;
static uint64_t g_vsysEntry = 0;
// A SIGSEGV made up for a vsyscall the Sentry failed with EFAULT, reported by the next wait.
static pid_t g_synthSegvTid = 0;

// Reports the thread as faulted with SIGSEGV (SI_KERNEL, si_addr 0), as Linux does.
int ReportSegv(pid_t pid) {
  int32_t* inf = Info();
  memset(g_buf + kSiginfoOff, 0, 128);
  int32_t* si = reinterpret_cast<int32_t*>(g_buf + kSiginfoOff);
  si[0] = SIGSEGV;
  si[2] = 0x80;  // SI_KERNEL
  inf[kInfoSigno] = SIGSEGV;
  inf[kInfoKind] = kEvSignal;
  return kEvSignal;
}

// A syscall stop whose rcx is not its rip did not come from the x86-64 `syscall`
// instruction (which always sets rcx to the return address): int 0x80, or sysenter.
// The instruction bytes decide. 32-bit syscalls are refused as Linux without
// CONFIG_IA32_EMULATION refuses them: `int $0x80` is a #GP, SIGSEGV (SI_KERNEL) with
// rip at the instruction and the registers as they were. Returns 0 for a real
// `syscall` (its code was rewritten since), else the event reported instead.
static int CheckNotSyscallInsn(pid_t pid) {
  user_regs_struct* r = Regs();
  uint64_t at = r->rip - 2;
  uint8_t insn[2] = {0, 0};
  bool got = true;
  for (int i = 0; i < 2 && got; i++) {
    uint64_t a = at + i;
    unsigned long w = 0;  // the raw request stores the word at `data`
    if (Ptrace(PTRACE_PEEKTEXT, pid, (void*)(a & ~7ULL), &w) != 0) got = false;
    else insn[i] = (uint8_t)(w >> (8 * (a & 7)));
  }
  if (got && insn[0] == 0x0f && insn[1] == 0x05) return 0;
  if (got && insn[0] == 0xcd && insn[1] == 0x80) r->rip = at;  // the fault is at the instruction
  r->rax = r->orig_rax;  // the entry saved eax there (its upper half is lost) and set rax = -ENOSYS
  r->orig_rax = (unsigned long)-1;  // no syscall to skip or restart any more
  if (Ptrace(PTRACE_SETREGS, pid, nullptr, r) != 0) {
    Info()[kInfoKind] = kEvExit;
    return kEvExit;
  }
  return ReportSegv(pid);
}

// A call into the vsyscall page (0xffffffffff600000 gettimeofday, ...400 time, ...800
// getcpu). With the host's vsyscall=xonly/emulate, the host kernel runs the stub's
// seccomp filter, which traps: SIGSYS with si_call_addr in the page, and the kernel
// already emulated the `ret` (rip = caller, rsp += 8). With vsyscall=none it is a
// SIGSEGV at the entry and the `ret` is ours to do. Either way it is reported as that
// syscall, served by the Sentry like any other; the result lands in rax and the guest
// goes on at its caller. Other offsets stay SIGSEGV, as in Linux. Returns 0 if the
// stop is not a vsyscall.
static int CheckVsyscall(pid_t pid, int sig) {
  const uint8_t* si = g_buf + kSiginfoOff;
  int32_t code;
  memcpy(&code, si + 8, 4);
  long nr;
  if (sig == SIGSYS) {
    uint64_t callAddr;
    int32_t sysno;
    memcpy(&callAddr, si + 16, 8);
    memcpy(&sysno, si + 24, 4);
    if (code != 1 /* SYS_SECCOMP */ || (callAddr & ~0xfffULL) != kVsyscallPage) return 0;
    nr = sysno;
  } else {
    if (code <= 0) return 0;  // sent by a process, not a fault
    if (Ptrace(PTRACE_GETREGS, pid, nullptr, Regs()) != 0) return 0;
    uint64_t off = Regs()->rip - kVsyscallPage;
    if (off != 0 && off != 0x400 && off != 0x800) return 0;
    nr = off == 0 ? SYS_gettimeofday : off == 0x400 ? SYS_time : SYS_getcpu;
  }
  if (nr != SYS_gettimeofday && nr != SYS_time && nr != SYS_getcpu) return 0;
  user_regs_struct* r = Regs();
  if (Ptrace(PTRACE_GETREGS, pid, nullptr, r) != 0) return 0;
  if ((r->rip & ~0xfffULL) == kVsyscallPage) {
    // Not returned yet: pop the return address as `ret` would (checked access, no force).
    uint64_t caller;
    struct iovec local = {&caller, 8}, remote = {(void*)r->rsp, 8};
    if (process_vm_readv(pid, &local, 1, &remote, 1, 0) != 8) return 0;  // bad stack: SIGSEGV
    r->rip = caller;
    r->rsp += 8;
    r->orig_rax = (unsigned long)-1;
    if (Ptrace(PTRACE_SETREGS, pid, nullptr, r) != 0) return 0;
  }
  r->orig_rax = (unsigned long)nr;  // the event's view only: the thread is not in a syscall
  g_vsysTid = pid;
  g_vsysEntry = kVsyscallPage + (nr == SYS_gettimeofday ? 0 : nr == SYS_time ? 0x400 : 0x800);
  FillSyscallArgs();
  g_stopAt = MonoNs();
  g_stopTid = pid;
  Info()[kInfoKind] = kEvSyscall;
  return kEvSyscall;
}

// Turns a waitpid status into an event in the shared buffer; returns its kind.
static int DecodeStop(pid_t pid, int status) {
  int32_t* inf = Info();
  if (pid == g_vsysTid) g_vsysTid = 0;
  inf[kInfoTid] = pid;
  inf[kInfoStatus] = status;
  inf[kInfoSigno] = 0;
  inf[kInfoMsg] = 0;
  if (WIFEXITED(status) || WIFSIGNALED(status)) {
    inf[kInfoKind] = kEvExit;
    return kEvExit;
  }
  int sig = WSTOPSIG(status);
  if (sig == (SIGTRAP | 0x80)) {
    if (Ptrace(PTRACE_GETREGS, pid, nullptr, Regs()) != 0) {
      // The thread died between the stop and now (SIGKILL from elsewhere).
      inf[kInfoKind] = kEvExit;
      return kEvExit;
    }
    // Every x86-64 `syscall` leaves rcx == rip: one compare keeps int 0x80 out.
    if (__builtin_expect(Regs()->rcx != Regs()->rip, 0)) {
      int k = CheckNotSyscallInsn(pid);
      if (k != 0) return k;
    }
    FillSyscallArgs();
    g_stopAt = MonoNs();
    g_stopTid = pid;
    inf[kInfoKind] = kEvSyscall;
    return kEvSyscall;
  }
  if ((status >> 16) != 0) {
    unsigned long msg = 0;
    Ptrace(PTRACE_GETEVENTMSG, pid, nullptr, &msg);
    inf[kInfoSigno] = status >> 16;
    inf[kInfoMsg] = (int32_t)msg;
    inf[kInfoKind] = kEvPtraceEvent;
    return kEvPtraceEvent;
  }
  inf[kInfoSigno] = sig;
  if (Ptrace(PTRACE_GETSIGINFO, pid, nullptr, g_buf + kSiginfoOff) != 0) {
    inf[kInfoKind] = kEvGroupStop;  // group-stop: no siginfo
    return kEvGroupStop;
  }
  if (sig == SIGSYS || sig == SIGSEGV) {
    int k = CheckVsyscall(pid, sig);
    if (k != 0) return k;
  }
  inf[kInfoKind] = kEvSignal;
  return kEvSignal;
}

void DrainSelfPipe() {
  char drain[64];
  while (read(SelfPipeReadFd(), drain, sizeof drain) > 0) {
  }
}

bool TakePollResults(const struct pollfd* p, int32_t* revents, int count) {
  bool ready = false;
  for (int i = 0; i < count; i++) {
    revents[i] = p[i].revents;
    if (p[i].revents) ready = true;
  }
  if (ready) Info()[kInfoKind] = kEvPoll;
  return ready;
}

int64_t MonotonicNs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int FillWaitSet(struct pollfd* p, int bell, const int32_t* fds, const int32_t* events, int count, int64_t deadline) {
  p[0] = {SelfPipeReadFd(), POLLIN, 0};
  p[1] = {bell, POLLIN, 0};
  for (int i = 0; i < count; i++) p[i + 2] = {fds[i], (short)events[i], 0};
  if (deadline == INT64_MAX) return -1;
  int64_t left = deadline - MonotonicNs();
  return left <= 0 ? 0 : (int)((left + 999999) / 1000000);
}

bool AfterWaitSet(const struct pollfd* p, int n, int err, int bell, int32_t* revents, int count, int64_t deadline, int* ev) {
  uint64_t v;
  if (p[1].revents & POLLIN) (void)!read(bell, &v, sizeof v);
  if (p[0].revents & POLLIN) DrainSelfPipe();
  if (n < 0 && err != EINTR) return *ev = -err, true;
  if (TakePollResults(p + 2, revents, count)) return *ev = kEvPoll, true;
  if (n == 0 && deadline != INT64_MAX && MonotonicNs() >= deadline) {
    Info()[kInfoKind] = kEvTimeout;
    return *ev = kEvTimeout, true;
  }
  return false;
}

static int64_t NowMs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

// Waits for the next stop of any stub thread, a host fd becoming ready, a host signal
// or the timeout. Blocks in waitpid directly when there is nothing else to watch.
static int WaitEvent(int timeoutMs, const int32_t* fds, const int32_t* events, int32_t* revents, int count) {
  int status;
  if (__builtin_expect(g_synthSegvTid != 0, 0)) {
    Info()[kInfoTid] = g_synthSegvTid;
    Info()[kInfoStatus] = 0;
    Info()[kInfoMsg] = 0;
    g_synthSegvTid = 0;
    return ReportSegv(0);
  }
  // A thread stopped but not resumed (it blocked): charge its handling up to now only.
  if (g_stopTid) ChargeSentryTime(g_stopTid);
  // No host fds: a blocking wait4, with a timer for a deadline (ArmWaitDeadline).
  int64_t until = timeoutMs > 0 ? MonoNs() + (int64_t)timeoutMs * 1000000 : -1;
  if (count == 0 && (timeoutMs < 0 || (timeoutMs > 0 && ArmWaitDeadline(until)))) {
    SetSigchldWakeups(false);
    for (;;) {
      // A host signal that came while the Sentry was busy is reported before the next
      // stop, or a guest that never stops making cheap syscalls would hide it forever.
      long r = WaitUnlessHostSignal(-g_pgid, &status, __WALL);
      if (r > 0) return DecodeStop((pid_t)r, status);
      if (r == -EINTR) {
        if (PendingHostSignals()) {
          Info()[kInfoKind] = kEvHostSignal;
          return kEvHostSignal;
        }
        // The timer: this wait's deadline, or an older one that fired late (go on waiting).
        if (TakeWaitDeadline() && until >= 0 && MonoNs() >= until - 1000000) {
          Info()[kInfoKind] = kEvTimeout;
          return kEvTimeout;
        }
        if (until >= 0 && ArmedWaitDeadline() < 0 && !ArmWaitDeadline(until)) break;
        continue;
      }
      return (int)r;  // -ECHILD: no stub left
    }
  }
  SetSigchldWakeups(true);
  int64_t deadline = timeoutMs < 0 ? INT64_MAX : NowMs() + timeoutMs;
  struct pollfd p[257];
  if (count > 256) count = 256;
  for (;;) {
    pid_t pid = waitpid(-g_pgid, &status, __WALL | WNOHANG);
    if (pid > 0) return DecodeStop(pid, status);
    if (PendingHostSignals()) {
      Info()[kInfoKind] = kEvHostSignal;
      return kEvHostSignal;
    }
    p[0].fd = SelfPipeReadFd();
    p[0].events = POLLIN;
    p[0].revents = 0;
    for (int i = 0; i < count; i++) {
      p[i + 1].fd = fds[i];
      p[i + 1].events = (short)events[i];
      p[i + 1].revents = 0;
    }
    int wait = -1;
    if (deadline != INT64_MAX) {
      int64_t left = deadline - NowMs();
      wait = left < 0 ? 0 : (int)left;
    }
    int n = poll(p, count + 1, wait);
    if (n < 0 && errno != EINTR) return -errno;
    if (n == 0) {
      Info()[kInfoKind] = kEvTimeout;
      return kEvTimeout;
    }
    if (n > 0 && (p[0].revents & POLLIN)) DrainSelfPipe();
    if (TakePollResults(p + 1, revents, count)) return kEvPoll;
  }
}

int32_t* I32Arg(const Napi::CallbackInfo& info, int i) {
  if (!info[i].IsTypedArray()) return nullptr;
  Napi::TypedArray ta = info[i].As<Napi::TypedArray>();
  return reinterpret_cast<int32_t*>(static_cast<uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset());
}

// wait(timeoutMs, fds, events, revents, count): on a kEvPoll return, revents holds
// the poll results of fds[0, count).
static Napi::Value Wait(const Napi::CallbackInfo& info) {
  int timeout = info[0].As<Napi::Number>().Int32Value();
  int32_t* fds = I32Arg(info, 1);
  int32_t* events = I32Arg(info, 2);
  int32_t* revents = I32Arg(info, 3);
  int count = fds && events && revents ? info[4].As<Napi::Number>().Int32Value() : 0;
  return Num(info.Env(), WaitEvent(timeout, fds, events, revents, count));
}

static long SetResult(pid_t tid, double result) {
  ChargeSentryTime(tid);
  return Ptrace(PTRACE_POKEUSR, tid, (void*)offsetof(user_regs_struct, rax), (void*)(int64_t)result);
}

// A vsyscall whose output pointer was bad: Linux does not return, it raises SIGSEGV
// (SI_KERNEL) with rip still at the vsyscall entry. The thread stays stopped, put back
// as it was at the call, and the next wait reports the fault. True if so diverted.
static bool DivertVsyscallFault(pid_t tid, double result) {
  if (__builtin_expect(tid != g_vsysTid, 1)) return false;
  g_vsysTid = 0;
  if ((int64_t)result != -EFAULT) return false;
  user_regs_struct r;
  if (Ptrace(PTRACE_GETREGS, tid, nullptr, &r) != 0) return false;
  r.rip = g_vsysEntry;
  r.rsp -= 8;
  r.rax = (unsigned long)-ENOSYS;  // what the kernel's emulation leaves there
  r.orig_rax = (unsigned long)-1;
  if (Ptrace(PTRACE_SETREGS, tid, nullptr, &r) != 0) return false;
  g_synthSegvTid = tid;
  return true;
}

static Napi::Value ResumeSyscall(const Napi::CallbackInfo& info) {
  pid_t tid = info[0].As<Napi::Number>().Int32Value();
  double result = info[1].As<Napi::Number>().DoubleValue();
  if (DivertVsyscallFault(tid, result)) return Num(info.Env(), 0);
  if (SetResult(tid, result) != 0) return Num(info.Env(), -errno);
  if (Ptrace(PTRACE_SYSEMU, tid, nullptr, nullptr) != 0) return Num(info.Env(), -errno);
  return Num(info.Env(), 0);
}

static Napi::Value ResumeSyscallAndWait(const Napi::CallbackInfo& info) {
  pid_t tid = info[0].As<Napi::Number>().Int32Value();
  double result = info[1].As<Napi::Number>().DoubleValue();
  int timeout = info[2].As<Napi::Number>().Int32Value();
  if (DivertVsyscallFault(tid, result)) {
    // Not resumed: the wait below reports its SIGSEGV first.
  } else if (SetResult(tid, result) != 0 || Ptrace(PTRACE_SYSEMU, tid, nullptr, nullptr) != 0) {
    // The thread is gone (killed); report it like any other exit on the next wait.
  }
  return Num(info.Env(), WaitEvent(timeout, nullptr, nullptr, nullptr, 0));
}

static Napi::Value Resume(const Napi::CallbackInfo& info) {
  pid_t tid = info[0].As<Napi::Number>().Int32Value();
  long sig = info.Length() > 1 ? info[1].As<Napi::Number>().Int32Value() : 0;
  if (tid == g_vsysTid) g_vsysTid = 0;
  if (Ptrace(PTRACE_SYSEMU, tid, nullptr, (void*)sig) != 0) return Num(info.Env(), -errno);
  return Num(info.Env(), 0);
}

static Napi::Value GetRegs(const Napi::CallbackInfo& info) {
  pid_t tid = info[0].As<Napi::Number>().Int32Value();
  if (Ptrace(PTRACE_GETREGS, tid, nullptr, Regs()) != 0) return Num(info.Env(), -errno);
  return Num(info.Env(), 0);
}

static Napi::Value SetRegs(const Napi::CallbackInfo& info) {
  pid_t tid = info[0].As<Napi::Number>().Int32Value();
  if (Ptrace(PTRACE_SETREGS, tid, nullptr, Regs()) != 0) return Num(info.Env(), -errno);
  return Num(info.Env(), 0);
}

static Napi::Value GetFpRegs(const Napi::CallbackInfo& info) {
  pid_t tid = info[0].As<Napi::Number>().Int32Value();
  struct iovec iov = {g_buf + kFpOff, kFpMax};
  if (Ptrace(PTRACE_GETREGSET, tid, (void*)NT_X86_XSTATE, &iov) != 0) {
    iov.iov_len = 512;
    if (Ptrace(PTRACE_GETFPREGS, tid, nullptr, g_buf + kFpOff) != 0) return Num(info.Env(), -errno);
  }
  Info()[kInfoFpSize] = (int32_t)iov.iov_len;
  return Num(info.Env(), (double)iov.iov_len);
}

static Napi::Value SetFpRegs(const Napi::CallbackInfo& info) {
  pid_t tid = info[0].As<Napi::Number>().Int32Value();
  size_t len = (size_t)Info()[kInfoFpSize];
  if (len == 0 || len > kFpMax) len = 512;
  struct iovec iov = {g_buf + kFpOff, len};
  if (len > 512 && Ptrace(PTRACE_SETREGSET, tid, (void*)NT_X86_XSTATE, &iov) == 0) return Num(info.Env(), 0);
  if (Ptrace(PTRACE_SETFPREGS, tid, nullptr, g_buf + kFpOff) != 0) return Num(info.Env(), -errno);
  return Num(info.Env(), 0);
}

// Runs stopped, traced thread tid from registers `r` until it stops in a trap or fault
// (fork/clone events on the way hand the child to *newTid; other signals in flight are
// suppressed), then puts `saved` back. Returns the stopping signal with the registers it
// stopped with in `r`, or -errno (-ESRCH: the thread died).
// `saved` null: the registers are left as they stopped (InjectSeq puts them back once, at its end).
uint64_t g_injections = 0;

static int RunUntilTrap(pid_t tid, const user_regs_struct* saved, user_regs_struct* r, pid_t* newTid) {
  g_injections++;
  if (Ptrace(PTRACE_SETREGS, tid, nullptr, r) != 0) return -errno;
  if (Ptrace(PTRACE_CONT, tid, nullptr, nullptr) != 0) return -errno;
  for (;;) {
    int status;
    pid_t p = waitpid(tid, &status, __WALL);
    if (p < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    if (WIFEXITED(status) || WIFSIGNALED(status)) return -ESRCH;
    int sig = WSTOPSIG(status), event = status >> 16;
    if (event == PTRACE_EVENT_FORK || event == PTRACE_EVENT_CLONE || event == PTRACE_EVENT_VFORK) {
      unsigned long msg = 0;
      Ptrace(PTRACE_GETEVENTMSG, tid, nullptr, &msg);
      if (newTid) *newTid = (pid_t)msg;
      Ptrace(PTRACE_CONT, tid, nullptr, nullptr);
      continue;
    }
    if (event == 0 && (sig == SIGTRAP || sig == SIGSEGV || sig == SIGBUS)) {
      if (Ptrace(PTRACE_GETREGS, tid, nullptr, r) != 0) return -errno;
      if (saved) Ptrace(PTRACE_SETREGS, tid, nullptr, const_cast<user_regs_struct*>(saved));
      return sig;
    }
    // Any other signal while running the gadget (e.g. SIGSTOP in flight): suppress it.
    Ptrace(PTRACE_CONT, tid, nullptr, nullptr);
  }
}

// Registers for syscall nr with arguments a at the gadget.
static void AtGadget(user_regs_struct* r, long nr, const long a[6]) {
  r->rax = nr;
  r->orig_rax = (unsigned long)-1;  // not inside a syscall: no restart logic on the way out
  r->rdi = a[0];
  r->rsi = a[1];
  r->rdx = a[2];
  r->r10 = a[3];
  r->r8 = a[4];
  r->r9 = a[5];
  r->rip = kGadget;
}

// Runs one host syscall inside stopped stub thread `tid` at the gadget and returns its
// result. `newTid` receives the child of a clone. The thread's registers are restored.
long InjectSyscall(pid_t tid, long nr, const long a[6], pid_t* newTid) {
  user_regs_struct saved, r;
  if (Ptrace(PTRACE_GETREGS, tid, nullptr, &saved) != 0) return -errno;
  r = saved;
  AtGadget(&r, nr, a);
  int sig = RunUntilTrap(tid, &saved, &r, newTid);
  if (sig < 0) return sig;
  // A trap that is not ours (or a fault) should not happen while the stub runs the gadget.
  if (sig != SIGTRAP || r.rip != kGadget + 3) return -EFAULT;
  return (long)r.rax;
}

// Runs stopped, traced tid from registers r (rip and all) until its next trap, then puts
// its own registers back: the trap's signal (r: the registers at the trap) or -errno.
int InjectRun(pid_t tid, user_regs_struct* r, pid_t* newTid) {
  user_regs_struct saved;
  if (Ptrace(PTRACE_GETREGS, tid, nullptr, &saved) != 0) return -errno;
  return RunUntilTrap(tid, &saved, r, newTid);
}

// Several host syscalls injected into one stopped stub thread in a row: its registers
// are read once before the first and put back once after the last (InjectSyscall reads
// and restores them around each), two ptrace requests fewer per call. Used where one
// operation needs several (the host-fd mappings below).
class InjectSeq {
 public:
  explicit InjectSeq(pid_t tid) : tid_(tid) { ok_ = Ptrace(PTRACE_GETREGS, tid, nullptr, &saved_) == 0; }
  ~InjectSeq() {
    if (ok_ && dirty_) Ptrace(PTRACE_SETREGS, tid_, nullptr, &saved_);
  }
  long Call(long nr, const long a[6]) {
    if (!ok_) return -ESRCH;
    user_regs_struct r = saved_;
    AtGadget(&r, nr, a);
    dirty_ = true;
    int sig = RunUntilTrap(tid_, nullptr, &r, nullptr);
    if (sig == -ESRCH) ok_ = false;  // dead: nothing to put back
    if (sig < 0) return sig;
    if (sig != SIGTRAP || r.rip != kGadget + 3) return -EFAULT;
    return (long)r.rax;
  }

 private:
  pid_t tid_;
  user_regs_struct saved_;
  bool ok_ = false, dirty_ = false;
};

// Atomically replaces the 32-bit word at addr in stopped, traced thread tid's address
// space with `desired` if it holds `expected` (the stub's cmpxchg gadget, run by that
// thread: atomic against every other thread of the address space, on any CPU). Returns
// the old value (0..2^32-1), or -EFAULT/-ESRCH. The thread's registers are restored.
// Runs a cmpxchg gadget (its int3 `len` bytes on): 0 with the old value in *old, or -errno.
static long RunCas(pid_t tid, uint64_t gadget, unsigned len, uint64_t addr, uint64_t expected, uint64_t desired,
                   uint64_t* old) {
  user_regs_struct saved, r;
  if (Ptrace(PTRACE_GETREGS, tid, nullptr, &saved) != 0) return -errno;
  r = saved;
  r.rip = gadget;
  r.rdi = addr;
  r.rsi = desired;
  r.rax = expected;
  r.orig_rax = (unsigned long)-1;
  int sig = RunUntilTrap(tid, &saved, &r, nullptr);
  if (sig < 0) return sig;
  // A bad address faults at the cmpxchg; the fault is not delivered.
  if (sig != SIGTRAP || r.rip != gadget + len) return -EFAULT;
  *old = r.rax;
  return 0;
}

long CasU32(pid_t tid, uint64_t addr, uint32_t expected, uint32_t desired) {
  uint64_t old = 0;
  long r = RunCas(tid, kCasGadget, 5, addr, expected, desired, &old);
  return r < 0 ? r : (long)(uint32_t)old;
}

// The same on an aligned 64-bit word (the stub's 64-bit cmpxchg gadget): 0 with the old
// value in *old (equal to `expected` when it was replaced), or -errno.
long CasU64(pid_t tid, uint64_t addr, uint64_t expected, uint64_t desired, uint64_t* old) {
  return RunCas(tid, kCas64Gadget, 6, addr, expected, desired, old);
}

static Napi::Value CasU32Napi(const Napi::CallbackInfo& info) {
  pid_t tid = info[0].As<Napi::Number>().Int32Value();
  uint64_t addr = (uint64_t)info[1].As<Napi::Number>().Int64Value();
  uint32_t expected = info[2].As<Napi::Number>().Uint32Value();
  uint32_t desired = info[3].As<Napi::Number>().Uint32Value();
  if (addr & 3 || addr + 4 > 0x7ffffffff000ULL || (addr + 4 > kStubBase && addr < 0x7ff002000000ULL))
    return Num(info.Env(), -EFAULT);
  return Num(info.Env(), (double)CasU32(tid, addr, expected, desired));
}

static long ArgL(const Napi::CallbackInfo& info, int i) {
  return (long)info[i].As<Napi::Number>().Int64Value();
}

static Napi::Value Inject(const Napi::CallbackInfo& info) {
  pid_t tid = info[0].As<Napi::Number>().Int32Value();
  long nr = ArgL(info, 1);
  long a[6];
  for (int i = 0; i < 6; i++) a[i] = info.Length() > (size_t)(2 + i) ? ArgL(info, 2 + i) : 0;
  return Num(info.Env(), (double)InjectSyscall(tid, nr, a, nullptr));
}

// Clones a stopped stub thread: flags = 0 forks its address space (copy-on-write),
// CLONE_VM|CLONE_THREAD|CLONE_SIGHAND makes another thread in it. Returns the new
// host tid, already stopped (its initial SIGSTOP consumed) and traced.
static Napi::Value InjectClone(const Napi::CallbackInfo& info) {
  pid_t tid = info[0].As<Napi::Number>().Int32Value();
  long flags = ArgL(info, 1);
  long a[6] = {flags | SIGCHLD, 0, 0, 0, 0, 0};
  if (flags & CLONE_THREAD) a[0] = flags;
  pid_t child = 0;
  long r = InjectSyscall(tid, SYS_clone, a, &child);
  if (r < 0) return Num(info.Env(), (double)r);
  if (child == 0) child = (pid_t)r;
  for (;;) {
    int status;
    pid_t p = waitpid(child, &status, __WALL);
    if (p < 0) {
      if (errno == EINTR) continue;
      return Num(info.Env(), -errno);
    }
    if (WIFSTOPPED(status)) break;
    return Num(info.Env(), -ESRCH);
  }
  return Num(info.Env(), child);
}

static Napi::Value TakeSentryNs(const Napi::CallbackInfo& info) {
  pid_t tid = info[0].As<Napi::Number>().Int32Value();
  double v = g_sentryNs[tid & 0xffff];
  g_sentryNs[tid & 0xffff] = 0;
  return Num(info.Env(), v);
}

static Napi::Value Tgkill(const Napi::CallbackInfo& info) {
  pid_t tgid = info[0].As<Napi::Number>().Int32Value();
  pid_t tid = info[1].As<Napi::Number>().Int32Value();
  int sig = info[2].As<Napi::Number>().Int32Value();
  long r = syscall(SYS_tgkill, tgid, tid, sig);
  return Num(info.Env(), r < 0 ? -errno : 0);
}

// kill(2): a whole host process, named by any of its thread ids.
static Napi::Value Kill(const Napi::CallbackInfo& info) {
  pid_t pid = info[0].As<Napi::Number>().Int32Value();
  int sig = info[1].As<Napi::Number>().Int32Value();
  return Num(info.Env(), kill(pid, sig) < 0 ? -errno : 0);
}

// Ends one stopped thread: points it at `exit` in the gadget and lets it go. Not waited
// for: a thread-group leader's exit is not reported until its last thread is gone, so
// the main loop reaps it whenever it comes.
static Napi::Value ExitThread(const Napi::CallbackInfo& info) {
  pid_t tid = info[0].As<Napi::Number>().Int32Value();
  user_regs_struct r;
  if (Ptrace(PTRACE_GETREGS, tid, nullptr, &r) != 0) return Num(info.Env(), -errno);
  r.rax = SYS_exit;
  r.orig_rax = (unsigned long)-1;
  r.rdi = 0;
  r.rip = kGadget;
  if (Ptrace(PTRACE_SETREGS, tid, nullptr, &r) != 0) return Num(info.Env(), -errno);
  if (Ptrace(PTRACE_CONT, tid, nullptr, nullptr) != 0) return Num(info.Env(), -errno);
  return Num(info.Env(), 0);
}

static Napi::Value Reap(const Napi::CallbackInfo& info) {
  pid_t tid = info[0].As<Napi::Number>().Int32Value();
  int status;
  pid_t p = waitpid(tid, &status, __WALL | WNOHANG);
  return Num(info.Env(), p < 0 ? -errno : (p == 0 ? -EAGAIN : status));
}

// Does the Sentry have CAP_SYS_PTRACE (it then reads non-dumpable stubs' memory)?
static bool HaveCapSysPtrace() {
  struct {
    uint32_t version;
    int pid;
  } hdr = {0x20080522 /* _LINUX_CAPABILITY_VERSION_3 */, 0};
  struct {
    uint32_t effective, permitted, inheritable;
  } data[2] = {};
  if (syscall(SYS_capget, &hdr, data) != 0) return false;
  return (data[0].effective >> 19 /* CAP_SYS_PTRACE */) & 1;
}

// fork() of the stub, in a new pid namespace (and a new user namespace, without which
// an unprivileged Sentry cannot make one) where the host allows it: the template stub
// is that namespace's init, and every other stub (forked from it or from each other)
// lives in it, so no stub sees a host pid. The template never runs (it stays stopped
// in its int3), so the namespace's init never dies before the sandbox ends. Only raw
// syscalls follow in the child, so a raw clone (no atfork handlers) is safe here.
static pid_t ForkStub(int* nsFlags) {
  const int tries[] = {CLONE_NEWUSER | CLONE_NEWPID, CLONE_NEWPID};
  for (int f : tries) {
    long pid = syscall(SYS_clone, (long)(SIGCHLD | f), 0L, 0L, 0L, 0L);
    if (pid >= 0) {
      *nsFlags = f;
      return (pid_t)pid;
    }
  }
  *nsFlags = 0;
  return fork();
}

static void CloseStubSocketPair() {
  if (g_stubSock >= 0) close(g_stubSock);
  if (g_stubPeer >= 0) close(g_stubPeer);
  g_stubSock = g_stubPeer = -1;
}

// closeStubSocket(): the stubs' socket pair closed once its stubs are gone (the OCI pool's
// warm-up, src/oci/warm-guest.ts), so that neither it nor the next SpawnStub closes it again.
static Napi::Value CloseStubSocket(const Napi::CallbackInfo& info) {
  CloseStubSocketPair();
  return info.Env().Undefined();
}

// Starts the template stub: forked from Node (only raw syscalls in the child), traced,
// in a new session, new namespaces where permitted, no fds, no core dumps, then
// exec'd; it installs its own seccomp filter and stops. Everything but the stub image
// is then unmapped and the image's writable pages made read-only.
static Napi::Value SpawnStub(const Napi::CallbackInfo& info) {
  std::string path = info[0].As<Napi::String>().Utf8Value();
  // systrap (src/platform/systrap.ts): the stub traps instead of stopping, and keeps
  // the Sentry's doorbell eventfd at ST_EVENTFD (native/stub/systrap_abi.h).
  bool systrap = info.Length() > 1 && info[1].IsString() && info[1].As<Napi::String>().Utf8Value() == "systrap";
  int doorbell = systrap && info.Length() > 2 ? info[2].As<Napi::Number>().Int32Value() : -1;
  // Deterministic mode: RDTSC/RDTSCP fault (cheap), and CPUID faults (costly on a nested
  // VM: the CPUID-faulting MSR is rewritten at every switch to and from the stub).
  const bool trapTsc = info.Length() > 3 && info[3].IsBoolean() && info[3].As<Napi::Boolean>().Value();
  const bool trapCpuid = info.Length() > 4 && info[4].IsBoolean() && info[4].As<Napi::Boolean>().Value();
  int exe = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (exe < 0) return Num(info.Env(), -errno);
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) != 0) {
    int e = errno;
    close(exe);
    return Num(info.Env(), -e);
  }
  bool capPtrace = HaveCapSysPtrace();
  int nsFlags = 0;
  pid_t pid = ForkStub(&nsFlags);
  if (pid < 0) {
    int e = errno;
    close(exe);
    close(sv[0]);
    close(sv[1]);
    return Num(info.Env(), -e);
  }
  if (pid == 0) {
    setsid();
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    const int rest = CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNS | CLONE_NEWCGROUP;
    bool userNs = (nsFlags & CLONE_NEWUSER) != 0;
    if (userNs) {
      if (unshare(rest) != 0) unshare(CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNS);
    } else if (unshare(CLONE_NEWUSER | rest) == 0) {
      userNs = true;
    } else {
      unshare(CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNS);
    }
    // No core file of guest memory, ever (the stub also makes itself non-dumpable,
    // which stops core helpers too, unless the Sentry could then not read it).
    struct rlimit noCore = {0, 0};
    if (setrlimit(RLIMIT_CORE, &noCore) != 0) _exit(123);
    // In the sandbox's memory cgroup (native/launch_cgroup.h) the OOM killer takes a
    // stub (guest memory) before the Sentry or the gofer: raising needs no privilege.
    int adj = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
    if (adj >= 0) {
      if (write(adj, "1000", 4) != 4) {
      }
      close(adj);
    }
    // A non-dumpable stub stays fully traceable by the Sentry: requests on an attached
    // tracee are not checked again, and process_vm_readv/writev and /proc/<pid>/maps
    // (ptrace_may_access) pass a non-dumpable target for a caller with CAP_SYS_PTRACE
    // in the target mm's user namespace, which the Sentry has as that namespace's
    // owner (or as root). Without either, non-dumpable would lock the Sentry out.
    bool keepDumpable = !userNs && !capPtrace;
    ResetSignalsInChild();
    if (syscall(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0) != 0) _exit(125);
    // Keep exactly one fd: the socket, at kStubSockFd. The exe fd is close-on-exec.
    if (dup2(sv[1], kStubSockFd) != kStubSockFd) _exit(124);
    int keepHi = kStubSockFd;
    if (doorbell >= 0) {
      if (dup2(doorbell, kStubSockFd + 1) != kStubSockFd + 1) _exit(124);
      keepHi = kStubSockFd + 1;
    }
    int exeHi = fcntl(exe, F_DUPFD_CLOEXEC, keepHi + 1);
    if (exeHi < 0) _exit(124);
    syscall(SYS_close_range, 0, kStubSockFd - 1, 0);
    syscall(SYS_close_range, exeHi + 1, ~0U, 0);
    if (exeHi > keepHi + 1) syscall(SYS_close_range, keepHi + 1, exeHi - 1, 0);
    // argv[3..]: "notsc" and "cpuid-fault" in deterministic mode (see stub.c).
    char* argv[6] = {(char*)"tssandbox-stub", systrap ? (char*)"systrap" : (char*)"ptrace",
                     keepDumpable ? (char*)"dumpable" : (char*)"-", nullptr, nullptr, nullptr};
    int argn = 3;
    if (trapTsc) argv[argn++] = (char*)"notsc";
    if (trapCpuid) argv[argn++] = (char*)"cpuid-fault";
    char* envp[] = {nullptr};
    syscall(SYS_execveat, exeHi, "", argv, envp, AT_EMPTY_PATH);
    _exit(126);
  }
  close(exe);
  CloseStubSocketPair();  // a previous sandbox's in this process: no stub of it is reached through it again
  g_stubSock = sv[0];
  g_stubPeer = sv[1];  // kept to drain stale datagrams; never read for anything else
  int status;
  if (waitpid(pid, &status, __WALL) != pid || !WIFSTOPPED(status)) return Num(info.Env(), -ECHILD);
  long opts = PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL | PTRACE_O_TRACECLONE | PTRACE_O_TRACEFORK |
              PTRACE_O_TRACEVFORK;
  if (Ptrace(PTRACE_SETOPTIONS, pid, nullptr, (void*)opts) != 0) return Num(info.Env(), -errno);
  if (Ptrace(PTRACE_CONT, pid, nullptr, nullptr) != 0) return Num(info.Env(), -errno);
  if (waitpid(pid, &status, __WALL) != pid || !WIFSTOPPED(status) || WSTOPSIG(status) != SIGTRAP) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, __WALL);
    return Num(info.Env(), -EPERM);
  }
  g_pgid = pid;
  // Unmap what the host kernel gave the stub besides its image (stack, vdso, vvar), and
  // make the image's writable pages (the scratch page) read-only to guest code.
  char mapsPath[64];
  snprintf(mapsPath, sizeof mapsPath, "/proc/%d/maps", pid);
  FILE* f = fopen(mapsPath, "re");
  if (!f) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, __WALL);
    return Num(info.Env(), -EPERM);
  }
  unsigned long ranges[32][2];
  bool writable[32];
  int n = 0;
  char line[512];
  while (n < 32 && fgets(line, sizeof line, f)) {
    unsigned long lo, hi;
    char perms[8] = {0};
    if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3) continue;
    if (lo >= 0xffff800000000000UL) continue;  // vsyscall page: not unmappable
    ranges[n][0] = lo;
    ranges[n][1] = hi;
    writable[n] = perms[1] == 'w';
    n++;
  }
  fclose(f);
  for (int i = 0; i < n; i++) {
    long a[6] = {(long)ranges[i][0], (long)(ranges[i][1] - ranges[i][0]), 0, 0, 0, 0};
    if (ranges[i][0] >= kStubBase && ranges[i][1] <= kStubEnd) {
      if (!writable[i]) continue;
      a[2] = PROT_READ;
      if (InjectSyscall(pid, SYS_mprotect, a, nullptr) != 0) return Num(info.Env(), -EPERM);
      continue;
    }
    InjectSyscall(pid, SYS_munmap, a, nullptr);
  }
  return Num(info.Env(), pid);
}

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

// ---- guest memory ----

Napi::Value ReadMemNapi(const Napi::CallbackInfo& info, void (*after)(pid_t, uint64_t, uint8_t*, size_t)) {
  pid_t pid = info[0].As<Napi::Number>().Int32Value();
  uint64_t addr = (uint64_t)info[1].As<Napi::Number>().Int64Value();
  Napi::TypedArray ta = info[2].As<Napi::TypedArray>();
  size_t off = (size_t)info[3].As<Napi::Number>().Int64Value();
  size_t len = (size_t)info[4].As<Napi::Number>().Int64Value();
  if (off + len > ta.ByteLength()) return Num(info.Env(), -EINVAL);
  uint8_t* b = static_cast<uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset() + off;
  struct iovec local = {b, len}, remote = {(void*)addr, len};
  ssize_t r = process_vm_readv(pid, &local, 1, &remote, 1, 0);
  if (r < 0) return Num(info.Env(), -errno);
  if (after) after(pid, addr, b, (size_t)r);
  return Num(info.Env(), (double)r);
}

static Napi::Value ReadMem(const Napi::CallbackInfo& info) { return ReadMemNapi(info, nullptr); }

static Napi::Value WriteMem(const Napi::CallbackInfo& info) {
  pid_t pid = info[0].As<Napi::Number>().Int32Value();
  uint64_t addr = (uint64_t)info[1].As<Napi::Number>().Int64Value();
  Napi::TypedArray ta = info[2].As<Napi::TypedArray>();
  size_t off = (size_t)info[3].As<Napi::Number>().Int64Value();
  size_t len = (size_t)info[4].As<Napi::Number>().Int64Value();
  if (off + len > ta.ByteLength()) return Num(info.Env(), -EINVAL);
  uint8_t* b = static_cast<uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset() + off;
  struct iovec local = {b, len}, remote = {(void*)addr, len};
  ssize_t r = process_vm_writev(pid, &local, 1, &remote, 1, 0);
  return Num(info.Env(), r < 0 ? -errno : (double)r);
}

static Napi::Value ReadCString(const Napi::CallbackInfo& info) {
  pid_t pid = info[0].As<Napi::Number>().Int32Value();
  uint64_t addr = (uint64_t)info[1].As<Napi::Number>().Int64Value();
  size_t max = (size_t)info[2].As<Napi::Number>().Int64Value();
  return ReadCStringPaged(info.Env(), addr, max, [pid](uint64_t at, char* into, size_t len) -> long {
    struct iovec local = {into, len}, remote = {(void*)at, len};
    return (long)process_vm_readv(pid, &local, 1, &remote, 1, 0);
  });
}

// Pins the calling (main) thread to one CPU; stubs forked afterwards inherit it.
// A ptrace stop and resume between two CPUs costs ~40 us here (each side must wake
// an idle vCPU); on one CPU it is ~3 us, so tracer and tracees share a CPU.
static Napi::Value PinToCpu(const Napi::CallbackInfo& info) {
  int cpu = info[0].As<Napi::Number>().Int32Value();
  if (cpu < 0) cpu = sched_getcpu();
  if (cpu < 0) return Num(info.Env(), -errno);
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof set, &set) != 0) return Num(info.Env(), -errno);
  return Num(info.Env(), cpu);
}

// Host file I/O straight between a host fd and guest memory, through one native buffer:
// no JS allocation or copy per read (large reads of host files are a hot path).
static uint8_t g_ioBuf[1 << 20];

// hostReadToGuest(pid, fd, pos, addr, len): pread (pos >= 0) or read (pos < 0) into
// the guest. Returns bytes moved, or -errno if nothing moved.
static Napi::Value HostReadToGuest(const Napi::CallbackInfo& info) {
  pid_t pid = info[0].As<Napi::Number>().Int32Value();
  int fd = info[1].As<Napi::Number>().Int32Value();
  int64_t pos = info[2].As<Napi::Number>().Int64Value();
  uint64_t addr = (uint64_t)info[3].As<Napi::Number>().Int64Value();
  size_t len = (size_t)info[4].As<Napi::Number>().Int64Value();
  size_t done = 0;
  while (done < len) {
    size_t chunk = len - done < sizeof g_ioBuf ? len - done : sizeof g_ioBuf;
    ssize_t n = pos >= 0 ? pread(fd, g_ioBuf, chunk, pos + (int64_t)done) : read(fd, g_ioBuf, chunk);
    if (n < 0) {
      if (done) break;
      return Num(info.Env(), -errno);
    }
    if (n == 0) break;
    struct iovec local = {g_ioBuf, (size_t)n}, remote = {(void*)(addr + done), (size_t)n};
    ssize_t w = process_vm_writev(pid, &local, 1, &remote, 1, 0);
    if (w != n) return Num(info.Env(), done ? (double)done : -EFAULT);
    done += (size_t)n;
    if ((size_t)n < chunk || pos < 0) break;  // short read, or a stream: return what came
  }
  return Num(info.Env(), (double)done);
}

// CPUID as the host answers it, for the Sentry to answer a guest's trapped CPUID
// (deterministic mode): [eax, ebx, ecx, edx] of leaf info[0], subleaf info[1].
static Napi::Value HostCpuid(const Napi::CallbackInfo& info) {
  unsigned a = 0, b = 0, c = 0, d = 0;
  __cpuid_count(info[0].As<Napi::Number>().Uint32Value(), info[1].As<Napi::Number>().Uint32Value(), a, b, c, d);
  Napi::Array out = Napi::Array::New(info.Env(), 4);
  out.Set(0u, Num(info.Env(), a));
  out.Set(1u, Num(info.Env(), b));
  out.Set(2u, Num(info.Env(), c));
  out.Set(3u, Num(info.Env(), d));
  return out;
}

// Whether this host can make CPUID fault (ARCH_SET_CPUID): setting "CPUID allowed" on
// the Sentry itself changes nothing and fails with ENODEV where faulting is missing.
static Napi::Value CpuidFaultingSupported(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), syscall(SYS_arch_prctl, 0x1012 /* ARCH_SET_CPUID */, 1) == 0);
}

void InitPtrace(Napi::Env env, Napi::Object exports) {
  exports["hostCpuid"] = Napi::Function::New(env, HostCpuid);
  exports["cpuidFaultingSupported"] = Napi::Function::New(env, CpuidFaultingSupported);
  exports["hostReadToGuest"] = Napi::Function::New(env, HostReadToGuest);
  exports["pinToCpu"] = Napi::Function::New(env, PinToCpu);
  exports["setEventBuffer"] = Napi::Function::New(env, SetEventBuffer);
  exports["spawnStub"] = Napi::Function::New(env, SpawnStub);
  exports["closeStubSocket"] = Napi::Function::New(env, CloseStubSocket);
  exports["wait"] = Napi::Function::New(env, Wait);
  exports["resumeSyscall"] = Napi::Function::New(env, ResumeSyscall);
  exports["resumeSyscallAndWait"] = Napi::Function::New(env, ResumeSyscallAndWait);
  exports["resume"] = Napi::Function::New(env, Resume);
  exports["getRegs"] = Napi::Function::New(env, GetRegs);
  exports["setRegs"] = Napi::Function::New(env, SetRegs);
  exports["getFpRegs"] = Napi::Function::New(env, GetFpRegs);
  exports["setFpRegs"] = Napi::Function::New(env, SetFpRegs);
  exports["inject"] = Napi::Function::New(env, Inject);
  exports["casU32"] = Napi::Function::New(env, CasU32Napi);
  exports["mmapHostFd"] = Napi::Function::New(env, MmapHostFd);
  exports["mmapHostFdMany"] = Napi::Function::New(env, MmapHostFdMany);
  exports["injectClone"] = Napi::Function::New(env, InjectClone);
  exports["tgkill"] = Napi::Function::New(env, Tgkill);
  exports["takeSentryNs"] = Napi::Function::New(env, TakeSentryNs);
  exports["reap"] = Napi::Function::New(env, Reap);
  exports["kill"] = Napi::Function::New(env, Kill);
  exports["exitThread"] = Napi::Function::New(env, ExitThread);
  exports["readMem"] = Napi::Function::New(env, ReadMem);
  exports["writeMem"] = Napi::Function::New(env, WriteMem);
  exports["readCString"] = Napi::Function::New(env, ReadCString);
}

}  // namespace tss
