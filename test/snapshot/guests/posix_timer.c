/* timer_create timers: a periodic one raising SIGRTMIN with a value (each signal counted,
 * printed with its si_value), a SIGEV_NONE one far ahead, a deleted one; a timer made after
 * the checkpoint gets the id an uninterrupted run gives it. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
static volatile sig_atomic_t ticks = 0, bad = 0;
static void on_tick(int sig, siginfo_t *si, void *uc) {
  (void)sig; (void)uc;
  if (si->si_code != SI_TIMER || si->si_value.sival_int != 42) bad = 1;
  ticks++;
}
int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_tick;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGRTMIN, &sa, NULL);
  struct sigevent ev;
  memset(&ev, 0, sizeof ev);
  ev.sigev_notify = SIGEV_SIGNAL;
  ev.sigev_signo = SIGRTMIN;
  ev.sigev_value.sival_int = 42;
  timer_t periodic, quiet, gone, later;
  if (timer_create(CLOCK_MONOTONIC, &ev, &periodic)) return 1;
  struct sigevent none = {0};
  none.sigev_notify = SIGEV_NONE;
  if (timer_create(CLOCK_REALTIME, &none, &quiet) || timer_create(CLOCK_MONOTONIC, &none, &gone)) return 1;
  timer_delete(gone);
  struct itimerspec p = {{0, 120000000}, {0, 120000000}}, q = {{0, 0}, {600, 0}};
  if (timer_settime(quiet, 0, &q, NULL) || timer_settime(periodic, 0, &p, NULL)) return 1;
  int seen = 0;
  while (seen < 12) {
    pause();
    while (seen < ticks && seen < 12) printf("tick %d\n", ++seen);
  }
  struct itimerspec now;
  timer_gettime(periodic, &now);
  printf("interval %ld ms, bad %d\n", now.it_interval.tv_nsec / 1000000, bad);
  timer_gettime(quiet, &now);
  printf("quiet: armed %d, within 600 s %d\n", now.it_value.tv_sec > 0, now.it_value.tv_sec < 600);
  if (timer_create(CLOCK_MONOTONIC, &none, &later)) return 1;
  printf("ids: later two past quiet %d, periodic first %d\n", (long)later == (long)quiet + 2, (long)periodic < (long)quiet);
  return 0;
}
