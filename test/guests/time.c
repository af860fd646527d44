/* Time: clock_gettime (monotonic, realtime, cputime), clock_getres, gettimeofday, time, nanosleep. */
#include "common.h"
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>

static long long ns(struct timespec t) { return t.tv_sec * 1000000000LL + t.tv_nsec; }

int main(void) {
  guest_init();
  struct timespec a, b, r;

  /* Monotonic never goes backwards, through libc (vDSO) and through the raw syscall. */
  int mono_ok = 1;
  MUST(clock_gettime(CLOCK_MONOTONIC, &a));
  for (int i = 0; i < 2000; i++) {
    if (i & 1) syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &b);
    else clock_gettime(CLOCK_MONOTONIC, &b);
    if (ns(b) < ns(a)) mono_ok = 0;
    a = b;
  }
  FACT("monotonic non-decreasing", mono_ok);
  FACT("tv_nsec in range", b.tv_nsec >= 0 && b.tv_nsec < 1000000000);

  /* nanosleep 50 ms: at least 50 ms pass, and not absurdly more. */
  clock_gettime(CLOCK_MONOTONIC, &a);
  struct timespec req = {0, 50 * 1000 * 1000};
  SHOW("nanosleep 50ms", nanosleep(&req, NULL));
  clock_gettime(CLOCK_MONOTONIC, &b);
  long long el = ns(b) - ns(a);
  FACT("slept >= 50ms", el >= 50000000LL);
  FACT("slept < 2s", el < 2000000000LL);
  /* clock_nanosleep absolute */
  clock_gettime(CLOCK_MONOTONIC, &a);
  struct timespec until = a;
  until.tv_nsec += 20 * 1000 * 1000;
  if (until.tv_nsec >= 1000000000) { until.tv_sec++; until.tv_nsec -= 1000000000; }
  printf("clock_nanosleep abs = %d\n", clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL));
  clock_gettime(CLOCK_MONOTONIC, &b);
  FACT("abs sleep reached deadline", ns(b) >= ns(until));

  /* Realtime agrees with time() and gettimeofday(). */
  struct timeval tv;
  MUST(clock_gettime(CLOCK_REALTIME, &a));
  MUST(gettimeofday(&tv, NULL));
  time_t t = time(NULL);
  FACT("realtime ~ time()", labs((long)(t - a.tv_sec)) <= 2);
  FACT("gettimeofday ~ realtime", labs((long)(tv.tv_sec - a.tv_sec)) <= 2);
  FACT("realtime after 2024", a.tv_sec > 1704067200);
  time_t raw = syscall(SYS_time, NULL);
  FACT("raw time syscall ~ time()", labs((long)(raw - t)) <= 2);

  /* Other clocks. */
  OKERR("CLOCK_MONOTONIC_RAW", clock_gettime(CLOCK_MONOTONIC_RAW, &a));
  OKERR("CLOCK_BOOTTIME", clock_gettime(CLOCK_BOOTTIME, &a));
  OKERR("CLOCK_REALTIME_COARSE", clock_gettime(CLOCK_REALTIME_COARSE, &a));
  OKERR("CLOCK_MONOTONIC_COARSE", clock_gettime(CLOCK_MONOTONIC_COARSE, &a));
  MUST(clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a));
  volatile unsigned long x = 0;
  for (unsigned long i = 0; i < 20000000UL; i++) x += i;
  MUST(clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b));
  FACT("process cputime advances", ns(b) > ns(a));
  OKERR("CLOCK_THREAD_CPUTIME_ID", clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a));
  MUST(clock_getres(CLOCK_MONOTONIC, &r));
  FACT("monotonic res <= 1ms", r.tv_sec == 0 && r.tv_nsec > 0 && r.tv_nsec <= 1000000);
  MUST(clock_getres(CLOCK_REALTIME, &r));
  FACT("realtime res <= 1ms", r.tv_sec == 0 && r.tv_nsec > 0 && r.tv_nsec <= 1000000);

  /* Errors (raw syscalls, so libc cannot answer on its own). */
  errno = 0;
  long e = syscall(SYS_clock_gettime, 12345, &a);
  printf("clock_gettime bad clock: %s\n", e < 0 ? ename(errno) : "ok?");
  e = syscall(SYS_clock_gettime, CLOCK_MONOTONIC, (void *)1);
  printf("clock_gettime bad pointer: %s\n", e < 0 ? ename(errno) : "ok?");
  struct timespec bad = {0, 1000000000};
  EXPECT_ERR("nanosleep tv_nsec=1e9", nanosleep(&bad, NULL), EINVAL);
  struct timespec neg = {-1, 0};
  EXPECT_ERR("nanosleep negative", nanosleep(&neg, NULL), EINVAL);
  e = syscall(SYS_nanosleep, (void *)1, NULL);
  printf("nanosleep bad pointer: %s\n", e < 0 ? ename(errno) : "ok?");
  struct timespec z = {0, 0};
  SHOW("nanosleep 0", nanosleep(&z, NULL));
  printf("done\n");
  return 0;
}
