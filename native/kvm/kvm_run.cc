// vCPU threads and the event loop of the kvm platform. KVM_RUN blocks its caller, and
// the Sentry is one JavaScript thread: each vCPU runs KVM_RUN on a native thread of its
// own, which posts each exit (state kPosted, the doorbell rung if the Sentry sleeps) and
// waits (spin, then futex) to be let run again. The Sentry's wait() takes posted exits,
// decodes them from the vCPU's state page (written by the shim in ring 0: the guest's
// ring 3 cannot reach it) and answers page faults of mapped memory itself (FillFault)
// without reporting them; host signals and host fds are served as on the other
// platforms (the self-pipe, poll).
#include "kvm_run.h"
#include "kvm_abi.h"
#include "../common.h"
#include "../platform_internal.h"
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <deque>
#include <linux/futex.h>
#include <malloc.h>
#include <sys/resource.h>
#include <sys/sysinfo.h>
#include <poll.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <unordered_map>

namespace tss {
namespace kvm {
namespace {

constexpr int kKickSig = 40;  // SIGRTMIN+6: sets immediate_exit in the vCPU thread
constexpr uint64_t kVsyscall = 0xffffffffff600000ull;
constexpr uint64_t kUserEnd = 0x800000000000ull;

int g_bell = -1;
std::atomic<int> g_sleeping{0};
int g_nextCtx = 0x40000000;  // ctx ids: never a host pid
std::unordered_map<int, Vcpu*> g_ctx;
std::unordered_map<int, As*> g_as;
std::deque<std::pair<int, int>> g_exits;  // (ctx, wait status)
std::deque<int> g_segv;                  // ctxs whose return would fault: SIGSEGV now
thread_local kvm_run* t_run = nullptr;

void OnKick(int) {
  if (t_run) t_run->immediate_exit = 1;
}

int64_t NowNs() { return MonotonicNs(); }

long Futex(std::atomic<int>* a, int op, int val, const timespec* ts) {
  return syscall(SYS_futex, reinterpret_cast<int*>(a), op, val, ts, nullptr, 0);
}

void Post(Vcpu* v) {
  int running = kRun;  // a vCPU told to quit meanwhile stays quitting
  if (!v->st.compare_exchange_strong(running, kPosted, std::memory_order_seq_cst)) return;
  if (g_sleeping.load(std::memory_order_seq_cst)) {
    uint64_t one = 1;
    (void)!write(g_bell, &one, 8);
  }
}

// One KVM_RUN and what it ended with; false: keep running (a kick that came in ring 0).
bool RunOnce(Vcpu* v, timer_t timer) {
  int r = ioctl(v->fd, KVM_RUN, 0);
  int e = errno;
  v->run->immediate_exit = 0;
  if (r == 0) {
    kvm_run* k = v->run;
    if (k->exit_reason == KVM_EXIT_IO && k->io.direction == KVM_EXIT_IO_OUT && k->io.port == KVM_SHIM_PORT &&
        k->io.size == 1 && k->io.count == 1) {
      v->why = kWhyShim;
      v->shimKind = reinterpret_cast<uint8_t*>(k)[k->io.data_offset];
      return true;
    }
    char m[96];
    snprintf(m, sizeof m, "vCPU exit reason %u", k->exit_reason);
    v->why = kWhyFatal;
    v->fatal = m;
    return true;
  }
  if (e == EINTR || e == EFAULT) {
    kvm_sregs s;
    if (ioctl(v->fd, KVM_GET_SREGS, &s) < 0 || ioctl(v->fd, KVM_GET_REGS, &v->kregs) < 0) {
      v->why = kWhyFatal;
      v->fatal = "KVM_GET_REGS failed";
      return true;
    }
    bool ring3 = (s.cs.selector & 3) == 3;
    if (ring3 && e == EINTR && v->st.load() == kRun && !v->kicked.load() && v->shoot.load()) {
      // A shootdown (no kick of the Sentry's): through the shim's resume path, which
      // clears and invlpgs the PTEs queued meanwhile, back to where the guest was.
      if (!ApplyPending(v)) ReRegisterPlat(v->as);
      if (!EnterShim(v, v->kregs, &s)) {
        v->why = kWhyFatal;
        v->fatal = "cannot enter the shim for a TLB shootdown";
        return true;
      }
      v->shoot.store(0, std::memory_order_release);
      return false;
    }
    // A late signal of a shootdown or kick already served: nothing to report.
    if (ring3 && e == EINTR && v->st.load() == kRun && !v->kicked.load()) return false;
    if (!ring3) {
      if (e == EFAULT) {
        v->why = kWhyFatal;
        v->fatal = "the shim touched memory KVM cannot map";
        return true;
      }
      if (v->st.load() == kQuit) return true;
      // In the shim (entering or leaving ring 3): run on, and look again soon.
      itimerspec it = {{0, 0}, {0, 20000}};
      timer_settime(timer, 0, &it, nullptr);
      return false;
    }
    v->kicked.store(0);
    v->why = e == EINTR ? kWhyKick : kWhyFault;
    // KVM_EXIT_MEMORY_FAULT (39: not in this system's headers): the gpa, 8 bytes into the union at 32.
    v->faultGpa = 0;
    if (e == EFAULT && v->run->exit_reason == 39) memcpy(&v->faultGpa, reinterpret_cast<uint8_t*>(v->run) + 32 + 8, 8);
    return true;
  }
  v->why = kWhyFatal;
  v->fatal = std::string("KVM_RUN: ") + strerror(e);
  return true;
}

void* VcpuMain(void* p) {
  Vcpu* v = static_cast<Vcpu*>(p);
  sigset_t all;
  sigfillset(&all);
  sigdelset(&all, kKickSig);
  pthread_sigmask(SIG_SETMASK, &all, nullptr);
  t_run = v->run;
  sigevent se = {};
  se.sigev_notify = SIGEV_THREAD_ID;
  se.sigev_signo = kKickSig;
  se._sigev_un._tid = (pid_t)syscall(SYS_gettid);
  timer_t timer;
  timer_create(CLOCK_MONOTONIC, &se, &timer);
  for (;;) {
    int s;
    for (int i = 0; (s = v->st.load(std::memory_order_acquire)) != kRun && s != kQuit; i++) {
      if (i < 2000) {
        __builtin_ia32_pause();
        continue;
      }
      v->sleeping.store(1, std::memory_order_seq_cst);
      if (v->st.load() == s) Futex(&v->st, FUTEX_WAIT_PRIVATE, s, nullptr);
      v->sleeping.store(0, std::memory_order_relaxed);
    }
    if (s == kQuit) break;
    while (!RunOnce(v, timer)) {
    }
    rusage ru;
    if (getrusage(RUSAGE_THREAD, &ru) == 0) {
      v->minflt.store((uint64_t)ru.ru_minflt, std::memory_order_relaxed);
      v->majflt.store((uint64_t)ru.ru_majflt, std::memory_order_relaxed);
      v->nvcsw.store((uint64_t)ru.ru_nvcsw, std::memory_order_relaxed);
      v->nivcsw.store((uint64_t)ru.ru_nivcsw, std::memory_order_relaxed);
    }
    Post(v);
  }
  timer_delete(timer);
  t_run = nullptr;
  return nullptr;
}

void SetState(Vcpu* v, int s) {
  v->st.store(s, std::memory_order_seq_cst);
  if (v->sleeping.load(std::memory_order_seq_cst)) Futex(&v->st, FUTEX_WAKE_PRIVATE, 1, nullptr);
}

// Lets stopped v run: its pending shim work first (a vCPU stopped outside the shim
// resumes in ring 3 directly: its work waits for its next pass through the shim).
void Go(Vcpu* v) {
  v->shoot.store(0);  // what a shootdown asked is in the state page now
  if (!ApplyPending(v)) ReRegisterPlat(v->as);
  v->run->immediate_exit = 0;
  SetState(v, kRun);
}

int32_t* EventFor(Vcpu* v) {
  *Regs() = v->regs;
  int32_t* inf = Info();
  inf[kInfoTid] = v->ctx;
  inf[kInfoStatus] = 0;
  inf[kInfoMsg] = 0;
  inf[kInfoSigno] = 0;
  return inf;
}

int ReportSignal(Vcpu* v, int sig, int code, uint64_t addr) {
  int32_t* inf = EventFor(v);
  uint8_t* si = EventBuffer() + kSiginfoOff;
  memset(si, 0, 128);
  int32_t* w = reinterpret_cast<int32_t*>(si);
  w[0] = sig;
  w[2] = code;
  memcpy(si + 16, &addr, 8);
  inf[kInfoSigno] = sig;
  inf[kInfoKind] = kEvSignal;
  return kEvSignal;
}

int ReportSyscall(Vcpu* v) {
  int32_t* inf = EventFor(v);
  FillSyscallArgs();
  inf[kInfoKind] = kEvSyscall;
  return kEvSyscall;
}

void FromKvm(Vcpu* v) {
  const kvm_regs& k = v->kregs;
  user_regs_struct& r = v->regs;
  r.rax = k.rax, r.rbx = k.rbx, r.rcx = k.rcx, r.rdx = k.rdx, r.rsi = k.rsi, r.rdi = k.rdi, r.rsp = k.rsp;
  r.rbp = k.rbp, r.r8 = k.r8, r.r9 = k.r9, r.r10 = k.r10, r.r11 = k.r11, r.r12 = k.r12, r.r13 = k.r13;
  r.r14 = k.r14, r.r15 = k.r15, r.rip = k.rip, r.eflags = k.rflags;
  r.orig_rax = (unsigned long)-1;
  v->regsInKvm = true;
}

// The shim's registers (state page) into the Sentry's copy.
void FromState(Vcpu* v) {
  user_regs_struct& r = v->regs;
  memcpy(&r, v->state + ST_REGS, sizeof r);
  r.cs = KVM_SEL_UCODE, r.ss = KVM_SEL_UDATA;
  r.ds = r.es = r.fs = r.gs = 0;
  r.fs_base = v->fsBase, r.gs_base = v->gsBase;
  v->regsInKvm = false;
}

// Linux's signal for an exception vector from ring 3.
int Exception(Vcpu* v, uint64_t vec, uint64_t err, uint64_t cr2) {
  v->regs.orig_rax = (unsigned long)-1;
  switch (vec) {
    case 0: return ReportSignal(v, SIGFPE, 1 /* FPE_INTDIV */, v->regs.rip);
    case 1: return ReportSignal(v, SIGTRAP, 2 /* TRAP_TRACE */, v->regs.rip);
    case 3: return ReportSignal(v, SIGTRAP, 0x80 /* SI_KERNEL */, 0);
    case 6: {
      // int $0x80 comes as #UD on this nested host: SIGSEGV, as Linux without IA32 emulation.
      uint8_t op[2];
      if (Access(v->as, v->regs.rip, op, 2, false) == 2 && op[0] == 0xcd && op[1] == 0x80) return ReportSignal(v, SIGSEGV, 0x80, 0);
      return ReportSignal(v, SIGILL, 2 /* ILL_ILLOPN */, v->regs.rip);
    }
    case 16: case 19: return ReportSignal(v, SIGFPE, 0, v->regs.rip);
    case 12: case 17: return ReportSignal(v, SIGBUS, 0x80, 0);
    case 14: {
      // ACCERR where something is mapped (PTEs are made lazily: not-present says nothing).
      bool acc = (err & 1) || (cr2 < kUserEnd && ProtAt(v->as, cr2) >= 0);
      return ReportSignal(v, SIGSEGV, acc ? 2 /* SEGV_ACCERR */ : 1 /* SEGV_MAPERR */, cr2);
    }
    default: return ReportSignal(v, SIGSEGV, 0x80, 0);  // #GP (int $0x80 too), #NP, ...
  }
}

bool IsSyscall(Vcpu* v) {
  uint64_t rip;
  uint8_t op[2];
  memcpy(&rip, v->state + R_RIP, 8);
  return Access(v->as, rip, op, 2, false) == 2 && op[0] == 0x0f && op[1] == 0x05;
}

// A shim exit into an event; -1: answered here (a fault the mirror maps), v runs again.
int DecodeShim(Vcpu* v) {
  v->vsys = false;
  uint64_t vec, err, cr2;
  memcpy(&vec, v->state + ST_VEC, 8);
  memcpy(&err, v->state + ST_ERR, 8);
  memcpy(&cr2, v->state + ST_CR2, 8);
  if (v->shimKind == KIND_SYSCALL) {
    FromState(v);
    v->regs.orig_rax = v->regs.rax;
    v->regs.rax = (unsigned long)-ENOSYS;
    return ReportSyscall(v);
  }
  if (v->shimKind != KIND_EXCEPTION) return -2;
  if (vec == 14 && cr2 == SyscallEntry() && (err & 0x14) == 0x14) {
    // `syscall` that stayed at CPL 3 (this nested host, kvm_vm.cc): the instruction did its
    // part (rcx = return address, r11 = flags); a guest that jumps there itself makes a
    // syscall with the rcx and r11 it chose, as it could with the instruction.
    FromState(v);
    v->regs.rip = v->regs.rcx;
    v->regs.eflags = v->regs.r11;
    v->regs.orig_rax = v->regs.rax;
    v->regs.rax = (unsigned long)-ENOSYS;
    return ReportSyscall(v);
  }
  if (vec == 6 && IsSyscall(v)) {
    // `syscall` where EFER.SCE is not honoured the other way (#UD): done here.
    FromState(v);
    uint64_t ret = v->regs.rip + 2;
    v->regs.rip = ret;
    v->regs.rcx = ret;
    v->regs.r11 = v->regs.eflags & ~0x10000ull;  // RF is the fault's, not the guest's
    v->regs.orig_rax = v->regs.rax;
    v->regs.rax = (unsigned long)-ENOSYS;
    return ReportSyscall(v);
  }
  int fill = vec == 14 ? FillFault(v->as, cr2, err) : kRefused;
  if (fill == kFilled) {
    if (err & 1) v->pendFlags |= FL_FLUSH;
    Go(v);
    return -1;
  }
  FromState(v);
  if (fill == kPastEof) {
    v->regs.orig_rax = (unsigned long)-1;
    return ReportSignal(v, SIGBUS, 2 /* BUS_ADRERR */, cr2);
  }
  if (vec == 14 && (cr2 & ~0xfffull) == kVsyscall && v->regs.rip == cr2 && (cr2 & 0x3ff) == 0 && cr2 - kVsyscall <= 0x800) {
    // A call into the vsyscall page: the syscall it stands for, returning to the caller.
    uint64_t caller;
    if (Access(v->as, v->regs.rsp, reinterpret_cast<uint8_t*>(&caller), 8, false) == 8) {
      uint64_t off = cr2 - kVsyscall;
      v->regs.rip = caller;
      v->regs.rsp += 8;
      v->regs.orig_rax = off == 0 ? 96 /* gettimeofday */ : off == 0x400 ? 201 /* time */ : 309 /* getcpu */;
      v->vsys = true, v->vsysEntry = cr2;
      v->regs.rax = (unsigned long)-ENOSYS;
      return ReportSyscall(v);
    }
  }
  return Exception(v, vec, err, cr2);
}

void KillAs(As* as, const std::string& why) {
  fprintf(stderr, "tssandbox: kvm platform: %s: the address space is ended\n", why.c_str());
  Destroy(as);
}

int Decode(Vcpu* v) {
  switch (v->why) {
    case kWhyShim: {
      int k = DecodeShim(v);
      if (k == -2) {
        // The CPU's frame on the ring-0 stack: vector, error code, rip.
        uint64_t f[3];
        memcpy(f, v->state + KVM_SHIM_CPU_STRIDE - 56, sizeof f);
        char m[128];
        uint64_t q[3];
        memcpy(q, v->state + ST_INVL, sizeof q);
        snprintf(m, sizeof m, "a fault inside the shim (vector %lu, error %#lx, at %#lx) q %lx %lx %lx", (unsigned long)f[0],
                 (unsigned long)f[1], (unsigned long)f[2], q[0], q[1], q[2]);
        KillAs(v->as, m);
        return -1;
      }
      return k;
    }
    case kWhyKick:
      FromKvm(v);
      return ReportSignal(v, SIGURG, 0, 0);
    case kWhyFault:
      FromKvm(v);
      return ReportSignal(v, SIGBUS, 2 /* BUS_ADRERR */, v->faultGpa ? VaOfGpa(v->as, v->faultGpa & ~0xfffull) + (v->faultGpa & 0xfff) : 0);
    default:
      KillAs(v->as, v->fatal);
      return -1;
  }
}

int ReportExit() { return ReportQueuedExit(g_exits); }

Vcpu* ScanPosted() {
  for (auto& kv : g_ctx) {
    Vcpu* v = kv.second;
    if (v->st.load(std::memory_order_acquire) == kPosted) {
      v->st.store(kStopped, std::memory_order_relaxed);
      return v;
    }
  }
  return nullptr;
}

bool AnyRunning() {
  for (auto& kv : g_ctx)
    if (kv.second->st.load(std::memory_order_relaxed) == kRun) return true;
  return false;
}

void StopThread(Vcpu* v) {
  if (!v->started) return;
  SetState(v, kQuit);
  pthread_kill(v->th, kKickSig);
  pthread_join(v->th, nullptr);
  v->started = false;
}

}  // namespace

int InitRun(std::string* why) {
  if (!Ready(why)) return -ENODEV;
  if (g_bell < 0) {
    // glibc's malloc sizes its arena limit from get_nprocs() (/sys/devices/system/cpu/online,
    // /proc/stat) the first time a new thread needs an arena: a vCPU thread, after the
    // Sentry confined itself (those opens refused, and host paths named). The same limit,
    // set now while the files may be read (before confinement).
    mallopt(M_ARENA_MAX, 8 * get_nprocs());
    g_bell = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    struct sigaction sa = {};
    sa.sa_handler = OnKick;
    sigemptyset(&sa.sa_mask);
    sigaction(kKickSig, &sa, nullptr);
  }
  return g_bell < 0 ? -errno : 0;
}

// A vCPU of as with its thread started, or null.
Vcpu* StartVcpu(As* as, int ctx, std::string* why) {
  Vcpu* v = NewVcpu(as, ctx, why);
  if (!v) return nullptr;
  if (pthread_create(&v->th, nullptr, VcpuMain, v) != 0) {
    *why = "cannot start a vCPU thread";
    FreeVcpu(v);
    return nullptr;
  }
  v->started = true;
  g_ctx[ctx] = v;
  return v;
}

As* MakeAs(std::string* why) {
  if (InitRun(why) < 0) return nullptr;
  int ctx = g_nextCtx++;
  As* as = NewAs(ctx, why);
  if (!as) return nullptr;
  if (!StartVcpu(as, ctx, why)) {
    FreeAs(as);
    return nullptr;
  }
  g_as[ctx] = as;
  return as;
}

// The new vCPU to continue as from does: its registers and FP state.
void CopyCpu(Vcpu* from, Vcpu* v) {
  v->regs = from->regs;
  TssXsave x;
  if (ioctl(from->fd, TSS_KVM_GET_XSAVE, &x) == 0) ioctl(v->fd, TSS_KVM_SET_XSAVE, &x);
}

int Fork(Vcpu* from, std::string* why) {
  int ctx = g_nextCtx++;
  As* as = NewAs(ctx, why);
  if (!as) return -EAGAIN;
  long e = ForkMemory(from->as, as);
  Shootdown(from->as);  // the parent's private pages are the child's too now: read-only
  Vcpu* v = e < 0 ? nullptr : StartVcpu(as, ctx, why);
  if (!v) {
    if (e < 0) *why = "out of memory slots or guest memory for a fork";
    FreeAs(as);
    return -EAGAIN;
  }
  CopyCpu(from, v);
  g_as[ctx] = as;
  return ctx;
}

int NewThread(Vcpu* from, std::string* why) {
  int ctx = g_nextCtx++;
  Vcpu* v = StartVcpu(from->as, ctx, why);
  if (!v) return -EAGAIN;
  CopyCpu(from, v);
  return ctx;
}

Vcpu* VcpuOf(int ctx) {
  auto it = g_ctx.find(ctx);
  return it == g_ctx.end() ? nullptr : it->second;
}

As* AsOf(int id) {
  auto a = g_as.find(id);
  if (a != g_as.end()) return a->second;
  Vcpu* v = VcpuOf(id);
  return v ? v->as : nullptr;
}

void Resume(Vcpu* v) {
  user_regs_struct& r = v->regs;
  // What ring 3 may hold: no IOPL, NT, VM; IF on. A return that would fault in ring 0
  // (non-canonical rip) is the SIGSEGV Linux gives.
  r.eflags = (r.eflags & 0x240dd5) | 0x202;
  if (r.rip >= kUserEnd) {
    g_segv.push_back(v->ctx);
    return;
  }
  bool bases = r.fs_base != v->fsBase || r.gs_base != v->gsBase;
  if (r.fs_base >= kUserEnd) r.fs_base = 0;
  if (r.gs_base >= kUserEnd) r.gs_base = 0;
  if (v->regsInKvm) {
    kvm_regs k = {};
    k.rax = r.rax, k.rbx = r.rbx, k.rcx = r.rcx, k.rdx = r.rdx, k.rsi = r.rsi, k.rdi = r.rdi, k.rsp = r.rsp;
    k.rbp = r.rbp, k.r8 = r.r8, k.r9 = r.r9, k.r10 = r.r10, k.r11 = r.r11, k.r12 = r.r12, k.r13 = r.r13;
    k.r14 = r.r14, k.r15 = r.r15, k.rip = r.rip, k.rflags = r.eflags;
    ioctl(v->fd, KVM_SET_REGS, &k);
    if (bases) {
      kvm_sregs s;
      if (ioctl(v->fd, KVM_GET_SREGS, &s) == 0) {
        s.fs.base = r.fs_base, s.gs.base = r.gs_base;
        ioctl(v->fd, KVM_SET_SREGS, &s);
      }
    }
    v->regsInKvm = false;
  } else {
    memcpy(v->state + ST_REGS, &r, sizeof r);
    if (r.fs_base != v->fsBase) v->pendFlags |= FL_FSBASE;
    if (r.gs_base != v->gsBase) v->pendFlags |= FL_GSBASE;
  }
  v->fsBase = r.fs_base, v->gsBase = r.gs_base;
  Go(v);
}

int WaitEvent(int timeoutMs, const int32_t* fds, const int32_t* events, int32_t* revents, int count) {
  int64_t deadline = timeoutMs < 0 ? INT64_MAX : NowNs() + (int64_t)timeoutMs * 1000000;
  if (count > 256) count = 256;
  struct pollfd p[258];
  for (;;) {
    if (!g_exits.empty()) return ReportExit();
    if (!g_segv.empty()) {
      Vcpu* v = VcpuOf(g_segv.front());
      g_segv.pop_front();
      if (v) return ReportSignal(v, SIGSEGV, 0x80, 0);
      continue;
    }
    if (PendingHostSignals()) {
      Info()[kInfoKind] = kEvHostSignal;
      return kEvHostSignal;
    }
    // Spin a little while a vCPU runs (an exit's handoff then costs no wakeup).
    int64_t spinEnd = AnyRunning() && count == 0 ? NowNs() + 20000 : 0;
    Vcpu* v = nullptr;
    do {
      v = ScanPosted();
      if (v) break;
      __builtin_ia32_pause();
    } while (spinEnd && NowNs() < spinEnd);
    if (v) {
      int k = Decode(v);
      if (k >= 0) return k;
      continue;
    }
    g_sleeping.store(1, std::memory_order_seq_cst);
    v = ScanPosted();
    if (v || !g_exits.empty() || !g_segv.empty() || PendingHostSignals()) {
      g_sleeping.store(0);
      if (v) {
        int k = Decode(v);
        if (k >= 0) return k;
      }
      continue;
    }
    int wait = FillWaitSet(p, g_bell, fds, events, count, deadline);
    int n = poll(p, (nfds_t)count + 2, wait);
    int e = errno;
    g_sleeping.store(0);
    uint64_t val;
    if (p[1].revents & POLLIN) (void)!read(g_bell, &val, 8);
    if (p[0].revents & POLLIN) DrainSelfPipe();
    if (n < 0 && e != EINTR) return -e;
    if (TakePollResults(p + 2, revents, count)) return kEvPoll;
    if (n == 0 && deadline != INT64_MAX && NowNs() >= deadline) {
      Info()[kInfoKind] = kEvTimeout;
      return kEvTimeout;
    }
  }
}

bool DivertVsyscallFault(Vcpu* v, long result) {
  if (!v->vsys) return false;
  v->vsys = false;
  if (result != -EFAULT) return false;
  v->regs.rip = v->vsysEntry;
  v->regs.rsp -= 8;
  v->regs.rax = (unsigned long)-ENOSYS;
  v->regs.orig_rax = (unsigned long)-1;
  g_segv.push_back(v->ctx);
  return true;
}

void Kick(Vcpu* v) {
  if (v->st.load() != kRun || !v->started) return;
  v->kicked.store(1);
  pthread_kill(v->th, kKickSig);
}

void Shootdown(As* as) {
  if (!as->shoot) return;
  as->shoot = false;
  // Every running vCPU of as is signalled and, stopped in ring 3, re-enters through the
  // shim (RunOnce), which applies its queue; one in the shim re-arms its timer and is
  // taken in ring 3 a moment later, or exits (its resume applies the queue). Until each
  // has, the call that cleared the PTEs does not return: as Linux's munmap/mprotect.
  std::vector<Vcpu*> wait;
  for (Vcpu* v : as->vcpus) {
    if (!v || !v->started || v->st.load() != kRun) continue;
    v->shoot.store(1);
    if (v->st.load() != kRun) continue;  // stopped meanwhile: its resume applies the queue
    pthread_kill(v->th, kKickSig);
    wait.push_back(v);
  }
  for (Vcpu* v : wait)
    for (int i = 0; v->shoot.load(std::memory_order_acquire) && v->st.load(std::memory_order_acquire) == kRun; i++) {
      if (i < 1000) __builtin_ia32_pause();
      else sched_yield();
    }
}

void ExitThread(Vcpu* v) {
  As* as = v->as;
  int ctx = v->ctx;
  StopThread(v);
  g_ctx.erase(ctx);
  FreeVcpu(v);
  g_exits.emplace_back(ctx, 0);
  bool any = false;
  for (Vcpu* o : as->vcpus) any = any || o;
  if (!any) {
    g_as.erase(as->id);
    FreeAs(as);
  }
}

void Destroy(As* as) {
  for (Vcpu* v : as->vcpus) {
    if (!v) continue;
    StopThread(v);
    g_ctx.erase(v->ctx);
    g_exits.emplace_back(v->ctx, SIGKILL);
  }
  g_as.erase(as->id);
  FreeAs(as);
}

}  // namespace kvm
}  // namespace tss
