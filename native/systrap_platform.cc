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
#include "systrap_prof.h"
#include "systrap_patch.h"
extern "C" {
#include "stub/systrap_abi.h"
}
#include <algorithm>
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
  // Detached but not yet at its first trap (NewThreadIn does not wait for it): the
  // Sentry's registers are the thread's; a resume is carried out at the first post.
  bool starting;
  int64_t startDeadline;
  // Kicked while starting: its first trap (whatever signal it is) is reported as the
  // kick, not taken as the start (a kick that came first would be lost otherwise).
  bool kickPending;
  // Its first post was not the entry's own trap: its process is being killed, and the
  // thread is never let go (TakeFirstPost).
  bool doomed;
  // Placement (kAll/kOff/kBeside, see Place); `apart`: its last post came from another
  // CPU than the Sentry's (only then do the two sides spin); `asleep`: resumes in a row
  // after a long hold (a blocking syscall) that found its handler asleep.
  int place;
  bool apart;
  unsigned asleep;
  // Placement's way back from beside the Sentry: `quick`, round trips in a row with a
  // short hold (a thread of quick syscalls, which spinning across CPUs serves best);
  // `slow`, such round trips away from the Sentry that found the handler asleep (the
  // spins do not pay: a loaded machine); `backoff` doubles the quick run needed after
  // each move back for that reason, so a loaded machine does not make it flip.
  unsigned quick, slow, backoff;
  // CheckBusyBeside's sample while it runs beside the Sentry without a trap: when
  // (CLOCK_MONOTONIC ns, 0: none since its last resume) and its process's CPU time then.
  int64_t busyAt, busyCpu;
  uint64_t resumedAt, takenAt;  // TSC
  prof::Stamps ps;
};

struct As {
  pid_t leader;  // the injector thread (traced, stopped at the gadget's int3)
  int memfd;
  uint8_t* map;  // the Sentry's mapping of the shared region (then the patch window)
  std::vector<Ctx*> slots;
  PatchSites patch;  // syscall-site patching (window at map + ST_REGION_SIZE when on)
  clockid_t cpuClock;  // the stub process's CPU clock (its guest threads' time)
};

std::unordered_map<pid_t, Ctx*> g_ctx;
std::unordered_map<pid_t, As*> g_as;  // by leader
std::vector<Ctx*> g_running;
std::deque<std::pair<pid_t, int>> g_exits;  // Exit events to report (tid, wait status)
Ctx* g_synthSegv = nullptr;
std::vector<Ctx*> g_kicks;  // starting threads whose first trap is reported as a kick
int g_doorbell = -1;
constexpr int kInfoPatch = kInfoFpSize + 1;  // a syscall event's site may be patched
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
// Spinning past this (ns), either side yields its CPU now and then.
constexpr int64_t kYieldNs = 3000;
Spin g_stubSpin{80000};

constexpr uint64_t kVsyscallPage = 0xffffffffff600000ULL;
constexpr long kThreadFlags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM |
                              CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID;

int64_t NowNs() { return MonotonicNs(); }

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

// The Sentry's CPU + 1 (its main thread is pinned there at init; 0: unknown).
unsigned g_sentryCpu = 0;
// The last frame taken came from another CPU than the Sentry's: the Sentry spins for
// the next post only then (on one CPU a spin keeps the thread it waits for off).
bool g_peerApart = true;
// Where an address space's first thread goes (NewThreadIn): 1 off the Sentry's CPU,
// 0 wherever the host puts it, 2 on the Sentry's CPU. TSS_SYSTRAP_APART=0|1|2 fixes
// it; by default 1 while the Sentry's spin pays, else 0.
int g_apartMode = getenv("TSS_SYSTRAP_APART") ? atoi(getenv("TSS_SYSTRAP_APART")) : -1;

// Where a thread may run: every CPU (the host places it), every CPU but the Sentry's
// (spinning handoffs: a CPU each), or the Sentry's only (sleeping handoffs: a futex
// wake on one CPU costs what a ptrace resume does; across CPUs on a busy machine the
// woken side waits for a CPU others hold, measured 2-5x slower). By default a thread
// moves by what it does: one that keeps waiting in the Sentry (four resumes in a row
// after holds over ~50 us, e.g. futex waits, that found its handler asleep) goes beside
// the Sentry; one that computes there gets every CPU back (CheckBusyBeside); quick
// syscalls take it off the Sentry's CPU while the spins pay, beside it when they do
// not (PlaceQuick). TSS_SYSTRAP_APART fixes first threads' placement and turns the
// moves off.
enum { kAll = 0, kOff = 1, kBeside = 2 };
constexpr uint64_t kBusyTicks = 3000000;  // ~1 ms of TSC
constexpr uint64_t kHoldTicks = 150000;   // ~50 us
void Place(Ctx* c, int where);
void PlaceQuick(Ctx* c, bool held, bool asleep);

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

// How long a new thread may take to its first trap before its process is taken down (its
// entry failed: the thread exited or sits in ud2). Generous: on this VM at load 30-46 a
// healthy thread once took over 2 s to be scheduled and run its entry.
constexpr int64_t kStartNs = 20000000000LL;

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

size_t MapSize() { return ST_REGION_SIZE + (PatchEnabled() ? ST_PATCH_SIZE : 0); }

void FreeAs(As* as) {
  for (Ctx* c : as->slots)
    if (c) Forget(c);
  munmap(as->map, MapSize());
  close(as->memfd);
  g_as.erase(as->leader);
  delete as;
}

// The shared region of a new address space (the leader is a fresh fork: whatever it
// inherited at ST_FRAMES_BASE, its parent's frames, is replaced; so is the patch
// window, by a copy of the parent's: the child's code holds the same patched sites).
// `at`: a private writable page of the fork's copy lent for the hand-over's msghdr (no
// guest thread runs in the copy yet), sparing the scratch page's two mprotects; or 0.
As* MakeAs(pid_t leader, long* err, const As* parent, uint64_t at) {
  int fd = (int)syscall(SYS_memfd_create, "tss-systrap", MFD_CLOEXEC);
  PatchSites patch;
  if (fd < 0) {
    *err = -errno;
    return nullptr;
  }
  if (ftruncate(fd, (off_t)MapSize()) != 0) {
    *err = -errno;
    close(fd);
    return nullptr;
  }
  void* m = mmap(nullptr, MapSize(), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (m == MAP_FAILED) {
    *err = -errno;
    close(fd);
    return nullptr;
  }
  // A fork's window is there already (its parent's, inherited): replaced by its copy,
  // in the same hand-over of the memfd as the frames (one recvmsg, one close).
  if (PatchEnabled()) PatchInit(&patch, static_cast<uint8_t*>(m) + ST_REGION_SIZE, parent ? &parent->patch : nullptr);
  const long maps[2][5] = {
      {(long)ST_FRAMES_BASE, (long)ST_REGION_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, 0},
      {(long)ST_PATCH_BASE, (long)ST_PATCH_SIZE, PROT_READ | PROT_EXEC, MAP_SHARED | MAP_FIXED, (long)ST_REGION_SIZE}};
  const bool window = PatchEnabled() && patch.mapped;
  long r = MmapHostFdManyIn(leader, fd, maps, window ? 2 : 1, at);
  if (window) r = r == (long)ST_PATCH_BASE ? (long)ST_FRAMES_BASE : r < 0 ? r : -EIO;
  if (r != (long)ST_FRAMES_BASE) {
    *err = r < 0 ? r : -EIO;
    munmap(m, MapSize());
    close(fd);
    return nullptr;
  }
  As* as = new As{leader, fd, static_cast<uint8_t*>(m), std::vector<Ctx*>(ST_NSLOTS, nullptr), std::move(patch), 0};
  if (clock_getcpuclockid(leader, &as->cpuClock) != 0) as->cpuClock = -1;
  st_ctl* ctl = reinterpret_cast<st_ctl*>(as->map);
  ctl->patch = as->patch.window != nullptr;
  PatchXsaveLayout(&ctl->xmask, &ctl->xsize);
  reinterpret_cast<st_ctl*>(as->map)->spinCycles = (unsigned)g_stubSpin.budget;
  reinterpret_cast<st_ctl*>(as->map)->prof = prof::g.on;
  reinterpret_cast<st_ctl*>(as->map)->sentryCpu = g_sentryCpu;
  reinterpret_cast<st_ctl*>(as->map)->yieldCycles = (unsigned)(kYieldNs * 8 / 3);  // ~8000 cycles
  g_as[leader] = as;
  return as;
}

// Takes a posted frame: the Sentry's copy of the registers is made here, once.
void TakeFrame(Ctx* c, int* sigOut, uint8_t siOut[128]) {
  st_frame* f = c->f;
  if (prof::g.on) prof::OnTake(c->ps, f->stamp, prof::Tsc());
  __atomic_store_n(&f->state, ST_TAKEN, __ATOMIC_SEQ_CST);
  memcpy(&c->regs, const_cast<unsigned long*>(f->regs), sizeof c->regs);
  memcpy(siOut, f->siginfo, 128);
  *sigOut = (int)f->signo;
  c->regs.cs = 0x33;  // as the host kernel has them: the frame's copy is only informative
  c->regs.ss = 0x2b;
  c->regs.ds = c->regs.es = c->regs.fs = c->regs.gs = 0;
  c->fpLoaded = c->fpDirty = false;
  c->vsys = false;
  c->apart = g_sentryCpu == 0 || f->cpu != g_sentryCpu;
  g_peerApart = c->apart;
  if (prof::g.on) (c->apart ? prof::g.takesApart : prof::g.takesBeside)++;
  c->takenAt = prof::Tsc();
  StopRunning(c);
}

// The Sentry's copy of a stopped thread's FP state, from the kernel's image on the
// thread's signal stack (where the frame says it is: checked to lie inside the slot).
void LoadFp(Ctx* c) {
  if (c->fpLoaded) return;
  AwaitFirstPost(c);
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
  f->altstack[0] = slotStub + ST_FRAME_SIZE;
  f->altstack[1] = 0;
  f->altstack[2] = ST_SLOT_SIZE - ST_FRAME_SIZE;
  user_regs_struct r;
  int place = kAll;
  bool ok = syscall(SYS_ptrace, PTRACE_GETREGS, tid, 0, &r) == 0;
  if (ok) {
    // The entry sets its signal stack (rdi: this stack_t) and stacks the guest-thread
    // filter itself, then traps (stub.c st_thread_entry); no injection for either.
    r.rip = ST_THREAD_START;
    r.rdi = StubAddr(as, f->altstack);
    r.rsp = slotStub + ST_FRAME_SIZE;  // unused: the entry uses no stack
    r.orig_rax = (unsigned long)-1;
    ok = syscall(SYS_ptrace, PTRACE_SETREGS, tid, 0, &r) == 0;
    // Set once its injections are done: while it is traced the thread stays on the
    // Sentry's CPU (a ptrace stop across CPUs costs ~40 us here; on a busy machine, ms).
    if (g_haveAllCpus) {
      // Every CPU, except that a new address space's first thread keeps off the
      // Sentry's while the Sentry's spin pays (a CPU is free: spinning handoffs need
      // two); later threads (CPU-bound workers) and fork children get them all (a
      // child forced off the Sentry's CPU queues behind its parent, which holds the
      // other one: the host places it better). On a busy machine (the spin
      // off) the host places it: measured there, beside the Sentry with sleeping
      // handoffs beats a CPU of its own that other jobs share (fork+exec 6 vs 10 ms).
      cpu_set_t m = g_allCpus;
      int here = sched_getcpu();
      int mode = g_apartMode < 0 ? (g_sentrySpin.on && g_stubSpin.on ? kOff : kAll) : g_apartMode;
      if (!from && CPU_COUNT(&m) > 1 && here >= 0) {
        if (mode == kOff) {
          CPU_CLR(here, &m);
          place = kOff;
        } else if (mode == kBeside) {
          CPU_ZERO(&m);
          CPU_SET(here, &m);
          place = kBeside;
        }
      }
      sched_setaffinity((pid_t)tid, sizeof m, &m);
    }
    ok = ok && syscall(SYS_ptrace, PTRACE_DETACH, tid, 0, 0) == 0;
  }
  if (!ok) {
    syscall(SYS_tgkill, as->leader, tid, SIGKILL);
    return -EAGAIN;
  }
  // Not waited for here: the thread reaches its first trap when the host schedules it
  // (on a busy machine, milliseconds), meanwhile the Sentry goes on; its first resume is
  // carried out at that trap (ScanPosted), calls that need its frame wait for it.
  Ctx* c = new Ctx();
  c->tid = (pid_t)tid;
  c->as = as;
  c->slot = slot;
  c->f = f;
  c->running = false;
  c->starting = true;
  c->kickPending = c->doomed = false;
  c->place = place;
  if (prof::g.on) fprintf(stderr, "systrap: thread %ld starts %s\n", tid, place == kAll ? "all" : place == kOff ? "off" : "beside");
  c->apart = true;
  c->asleep = c->quick = c->slow = c->backoff = 0;
  c->busyAt = c->busyCpu = 0;
  c->resumedAt = c->takenAt = 0;
  c->startDeadline = NowNs() + kStartNs;
  c->regs = r;  // the stub's entry: the Sentry sets the thread's own registers
  c->regs.cs = 0x33;
  c->regs.ss = 0x2b;
  c->regs.ds = c->regs.es = c->regs.fs = c->regs.gs = 0;
  c->regs.orig_rax = (unsigned long)-1;
  c->fpLoaded = c->fpDirty = false;
  c->vsys = false;
  as->slots[slot] = c;
  g_ctx[c->tid] = c;
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
  if (!asleep || !held) c->asleep = 0;
  else if (++c->asleep >= 4 && c->place != kBeside) Place(c, kBeside);
  PlaceQuick(c, held, asleep);
}

// A thread beside the Sentry whose syscalls became quick (it was moved there at its
// start-up's long holds, or by a wait, and now loops on quick calls) goes back off the
// Sentry's CPU, where both sides spin (~0.2 us a handoff against ~1.2 us through a futex
// on one CPU); one that then keeps finding its handler asleep there (the spins do not
// pay) comes back, and needs twice as long a quick run the next time.
constexpr unsigned kQuickRun = 64;
void PlaceQuick(Ctx* c, bool held, bool asleep) {
  if (held) {
    c->quick = c->slow = 0;
    return;
  }
  if (c->place == kBeside) {
    if (++c->quick >= kQuickRun << std::min(c->backoff, 10u)) Place(c, kOff);
  } else if (asleep) {
    // Off the Sentry's CPU (or wherever the host put it) with quick calls that each
    // needed a futex wake: on a loaded machine a wake across CPUs waits for the other
    // CPU (an IPI on this nested VM); beside the Sentry it is a switch on one.
    if (++c->slow >= kQuickRun) {
      c->backoff++;
      Place(c, kBeside);
    }
  } else {
    c->slow = 0;
  }
}

// A thread beside the Sentry that computes (over ~2 ms without a trap, and its process
// used at least half that time of CPU: not merely waiting for a CPU on a loaded
// machine) gets every CPU back now, not at its next trap: it was moved there by waits
// (start-up, a barrier), and beside the Sentry it shares one CPU with its CPU-bound
// siblings while the other is free. True while some running thread is still beside
// (the Sentry's sleep then wakes every 2 ms to look again).
constexpr int64_t kBusyNs = 2000000;
int64_t ProcessCpuNs(As* as) {
  struct timespec ts;
  if (as->cpuClock == -1 || clock_gettime(as->cpuClock, &ts) != 0) return -1;
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
bool CheckBusyBeside() {
  bool any = false;
  uint64_t now = 0;
  int64_t nowNs = 0;
  for (Ctx* c : g_running) {
    if (c->place != kBeside || c->starting || !c->resumedAt) continue;
    any = true;
    if (!now) now = prof::Tsc();
    if (now - c->resumedAt < 2 * kBusyTicks) {
      c->busyAt = 0;
      continue;
    }
    if (!nowNs) nowNs = NowNs();
    if (c->busyAt && nowNs - c->busyAt < kBusyNs) continue;
    int64_t cpu = ProcessCpuNs(c->as);
    if (c->busyAt && cpu >= 0 && c->busyCpu >= 0 && (cpu - c->busyCpu) * 2 >= nowNs - c->busyAt) {
      c->backoff++;  // the slow rule may bring it back: later, each time it came back
      Place(c, kAll);
      continue;
    }
    c->busyAt = nowNs;
    c->busyCpu = cpu;
  }
  return any;
}

void Place(Ctx* c, int where) {
  c->asleep = c->quick = c->slow = 0;
  if (g_apartMode >= 0 || !g_haveAllCpus || !g_sentryCpu || CPU_COUNT(&g_allCpus) < 2) return;
  cpu_set_t m = g_allCpus;
  if (where == kOff) CPU_CLR(g_sentryCpu - 1, &m);
  if (where == kBeside) {
    CPU_ZERO(&m);
    CPU_SET(g_sentryCpu - 1, &m);
  }
  if (sched_setaffinity(c->tid, sizeof m, &m) == 0) c->place = where;
  if (prof::g.on) fprintf(stderr, "systrap: thread %d placed %s\n", c->tid, where == kAll ? "all" : where == kOff ? "off" : "beside");
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

int ReportExit() { return ReportQueuedExit(g_exits); }

Ctx* ScanPosted() {
  for (Ctx* c : g_running) {
    if (__atomic_load_n(&c->f->state, __ATOMIC_ACQUIRE) != ST_POSTED) continue;
    if (!c->starting) return c;
    // A new thread's first trap: the resume the Sentry asked for while it started,
    // or the kick it sent meanwhile.
    TakeFirstPost(c);
    if (c->kickPending) {
      c->kickPending = false;
      g_kicks.push_back(c);
      continue;
    }
    WriteBack(c);
  }
  return nullptr;
}

// A kick event for stopped c, registers as the Sentry holds them.
int ReportKick() {
  Ctx* c = g_kicks.front();
  g_kicks.erase(g_kicks.begin());
  StopRunning(c);
  int32_t* inf = EventFor(c);
  memset(EventBuffer() + kSiginfoOff, 0, 128);
  reinterpret_cast<int32_t*>(EventBuffer() + kSiginfoOff)[0] = SIGURG;
  inf[kInfoSigno] = SIGURG;
  inf[kInfoKind] = kEvSignal;
  return kEvSignal;
}

// New threads that never reach their first trap (kStartNs) take their process down; the
// injector's exit then reports every thread of it.
bool CheckStarting() {
  int64_t now = 0;
  bool any = false;
  for (Ctx* c : g_running) {
    if (!c->starting) continue;
    any = true;
    if (!now) now = NowNs();
    // Its process (the thread may be gone already: its entry exits if a call fails).
    if (now > c->startDeadline) kill(c->as->leader, SIGKILL);
  }
  return any;
}

// A guest thread the Sentry lets run whose host thread is gone: nothing the Sentry did
// ends a host thread without its knowing (ExitThread forgets the thread first, a stub's
// death is its injector's exit), so the guest did it through its own frames (forging
// the exit command into a sibling's frame). The Sentry would wait for that thread
// forever and the process could never end by itself: its address space is killed
// instead, and reaped here at once (an injection the Sentry made meanwhile would
// otherwise reap the injector's exit unseen), every thread reported as exited.
// Checked at most every kVanishNs; the tid is the Sentry's own, never a frame's word.
constexpr int64_t kVanishNs = 100000000;
int64_t g_vanishCheckedAt = 0;
void CheckVanished() {
  if (g_running.empty()) return;
  int64_t now = NowNs();
  if (now - g_vanishCheckedAt < kVanishNs) return;
  g_vanishCheckedAt = now;
  std::vector<As*> dead;
  for (Ctx* c : g_running) {
    if (c->starting) continue;  // CheckStarting's bound covers those
    if (syscall(SYS_tgkill, c->as->leader, c->tid, 0) != 0 && errno == ESRCH &&
        std::find(dead.begin(), dead.end(), c->as) == dead.end())
      dead.push_back(c->as);
  }
  for (As* as : dead) {
    kill(as->leader, SIGKILL);
    int status = SIGKILL;  // as reported if its exit was reaped elsewhere already
    for (;;) {
      int st;
      pid_t p = waitpid(as->leader, &st, __WALL);
      if (p < 0 && errno == EINTR) continue;
      if (p < 0) break;
      if (WIFEXITED(st) || WIFSIGNALED(st)) {
        status = st;
        break;
      }
    }
    for (Ctx* c : as->slots)
      if (c) g_exits.emplace_back(c->tid, status);
    FreeAs(as);
  }
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
  if (!g_kicks.empty()) return ReportKick();
  ChargePendingStop();
  SetSigchldWakeups(true);
  int64_t start = NowNs();
  int64_t spin = g_running.empty() || count > 0 || !g_peerApart ? 0 : g_sentrySpin.Next();
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
        if (prof::g.on) prof::g.spinTakes++;
        return Decode(c);
      }
      if (!g_kicks.empty()) return ReportKick();
      if ((it & 255) == 0) {
        CheckStarting();
        CheckBusyBeside();
        CheckVanished();
        if (ReapInjectors() || !g_exits.empty()) return ReportExit();
      }
      if (spin == 0 || deadline == start) break;
      int64_t spun = NowNs() - start;
      if (spun > spin) {
        g_sentrySpin.Miss();
        spin = 0;
        break;
      }
      // Past the first microseconds, yield: a stub thread on this CPU gets to run.
      if (spun > kYieldNs) sched_yield();
      else __builtin_ia32_pause();
    }
    SetSleeping(1);
    Ctx* c = ScanPosted();
    if (c || !g_kicks.empty() || PendingHostSignals() || ReapInjectors()) {
      SetSleeping(0);
      if (c) return Decode(c);
      continue;
    }
    int wait = FillWaitSet(p, g_doorbell, fds, events, count, deadline);
    if (CheckStarting() && (wait < 0 || wait > 100)) wait = 100;  // their kStartNs bound
    if (!g_running.empty() && (wait < 0 || wait > 100)) wait = 100;  // CheckVanished's period
    if (CheckBusyBeside() && (wait < 0 || wait > 2)) wait = 2;
    if (prof::g.on) prof::g.polls++;
    int n = poll(p, count + 2, wait);
    int e = errno;
    SetSleeping(0);
    uint64_t v;
    if (p[1].revents & POLLIN) (void)!read(g_doorbell, &v, sizeof v);
    if (p[0].revents & POLLIN) DrainSelfPipe();
    if (n < 0 && e != EINTR) return -e;
    if (TakePollResults(p + 2, revents, count)) return kEvPoll;
    if (n == 0 && deadline != INT64_MAX && NowNs() >= deadline) {
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
  long err = 0;
  uint64_t at = fromCtx && info.Length() > 1 && info[1].IsNumber() ? ScratchAt(info[1]) : 0;
  As* as = MakeAs((pid_t)child, &err, fromCtx ? fromCtx->as : nullptr, at);
  if (!as) {
    kill((pid_t)child, SIGKILL);
    return Num(info.Env(), (double)err);
  }
  long tid = NewThreadIn(as, fromCtx);
  if (tid < 0) kill((pid_t)child, SIGKILL);  // reaped (and freed) by the next wait
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
  long lo[6] = {0, (long)kStubBase, 0, 0, 0, 0};
  long hi[6] = {(long)kRangeEnd, (long)(kTaskSize - kRangeEnd), 0, 0, 0, 0};
  long r = InjectSyscall(as->leader, SYS_munmap, lo, nullptr);
  if (r == 0) r = InjectSyscall(as->leader, SYS_munmap, hi, nullptr);
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
