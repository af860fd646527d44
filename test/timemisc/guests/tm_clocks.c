/* Clocks: every clock id, resolutions, CPU clock ids, error cases (raw syscalls). */
#include "common.h"
#include <pthread.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/times.h>
#include <sys/timex.h>
#include <time.h>

static long long ns(struct timespec t) { return t.tv_sec * 1000000000LL + t.tv_nsec; }
static long raw(long nr, long a, long b, long c, long d) { return syscall(nr, a, b, c, d); }

int main(void) {
  guest_init();
  struct timespec a, b, r;
  static const int ids[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 15, 16, 100, -1, -8 /* PROF */, -7 /* VIRT */, -6 /* SCHED */, -2 /* thread SCHED */};
  for (unsigned i = 0; i < sizeof ids / sizeof ids[0]; i++) {
    char l[64];
    snprintf(l, sizeof l, "clock_gettime(%d)", ids[i]);
    OKERR(l, raw(SYS_clock_gettime, ids[i], (long)&a, 0, 0));
    snprintf(l, sizeof l, "clock_getres(%d)", ids[i]);
    r.tv_sec = r.tv_nsec = -1;
    errno = 0;
    long e = raw(SYS_clock_getres, ids[i], (long)&r, 0, 0);
    if (e < 0) printf("%s: %s\n", l, ename(errno));
    else printf("%s: %ld.%09ld\n", l, (long)r.tv_sec, r.tv_nsec);
  }
  EXPECT_ERR("clock_gettime NULL", raw(SYS_clock_gettime, 1, 0, 0, 0), EFAULT);
  EXPECT_ERR("clock_gettime (void*)1", raw(SYS_clock_gettime, 0, 1, 0, 0), EFAULT);
  EXPECT_ERR("clock_gettime bad clock + bad ptr", raw(SYS_clock_gettime, 99, 1, 0, 0), EINVAL);
  SHOW("clock_getres NULL res", raw(SYS_clock_getres, 1, 0, 0, 0));
  EXPECT_ERR("clock_getres (void*)1", raw(SYS_clock_getres, 1, 1, 0, 0), EFAULT);

  /* clock_settime: only invalid calls here (natively root could really set the clock). */
  struct timespec bad = {0, 1000000000};
  EXPECT_ERR("clock_settime MONOTONIC", raw(SYS_clock_settime, CLOCK_MONOTONIC, (long)&bad, 0, 0), EINVAL);
  EXPECT_ERR("clock_settime bad clock", raw(SYS_clock_settime, 99, (long)&bad, 0, 0), EINVAL);
  EXPECT_ERR("clock_settime REALTIME bad nsec", raw(SYS_clock_settime, CLOCK_REALTIME, (long)&bad, 0, 0), EINVAL);
  EXPECT_ERR("clock_settime REALTIME (void*)1", raw(SYS_clock_settime, CLOCK_REALTIME, 1, 0, 0), EFAULT);

  /* Monotonic and boottime never go backwards; coarse <= precise. */
  int ok = 1;
  MUST(clock_gettime(CLOCK_MONOTONIC, &a));
  for (int i = 0; i < 500; i++) {
    raw(SYS_clock_gettime, CLOCK_MONOTONIC, (long)&b, 0, 0);
    if (ns(b) < ns(a)) ok = 0;
    a = b;
  }
  FACT("monotonic non-decreasing", ok);
  raw(SYS_clock_gettime, CLOCK_MONOTONIC_COARSE, (long)&a, 0, 0);
  raw(SYS_clock_gettime, CLOCK_MONOTONIC, (long)&b, 0, 0);
  FACT("coarse <= precise", ns(a) <= ns(b));
  raw(SYS_clock_gettime, CLOCK_REALTIME, (long)&a, 0, 0);
  struct timeval tv;
  raw(SYS_gettimeofday, (long)&tv, 0, 0, 0);
  FACT("gettimeofday ~ realtime", labs(tv.tv_sec - a.tv_sec) <= 1);
  FACT("time ~ realtime", labs(raw(SYS_time, 0, 0, 0, 0) - a.tv_sec) <= 1);
  time_t tt = 0;
  raw(SYS_time, (long)&tt, 0, 0, 0);
  FACT("time(&t) stores", labs(tt - a.tv_sec) <= 1);
  EXPECT_ERR("time (void*)1", raw(SYS_time, 1, 0, 0, 0), EFAULT);
  EXPECT_ERR("gettimeofday (void*)1", raw(SYS_gettimeofday, 1, 0, 0, 0), EFAULT);
  SHOW("gettimeofday NULL NULL", raw(SYS_gettimeofday, 0, 0, 0, 0));
  struct timezone tz = {1, 1};
  raw(SYS_gettimeofday, 0, (long)&tz, 0, 0);
  printf("timezone: %d %d\n", tz.tz_minuteswest, tz.tz_dsttime);

  /* CPU clocks: process, thread, and the ids of clock_getcpuclockid/pthread_getcpuclockid. */
  clockid_t pc, tc;
  SHOW("clock_getcpuclockid(0)", clock_getcpuclockid(0, &pc));
  SHOW("pthread_getcpuclockid(self)", pthread_getcpuclockid(pthread_self(), &tc));
  MUST(clock_gettime(pc, &a));
  struct timespec ta;
  MUST(clock_gettime(tc, &ta));
  volatile unsigned long x = 0;
  for (unsigned long i = 0; i < 50000000UL; i++) x += i;
  MUST(clock_gettime(pc, &b));
  FACT("process cpu clock advances >= 5ms", ns(b) - ns(a) >= 5000000);
  struct timespec tb;
  MUST(clock_gettime(tc, &tb));
  FACT("thread cpu clock advances >= 5ms", ns(tb) - ns(ta) >= 5000000);
  MUST(clock_gettime(CLOCK_MONOTONIC, &a));
  MUST(clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b));
  FACT("cpu time <= uptime-ish", ns(b) < 600LL * 1000000000LL);
  EXPECT_ERR("cpu clock of missing pid", raw(SYS_clock_gettime, (~4000000 << 3) | 2, (long)&a, 0, 0), EINVAL);
  EXPECT_ERR("fd clock", raw(SYS_clock_gettime, (~3 << 3) | 3, (long)&a, 0, 0), EINVAL);

  /* times(): utime grew with the loop; return value is non-negative. */
  struct tms tm;
  long ticks = raw(SYS_times, (long)&tm, 0, 0, 0);
  FACT("times() >= 0", ticks >= 0);
  FACT("tms_utime+stime > 0", tm.tms_utime + tm.tms_stime > 0);
  SHOW("times(NULL) ok", raw(SYS_times, 0, 0, 0, 0) >= 0);
  EXPECT_ERR("times (void*)1", raw(SYS_times, 1, 0, 0, 0), EFAULT);
  /* adjtimex, read-only (natively too: modes 0 changes nothing). */
  struct timex tx;
  memset(&tx, 0, sizeof tx);
  long ar = raw(SYS_adjtimex, (long)&tx, 0, 0, 0);
  /* STA_NANO (the unit of the offset, whose value is not printed) is the host's to flip:
   * any root program's ADJ_NANO sets it for the whole machine, as happened mid-session
   * here; the sandbox reports microseconds. The rest of the state stays compared. */
  printf("adjtimex = %ld status %#x tick %ld constant %ld\n", ar, tx.status & ~STA_NANO, tx.tick, tx.constant);
  FACT("adjtimex time ~ realtime", labs(tx.time.tv_sec - time(NULL)) <= 1);
  memset(&tx, 0, sizeof tx);
  SHOW("clock_adjtime REALTIME", raw(SYS_clock_adjtime, CLOCK_REALTIME, (long)&tx, 0, 0));
  EXPECT_ERR("clock_adjtime MONOTONIC", raw(SYS_clock_adjtime, CLOCK_MONOTONIC, (long)&tx, 0, 0), EOPNOTSUPP);
  EXPECT_ERR("clock_adjtime bad clock", raw(SYS_clock_adjtime, 99, (long)&tx, 0, 0), EINVAL);
  EXPECT_ERR("adjtimex (void*)1", raw(SYS_adjtimex, 1, 0, 0, 0), EFAULT);
  printf("done\n");
  return 0;
}
