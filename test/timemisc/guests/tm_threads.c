/*
 * Threads: per-thread credentials (raw setuid in one thread leaves the others),
 * per-thread CPU clocks, a SIGEV_THREAD_ID timer aimed at a second thread, and
 * fork/wait child CPU accounting.
 */
#include "common.h"
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/times.h>
#include <sys/wait.h>
#include <time.h>

static long long ns(struct timespec t) { return t.tv_sec * 1000000000LL + t.tv_nsec; }
static volatile int stop;
static volatile pid_t worker_tid;
static volatile int got_on_worker, got_on_main;
static pthread_t main_thread;

static void on_rt(int s) {
  (void)s;
  if (pthread_equal(pthread_self(), main_thread)) got_on_main++;
  else got_on_worker++;
}

static void *spinner(void *a) {
  (void)a;
  worker_tid = syscall(SYS_gettid);
  while (!stop) { for (volatile int i = 0; i < 100000; i++); }
  return NULL;
}

static void *setuid_thread(void *a) {
  (void)a;
  long r = syscall(SYS_setuid, 4321);
  printf("thread: setuid = %ld, uid now %ld\n", r, syscall(SYS_getuid));
  return NULL;
}

int main(void) {
  guest_init();
  main_thread = pthread_self();

  pthread_t th;
  pthread_create(&th, NULL, setuid_thread, NULL);
  pthread_join(th, NULL);
  printf("main: uid still %ld\n", syscall(SYS_getuid));

  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_rt;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGRTMIN + 1, &sa, NULL);
  pthread_create(&th, NULL, spinner, NULL);
  /* Napping, not yielding: main's own CPU time is compared with the worker's below. */
  while (!worker_tid) nanosleep(&(struct timespec){0, 1000000}, NULL);

  clockid_t wc;
  SHOW("pthread_getcpuclockid(worker)", pthread_getcpuclockid(th, &wc));
  struct timespec a, b;
  MUST(clock_gettime(wc, &a));
  /* Main sleeps until the worker has run 10 ms more (bounded: 20 s): on a loaded machine a
     fixed 60 ms nap may give the spinning worker less than that. */
  struct timespec nap = {0, 20000000};
  int i = 0;
  do { nanosleep(&nap, NULL); MUST(clock_gettime(wc, &b)); } while (ns(b) - ns(a) <= 10000000 && ++i < 1000);
  FACT("worker cpu clock advanced while main slept", ns(b) - ns(a) > 10000000);
  /* main's own clock is not the process's: it lacks the worker's share. (Not "main < worker":
     on a loaded machine a platform's hand-offs can give main more CPU than 10 ms of spin.) */
  struct timespec p;
  MUST(clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a));
  MUST(clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &p));
  FACT("main thread cpu + worker's 10 ms <= process cpu", ns(a) + 10000000 <= ns(p));

  /* Timer whose signal goes to the worker thread only. */
  struct sigevent sev;
  memset(&sev, 0, sizeof sev);
  sev.sigev_notify = SIGEV_THREAD_ID;
  sev.sigev_signo = SIGRTMIN + 1;
  sev._sigev_un._tid = worker_tid;
  timer_t id;
  SHOW("timer_create THREAD_ID", timer_create(CLOCK_MONOTONIC, &sev, &id));
  struct itimerspec its = {{0, 5000000}, {0, 5000000}};
  timer_settime(id, 0, &its, NULL);
  for (int i = 0; i < 4000 && got_on_worker < 3; i++) nanosleep(&(struct timespec){0, 5000000}, NULL);
  timer_delete(id);
  FACT("worker got >= 3", got_on_worker >= 3);
  FACT("main got none", got_on_main == 0);
  stop = 1;
  pthread_join(th, NULL);

  /* A child burns CPU; after wait, RUSAGE_CHILDREN and times() count it. */
  pid_t pid = fork();
  if (pid == 0) {
    struct timespec s, e;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &s);
    do clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &e); while (ns(e) - ns(s) < 100000000LL);
    _exit(0);
  }
  int st;
  waitpid(pid, &st, 0);
  struct rusage ru;
  getrusage(RUSAGE_CHILDREN, &ru);
  long long us = ru.ru_utime.tv_sec * 1000000LL + ru.ru_utime.tv_usec + ru.ru_stime.tv_sec * 1000000LL + ru.ru_stime.tv_usec;
  FACT("children cpu >= 50ms", us >= 50000);
  struct tms tm;
  times(&tm);
  FACT("tms_cutime+cstime >= 5 ticks", tm.tms_cutime + tm.tms_cstime >= 5);
  printf("done\n");
  return 0;
}
