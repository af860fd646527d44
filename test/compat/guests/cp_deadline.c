/* SCHED_DEADLINE as Linux answers it: parameters checked (EINVAL before any permission
 * check), EPERM for an unprivileged caller and for root in its own user namespace (no
 * CAP_SYS_NICE in the initial one), admitted for root: read back by sched_getattr, no fork
 * unless reset-on-fork (EAGAIN), affinity kept whole (EBUSY), and the bandwidth limit of
 * 95% per CPU (EBUSY past it). */
#define _GNU_SOURCE
#include "common.h"
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/wait.h>

struct attr {
  uint32_t size, policy;
  uint64_t flags;
  int32_t nice;
  uint32_t prio;
  uint64_t runtime, deadline, period;
  uint32_t umin, umax;
};
#define DL 6
#define MS 1000000ULL
#define R(label, expr) OKERR(label, (expr))

static long setattr(pid_t pid, uint64_t rt, uint64_t dl, uint64_t per, uint64_t flags, uint32_t prio) {
  struct attr a = {sizeof a, DL, flags, 0, prio, rt, dl, per, 0, 0};
  return syscall(SYS_sched_setattr, pid, &a, 0);
}

static void show(const char *label, pid_t pid) {
  struct attr a;
  memset(&a, 0xff, sizeof a);
  long r = syscall(SYS_sched_getattr, pid, &a, sizeof a, 0);
  if (r < 0) { printf("%s: getattr -1 %s\n", label, ename(errno)); return; }
  /* A fair task's sched_runtime is its slice since Linux 6.12 (EEVDF): not compared. */
  if (a.policy != DL) { printf("%s: policy %u flags %llu nice %d prio %u; getscheduler %d\n", label, a.policy, (unsigned long long)a.flags, a.nice, a.prio, sched_getscheduler(pid)); return; }
  printf("%s: policy %u flags %llu nice %d prio %u runtime %llu deadline %llu period %llu; getscheduler %d\n", label, a.policy,
         (unsigned long long)a.flags, a.nice, a.prio, (unsigned long long)a.runtime, (unsigned long long)a.deadline,
         (unsigned long long)a.period, sched_getscheduler(pid));
}

static pid_t idle_child(void) {
  pid_t c = fork();
  if (c == 0) { pause(); _exit(0); }
  return c;
}

int main(void) {
  setvbuf(stdout, 0, _IONBF, 0);
  struct sched_param sp = {0};
  R("setscheduler DEADLINE", sched_setscheduler(0, DL, &sp));
  R("deadline 0", setattr(0, 10 * MS, 0, 100 * MS, 0, 0));
  R("runtime below 1024 ns", setattr(0, 1000, 30 * MS, 100 * MS, 0, 0));
  R("runtime > deadline", setattr(0, 40 * MS, 30 * MS, 100 * MS, 0, 0));
  R("deadline > period", setattr(0, 10 * MS, 300 * MS, 100 * MS, 0, 0));
  R("period below 100 us", setattr(0, 10000, 50000, 50000, 0, 0));
  R("period above 2^22 us", setattr(0, 10 * MS, 30 * MS, 5000 * MS, 0, 0));
  R("period 0, deadline above 2^22 us", setattr(0, 10 * MS, 5000 * MS, 0, 0, 0));
  R("deadline with MSB", setattr(0, 10 * MS, 1ULL << 63, 0, 0, 0));
  R("priority 1", setattr(0, 10 * MS, 30 * MS, 100 * MS, 0, 1));
  R("unknown flag", setattr(0, 10 * MS, 30 * MS, 100 * MS, 0x100, 0));
  /* KEEP_PARAMS from SCHED_OTHER is left out: Linux answers 0 without changing the policy
   * but admits the bandwidth, which it then never gives back (a host-wide leak). */

  /* Unprivileged, and root of a new user namespace: EPERM once the parameters are valid. */
  int st;
  pid_t c = fork();
  if (c == 0) {
    if (setuid(65534) != 0) _exit(9);
    R("nobody: invalid parameters", setattr(0, 40 * MS, 30 * MS, 100 * MS, 0, 0));
    R("nobody: valid parameters", setattr(0, 10 * MS, 30 * MS, 100 * MS, 0, 0));
    _exit(0);
  }
  waitpid(c, &st, 0);
  c = fork();
  if (c == 0) {
    if (unshare(CLONE_NEWUSER) != 0) { printf("unshare: %s\n", ename(errno)); _exit(0); }
    R("user namespace root: valid parameters", setattr(0, 10 * MS, 30 * MS, 100 * MS, 0, 0));
    _exit(0);
  }
  waitpid(c, &st, 0);

  /* Root: admitted and read back. */
  R("root: 10/30/100 ms", setattr(0, 10 * MS, 30 * MS, 100 * MS, 0, 0));
  show("self", 0);
  sched_getparam(0, &sp);
  printf("getparam priority %d\n", sp.sched_priority);
  struct timespec ts = {9, 9};
  R("rr_get_interval", sched_rr_get_interval(0, &ts));
  printf("interval %ld.%09ld\n", (long)ts.tv_sec, ts.tv_nsec);
  R("fork of a deadline task", syscall(SYS_fork));
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(0, &one);
  R("narrow its affinity", sched_setaffinity(0, sizeof one, &one));
  R("change its parameters: 20/50/100 ms, DL_OVERRUN", setattr(0, 20 * MS, 50 * MS, 100 * MS, 4, 0));
  show("self", 0);
  R("KEEP_PARAMS|KEEP_POLICY", setattr(0, 0, 0, 0, 0x18, 0));
  R("reset-on-fork", setattr(0, 20 * MS, 50 * MS, 0, 1, 0));
  show("self", 0);
  c = fork();
  if (c == 0) { show("its child", 0); _exit(0); }
  waitpid(c, &st, 0);
  R("back to SCHED_OTHER", sched_setscheduler(0, SCHED_OTHER, &sp));
  show("self", 0);

  /* The bandwidth: tasks of 50% each until the 95%-per-CPU limit refuses one. */
  pid_t kids[16];
  int n = 0, admitted = 0;
  long r = 0;
  while (n < 16) {
    kids[n] = idle_child();
    r = setattr(kids[n++], 50 * MS, 100 * MS, 100 * MS, 0, 0);
    if (r < 0) break;
    admitted++;
  }
  /* The host's free bandwidth is what other deadline tasks (and Linux's own leaks) left:
   * compared is that the limit refuses one within 95% per CPU; the count goes to stderr. */
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  printf("50%% tasks: some admitted, then %s; within 95%% per CPU: %s\n", r < 0 ? ename(errno) : "ok",
         admitted >= 1 && admitted * 50 <= 95 * cpus ? "yes" : "no");
  fprintf(stderr, "admitted: %d\n", admitted);
  for (int i = 0; i < n; i++) kill(kids[i], SIGKILL);
  while (wait(&st) > 0) {}
  return 0;
}
