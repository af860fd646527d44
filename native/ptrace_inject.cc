// The ptrace platform's injections: one host syscall (or a cmpxchg gadget) run by a
// stopped, traced stub thread at the gadget, its registers put back; clone of a stub thread.
#include "ptrace_internal.h"
#include <sys/wait.h>

namespace tss {

// Runs stopped, traced thread tid from registers `r` until it stops in a trap or fault
// (fork/clone events on the way hand the child to *newTid; other signals in flight are
// suppressed), then puts `saved` back. Returns the stopping signal with the registers it
// stopped with in `r`, or -errno (-ESRCH: the thread died).
// `saved` null: the registers are left as they stopped (InjectSeq puts them back once, at its end).
uint64_t g_injections = 0;

int RunUntilTrap(pid_t tid, const user_regs_struct* saved, user_regs_struct* r, pid_t* newTid) {
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
void AtGadget(user_regs_struct* r, long nr, const long a[6]) {
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

void InitPtraceInject(Napi::Env env, Napi::Object exports) {
  exports["inject"] = Napi::Function::New(env, Inject);
  exports["casU32"] = Napi::Function::New(env, CasU32Napi);
  exports["injectClone"] = Napi::Function::New(env, InjectClone);
}

}  // namespace tss
