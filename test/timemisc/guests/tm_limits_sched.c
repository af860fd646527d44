/* Resource limits, getrusage, personality, scheduling attributes, getcpu, priorities. */
#include "common.h"
#include <sched.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <sys/syscall.h>

static void pr(const char *l, struct rlimit r) {
  printf("%s: ", l);
  if (r.rlim_cur == RLIM_INFINITY) printf("inf "); else printf("%lu ", (unsigned long)r.rlim_cur);
  if (r.rlim_max == RLIM_INFINITY) printf("inf\n"); else printf("%lu\n", (unsigned long)r.rlim_max);
}

int main(void) {
  guest_init();
  /* The nice value is inherited (a suite run under `nice` starts at 10): back to 0 as root,
     so the unprivileged rules below start from the same place natively and inside. */
  SHOW("setpriority 0 as root", syscall(SYS_setpriority, PRIO_PROCESS, 0, 0));
  struct rlimit r;
  for (int i = 0; i < 16; i++) {
    char l[32];
    snprintf(l, sizeof l, "rlimit %d", i);
    if (i == RLIMIT_NPROC || i == RLIMIT_SIGPENDING) continue; /* per-user counts on the host */
    MUST(syscall(SYS_getrlimit, i, &r));
    pr(l, r);
  }
  EXPECT_ERR("getrlimit 16", syscall(SYS_getrlimit, 16, &r), EINVAL);
  EXPECT_ERR("getrlimit (void*)1", syscall(SYS_getrlimit, RLIMIT_NOFILE, (void *)1), EFAULT);
  r.rlim_cur = 100; r.rlim_max = 50;
  EXPECT_ERR("setrlimit cur > max", syscall(SYS_setrlimit, RLIMIT_NOFILE, &r), EINVAL);
  r.rlim_cur = 100; r.rlim_max = 2000000;
  EXPECT_ERR("setrlimit NOFILE > nr_open", syscall(SYS_setrlimit, RLIMIT_NOFILE, &r), EPERM);
  EXPECT_ERR("setrlimit (void*)1", syscall(SYS_setrlimit, RLIMIT_NOFILE, (void *)1), EFAULT);
  r.rlim_cur = 64; r.rlim_max = 512;
  SHOW("setrlimit NOFILE 64/512", syscall(SYS_setrlimit, RLIMIT_NOFILE, &r));
  struct rlimit o, n = {32, 256};
  SHOW("prlimit64 self", syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, &n, &o));
  pr("prlimit old", o);
  SHOW("prlimit64 own pid", syscall(SYS_prlimit64, getpid(), RLIMIT_NOFILE, NULL, &o));
  pr("prlimit now", o);
  EXPECT_ERR("prlimit64 no such pid", syscall(SYS_prlimit64, 3999999, RLIMIT_NOFILE, NULL, &o), ESRCH);
  EXPECT_ERR("prlimit64 resource 99", syscall(SYS_prlimit64, 0, 99, NULL, &o), EINVAL);
  /* After dropping to an unprivileged uid, the hard limit cannot go back up. */
  /* A uid no other process has (getpriority(PRIO_USER) below sees every process of it: a
     fixed uid also counted other runs of this guest on the host). */
  SHOW("setuid(unused uid)", syscall(SYS_setuid, 200000 + getpid()));
  r.rlim_cur = 32; r.rlim_max = 300;
  EXPECT_ERR("raise hard as user", syscall(SYS_setrlimit, RLIMIT_NOFILE, &r), EPERM);
  r.rlim_cur = 16; r.rlim_max = 128;
  SHOW("lower as user", syscall(SYS_setrlimit, RLIMIT_NOFILE, &r));
  getrlimit(RLIMIT_NOFILE, &r);
  pr("nofile", r);

  /* getrusage */
  volatile unsigned long x = 0;
  for (unsigned long i = 0; i < 30000000UL; i++) x += i;
  struct rusage ru;
  SHOW("getrusage SELF", syscall(SYS_getrusage, RUSAGE_SELF, &ru));
  FACT("utime > 0", ru.ru_utime.tv_sec > 0 || ru.ru_utime.tv_usec > 0);
  FACT("usec < 1e6", ru.ru_utime.tv_usec < 1000000 && ru.ru_stime.tv_usec < 1000000);
  FACT("maxrss > 0", ru.ru_maxrss > 0);
  SHOW("getrusage THREAD", syscall(SYS_getrusage, RUSAGE_THREAD, &ru));
  SHOW("getrusage CHILDREN", syscall(SYS_getrusage, RUSAGE_CHILDREN, &ru));
  EXPECT_ERR("getrusage 5", syscall(SYS_getrusage, 5, &ru), EINVAL);
  EXPECT_ERR("getrusage (void*)1", syscall(SYS_getrusage, RUSAGE_SELF, (void *)1), EFAULT);

  /* personality */
  SHOW("personality query", syscall(SYS_personality, 0xffffffff));
  SHOW("personality set ADDR_NO_RANDOMIZE (old)", syscall(SYS_personality, ADDR_NO_RANDOMIZE));
  SHOW("personality query", syscall(SYS_personality, 0xffffffff));
  syscall(SYS_personality, 0);

  /* scheduling (as that uid now: unprivileged rules) */
  SHOW("sched_yield", syscall(SYS_sched_yield));
  unsigned long mask[16];
  memset(mask, 0, sizeof mask);
  SHOW("sched_getaffinity 128", syscall(SYS_sched_getaffinity, 0, sizeof mask, mask));
  /* The mask is every CPU the process may use, as many as sysconf says are online. */
  printf("mask covers the online CPUs: %s\n", mask[0] == (1UL << sysconf(_SC_NPROCESSORS_ONLN)) - 1 ? "yes" : "no");
  EXPECT_ERR("sched_getaffinity len 4", syscall(SYS_sched_getaffinity, 0, 4, mask), EINVAL);
  EXPECT_ERR("sched_getaffinity len 12", syscall(SYS_sched_getaffinity, 0, 12, mask), EINVAL);
  EXPECT_ERR("sched_getaffinity bad pid", syscall(SYS_sched_getaffinity, 3999999, 8, mask), ESRCH);
  EXPECT_ERR("sched_getaffinity (void*)1", syscall(SYS_sched_getaffinity, 0, 8, (void *)1), EFAULT);
  mask[0] = 1;
  SHOW("sched_setaffinity cpu0", syscall(SYS_sched_setaffinity, 0, 8, mask));
  unsigned cpu = 99, node = 99;
  SHOW("getcpu", syscall(SYS_getcpu, &cpu, &node, NULL));
  printf("cpu %u node %u\n", cpu, node);
  mask[0] = 1UL << 40;
  EXPECT_ERR("sched_setaffinity no cpu", syscall(SYS_sched_setaffinity, 0, 8, mask), EINVAL);
  EXPECT_ERR("sched_setaffinity (void*)1", syscall(SYS_sched_setaffinity, 0, 8, (void *)1), EFAULT);
  mask[0] = 3;
  syscall(SYS_sched_setaffinity, 0, 8, mask);

  for (int p = 0; p <= 6; p++) { /* 7 is SCHED_EXT on newer hosts */
    errno = 0;
    long mx = syscall(SYS_sched_get_priority_max, p), mn = syscall(SYS_sched_get_priority_min, p);
    printf("policy %d: max %ld min %ld %s\n", p, mx, mn, mx < 0 ? ename(errno) : "");
  }
  SHOW("sched_getscheduler", syscall(SYS_sched_getscheduler, 0));
  EXPECT_ERR("sched_getscheduler -1", syscall(SYS_sched_getscheduler, -1), EINVAL);
  EXPECT_ERR("sched_getscheduler missing", syscall(SYS_sched_getscheduler, 3999999), ESRCH);
  struct sched_param sp = {0};
  SHOW("sched_getparam", syscall(SYS_sched_getparam, 0, &sp));
  printf("priority %d\n", sp.sched_priority);
  EXPECT_ERR("sched_getparam NULL", syscall(SYS_sched_getparam, 0, NULL), EINVAL);
  sp.sched_priority = 10;
  EXPECT_ERR("FIFO as user", syscall(SYS_sched_setscheduler, 0, SCHED_FIFO, &sp), EPERM);
  EXPECT_ERR("OTHER prio 10", syscall(SYS_sched_setscheduler, 0, SCHED_OTHER, &sp), EINVAL);
  EXPECT_ERR("policy 4", syscall(SYS_sched_setscheduler, 0, 4, &sp), EINVAL);
  EXPECT_ERR("policy -1", syscall(SYS_sched_setscheduler, 0, -1, &sp), EINVAL);
  sp.sched_priority = 0;
  SHOW("BATCH", syscall(SYS_sched_setscheduler, 0, SCHED_BATCH, &sp));
  SHOW("getscheduler", syscall(SYS_sched_getscheduler, 0));
  SHOW("OTHER|RESET_ON_FORK", syscall(SYS_sched_setscheduler, 0, SCHED_OTHER | SCHED_RESET_ON_FORK, &sp));
  SHOW("getscheduler", syscall(SYS_sched_getscheduler, 0));
  EXPECT_ERR("clear RESET_ON_FORK as user", syscall(SYS_sched_setscheduler, 0, SCHED_OTHER, &sp), EPERM);
  SHOW("sched_setparam 0", syscall(SYS_sched_setparam, 0, &sp));
  struct timespec ts;
  SHOW("sched_rr_get_interval", syscall(SYS_sched_rr_get_interval, 0, &ts));
  EXPECT_ERR("sched_rr_get_interval -1", syscall(SYS_sched_rr_get_interval, -1, &ts), EINVAL);
  EXPECT_ERR("sched_rr_get_interval (void*)1", syscall(SYS_sched_rr_get_interval, 0, (void *)1), EFAULT);

  /* priorities: kernel returns 20 - nice */
  SHOW("getpriority", syscall(SYS_getpriority, PRIO_PROCESS, 0));
  SHOW("setpriority 5", syscall(SYS_setpriority, PRIO_PROCESS, 0, 5));
  SHOW("getpriority", syscall(SYS_getpriority, PRIO_PROCESS, 0));
  EXPECT_ERR("setpriority 2 (raise)", syscall(SYS_setpriority, PRIO_PROCESS, 0, 2), EACCES);
  SHOW("setpriority 100 (clamped)", syscall(SYS_setpriority, PRIO_PROCESS, 0, 100));
  SHOW("getpriority", syscall(SYS_getpriority, PRIO_PROCESS, 0));
  SHOW("getpriority PGRP", syscall(SYS_getpriority, PRIO_PGRP, 0));
  SHOW("getpriority USER", syscall(SYS_getpriority, PRIO_USER, 0));
  EXPECT_ERR("getpriority which 3", syscall(SYS_getpriority, 3, 0), EINVAL);
  EXPECT_ERR("getpriority missing", syscall(SYS_getpriority, PRIO_PROCESS, 3999999), ESRCH);
  EXPECT_ERR("getpriority no user", syscall(SYS_getpriority, PRIO_USER, 4242), ESRCH);
  printf("done\n");
  return 0;
}
