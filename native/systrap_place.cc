// systrap: where a guest thread runs (every CPU, off the Sentry's, beside it), moved by
// what it does (see src/platform/README.md "Placement and spinning").

#include "systrap_internal.h"

namespace tss {
namespace systrap {

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

}  // namespace systrap
}  // namespace tss
