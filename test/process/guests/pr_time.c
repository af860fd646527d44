/* Time smoke test (the full coverage is test/timemisc): CPU clocks, clock_nanosleep, setitimer, timer_create. */
#include "pr.h"
#include <sys/time.h>

static volatile int alrm, tmr;
static void on_alrm(int s) { (void)s; alrm++; }
static void on_tmr(int s) { (void)s; tmr++; }
int main(void) {
  guest_init();
  struct timespec a, b;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a);
  volatile unsigned long x = 0; for (unsigned long i = 0; i < 50000000; i++) x += i;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b);
  FACT("process CPU clock advances", b.tv_sec > a.tv_sec || b.tv_nsec > a.tv_nsec);
  OKERR("thread CPU clock", clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a));
  long t0 = now_ms();
  struct timespec d = { 0, 30000000 };
  SHOW("clock_nanosleep 30 ms", clock_nanosleep(CLOCK_MONOTONIC, 0, &d, NULL));
  clock_gettime(CLOCK_MONOTONIC, &a); a.tv_nsec += 30000000; if (a.tv_nsec >= 1000000000) { a.tv_sec++; a.tv_nsec -= 1000000000; }
  SHOW("clock_nanosleep TIMER_ABSTIME", clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &a, NULL));
  FACT("slept >= 55 ms", now_ms() - t0 >= 55);
  signal(SIGALRM, on_alrm);
  struct itimerval it = { {0, 0}, {0, 20000} };
  setitimer(ITIMER_REAL, &it, NULL);
  while (!alrm) pause();
  printf("setitimer SIGALRM: %d\n", alrm);
  signal(SIGUSR1, on_tmr);
  struct sigevent ev; memset(&ev, 0, sizeof ev); ev.sigev_notify = SIGEV_SIGNAL; ev.sigev_signo = SIGUSR1;
  timer_t t; MUST(timer_create(CLOCK_MONOTONIC, &ev, &t));
  struct itimerspec its = { {0, 10000000}, {0, 10000000} };
  MUST(timer_settime(t, 0, &its, NULL));
  while (tmr < 3) pause();
  timer_delete(t);
  printf("timer_create periodic fired >= 3: yes\n");
  printf("done\n");
  return 0;
}
