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
#include "common.h"
#include "platform_internal.h"
extern "C" {
#include "stub/systrap_abi.h"
}
#include <cerrno>
#include <csignal>
#include <cstring>
#include <deque>
#include <linux/audit.h>
#include <linux/futex.h>
#include <linux/ptrace.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <sys/auxv.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <unordered_map>
#include <vector>

namespace tss {
namespace {

static_assert(sizeof(st_frame) <= ST_FRAME_SIZE, "frame overlaps the signal stack");
static_assert(offsetof(st_frame, fp) % 64 == 0, "XSAVE area alignment");
static_assert(sizeof(user_regs_struct) == 27 * 8, "register layout");

struct As;

struct Ctx {
  pid_t tid;
  As* as;
  int slot;
  st_frame* f;  // the Sentry's mapping of the thread's frame
  bool running;
  user_regs_struct regs;  // the Sentry's copy while stopped; written back on resume
  uint8_t fp[kFpMax];
  uint32_t fpsize;
  bool fpLoaded, fpDirty;
  bool vsys;  // the current stop is a vsyscall reported as a syscall
  uint64_t vsysEntry;
};

struct As {
  pid_t leader;  // the injector thread (traced, stopped at the gadget's int3)
  int memfd;
  uint8_t* map;  // the Sentry's mapping of the shared region
  std::vector<Ctx*> slots;
};

std::unordered_map<pid_t, Ctx*> g_ctx;
std::unordered_map<pid_t, As*> g_as;  // by leader
std::vector<Ctx*> g_running;
std::deque<std::pair<pid_t, int>> g_exits;  // Exit events to report (tid, wait status)
Ctx* g_synthSegv = nullptr;
int g_doorbell = -1;
// Every CPU the Sentry could use at start: guest threads get them all, while the
// Sentry's main thread, the injectors and the gofer share one (a ptrace stop and
// resume across CPUs costs ~40 us on this kind of VM; on one CPU ~3 us).
cpu_set_t g_allCpus;
bool g_haveAllCpus = false;
// Spinning is what makes a handoff cheap (~0.1 us against ~8 us through futex), but
// only while both sides really run at once: on a loaded machine a spinner burns the
// slice its peer needs. So each side's spin is on or off: on, it spins long enough to
// cover the other side's work; four spins in a row that end asleep turn it off; while
// off, one handoff in 64 spins again to see whether it would pay now.
// TSS_SYSTRAP_SPIN=ns,cycles fixes both.
struct Spin {
  int64_t budget;  // ns (Sentry) or TSC cycles (stub) when on
  bool on = true;
  unsigned misses = 0, probe = 0;
  bool fixed = false;
  int64_t Next() {
    if (fixed || on || (++probe & 63) == 0) return budget;
    return 0;
  }
  void Hit() {
    if (fixed) return;
    on = true;
    misses = 0;
  }
  void Miss() {
    if (!fixed && ++misses >= 4) on = false;
  }
};
Spin g_sentrySpin{40000};
Spin g_stubSpin{80000};

constexpr uint64_t kVsyscallPage = 0xffffffffff600000ULL;
constexpr long kThreadFlags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM |
                              CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID;

int64_t NowNs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

st_frame* FrameOf(As* as, int slot) {
  return reinterpret_cast<st_frame*>(as->map + ST_CTL_SIZE + (size_t)slot * ST_SLOT_SIZE);
}

uint64_t StubAddr(As* as, const void* p) {
  return ST_FRAMES_BASE + (uint64_t)(static_cast<const uint8_t*>(p) - as->map);
}

Ctx* CtxOf(pid_t tid) {
  auto it = g_ctx.find(tid);
  return it == g_ctx.end() ? nullptr : it->second;
}

void Wake(st_frame* f) {
  __atomic_store_n(&f->state, ST_REPLY, __ATOMIC_SEQ_CST);
  if (__atomic_load_n(&f->waiting, __ATOMIC_SEQ_CST)) {
    syscall(SYS_futex, &f->state, FUTEX_WAKE, 1, nullptr, nullptr, 0);
    g_stubSpin.Miss();
  } else {
    g_stubSpin.Hit();
  }
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

void Forget(Ctx* c) {
  StopRunning(c);
  if (g_synthSegv == c) g_synthSegv = nullptr;
  c->as->slots[c->slot] = nullptr;
  g_ctx.erase(c->tid);
  delete c;
}

// Clones traced thread `tid` (flags as clone(2)); the child is traced too (the stub's
// ptrace options) and returned stopped, or -errno.
long CloneFrom(pid_t tid, long flags, uint64_t ctid) {
  long a[6] = {flags, 0, 0, (long)ctid, 0, 0};
  pid_t child = 0;
  long r = InjectSyscall(tid, SYS_clone, a, &child);
  if (r < 0) return r;
  if (child == 0) child = (pid_t)r;
  for (;;) {
    int status;
    pid_t p = waitpid(child, &status, __WALL);
    if (p < 0 && errno == EINTR) continue;
    if (p < 0) return -errno;
    if (WIFSTOPPED(status)) return child;
    return -ESRCH;
  }
}

void FreeAs(As* as) {
  for (Ctx* c : as->slots)
    if (c) Forget(c);
  munmap(as->map, ST_REGION_SIZE);
  close(as->memfd);
  g_as.erase(as->leader);
  delete as;
}

// The shared region of a new address space (the leader is a fresh fork: whatever it
// inherited at ST_FRAMES_BASE, its parent's frames, is replaced).
As* MakeAs(pid_t leader, long* err) {
  int fd = (int)syscall(SYS_memfd_create, "tss-systrap", MFD_CLOEXEC);
  if (fd < 0) {
    *err = -errno;
    return nullptr;
  }
  if (ftruncate(fd, ST_REGION_SIZE) != 0) {
    *err = -errno;
    close(fd);
    return nullptr;
  }
  void* m = mmap(nullptr, ST_REGION_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (m == MAP_FAILED) {
    *err = -errno;
    close(fd);
    return nullptr;
  }
  long r = MmapHostFdIn(leader, fd, (long)ST_FRAMES_BASE, (long)ST_REGION_SIZE, PROT_READ | PROT_WRITE,
                        MAP_SHARED | MAP_FIXED, 0);
  if (r != (long)ST_FRAMES_BASE) {
    *err = r < 0 ? r : -EIO;
    munmap(m, ST_REGION_SIZE);
    close(fd);
    return nullptr;
  }
  As* as = new As{leader, fd, static_cast<uint8_t*>(m), std::vector<Ctx*>(ST_NSLOTS, nullptr)};
  reinterpret_cast<st_ctl*>(as->map)->spinCycles = (unsigned)g_stubSpin.budget;
  g_as[leader] = as;
  return as;
}

// Takes a posted frame: the Sentry's copy of the registers is made here, once.
void TakeFrame(Ctx* c, int* sigOut, uint8_t siOut[128]) {
  st_frame* f = c->f;
  __atomic_store_n(&f->state, ST_TAKEN, __ATOMIC_SEQ_CST);
  memcpy(&c->regs, const_cast<unsigned long*>(f->regs), sizeof c->regs);
  memcpy(siOut, f->siginfo, 128);
  *sigOut = (int)f->signo;
  c->regs.cs = 0x33;  // as the host kernel has them: the frame's copy is only informative
  c->regs.ss = 0x2b;
  c->regs.ds = c->regs.es = c->regs.fs = c->regs.gs = 0;
  c->fpLoaded = c->fpDirty = false;
  c->vsys = false;
  StopRunning(c);
}

// The Sentry's copy of a stopped thread's FP state, from the kernel's image on the
// thread's signal stack (where the frame says it is: checked to lie inside the slot).
void LoadFp(Ctx* c) {
  if (c->fpLoaded) return;
  st_frame* f = c->f;
  uint64_t off = f->fpoff;
  uint32_t n = f->fpsize;
  if (n < 512 || n > kFpMax) n = 512;
  c->fpsize = n;
  if (off >= ST_FRAME_SIZE && off <= ST_SLOT_SIZE - n)
    memcpy(c->fp, reinterpret_cast<uint8_t*>(f) + off, n);
  else
    memset(c->fp, 0, n);  // no image (or a made-up offset): an empty state
  c->fpLoaded = true;
}

// A new guest thread in `as`, started at the stub's thread entry, untraced, with its
// signal stack and the guest-thread filter; returned stopped (its first trap taken).
long NewThreadIn(As* as, Ctx* from) {
  int slot = -1;
  for (int i = 0; i < ST_NSLOTS; i++) {
    // A slot is free once the Sentry let go of it and its old thread is gone (the
    // kernel clears tidword at the thread's exit, CLONE_CHILD_CLEARTID).
    if (!as->slots[i] && __atomic_load_n(&FrameOf(as, i)->tidword, __ATOMIC_ACQUIRE) == 0) {
      slot = i;
      break;
    }
  }
  if (slot < 0) return -EAGAIN;
  st_frame* f = FrameOf(as, slot);
  memset(static_cast<void*>(f), 0, offsetof(st_frame, fp));
  uint64_t slotStub = StubAddr(as, f);
  long tid = CloneFrom(as->leader, kThreadFlags, StubAddr(as, const_cast<unsigned int*>(&f->tidword)));
  if (tid < 0) return tid;
  if (g_haveAllCpus) {
    // Every CPU, except that an address space's first thread keeps off the Sentry's
    // (where it would share the CPU with the Sentry it hands each syscall to, and
    // spinning handoffs need two CPUs): later threads (CPU-bound workers) get them all.
    cpu_set_t m = g_allCpus;
    int here = sched_getcpu();
    if ((!from || from->as != as) && CPU_COUNT(&m) > 1 && here >= 0) CPU_CLR(here, &m);
    sched_setaffinity((pid_t)tid, sizeof m, &m);
  }
  f->altstack[0] = slotStub + ST_FRAME_SIZE;
  f->altstack[1] = 0;
  f->altstack[2] = ST_SLOT_SIZE - ST_FRAME_SIZE;
  long alt[6] = {(long)StubAddr(as, f->altstack), 0, 0, 0, 0, 0};
  long filt[6] = {SECCOMP_SET_MODE_FILTER, 0, (long)ST_F2_PROG, 0, 0, 0};
  user_regs_struct r;
  bool ok = InjectSyscall((pid_t)tid, SYS_sigaltstack, alt, nullptr) == 0 &&
            InjectSyscall((pid_t)tid, SYS_seccomp, filt, nullptr) == 0 &&
            syscall(SYS_ptrace, PTRACE_GETREGS, tid, 0, &r) == 0;
  if (ok) {
    r.rip = ST_THREAD_START;
    r.rsp = slotStub + ST_FRAME_SIZE;  // unused: the entry traps at once
    r.orig_rax = (unsigned long)-1;
    ok = syscall(SYS_ptrace, PTRACE_SETREGS, tid, 0, &r) == 0 &&
         syscall(SYS_ptrace, PTRACE_DETACH, tid, 0, 0) == 0;
  }
  if (!ok) {
    syscall(SYS_tgkill, as->leader, tid, SIGKILL);
    return -EAGAIN;
  }
  // The first trap comes within microseconds (re-posted every 50 ms if a sibling wrote
  // over the frame); a thread that never posts in 2 s is ended.
  int64_t until = NowNs() + 2000000000LL;
  while (__atomic_load_n(&f->state, __ATOMIC_ACQUIRE) != ST_POSTED) {
    if (NowNs() > until || syscall(SYS_tgkill, as->leader, tid, 0) != 0) {
      syscall(SYS_tgkill, as->leader, tid, SIGKILL);
      return -EAGAIN;
    }
    sched_yield();
  }
  Ctx* c = new Ctx();
  c->tid = (pid_t)tid;
  c->as = as;
  c->slot = slot;
  c->f = f;
  c->running = false;
  as->slots[slot] = c;
  g_ctx[c->tid] = c;
  int sig;
  uint8_t si[128];
  TakeFrame(c, &sig, si);
  if (from) {
    // A thread or fork child starts with its creator's FP/vector state, as on Linux.
    LoadFp(from);
    memcpy(c->fp, from->fp, from->fpsize);
    c->fpsize = from->fpsize;
    c->fpLoaded = c->fpDirty = true;
  }
  return tid;
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
    return ReportSyscall(c);
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

void Resume(Ctx* c) {
  if (c->running) return;
  ChargeSentryTime(c->tid);
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
  c->running = true;
  c->vsys = false;
  g_running.push_back(c);
  Wake(f);
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

// Injector exits: the whole stub process is gone; each of its guest threads exits with it.
bool ReapInjectors() {
  for (;;) {
    int status;
    pid_t p = waitpid(-StubPgid(), &status, __WALL | WNOHANG);
    if (p <= 0) return !g_exits.empty();
    if (!WIFEXITED(status) && !WIFSIGNALED(status)) continue;  // a stray stop: it stays stopped
    auto it = g_as.find(p);
    if (it == g_as.end()) continue;
    for (Ctx* c : it->second->slots)
      if (c) g_exits.emplace_back(c->tid, status);
    FreeAs(it->second);
  }
}

int ReportExit() {
  auto e = g_exits.front();
  g_exits.pop_front();
  int32_t* inf = Info();
  inf[kInfoTid] = e.first;
  inf[kInfoStatus] = e.second;
  inf[kInfoSigno] = 0;
  inf[kInfoMsg] = 0;
  inf[kInfoKind] = kEvExit;
  return kEvExit;
}

Ctx* ScanPosted() {
  for (Ctx* c : g_running)
    if (__atomic_load_n(&c->f->state, __ATOMIC_ACQUIRE) == ST_POSTED) return c;
  return nullptr;
}

void SetSleeping(unsigned v) {
  for (auto& kv : g_as) __atomic_store_n(&reinterpret_cast<st_ctl*>(kv.second->map)->sleeping, v, __ATOMIC_SEQ_CST);
}

// Spins on the running threads' frames for a while (a handoff then costs ~0.1 us),
// then sleeps in poll on the doorbell, the self-pipe (host signals, SIGCHLD of a dying
// stub) and the caller's host fds.

int WaitEvent(int timeoutMs, const int32_t* fds, const int32_t* events, int32_t* revents, int count) {
  if (g_synthSegv) {
    Ctx* c = g_synthSegv;
    g_synthSegv = nullptr;
    return ReportSegv(c);
  }
  if (!g_exits.empty()) return ReportExit();
  ChargePendingStop();
  SetSigchldWakeups(true);
  int64_t start = NowNs();
  int64_t spin = g_running.empty() || count > 0 ? 0 : g_sentrySpin.Next();
  int64_t deadline = timeoutMs < 0 ? INT64_MAX : start + (int64_t)timeoutMs * 1000000;
  if (count > 256) count = 256;
  struct pollfd p[258];
  for (;;) {
    for (unsigned it = 0;; it++) {
      if (PendingHostSignals()) {
        Info()[kInfoKind] = kEvHostSignal;
        return kEvHostSignal;
      }
      if (Ctx* c = ScanPosted()) {
        if (spin > 0) g_sentrySpin.Hit();
        return Decode(c);
      }
      if ((it & 255) == 0 && ReapInjectors()) return ReportExit();
      if (spin == 0 || deadline == start) break;
      int64_t spun = NowNs() - start;
      if (spun > spin) {
        g_sentrySpin.Miss();
        spin = 0;
        break;
      }
      // Past the first microseconds, yield: a stub thread on this CPU gets to run.
      if (spun > 3000) sched_yield();
      else __builtin_ia32_pause();
    }
    SetSleeping(1);
    Ctx* c = ScanPosted();
    if (c || PendingHostSignals() || ReapInjectors()) {
      SetSleeping(0);
      if (c) return Decode(c);
      continue;
    }
    p[0] = {SelfPipeReadFd(), POLLIN, 0};
    p[1] = {g_doorbell, POLLIN, 0};
    for (int i = 0; i < count; i++) p[i + 2] = {fds[i], (short)events[i], 0};
    int wait = -1;
    if (deadline != INT64_MAX) {
      int64_t left = deadline - NowNs();
      wait = left <= 0 ? 0 : (int)((left + 999999) / 1000000);
    }
    int n = poll(p, count + 2, wait);
    int e = errno;
    SetSleeping(0);
    uint64_t v;
    if (p[1].revents & POLLIN) (void)!read(g_doorbell, &v, sizeof v);
    if (p[0].revents & POLLIN) DrainSelfPipe();
    if (n < 0 && e != EINTR) return -e;
    if (TakePollResults(p + 2, revents, count)) return kEvPoll;
    if (n == 0 && NowNs() >= deadline) {
      Info()[kInfoKind] = kEvTimeout;
      return kEvTimeout;
    }
    start = NowNs();
  }
}

// ---- N-API ----

pid_t TidArg(const Napi::CallbackInfo& info, int i) { return info[i].As<Napi::Number>().Int32Value(); }


// The doorbell every stub rings when it posts while the Sentry sleeps (passed to spawnStub).
Napi::Value Init(const Napi::CallbackInfo& info) {
  if (g_doorbell < 0) g_doorbell = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (!g_haveAllCpus && sched_getaffinity(0, sizeof g_allCpus, &g_allCpus) == 0) {
    g_haveAllCpus = true;
    // The main thread (and so the stubs and the gofer forked after this) on one CPU.
    cpu_set_t one;
    CPU_ZERO(&one);
    int cpu = sched_getcpu();
    if (cpu >= 0) {
      CPU_SET(cpu, &one);
      sched_setaffinity(0, sizeof one, &one);
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

// newAddressSpace(template) / forkAddressSpace(ctx): a stub process (a fork of the
// template's or ctx's injector) with its own shared region and one guest thread.
Napi::Value NewAs(const Napi::CallbackInfo& info) {
  pid_t from = TidArg(info, 0);
  Ctx* fromCtx = CtxOf(from);
  pid_t injector = from;
  if (fromCtx) injector = fromCtx->as->leader;
  long child = CloneFrom(injector, SIGCHLD, 0);
  if (child < 0) return Num(info.Env(), (double)child);
  long err = 0;
  As* as = MakeAs((pid_t)child, &err);
  if (!as) {
    kill((pid_t)child, SIGKILL);
    return Num(info.Env(), (double)err);
  }
  long tid = NewThreadIn(as, fromCtx);
  if (tid < 0) kill((pid_t)child, SIGKILL);  // reaped (and freed) by the next wait
  return Num(info.Env(), (double)tid);
}

Napi::Value NewThread(const Napi::CallbackInfo& info) {
  Ctx* c = CtxOf(TidArg(info, 0));
  if (!c) return Num(info.Env(), -ESRCH);
  return Num(info.Env(), (double)NewThreadIn(c->as, c));
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

Napi::Value ResumeSyscall(const Napi::CallbackInfo& info) {
  Ctx* c = CtxOf(TidArg(info, 0));
  if (!c || c->running) return Num(info.Env(), -ESRCH);
  ResumeWith(c, info[1].As<Napi::Number>().DoubleValue());
  return Num(info.Env(), 0);
}

Napi::Value ResumeSyscallAndWait(const Napi::CallbackInfo& info) {
  Ctx* c = CtxOf(TidArg(info, 0));
  if (c && !c->running) ResumeWith(c, info[1].As<Napi::Number>().DoubleValue());
  return Num(info.Env(), WaitEvent(info[2].As<Napi::Number>().Int32Value(), nullptr, nullptr, nullptr, 0));
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
  return Num(info.Env(), WaitEvent(timeout, fds, events, revents, count));
}

Napi::Value Kick(const Napi::CallbackInfo& info) {
  Ctx* c = CtxOf(TidArg(info, 0));
  if (!c) return Num(info.Env(), -ESRCH);
  long r = syscall(SYS_tgkill, c->as->leader, c->tid, SIGURG);
  return Num(info.Env(), r < 0 ? -errno : 0);
}

// Ends one stopped thread: its handler calls exit. Reported as an exit by the next wait.
Napi::Value ExitThread(const Napi::CallbackInfo& info) {
  Ctx* c = CtxOf(TidArg(info, 0));
  if (!c || c->running) return Num(info.Env(), -ESRCH);
  st_frame* f = c->f;
  pid_t tid = c->tid;
  f->cmd = ST_CMD_EXIT;
  Forget(c);
  Wake(f);
  g_exits.emplace_back(tid, 0);
  return Num(info.Env(), 0);
}

Napi::Value Destroy(const Napi::CallbackInfo& info) {
  As* as = AsOfCtx(TidArg(info, 0));
  if (!as) return Num(info.Env(), -ESRCH);
  return Num(info.Env(), kill(as->leader, SIGKILL) < 0 ? -errno : 0);
}

}  // namespace

void InitSystrap(Napi::Env env, Napi::Object exports) {
  exports["systrapInit"] = Napi::Function::New(env, Init);
  exports["systrapSupport"] = Napi::Function::New(env, Support);
  exports["systrapNewAddressSpace"] = Napi::Function::New(env, NewAs);
  exports["systrapNewThread"] = Napi::Function::New(env, NewThread);
  exports["systrapLeader"] = Napi::Function::New(env, Leader);
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
}

}  // namespace tss
