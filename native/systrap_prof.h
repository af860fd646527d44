// TSS_SYSTRAP_PROF=1: where a systrap round trip goes. The stub's handler stamps its
// frame (entry, post, reply seen, return: TSC), the Sentry stamps take, N-API return,
// N-API entry and wake per thread; at exit the Sentry prints the mean of each leg of
// the syscall round trips it saw (stderr). Off: one predictable branch per stop.
#ifndef TSS_SYSTRAP_PROF_H
#define TSS_SYSTRAP_PROF_H
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <time.h>

namespace tss {
namespace prof {

inline uint64_t Tsc() { return __builtin_ia32_rdtsc(); }

enum Leg { kGuest, kSave, kIn, kNative, kJs, kResume, kOut, kRestore, kLegs };
inline const char* const kNames[kLegs] = {
    "guest code + seccomp trap + SIGSYS delivery + rt_sigreturn (prev return -> entry)",
    "handler saves registers (entry -> post)",
    "handoff stub -> Sentry (post -> take)",
    "Sentry native: decode, N-API return (take -> JS)",
    "Sentry JavaScript: dispatch + handler + loop (JS -> N-API entry)",
    "Sentry native: resume (N-API entry -> wake)",
    "handoff Sentry -> stub (wake -> reply seen)",
    "handler restores registers (reply seen -> return)",
};

struct State {
  bool on = false;
  uint64_t sum[kLegs] = {};
  uint64_t n = 0;
  uint32_t hist[kLegs][256] = {};  // 25 ns bins (at ~2-3 GHz: 64 ticks), the last one open
  uint64_t tsc0 = 0;
  int64_t ns0 = 0;
  // Address-space calls: forks (new address spaces) and execs in place, their count,
  // time and injections (native/ptrace_platform.cc g_injections).
  uint64_t forkPh[4] = {}; // the fork's phases (ns): injector clone, memfd hand-over, thread clone, thread set-up
  uint64_t forks = 0, forkNs = 0, forkInj = 0, execs = 0, execNs = 0, execInj = 0;
  // Handoffs: posts taken from another CPU than the Sentry's / from its own; the Sentry's
  // waits that found a post while spinning / went to poll; resumes that needed a futex wake.
  uint64_t totHist[16] = {}, totSum[16] = {}, slowN = 0, slowSum[kLegs] = {};
  uint64_t takesApart = 0, takesBeside = 0, spinTakes = 0, polls = 0, wakes = 0, resumes = 0;
};
inline State g;

inline int64_t Mono() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

inline void Report() {
  if (!g.n) return;
  double nsPerTick = (double)(Mono() - g.ns0) / (double)(Tsc() - g.tsc0);
  double total = 0;
  for (int i = 0; i < kLegs; i++) total += (double)g.sum[i] / (double)g.n * nsPerTick;
  fprintf(stderr, "systrap profile: %llu syscall round trips, mean %.0f ns\n", (unsigned long long)g.n, total);
  double med = 0;
  for (int i = 0; i < kLegs; i++) {
    uint64_t acc = 0;
    int b = 0;
    while (b < 255 && (acc += g.hist[i][b]) < g.n / 2) b++;
    double m = (b + 0.5) * 64 * nsPerTick;
    med += m;
    fprintf(stderr, "  mean %7.0f ns  median %6.0f ns  %s\n", (double)g.sum[i] / (double)g.n * nsPerTick, m, kNames[i]);
  }
  fprintf(stderr, "  sum of medians %.0f ns\n", med);
  for (int b = 0; b < 16; b++)
    if (g.totHist[b])
      fprintf(stderr, "  round trips under %8.1f us: %7llu, %5.1f%% of the time\n", (double)(256ULL << b) * nsPerTick / 1e3,
              (unsigned long long)g.totHist[b], 100.0 * (double)g.totSum[b] / (double)[&] { uint64_t t = 0; for (uint64_t x : g.totSum) t += x; return t; }());
  if (g.slowN)
    for (int i = 0; i < kLegs; i++)
      fprintf(stderr, "  slow ones (%llu): mean %8.0f ns  %s\n", (unsigned long long)g.slowN, (double)g.slowSum[i] / (double)g.slowN * nsPerTick, kNames[i]);
  fprintf(stderr, "  takes: %llu from another CPU, %llu from the Sentry's; waits: %llu taken spinning, %llu polls; resumes: %llu, %llu futex wakes\n",
          (unsigned long long)g.takesApart, (unsigned long long)g.takesBeside, (unsigned long long)g.spinTakes,
          (unsigned long long)g.polls, (unsigned long long)g.resumes, (unsigned long long)g.wakes);
  if (g.forks)
    fprintf(stderr, "  %llu new address spaces (forks): mean %.0f us, %.1f injections each\n", (unsigned long long)g.forks,
            (double)g.forkNs / 1e3 / (double)g.forks, (double)g.forkInj / (double)g.forks);
  if (g.forks)
    fprintf(stderr, "  a fork's phases: injector clone %.0f us, memfd hand-over %.0f us, thread clone %.0f us, its set-up %.0f us\n",
            (double)g.forkPh[0] / 1e3 / (double)g.forks, (double)g.forkPh[1] / 1e3 / (double)g.forks,
            (double)g.forkPh[2] / 1e3 / (double)g.forks, (double)g.forkPh[3] / 1e3 / (double)g.forks);
  if (g.execs)
    fprintf(stderr, "  %llu execs in place: mean %.0f us, %.1f injections each\n", (unsigned long long)g.execs,
            (double)g.execNs / 1e3 / (double)g.execs, (double)g.execInj / (double)g.execs);
}

inline void Init() {
  const char* e = getenv("TSS_SYSTRAP_PROF");
  if (!e || !*e || *e == '0' || g.on) return;
  g.on = true;
  g.tsc0 = Tsc();
  g.ns0 = Mono();
  atexit(Report);
}

// One thread's Sentry-side stamps of its last round trip.
struct Stamps {
  uint64_t take = 0, ret = 0, enter = 0, wake = 0;
};

// At a take: s holds the previous round's Sentry stamps, f (the frame's four stamps)
// this round's entry/post and the previous round's reply-seen/return. Legs that do not
// add up (a thread parked in the Sentry, a sleep, a first trap) are dropped: only
// back-to-back syscall round trips count.
inline void OnTake(Stamps& s, const volatile unsigned long* f, uint64_t now) {
  uint64_t entry = f[0], post = f[1], seen = f[2], back = f[3];
  if (s.take && s.ret && s.enter && s.wake && s.take < s.ret && s.ret <= s.enter && s.enter <= s.wake &&
      s.wake <= seen + 1000000 && seen <= back && back <= entry && entry <= post && post <= now &&
      now - s.take < 200000000ULL) {
    uint64_t d[kLegs] = {entry - back, post - entry, now - post, s.ret - s.take, s.enter - s.ret,
                         s.wake - s.enter, seen > s.wake ? seen - s.wake : 0, back - seen};
    uint64_t tot = 0;
    for (int i = 0; i < kLegs; i++) tot += d[i];
    int lb = 0;
    while (lb < 15 && (tot >> (lb + 8)) != 0) lb++;  // 256-tick (~0.1 us) doubling bins
    g.totHist[lb]++;
    g.totSum[lb] += tot;
    if (tot > 13000) {  // over ~5 us: where the slow ones lose
      g.slowN++;
      for (int i = 0; i < kLegs; i++) g.slowSum[i] += d[i];
    }
    for (int i = 0; i < kLegs; i++) {
      g.sum[i] += d[i];
      g.hist[i][d[i] / 64 < 255 ? d[i] / 64 : 255]++;
    }
    g.n++;
  }
  s = Stamps{};
  s.take = now;
}

}  // namespace prof
}  // namespace tss
#endif
