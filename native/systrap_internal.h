// What the systrap platform's files share (native/systrap_*.cc): the Sentry's records of
// threads and address spaces, the handoff's state, and the functions each file offers.
#pragma once

#include "common.h"
#include "platform_internal.h"
#include "systrap_prof.h"
#include "systrap_patch.h"
#include "stub/systrap_abi.h"
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
namespace systrap {


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
  // CPU than the Sentry's (only then do the two sides spin); `asleep`: a score of resumes
  // from another CPU that found its handler asleep (+2) against those that did not (-1).
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

inline std::unordered_map<pid_t, Ctx*> g_ctx;
inline std::unordered_map<pid_t, As*> g_as;  // by leader
inline std::vector<Ctx*> g_running;
inline std::deque<std::pair<pid_t, int>> g_exits;  // Exit events to report (tid, wait status)
inline Ctx* g_synthSegv = nullptr;
inline std::vector<Ctx*> g_kicks;  // starting threads whose first trap is reported as a kick
inline int g_doorbell = -1;
constexpr int kInfoPatch = kInfoFpSize + 1;  // a syscall event's site may be patched
// Every CPU the Sentry could use at start: guest threads get them all, while the
// Sentry's main thread, the injectors and the gofer share one (a ptrace stop and
// resume across CPUs costs ~40 us on this kind of VM; on one CPU ~3 us).
inline cpu_set_t g_allCpus;
inline bool g_haveAllCpus = false;
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
inline Spin g_sentrySpin{40000};
// Spinning past this (ns), either side yields its CPU now and then.
constexpr int64_t kYieldNs = 3000;
inline Spin g_stubSpin{80000};

// How long a new thread may take to its first trap before its process is taken down (its
// entry failed: the thread exited or sits in ud2). Generous: on this VM at load 30-46 a
// healthy thread once took over 2 s to be scheduled and run its entry.
constexpr int64_t kStartNs = 20000000000LL;
constexpr uint64_t kVsyscallPage = 0xffffffffff600000ULL;
constexpr long kThreadFlags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM |
                              CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID;

inline int64_t NowNs() { return MonotonicNs(); }

inline st_frame* FrameOf(As* as, int slot) {
  return reinterpret_cast<st_frame*>(as->map + ST_CTL_SIZE + (size_t)slot * ST_SLOT_SIZE);
}

inline uint64_t StubAddr(As* as, const void* p) {
  return ST_FRAMES_BASE + (uint64_t)(static_cast<const uint8_t*>(p) - as->map);
}

inline Ctx* CtxOf(pid_t tid) {
  auto it = g_ctx.find(tid);
  return it == g_ctx.end() ? nullptr : it->second;
}

// The Sentry's CPU + 1 (its main thread is pinned there at init; 0: unknown).
inline unsigned g_sentryCpu = 0;
// The last frame taken came from another CPU than the Sentry's: the Sentry spins for
// the next post only then (on one CPU a spin keeps the thread it waits for off).
inline bool g_peerApart = true;
// Where an address space's first thread goes (NewThreadIn): 1 off the Sentry's CPU,
// 0 wherever the host puts it, 2 on the Sentry's CPU. TSS_SYSTRAP_APART=0|1|2 fixes
// it; by default 1 while the Sentry's spin pays, else 0.
inline int g_apartMode = getenv("TSS_SYSTRAP_APART") ? atoi(getenv("TSS_SYSTRAP_APART")) : -1;

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

// systrap_batch.cc: several injected calls in one round trip (stub.c st_batch).
constexpr int kBatchMax = 18;  // calls of one hand-over: the recvmsg, up to 16 maps, the close
bool BatchEnabled();
long RunBatch(pid_t leader, uint64_t table, int n, int* ran, pid_t* newTid);
long BatchHandOver(pid_t leader, int hostFd, uint64_t at, const long (*calls)[7], int n, pid_t* newTid);
long MmapHostFdBatch(pid_t leader, int hostFd, const long (*maps)[5], int n, uint64_t at);
int MapCalls(const long (*maps)[5], int n, long (*calls)[7]);
// Where a batch's table may lie in an address space's control page (see RunBatch).
constexpr size_t kBatchTableOff = 0x1000;

// Defined in systrap_platform.cc (core), systrap_thread.cc, systrap_place.cc, systrap_wait.cc.
bool Wake(st_frame* f, bool counted);
void StopRunning(Ctx* c);
bool TakeFirstPost(Ctx* c);
bool AwaitFirstPost(Ctx* c);
void Forget(Ctx* c);
As* AsOfCtx(pid_t tid);
int32_t* EventFor(Ctx* c);
int ReportSegv(Ctx* c);
int ReportSyscall(Ctx* c);
int Decode(Ctx* c);
void WriteBack(Ctx* c);
void Resume(Ctx* c);
bool DivertVsyscallFault(Ctx* c, double result);
long CloneFrom(pid_t tid, long flags, uint64_t ctid);
void FreeAs(As* as);
As* MakeAs(pid_t leader, long* err, const As* parent, uint64_t at, long* thread);
long AwaitCloneStop(pid_t child);
long StartThread(As* as, int slot, long tid, Ctx* from);
void TakeFrame(Ctx* c, int* sigOut, uint8_t siOut[128]);
void LoadFp(Ctx* c);
long NewThreadIn(As* as, Ctx* from);
int64_t ProcessCpuNs(As* as);
bool CheckBusyBeside();
bool ReapInjectors();
Ctx* ScanPosted();
int ReportKick();
bool CheckStarting();
void CheckVanished();
void SetSleeping(unsigned v);
int WaitEvent(int timeoutMs, const int32_t* fds, const int32_t* events, int32_t* revents, int count);

}  // namespace systrap
}  // namespace tss
