/*
 * The vDSO the Sentry maps into every guest (AT_SYSINFO_EHDR): clock_gettime,
 * gettimeofday and time answered in guest user space from the Sentry's clock page
 * (vdso_data.h), mapped read-only one page below this image. Anything it cannot answer
 * (other clocks, a timezone argument, getcpu, the TSC unusable) is the real syscall,
 * which the Sentry serves like any other. Freestanding: no libc, little stack (Go calls
 * it on small stacks), no writable data.
 */
#include <stdint.h>
#include <stddef.h>
#include "vdso_data.h"

struct timespec_k { int64_t tv_sec; int64_t tv_nsec; };
struct timeval_k { int64_t tv_sec; int64_t tv_usec; };

/* Defined by vdso.lds one page before the image. */
extern const struct vdso_data vvar_page __attribute__((visibility("hidden")));

#define NSEC 1000000000ULL

static inline long sys2(long nr, long a, long b) {
  long r;
  __asm__ volatile("syscall" : "=a"(r) : "0"(nr), "D"(a), "S"(b) : "rcx", "r11", "memory");
  return r;
}
static inline long sys3(long nr, long a, long b, long c) {
  long r;
  __asm__ volatile("syscall" : "=a"(r) : "0"(nr), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
  return r;
}

static inline uint64_t rdtsc_ordered(void) {
  uint32_t lo, hi;
  __asm__ volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi)::"memory");
  return ((uint64_t)hi << 32) | lo;
}

/* ns since the sandbox booted; 0 when the page says to make the syscall instead. */
static int mono_ns(uint64_t* out) {
  const volatile struct vdso_data* d = &vvar_page;
  uint32_t seq;
  uint64_t tsc, base_tsc, base_ns, mult;
  uint32_t shift, enabled;
  for (;;) {
    seq = d->seq;
    __asm__ volatile("" ::: "memory");
    if (seq & 1) {
      __asm__ volatile("pause");
      continue;
    }
    enabled = d->enabled;
    base_tsc = d->base_tsc;
    base_ns = d->base_ns;
    mult = d->mult;
    shift = d->shift;
    tsc = rdtsc_ordered();
    __asm__ volatile("" ::: "memory");
    if (d->seq == seq) break;
  }
  if (!enabled) return 0;
  uint64_t delta = tsc > base_tsc ? tsc - base_tsc : 0;
  *out = base_ns + (uint64_t)(((unsigned __int128)delta * mult) >> shift);
  return 1;
}

enum { CLOCK_REALTIME = 0, CLOCK_MONOTONIC = 1, CLOCK_MONOTONIC_RAW = 4, CLOCK_REALTIME_COARSE = 5,
       CLOCK_MONOTONIC_COARSE = 6, CLOCK_BOOTTIME = 7, CLOCK_TAI = 11 };
enum { NR_gettimeofday = 96, NR_time = 201, NR_clock_gettime = 228, NR_clock_getres = 229, NR_getcpu = 309 };

/* The clock's reading in ns, as src/kernel/time/clocks.ts clockNow computes it; 0: not here. */
static int clock_ns(long clk, uint64_t* ns) {
  uint64_t m;
  switch (clk) {
    case CLOCK_MONOTONIC:
    case CLOCK_MONOTONIC_RAW:
    case CLOCK_BOOTTIME:
      return mono_ns(ns);
    case CLOCK_MONOTONIC_COARSE:
      if (!mono_ns(&m)) return 0;
      *ns = m - m % vvar_page.coarse_res_ns;
      return 1;
    case CLOCK_REALTIME:
    case CLOCK_TAI:
      if (!mono_ns(&m)) return 0;
      *ns = m + (uint64_t)vvar_page.realtime_offset_ns;
      return 1;
    case CLOCK_REALTIME_COARSE:
      if (!mono_ns(&m)) return 0;
      m += (uint64_t)vvar_page.realtime_offset_ns;
      *ns = m - m % vvar_page.coarse_res_ns;
      return 1;
    default:
      return 0;
  }
}

int __vdso_clock_gettime(long clk, struct timespec_k* ts) {
  uint64_t ns;
  if (!clock_ns(clk, &ns)) return (int)sys2(NR_clock_gettime, clk, (long)ts);
  /* A bad pointer faults here, as in Linux's vDSO (the syscall would give EFAULT). */
  ts->tv_sec = (int64_t)(ns / NSEC);
  ts->tv_nsec = (int64_t)(ns % NSEC);
  return 0;
}

int __vdso_gettimeofday(struct timeval_k* tv, void* tz) {
  uint64_t ns;
  if (tz != NULL || !clock_ns(CLOCK_REALTIME, &ns)) return (int)sys2(NR_gettimeofday, (long)tv, (long)tz);
  if (tv != NULL) {
    tv->tv_sec = (int64_t)(ns / NSEC);
    tv->tv_usec = (int64_t)(ns % NSEC / 1000);
  }
  return 0;
}

long __vdso_time(long* t) {
  uint64_t ns;
  if (!clock_ns(CLOCK_REALTIME, &ns)) return sys2(NR_time, (long)t, 0);
  long s = (long)(ns / NSEC);
  if (t != NULL) *t = s;
  return s;
}

int __vdso_clock_getres(long clk, struct timespec_k* res) {
  return (int)sys2(NR_clock_getres, clk, (long)res);
}

/* The Sentry decides which CPU a task reports (its affinity): always its answer. */
long __vdso_getcpu(unsigned* cpu, unsigned* node, void* unused) {
  return sys3(NR_getcpu, (long)cpu, (long)node, (long)unused);
}

int clock_gettime(long, struct timespec_k*) __attribute__((weak, alias("__vdso_clock_gettime")));
int gettimeofday(struct timeval_k*, void*) __attribute__((weak, alias("__vdso_gettimeofday")));
long time(long*) __attribute__((weak, alias("__vdso_time")));
int clock_getres(long, struct timespec_k*) __attribute__((weak, alias("__vdso_clock_getres")));
long getcpu(unsigned*, unsigned*, void*) __attribute__((weak, alias("__vdso_getcpu")));
