/* setitimer/getitimer/alarm and timer_create timers, with signal delivery and overruns. */
#include "common.h"
#include <signal.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>

static volatile int alrm, vtalrm, prof, rt;
static volatile int rt_code, rt_val, rt_overrun;
/* The overruns of the first signal after the blocked period, taken in its handler: a
 * later expiry (one period on, if this process is slow to get the CPU) must not
 * overwrite them. */
static volatile int want_first = 0, first_overrun = -1, first_getoverrun = -1, first_rt = 0;
static timer_t first_tid;
static void h_alrm(int s) { (void)s; alrm++; }
static void h_vt(int s) { (void)s; vtalrm++; }
static void h_prof(int s) { (void)s; prof++; }
static void h_rt(int s, siginfo_t *si, void *u) {
  (void)s; (void)u;
  rt++;
  rt_code = si->si_code;
  rt_val = si->si_value.sival_int;
  rt_overrun = si->si_overrun;
  if (want_first) {
    want_first = 0;
    first_overrun = si->si_overrun;
    first_getoverrun = timer_getoverrun(first_tid);
    first_rt = rt;
  }
}
static long long ns(struct timespec t) { return t.tv_sec * 1000000000LL + t.tv_nsec; }
static long long mono(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return ns(t); }
static void on(int sig, void (*h)(int)) { struct sigaction sa; memset(&sa, 0, sizeof sa); sa.sa_handler = h; sa.sa_flags = SA_RESTART; sigaction(sig, &sa, NULL); }
/* Bounded (20 s) waits: they end as soon as the signals came; a loaded machine may be slow to deliver. */
static void spin_until(volatile int *c, int n, long long max_ns, int busy) {
  long long t0 = mono();
  while (*c < n && mono() - t0 < max_ns) {
    if (busy) { for (volatile int i = 0; i < 100000; i++); }
    else { struct timespec s = {0, 1000000}; nanosleep(&s, NULL); }
  }
}

int main(void) {
  guest_init();
  struct itimerval it, old;
  on(SIGALRM, h_alrm);
  on(SIGVTALRM, h_vt);
  on(SIGPROF, h_prof);

  /* ITIMER_REAL periodic: 3 signals in about 20+2*20 ms. */
  it = (struct itimerval){{0, 20000}, {0, 20000}};
  SHOW("setitimer REAL", setitimer(ITIMER_REAL, &it, &old));
  printf("old: %ld.%06ld %ld.%06ld\n", (long)old.it_interval.tv_sec, (long)old.it_interval.tv_usec, (long)old.it_value.tv_sec, (long)old.it_value.tv_usec);
  MUST(getitimer(ITIMER_REAL, &old));
  printf("interval: %ld.%06ld, value <= 20ms: %s\n", (long)old.it_interval.tv_sec, (long)old.it_interval.tv_usec,
         old.it_value.tv_sec == 0 && old.it_value.tv_usec > 0 && old.it_value.tv_usec <= 20000 ? "yes" : "no");
  spin_until(&alrm, 3, 20000000000LL, 0);
  FACT("3 SIGALRM", alrm >= 3);
  it = (struct itimerval){{0, 0}, {0, 0}};
  setitimer(ITIMER_REAL, &it, NULL);
  MUST(getitimer(ITIMER_REAL, &old));
  printf("after disarm: %ld %ld\n", (long)old.it_value.tv_sec, (long)old.it_value.tv_usec);

  /* alarm() return values. */
  SHOW("alarm(5)", alarm(5));
  SHOW("alarm(3)", alarm(3));
  SHOW("alarm(0)", alarm(0));
  it = (struct itimerval){{0, 0}, {0, 300000}};
  setitimer(ITIMER_REAL, &it, NULL);
  SHOW("alarm(0) after 0.3s itimer", alarm(0));
  it = (struct itimerval){{0, 0}, {0, 700000}};
  setitimer(ITIMER_REAL, &it, NULL);
  SHOW("alarm(0) after 0.7s itimer", alarm(0));

  /* CPU itimers. */
  it = (struct itimerval){{0, 10000}, {0, 10000}};
  SHOW("setitimer VIRTUAL", setitimer(ITIMER_VIRTUAL, &it, NULL));
  spin_until(&vtalrm, 2, 20000000000LL, 1);
  FACT("SIGVTALRM delivered", vtalrm >= 2);
  it = (struct itimerval){{0, 0}, {0, 0}};
  setitimer(ITIMER_VIRTUAL, &it, NULL);
  it = (struct itimerval){{0, 10000}, {0, 10000}};
  SHOW("setitimer PROF", setitimer(ITIMER_PROF, &it, NULL));
  spin_until(&prof, 2, 20000000000LL, 1);
  FACT("SIGPROF delivered", prof >= 2);
  it = (struct itimerval){{0, 0}, {0, 0}};
  setitimer(ITIMER_PROF, &it, NULL);

  /* itimer errors */
  EXPECT_ERR("setitimer which=3", syscall(SYS_setitimer, 3, &it, NULL), EINVAL);
  EXPECT_ERR("getitimer which=-1", syscall(SYS_getitimer, -1, &it), EINVAL);
  it = (struct itimerval){{0, 0}, {0, 1000000}};
  EXPECT_ERR("setitimer usec=1e6", syscall(SYS_setitimer, ITIMER_REAL, &it, NULL), EINVAL);
  EXPECT_ERR("setitimer (void*)1", syscall(SYS_setitimer, ITIMER_REAL, (void *)1, NULL), EFAULT);
  EXPECT_ERR("getitimer (void*)1", syscall(SYS_getitimer, ITIMER_REAL, (void *)1), EFAULT);
  SHOW("setitimer NULL value", syscall(SYS_setitimer, ITIMER_REAL, NULL, NULL));

  /* POSIX timers: SIGEV_SIGNAL with SIGRTMIN and a value. */
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = h_rt;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigaction(SIGRTMIN, &sa, NULL);
  timer_t tid;
  struct sigevent sev;
  memset(&sev, 0, sizeof sev);
  sev.sigev_notify = SIGEV_SIGNAL;
  sev.sigev_signo = SIGRTMIN;
  sev.sigev_value.sival_int = 4242;
  SHOW("timer_create", timer_create(CLOCK_MONOTONIC, &sev, &tid));
  printf("first timer id: %ld\n", (long)(intptr_t)tid);
  struct itimerspec its = {{0, 10000000}, {0, 10000000}}, oits;
  SHOW("timer_settime", timer_settime(tid, 0, &its, &oits));
  printf("old value: %ld\n", (long)oits.it_value.tv_nsec);
  spin_until(&rt, 2, 20000000000LL, 0);
  FACT("SIGRTMIN x2", rt >= 2);
  printf("si_code SI_TIMER: %s, value: %d\n", rt_code == SI_TIMER ? "yes" : "no", rt_val);
  MUST(timer_gettime(tid, &oits));
  printf("gettime interval: %ld, value in (0,10ms]: %s\n", oits.it_interval.tv_nsec,
         oits.it_value.tv_sec == 0 && oits.it_value.tv_nsec > 0 && oits.it_value.tv_nsec <= 10000000 ? "yes" : "no");

  /* Overruns: block the signal for ~5 periods, then take one signal. */
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGRTMIN);
  sigprocmask(SIG_BLOCK, &set, NULL);
  int before = rt;
  struct timespec s = {0, 65000000};
  nanosleep(&s, NULL);
  first_tid = tid;
  want_first = 1;
  sigprocmask(SIG_UNBLOCK, &set, NULL);
  its = (struct itimerspec){{0, 0}, {0, 0}};
  timer_settime(tid, 0, &its, NULL);
  FACT("one signal after unblock", first_rt == before + 1);
  FACT("si_overrun >= 3", first_overrun >= 3);
  FACT("timer_getoverrun >= 3", first_getoverrun >= 3 && first_getoverrun == first_overrun);
  SHOW("timer_getoverrun after settime", timer_getoverrun(tid));
  SHOW("timer_delete", timer_delete(tid));

  /* Raw-syscall errors (glibc passes kernel ids straight through). */
  EXPECT_ERR("timer_settime bad id", syscall(SYS_timer_settime, 12345, 0, &its, NULL), EINVAL);
  EXPECT_ERR("timer_gettime bad id", syscall(SYS_timer_gettime, 12345, &its), EINVAL);
  EXPECT_ERR("timer_getoverrun bad id", syscall(SYS_timer_getoverrun, 12345), EINVAL);
  EXPECT_ERR("timer_delete bad id", syscall(SYS_timer_delete, 12345), EINVAL);
  EXPECT_ERR("timer_create bad clock", syscall(SYS_timer_create, 99, NULL, &tid), EINVAL);
  EXPECT_ERR("timer_create REALTIME_ALARM (no RTC)", syscall(SYS_timer_create, CLOCK_REALTIME_ALARM, NULL, &tid), EOPNOTSUPP);
  EXPECT_ERR("timer_create MONOTONIC_RAW", syscall(SYS_timer_create, CLOCK_MONOTONIC_RAW, NULL, &tid), EOPNOTSUPP);
  EXPECT_ERR("timer_create (void*)1 sevp", syscall(SYS_timer_create, CLOCK_MONOTONIC, (void *)1, &tid), EFAULT);
  EXPECT_ERR("timer_create (void*)1 id", syscall(SYS_timer_create, CLOCK_MONOTONIC, NULL, (void *)1), EFAULT);
  sev.sigev_signo = 0;
  EXPECT_ERR("timer_create signo 0", syscall(SYS_timer_create, CLOCK_MONOTONIC, &sev, &tid), EINVAL);
  sev.sigev_signo = 65;
  EXPECT_ERR("timer_create signo 65", syscall(SYS_timer_create, CLOCK_MONOTONIC, &sev, &tid), EINVAL);
  sev.sigev_notify = 77;
  EXPECT_ERR("timer_create notify 77", syscall(SYS_timer_create, CLOCK_MONOTONIC, &sev, &tid), EINVAL);
  sev.sigev_notify = SIGEV_THREAD_ID;
  sev.sigev_signo = SIGRTMIN;
  sev._sigev_un._tid = 999999;
  EXPECT_ERR("timer_create THREAD_ID bad tid", syscall(SYS_timer_create, CLOCK_MONOTONIC, &sev, &tid), EINVAL);

  /* Ids count up from 0 per process. */
  int kid;
  SHOW("raw timer_create NULL sevp", syscall(SYS_timer_create, CLOCK_REALTIME, NULL, &kid));
  printf("next raw id: %d\n", kid);
  struct itimerspec bad = {{0, 0}, {0, 1000000000}};
  EXPECT_ERR("timer_settime bad nsec", syscall(SYS_timer_settime, kid, 0, &bad, NULL), EINVAL);
  EXPECT_ERR("timer_settime NULL", syscall(SYS_timer_settime, kid, 0, NULL, NULL), EINVAL);
  EXPECT_ERR("timer_settime (void*)1", syscall(SYS_timer_settime, kid, 0, (void *)1, NULL), EFAULT);

  /* SIGEV_NONE: counts down, no signal; absolute REALTIME setting. */
  sev.sigev_notify = SIGEV_NONE;
  SHOW("timer_create SIGEV_NONE", syscall(SYS_timer_create, CLOCK_REALTIME, &sev, &kid));
  struct timespec rnow;
  clock_gettime(CLOCK_REALTIME, &rnow);
  its = (struct itimerspec){{0, 0}, {rnow.tv_sec + 5, rnow.tv_nsec}};
  SHOW("timer_settime ABSTIME", syscall(SYS_timer_settime, kid, TIMER_ABSTIME, &its, NULL));
  syscall(SYS_timer_gettime, kid, &oits);
  FACT("SIGEV_NONE remaining in (4s,5s]", oits.it_value.tv_sec == 4 || (oits.it_value.tv_sec == 5 && oits.it_value.tv_nsec == 0));
  its = (struct itimerspec){{0, 0}, {0, 1000000}};
  syscall(SYS_timer_settime, kid, 0, &its, NULL);
  nanosleep(&(struct timespec){0, 5000000}, NULL);
  syscall(SYS_timer_gettime, kid, &oits);
  printf("expired SIGEV_NONE value: %ld.%09ld\n", (long)oits.it_value.tv_sec, oits.it_value.tv_nsec);
  printf("done\n");
  return 0;
}
