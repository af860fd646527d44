// The ptrace platform's wait loop: the next stop of any stub thread (decoded into the
// event buffer: syscalls, faults, int $0x80 and vsyscall-page calls as Linux reports
// them), host fds and signals meanwhile, and the per-syscall resume-and-wait hot path.
#include "ptrace_internal.h"
#include <sys/uio.h>
#include <sys/wait.h>

namespace tss {

// ---- syscalls that are not x86-64 `syscall`s, and the vsyscall page ----

constexpr uint64_t kVsyscallPage = 0xffffffffff600000ULL;
// The thread whose current stop is a vsyscall reported as a syscall, and its entry.
pid_t g_vsysTid = 0;
static uint64_t g_vsysEntry = 0;
// A SIGSEGV made up for a vsyscall the Sentry failed with EFAULT, reported by the next wait.
static pid_t g_synthSegvTid = 0;

// Reports the thread as faulted with SIGSEGV (SI_KERNEL, si_addr 0), as Linux does.
int ReportSegv(pid_t pid) {
  int32_t* inf = Info();
  memset(EventBuffer() + kSiginfoOff, 0, 128);
  int32_t* si = reinterpret_cast<int32_t*>(EventBuffer() + kSiginfoOff);
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
  const uint8_t* si = EventBuffer() + kSiginfoOff;
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
  if (Ptrace(PTRACE_GETSIGINFO, pid, nullptr, EventBuffer() + kSiginfoOff) != 0) {
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

void InitPtraceWait(Napi::Env env, Napi::Object exports) {
  exports["wait"] = Napi::Function::New(env, Wait);
  exports["resumeSyscall"] = Napi::Function::New(env, ResumeSyscall);
  exports["resumeSyscallAndWait"] = Napi::Function::New(env, ResumeSyscallAndWait);
}

}  // namespace tss
