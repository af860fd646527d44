/* Sleeps: nanosleep, clock_nanosleep (relative, absolute, clocks, errors), EINTR + rem. */
#include "common.h"
#include <signal.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>

static long long ns(struct timespec t) { return t.tv_sec * 1000000000LL + t.tv_nsec; }
static long long mono(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return ns(t); }
static void on_alrm(int s) { (void)s; }

int main(void) {
  guest_init();
  long long t0 = mono();
  struct timespec req = {0, 50000000}, rem;
  SHOW("nanosleep 50ms", syscall(SYS_nanosleep, &req, NULL));
  long long el = mono() - t0;
  FACT("nanosleep >= 50ms", el >= 50000000LL);
  FACT("nanosleep < 1s", el < 1000000000LL);

  t0 = mono();
  printf("clock_nanosleep rel 30ms = %d\n", clock_nanosleep(CLOCK_MONOTONIC, 0, &(struct timespec){0, 30000000}, NULL));
  FACT("rel >= 30ms", mono() - t0 >= 30000000LL);

  struct timespec now, until;
  clock_gettime(CLOCK_REALTIME, &now);
  until = now;
  until.tv_nsec += 40000000;
  if (until.tv_nsec >= 1000000000) { until.tv_sec++; until.tv_nsec -= 1000000000; }
  printf("clock_nanosleep REALTIME abs = %d\n", clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &until, NULL));
  clock_gettime(CLOCK_REALTIME, &now);
  FACT("realtime reached", ns(now) >= ns(until));
  printf("clock_nanosleep abs past = %d\n", clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &(struct timespec){0, 1}, NULL));
  printf("clock_nanosleep BOOTTIME 10ms = %d\n", clock_nanosleep(CLOCK_BOOTTIME, 0, &(struct timespec){0, 10000000}, NULL));
  printf("clock_nanosleep zero = %d\n", clock_nanosleep(CLOCK_MONOTONIC, 0, &(struct timespec){0, 0}, NULL));

  /* Errors: clock_nanosleep returns the error number. */
  printf("bad clock: %s\n", ename(clock_nanosleep(99, 0, &req, NULL)));
  printf("THREAD_CPUTIME: %s\n", ename(clock_nanosleep(CLOCK_THREAD_CPUTIME_ID, 0, &req, NULL)));
  printf("BOOTTIME_ALARM: %s\n", ename(clock_nanosleep(CLOCK_BOOTTIME_ALARM, 0, &req, NULL)));
  printf("MONOTONIC_RAW: %s\n", ename(clock_nanosleep(CLOCK_MONOTONIC_RAW, 0, &req, NULL)));
  printf("MONOTONIC_COARSE: %s\n", ename(clock_nanosleep(CLOCK_MONOTONIC_COARSE, 0, &req, NULL)));
  printf("bad nsec: %s\n", ename(clock_nanosleep(CLOCK_MONOTONIC, 0, &(struct timespec){0, 1000000000}, NULL)));
  printf("negative: %s\n", ename(clock_nanosleep(CLOCK_MONOTONIC, 0, &(struct timespec){-1, 0}, NULL)));
  printf("bad ptr: %s\n", ename(syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, (void *)1, NULL) < 0 ? errno : 0));
  EXPECT_ERR("nanosleep nsec=1e9", syscall(SYS_nanosleep, &(struct timespec){0, 1000000000}, NULL), EINVAL);
  EXPECT_ERR("nanosleep nsec<0", syscall(SYS_nanosleep, &(struct timespec){0, -1}, NULL), EINVAL);
  EXPECT_ERR("nanosleep sec<0", syscall(SYS_nanosleep, &(struct timespec){-5, 0}, NULL), EINVAL);
  EXPECT_ERR("nanosleep (void*)1", syscall(SYS_nanosleep, (void *)1, NULL), EFAULT);

  /* A signal with a handler interrupts: EINTR and the time left in rem. The timer repeats
     every 50 ms until disarmed: a one-shot could fire before the sleep began (a loaded
     machine can delay this process that long), and the 2 s sleep would then not end early. */
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_alrm;
  sigaction(SIGALRM, &sa, NULL);
  struct itimerval it = {{0, 50000}, {0, 50000}}, off = {{0, 0}, {0, 0}};
  setitimer(ITIMER_REAL, &it, NULL);
  t0 = mono();
  rem.tv_sec = rem.tv_nsec = -1;
  EXPECT_ERR("nanosleep 2s interrupted", syscall(SYS_nanosleep, &(struct timespec){2, 0}, &rem), EINTR);
  el = mono() - t0;
  setitimer(ITIMER_REAL, &off, NULL);
  FACT("interrupted early", el < 1500000000LL);
  FACT("rem in (0.5s, 2s]", ns(rem) > 500000000LL && ns(rem) <= 2000000000LL);
  setitimer(ITIMER_REAL, &it, NULL);
  rem.tv_sec = rem.tv_nsec = -1;
  printf("clock_nanosleep interrupted: %s\n", ename(clock_nanosleep(CLOCK_MONOTONIC, 0, &(struct timespec){2, 0}, &rem)));
  setitimer(ITIMER_REAL, &off, NULL);
  FACT("clock_nanosleep rem in (0.5s, 2s]", ns(rem) > 500000000LL && ns(rem) <= 2000000000LL);
  setitimer(ITIMER_REAL, &it, NULL);
  EXPECT_ERR("interrupted with bad rem", syscall(SYS_nanosleep, &(struct timespec){2, 0}, (void *)1), EFAULT);
  setitimer(ITIMER_REAL, &off, NULL);
  printf("done\n");
  return 0;
}
