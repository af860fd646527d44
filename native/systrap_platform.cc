// The systrap platform: guest threads are not traced; each syscall they make traps
// (seccomp SECCOMP_RET_TRAP) into the stub's SIGSYS handler, which saves the registers
// into the thread's frame in a memfd shared with the Sentry and spins, then sleeps,
// until the Sentry replies there (native/stub/systrap.c). Faults and the kick signal
// come the same way. Each address space also has one traced thread, its injector (the
// stub process's leader, never running guest code), through which the Sentry runs
// mmap/munmap/mprotect/clone with the ptrace platform's machinery.
//
// Nothing read from a frame is trusted: the guest can write its own frames (and those
// of its other threads) at any time. The Sentry copies a frame once when it takes it,
// keeps the copy as the thread's registers, checks the fields it acts on (signal
// number, FP size) and never dereferences or indexes by anything found there; which
// thread a frame belongs to is the Sentry's own table, never the frame's word.
#include "systrap_internal.h"

namespace tss {
namespace systrap {

static_assert(sizeof(st_frame) <= ST_FRAME_SIZE, "frame overlaps the signal stack");
static_assert(offsetof(st_frame, fp) % 64 == 0, "XSAVE area alignment");
static_assert(sizeof(user_regs_struct) == 27 * 8, "register layout");


// Returns whether the handler was asleep (a futex wake was needed).
bool Wake(st_frame* f, bool counted) {
  __atomic_store_n(&f->state, ST_REPLY, __ATOMIC_SEQ_CST);
  if (prof::g.on) prof::g.resumes++;
  if (__atomic_load_n(&f->waiting, __ATOMIC_SEQ_CST)) {
    if (prof::g.on) prof::g.wakes++;
    syscall(SYS_futex, &f->state, FUTEX_WAKE, 1, nullptr, nullptr, 0);
    if (counted) g_stubSpin.Miss();
    return true;
  }
  if (counted) g_stubSpin.Hit();
  return false;
}

void StopRunning(Ctx* c) {
  if (!c->running) return;
  c->running = false;
  for (size_t i = 0; i < g_running.size(); i++) {
    if (g_running[i] == c) {
      g_running[i] = g_running.back();
      g_running.pop_back();
      break;
    }
  }
}

// A starting thread's first trap, if it came: the frame is the Sentry's from now on
// (its registers stay the Sentry's copy: what the trap saved is the stub's entry).
// It must be the entry's own getpid trap, which the thread reaches only once its signal
// stack and guest-thread filter are in place (stub.c st_thread_entry): anything else
// (the filter refusing one of the entry's calls, or a sibling writing the frame) ends
// its process, whose guest threads are then all reported exited (ReapInjectors).
bool TakeFirstPost(Ctx* c) {
  st_frame* f = c->f;
  if (__atomic_load_n(&f->state, __ATOMIC_ACQUIRE) != ST_POSTED) return false;
  __atomic_store_n(&f->state, ST_TAKEN, __ATOMIC_SEQ_CST);
  c->starting = false;
  uint64_t at;
  int32_t nr;
  memcpy(&at, f->siginfo + 16, 8);
  memcpy(&nr, f->siginfo + 24, 4);
  if (f->signo != SIGSYS || at != ST_ENTRY_TRAP_IP || nr != SYS_getpid) {
    c->doomed = true;  // never answered (WriteBack): its handler waits until the kill lands
    kill(c->as->leader, SIGKILL);
  }
  return true;
}


// Waits for a starting thread's first trap (for the few calls that need its frame: its
// initial FP image, an exit). The trap comes within microseconds once the thread runs
// (re-posted every 50 ms if a sibling wrote over the frame); a thread that never posts
// in kStartNs takes its process down. False if it did not come.
bool AwaitFirstPost(Ctx* c) {
  while (c->starting && !TakeFirstPost(c)) {
    if (NowNs() > c->startDeadline || syscall(SYS_tgkill, c->as->leader, c->tid, 0) != 0) {
      kill(c->as->leader, SIGKILL);  // the process (the thread may be gone)
      c->starting = false;
      return false;
    }
    sched_yield();
  }
  return true;
}

void Forget(Ctx* c) {
  StopRunning(c);
  for (size_t i = 0; i < g_kicks.size(); i++)
    if (g_kicks[i] == c) g_kicks.erase(g_kicks.begin() + (long)i--);
  if (g_synthSegv == c) g_synthSegv = nullptr;
  c->as->slots[c->slot] = nullptr;
  g_ctx.erase(c->tid);
  delete c;
}


As* AsOfCtx(pid_t tid) {
  Ctx* c = CtxOf(tid);
  if (c) return c->as;
  auto it = g_as.find(tid);
  return it == g_as.end() ? nullptr : it->second;
}

// Reports the thread as faulted with SIGSEGV (SI_KERNEL), as Linux does for a bad
// vsyscall pointer or a 32-bit syscall.
// The event's registers and info fields for stopped c.
int32_t* EventFor(Ctx* c) {
  *Regs() = c->regs;
  int32_t* inf = Info();
  inf[kInfoTid] = c->tid;
  inf[kInfoStatus] = 0;
  inf[kInfoMsg] = 0;
  inf[kInfoSigno] = 0;
  inf[kInfoPatch] = 0;
  return inf;
}

int ReportSegv(Ctx* c) {
  EventFor(c);
  return tss::ReportSegv(c->tid);
}

int ReportSyscall(Ctx* c) {
  int32_t* inf = EventFor(c);
  FillSyscallArgs();
  NoteSentryStop(c->tid);
  inf[kInfoKind] = kEvSyscall;
  return kEvSyscall;
}

// Turns a taken frame into an event. The siginfo is the handler's copy (guest-writable):
// only its kind decides what is reported, and a made-up one is at worst a fault or a
// syscall the guest could have caused itself.
int Decode(Ctx* c) {
  int sig;
  uint8_t si[128];
  TakeFrame(c, &sig, si);
  int32_t code;
  memcpy(&code, si + 8, 4);
  if (sig == SIGSYS && code == 1 /* SYS_SECCOMP */) {
    uint64_t callAddr;
    uint32_t arch;
    int32_t sysno;
    memcpy(&callAddr, si + 16, 8);
    memcpy(&sysno, si + 24, 4);
    memcpy(&arch, si + 28, 4);
    if (arch != AUDIT_ARCH_X86_64) {
      // int $0x80 (IA32 emulation in the host): refused as Linux without it refuses it.
      c->regs.rip -= 2;
      c->regs.orig_rax = (unsigned long)-1;
      return ReportSegv(c);
    }
    if ((callAddr & ~0xfffULL) == kVsyscallPage) {
      long nr = sysno;
      if (nr != SYS_gettimeofday && nr != SYS_time && nr != SYS_getcpu) return ReportSegv(c);
      // The host already emulated the `ret` (rip = caller): the result goes to rax.
      c->vsys = true;
      c->vsysEntry = kVsyscallPage + (nr == SYS_gettimeofday ? 0 : nr == SYS_time ? 0x400 : 0x800);
      c->regs.orig_rax = (unsigned long)nr;
      c->regs.rax = (unsigned long)-ENOSYS;
      return ReportSyscall(c);
    }
    c->regs.orig_rax = c->regs.rax;  // the trap rolled rax back to the number
    c->regs.rax = (unsigned long)-ENOSYS;
    bool cand = c->as->patch.window && PatchNote(&c->as->patch, c->as->leader, c->regs.rip, c->regs.orig_rax);
    int k = ReportSyscall(c);
    if (cand) Info()[kInfoPatch] = 1;  // the platform asks the Sentry's mm, then patches (Patch)
    return k;
  }
  c->regs.orig_rax = (unsigned long)-1;
  if (sig == SIGSEGV && code > 0 && (c->regs.rip & ~0xfffULL) == kVsyscallPage) {
    // vsyscall=none on the host: the call faults at the entry; the `ret` is ours to do.
    uint64_t off = c->regs.rip - kVsyscallPage, caller;
    struct iovec local = {&caller, 8}, remote = {(void*)c->regs.rsp, 8};
    if ((off == 0 || off == 0x400 || off == 0x800) && process_vm_readv(c->as->leader, &local, 1, &remote, 1, 0) == 8) {
      c->vsys = true;
      c->vsysEntry = c->regs.rip;
      c->regs.rip = caller;
      c->regs.rsp += 8;
      c->regs.orig_rax = off == 0 ? SYS_gettimeofday : off == 0x400 ? SYS_time : SYS_getcpu;
      c->regs.rax = (unsigned long)-ENOSYS;
      return ReportSyscall(c);
    }
  }
  bool fault = sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE || sig == SIGTRAP;
  if (!fault) sig = SIGURG;  // the kick (or a frame the guest made up): the Sentry just looks
  int32_t* inf = EventFor(c);
  memcpy(EventBuffer() + kSiginfoOff, si, 128);
  reinterpret_cast<int32_t*>(EventBuffer() + kSiginfoOff)[0] = sig;
  inf[kInfoSigno] = sig;
  inf[kInfoKind] = kEvSignal;
  return kEvSignal;
}

// Hands the Sentry's registers (and FP state, if it changed them) back to the stopped
// thread's handler and lets it return into guest code.
void WriteBack(Ctx* c) {
  if (c->doomed) return;
  st_frame* f = c->f;
  memcpy(const_cast<unsigned long*>(f->regs), &c->regs, sizeof c->regs);
  unsigned cmd = ST_CMD_RESUME;
  if (c->fpDirty) {
    memcpy(f->fp, c->fp, c->fpsize);
    f->fpsize = c->fpsize;
    cmd |= ST_CMD_FP;
  }
  f->cmd = cmd;
  reinterpret_cast<st_ctl*>(c->as->map)->spinCycles = (unsigned)g_stubSpin.Next();
  if (prof::g.on) c->ps.wake = prof::Tsc();
  uint64_t now = prof::Tsc();
  uint64_t hold = c->takenAt ? now - c->takenAt : 0;
  bool held = hold > kHoldTicks;
  c->resumedAt = now;
  c->busyAt = 0;
  // A hold longer than the stub's spin ends asleep whatever the machine does: only the
  // shorter ones tell whether its spin pays.
  bool asleep = Wake(f, c->apart && hold < (uint64_t)g_stubSpin.budget);
  // Away from the Sentry's CPU, a resume that had to wake the handler wakes another CPU
  // (an IPI here, then a wait for that CPU when it is busy): a thread whose resumes need
  // that more than one time in three goes beside the Sentry. A score, not a run in a
  // row: cat's long reads (the handler sleeps) between quick writes (it spins) kept
  // resetting a run, and each read paid the cross-CPU wake.
  if (c->place != kBeside) {
    if (asleep && c->apart) c->asleep += 2;
    else if (c->asleep) c->asleep--;
    if (c->asleep >= 8) {
      if (!held) c->backoff++;  // quick calls that needed wakes: leave again later only
      Place(c, kBeside);
    }
  }
  // Quick, for leaving the Sentry's CPU: a hold the stub's spin would have covered (cat's
  // reads, ~30-45 us, are under kHoldTicks but past the spin: taken for quick, they moved
  // the thread off every 64 calls, where each read's wake then crossed CPUs).
  PlaceQuick(c, held || hold >= (uint64_t)g_stubSpin.budget, asleep);
}


void Resume(Ctx* c) {
  if (c->running) return;
  ChargeSentryTime(c->tid);
  c->vsys = false;
  // A kick sent while it started: reported now if its first trap came (or was taken
  // by a call that needed its frame).
  if (c->kickPending && (!c->starting || TakeFirstPost(c))) {
    c->kickPending = false;
    g_kicks.push_back(c);  // stays stopped: the next wait reports the kick
    return;
  }
  c->running = true;
  g_running.push_back(c);
  // A thread not at its first trap yet is resumed there (ScanPosted).
  if (c->starting && !TakeFirstPost(c)) return;
  WriteBack(c);
}

// A vsyscall whose output pointer was bad: Linux raises SIGSEGV at the entry instead of
// returning. The thread stays stopped, put back at the call; the next wait reports it.
bool DivertVsyscallFault(Ctx* c, double result) {
  if (!c->vsys) return false;
  c->vsys = false;
  if ((int64_t)result != -EFAULT) return false;
  c->regs.rip = c->vsysEntry;
  c->regs.rsp -= 8;
  c->regs.rax = (unsigned long)-ENOSYS;
  c->regs.orig_rax = (unsigned long)-1;
  g_synthSegv = c;
  return true;
}


}  // namespace systrap

namespace {
using namespace systrap;


// ---- N-API ----

pid_t TidArg(const Napi::CallbackInfo& info, int i) { return info[i].As<Napi::Number>().Int32Value(); }


// The doorbell every stub rings when it posts while the Sentry sleeps (passed to spawnStub).
Napi::Value Init(const Napi::CallbackInfo& info) {
  if (g_doorbell < 0) g_doorbell = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  prof::Init();
  if (!g_haveAllCpus && sched_getaffinity(0, sizeof g_allCpus, &g_allCpus) == 0) {
    g_haveAllCpus = true;
    // The main thread (and so the stubs and the gofer forked after this) on one CPU.
    cpu_set_t one;
    CPU_ZERO(&one);
    int cpu = sched_getcpu();
    if (cpu >= 0) {
      CPU_SET(cpu, &one);
      if (sched_setaffinity(0, sizeof one, &one) == 0) g_sentryCpu = (unsigned)cpu + 1;
    }
  }
  if (const char* e = getenv("TSS_SYSTRAP_SPIN")) {
    g_sentrySpin.budget = atol(e);
    const char* c = strchr(e, ',');
    g_stubSpin.budget = c ? atol(c + 1) : 0;
    g_sentrySpin.fixed = g_stubSpin.fixed = true;
  }
  if (g_doorbell < 0) return Num(info.Env(), -errno);
  return Num(info.Env(), g_doorbell);
}

// Can this host run systrap? 0, or a reason.
Napi::Value Support(const Napi::CallbackInfo& info) {
  if (!(getauxval(AT_HWCAP2) & 2 /* HWCAP2_FSGSBASE */))
    return Napi::String::New(info.Env(), "the CPU or kernel does not give user space FSGSBASE (rdfsbase/wrfsbase)");
  return Num(info.Env(), 0);
}

// newAddressSpace(template) / forkAddressSpace(ctx, at): a stub process (a fork of the
// template's or ctx's injector) with its own shared region and one guest thread.
// The profile's count of an address-space call: its time and injections since t0/inj0.
void ProfAsCall(bool fork, int64_t t0, uint64_t inj0) {
  if (!prof::g.on) return;
  (fork ? prof::g.forks : prof::g.execs)++;
  (fork ? prof::g.forkNs : prof::g.execNs) += (uint64_t)(NowNs() - t0);
  (fork ? prof::g.forkInj : prof::g.execInj) += g_injections - inj0;
}

Napi::Value NewAs(const Napi::CallbackInfo& info) {
  const int64_t t0 = prof::g.on ? NowNs() : 0;
  const uint64_t inj0 = g_injections;
  pid_t from = TidArg(info, 0);
  Ctx* fromCtx = CtxOf(from);
  pid_t injector = from;
  if (fromCtx) injector = fromCtx->as->leader;
  long child = CloneFrom(injector, SIGCHLD, 0);
  if (child < 0) return Num(info.Env(), (double)child);
  const int64_t t1 = prof::g.on ? NowNs() : 0;
  long err = 0;
  uint64_t at = fromCtx && info.Length() > 1 && info[1].IsNumber() ? ScratchAt(info[1]) : 0;
  long first = 0;  // the first thread, when the hand-over cloned it too
  As* as = MakeAs((pid_t)child, &err, fromCtx ? fromCtx->as : nullptr, at, &first);
  if (!as) {
    kill((pid_t)child, SIGKILL);
    return Num(info.Env(), (double)err);
  }
  const int64_t t2 = prof::g.on ? NowNs() : 0;
  long tid = first > 0 ? StartThread(as, 0, first, fromCtx) : first < 0 ? first : NewThreadIn(as, fromCtx);
  if (tid < 0) kill((pid_t)child, SIGKILL);  // reaped (and freed) by the next wait
  if (prof::g.on) prof::g.forkPh[0] += (uint64_t)(t1 - t0), prof::g.forkPh[1] += (uint64_t)(t2 - t1);
  ProfAsCall(true, t0, inj0);
  return Num(info.Env(), (double)tid);
}

Napi::Value NewThread(const Napi::CallbackInfo& info) {
  Ctx* c = CtxOf(TidArg(info, 0));
  if (!c) return Num(info.Env(), -ESRCH);
  return Num(info.Env(), (double)NewThreadIn(c->as, c));
}

// An exec's fresh FP/vector state, as Linux leaves it (fpu__clear_user_states): the
// legacy area at its reset values, the XSAVE header's xstate_bv 0 (every component in
// its init state), the rest zero. The kernel's own bytes (fx_sw_bytes, 464..511) stay.
void ResetFp(Ctx* c) {
  LoadFp(c);
  memset(c->fp, 0, 464);
  const uint16_t fcw = 0x37f;
  const uint32_t mxcsr = 0x1f80;
  uint32_t mask;
  memcpy(&mask, c->fp + 28, 4);
  memcpy(c->fp, &fcw, 2);
  memcpy(c->fp + 24, &mxcsr, 4);
  memcpy(c->fp + 28, &mask, 4);  // MXCSR_MASK: the CPU's, not state
  if (c->fpsize > 512) memset(c->fp + 512, 0, c->fpsize - 512);
  c->fpDirty = true;
}

// systrapRecycle(ctx): an execve by the only thread of its address space, in place: every
// guest mapping goes (two injected munmaps around the stub's own range, which keeps
// its image, frames and this thread's slot), the patch window and its sites with them,
// and the FP state is reset; the stub process, its memfd and the thread stay (an exec
// then costs two injections instead of a new stub, a fd hand-over and a new thread).
// ctx, or -errno with nothing changed (-EBUSY: the address space has other threads).
Napi::Value Recycle(const Napi::CallbackInfo& info) {
  Ctx* c = CtxOf(TidArg(info, 0));
  if (!c || c->running) return Num(info.Env(), -ESRCH);
  As* as = c->as;
  for (Ctx* o : as->slots)
    if (o && o != c) return Num(info.Env(), -EBUSY);
  const int64_t t0 = prof::g.on ? NowNs() : 0;
  const uint64_t inj0 = g_injections;
  ResetFp(c);
  // [0, stub) and [stub range end, TASK_SIZE): src/mm/platform-regions.ts STUB_END.
  constexpr uint64_t kRangeEnd = 0x7ff002200000ULL, kTaskSize = 0x7ffffffff000ULL;
  static_assert(ST_FRAMES_BASE + ST_REGION_SIZE <= kRangeEnd, "frames inside the stub range");
  // One injection: the table in the control page, which no guest code writes now (this
  // thread, the only one, is stopped in the Sentry).
  const long calls[2][7] = {{SYS_munmap, 0, (long)kStubBase, 0, 0, 0, 0},
                            {SYS_munmap, (long)kRangeEnd, (long)(kTaskSize - kRangeEnd), 0, 0, 0, 0}};
  long r;
  if (BatchEnabled()) {
    memcpy(as->map + kBatchTableOff, calls, sizeof calls);
    r = RunBatch(as->leader, ST_FRAMES_BASE + kBatchTableOff, 2, nullptr, nullptr);
  } else {
    r = InjectSyscall(as->leader, SYS_munmap, calls[0] + 1, nullptr);
    if (r == 0) r = InjectSyscall(as->leader, SYS_munmap, calls[1] + 1, nullptr);
  }
  if (r != 0) return Num(info.Env(), r < 0 ? (double)r : -EIO);
  if (as->patch.window) {
    uint8_t* w = as->patch.window;
    as->patch = PatchSites();
    PatchInit(&as->patch, w, nullptr);  // an exec starts without a window (mapped at its first patch)
  }
  c->vsys = false;
  ProfAsCall(false, t0, inj0);
  return Num(info.Env(), c->tid);
}

// The injector (stub leader) of ctx's address space: where mm calls are injected.
Napi::Value Leader(const Napi::CallbackInfo& info) {
  As* as = AsOfCtx(TidArg(info, 0));
  return Num(info.Env(), as ? as->leader : -ESRCH);
}

Napi::Value GetRegs(const Napi::CallbackInfo& info) {
  Ctx* c = CtxOf(TidArg(info, 0));
  if (!c || c->running) return Num(info.Env(), -ESRCH);
  *Regs() = c->regs;
  return Num(info.Env(), 0);
}

Napi::Value SetRegs(const Napi::CallbackInfo& info) {
  Ctx* c = CtxOf(TidArg(info, 0));
  if (!c || c->running) return Num(info.Env(), -ESRCH);
  c->regs = *Regs();
  c->regs.cs = 0x33;
  c->regs.ss = 0x2b;
  return Num(info.Env(), 0);
}

Napi::Value GetFp(const Napi::CallbackInfo& info) {
  Ctx* c = CtxOf(TidArg(info, 0));
  if (!c || c->running) return Num(info.Env(), -ESRCH);
  LoadFp(c);
  memcpy(EventBuffer() + kFpOff, c->fp, c->fpsize);
  Info()[kInfoFpSize] = (int32_t)c->fpsize;
  return Num(info.Env(), c->fpsize);
}

Napi::Value SetFp(const Napi::CallbackInfo& info) {
  Ctx* c = CtxOf(TidArg(info, 0));
  if (!c || c->running) return Num(info.Env(), -ESRCH);
  size_t len = (size_t)Info()[kInfoFpSize];
  if (len < 512 || len > kFpMax) len = 512;
  memcpy(c->fp, EventBuffer() + kFpOff, len);
  c->fpsize = (uint32_t)len;
  c->fpLoaded = c->fpDirty = true;
  return Num(info.Env(), 0);
}

void ResumeWith(Ctx* c, double result) {
  if (DivertVsyscallFault(c, result)) return;
  c->regs.rax = (unsigned long)(int64_t)result;
  Resume(c);
}

// The profile's Sentry-side stamps: an event handed to JS, a resume coming back.
int ProfRet(int kind) {
  if (prof::g.on && kind == kEvSyscall)
    if (Ctx* c = CtxOf(Info()[kInfoTid])) c->ps.ret = prof::Tsc();
  return kind;
}
void ProfEnter(Ctx* c) {
  if (prof::g.on && c) c->ps.enter = prof::Tsc();
}

Napi::Value ResumeSyscall(const Napi::CallbackInfo& info) {
  Ctx* c = CtxOf(TidArg(info, 0));
  ProfEnter(c);
  if (!c || c->running) return Num(info.Env(), -ESRCH);
  ResumeWith(c, info[1].As<Napi::Number>().DoubleValue());
  return Num(info.Env(), 0);
}

Napi::Value ResumeSyscallAndWait(const Napi::CallbackInfo& info) {
  Ctx* c = CtxOf(TidArg(info, 0));
  ProfEnter(c);
  if (c && !c->running) ResumeWith(c, info[1].As<Napi::Number>().DoubleValue());
  return Num(info.Env(), ProfRet(WaitEvent(info[2].As<Napi::Number>().Int32Value(), nullptr, nullptr, nullptr, 0)));
}

Napi::Value ResumeCtx(const Napi::CallbackInfo& info) {
  Ctx* c = CtxOf(TidArg(info, 0));
  if (!c || c->running) return Num(info.Env(), -ESRCH);
  c->vsys = false;
  Resume(c);
  return Num(info.Env(), 0);
}

Napi::Value Wait(const Napi::CallbackInfo& info) {
  int timeout = info[0].As<Napi::Number>().Int32Value();
  int32_t* fds = I32Arg(info, 1);
  int32_t* events = I32Arg(info, 2);
  int32_t* revents = I32Arg(info, 3);
  int count = fds && events && revents ? info[4].As<Napi::Number>().Int32Value() : 0;
  return Num(info.Env(), ProfRet(WaitEvent(timeout, fds, events, revents, count)));
}

Napi::Value Kick(const Napi::CallbackInfo& info) {
  Ctx* c = CtxOf(TidArg(info, 0));
  if (!c) return Num(info.Env(), -ESRCH);
  if (c->starting) {
    c->kickPending = true;  // its first trap is the kick (ScanPosted, Resume)
    return Num(info.Env(), 0);
  }
  long r = syscall(SYS_tgkill, c->as->leader, c->tid, SIGURG);
  return Num(info.Env(), r < 0 ? -errno : 0);
}

// Ends one stopped thread: its handler calls exit. Reported as an exit by the next wait.
Napi::Value ExitThread(const Napi::CallbackInfo& info) {
  Ctx* c = CtxOf(TidArg(info, 0));
  if (!c || c->running) return Num(info.Env(), -ESRCH);
  AwaitFirstPost(c);  // a handler must be there to take the exit
  st_frame* f = c->f;
  pid_t tid = c->tid;
  f->cmd = ST_CMD_EXIT;
  Forget(c);
  Wake(f, false);
  g_exits.emplace_back(tid, 0);
  return Num(info.Env(), 0);
}

// systrapPatch(ctx, prot): patches the site ctx's last syscall event offered
// (kInfoPatch), whose page the Sentry's mm says is private with protection prot.
Napi::Value Patch(const Napi::CallbackInfo& info) {
  Ctx* c = CtxOf(TidArg(info, 0));
  if (!c || c->running || !c->as->patch.window) return Num(info.Env(), -ESRCH);
  return Num(info.Env(), (double)PatchApply(&c->as->patch, c->as->leader, c->as->memfd, info[1].As<Napi::Number>().Int32Value()));
}

// systrapReadMem(leader, addr, buf, off, len): readMem, patched sites read as they were.
Napi::Value ReadMem(const Napi::CallbackInfo& info) {
  return ReadMemNapi(info, [](pid_t pid, uint64_t addr, uint8_t* b, size_t n) {
    auto it = g_as.find(pid);
    if (it != g_as.end()) PatchUnview(&it->second->patch, addr, b, n);
  });
}

// systrapForgetPatches(ctx, start, end): the Sentry's mm unmapped or replaced that range.
Napi::Value ForgetPatches(const Napi::CallbackInfo& info) {
  As* as = AsOfCtx(TidArg(info, 0));
  if (as && as->patch.window)
    PatchForget(&as->patch, (uint64_t)info[1].As<Napi::Number>().Int64Value(), (uint64_t)info[2].As<Napi::Number>().Int64Value());
  return info.Env().Undefined();
}

Napi::Value Destroy(const Napi::CallbackInfo& info) {
  As* as = AsOfCtx(TidArg(info, 0));
  if (!as) return Num(info.Env(), -ESRCH);
  return Num(info.Env(), kill(as->leader, SIGKILL) < 0 ? -errno : 0);
}

}  // namespace

void InitSystrap(Napi::Env env, Napi::Object exports) {
  InitSystrapBatch(env, exports);
  exports["systrapInit"] = Napi::Function::New(env, Init);
  exports["systrapSupport"] = Napi::Function::New(env, Support);
  exports["systrapNewAddressSpace"] = Napi::Function::New(env, NewAs);
  exports["systrapNewThread"] = Napi::Function::New(env, NewThread);
  exports["systrapLeader"] = Napi::Function::New(env, Leader);
  exports["systrapRecycle"] = Napi::Function::New(env, Recycle);
  exports["systrapGetRegs"] = Napi::Function::New(env, GetRegs);
  exports["systrapSetRegs"] = Napi::Function::New(env, SetRegs);
  exports["systrapGetFpRegs"] = Napi::Function::New(env, GetFp);
  exports["systrapSetFpRegs"] = Napi::Function::New(env, SetFp);
  exports["systrapResumeSyscall"] = Napi::Function::New(env, ResumeSyscall);
  exports["systrapResumeSyscallAndWait"] = Napi::Function::New(env, ResumeSyscallAndWait);
  exports["systrapResume"] = Napi::Function::New(env, ResumeCtx);
  exports["systrapWait"] = Napi::Function::New(env, Wait);
  exports["systrapKick"] = Napi::Function::New(env, Kick);
  exports["systrapExitThread"] = Napi::Function::New(env, ExitThread);
  exports["systrapDestroyAddressSpace"] = Napi::Function::New(env, Destroy);
  exports["systrapPatch"] = Napi::Function::New(env, Patch);
  exports["systrapReadMem"] = Napi::Function::New(env, ReadMem);
  exports["systrapForgetPatches"] = Napi::Function::New(env, ForgetPatches);
  exports["systrapPatchEnabled"] = Napi::Function::New(
      env, [](const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), PatchEnabled()); });
}

}  // namespace tss