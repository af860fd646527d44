/* clone/clone3 exit signals and argument checks; waitid never returns an internal errno. */
#include "common.h"
#include <signal.h>
#include <sched.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/sched.h>
#include <pthread.h>

/* waitid while another thread runs and SIGUSR1 (SA_RESTART) keeps coming: restarted, never an internal errno. */
static volatile int hits, stop;
static void count(int s) { (void)s; hits++; }
static void *worker(void *a) { (void)a; while (!stop) getppid(); return 0; }
static void waitid_under_signals(void) {
  struct sigaction sa = {0};
  sa.sa_handler = count;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGUSR1, &sa, 0);
  pthread_t th;
  pthread_create(&th, 0, worker, 0);
  pid_t slow = fork();
  if (slow == 0) { for (int i = 0; i < 200; i++) { kill(getppid(), SIGUSR1); usleep(300); } _exit(5); }
  siginfo_t si;
  int r, eintr = 0, other = 0;
  for (;;) {
    r = waitid(P_PID, slow, &si, WEXITED);
    if (r == 0) break;
    if (errno == EINTR) eintr++;
    else { other++; printf("waitid errno %d\n", errno); break; }
  }
  stop = 1;
  pthread_join(th, 0);
  printf("waitid under signals: %d status %d, EINTR %s, other errors %d\n", r, si.si_status, eintr ? "seen" : "none", other);
}

static long raw_clone(unsigned long flags) {
  return syscall(SYS_clone, flags, 0, 0, 0, 0);
}

static long clone3_with(uint64_t flags, uint64_t exit_signal, size_t size) {
  struct clone_args a;
  memset(&a, 0, sizeof a);
  a.flags = flags;
  a.exit_signal = exit_signal;
  return syscall(SYS_clone3, &a, size);
}

static void wait_report(const char *label, pid_t p, int opts) {
  int st = 0;
  errno = 0;
  pid_t r;
  while ((r = waitpid(p, &st, opts)) < 0 && errno == EINTR) {}
  if (r < 0) printf("%s: waitpid %s\n", label, ename(errno));
  else printf("%s: exited %d\n", label, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

static int got_sig;
static void h(int s) { got_sig = s; }

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  /* Legacy clone: the low byte is the exit signal; Linux takes any value and only sends a valid one. */
  int sigs[] = { 0, SIGCHLD, SIGUSR1, 64, 65, 100, 127, 200, 255 };
  signal(SIGUSR1, h);
  signal(64, h);
  for (unsigned i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
    char label[64];
    snprintf(label, sizeof label, "clone exit signal %d", sigs[i]);
    got_sig = 0;
    long p = raw_clone((unsigned long)sigs[i]);
    if (p == 0) _exit(i + 1);
    if (p < 0) { printf("%s: %s\n", label, ename(errno)); continue; }
    wait_report(label, p, __WALL);
    if (sigs[i] == SIGUSR1) printf("  parent got SIGUSR1: %s\n", got_sig == SIGUSR1 ? "yes" : "no");
  }
  /* A child with a non-SIGCHLD exit signal is only seen with __WALL/__WCLONE. */
  long p = raw_clone(SIGUSR2);
  if (p == 0) _exit(9);
  signal(SIGUSR2, SIG_IGN);
  errno = 0;
  printf("plain waitpid on clone child: %s\n", waitpid(p, NULL, 0) < 0 ? ename(errno) : "found");
  wait_report("__WCLONE", p, __WCLONE);

  /* clone3: exit_signal must be a valid signal, CSIGNAL bits of flags must be clear. */
  EXPECT_ERR("clone3 exit_signal 65", clone3_with(0, 65, sizeof(struct clone_args)), EINVAL);
  EXPECT_ERR("clone3 exit_signal 255", clone3_with(0, 255, sizeof(struct clone_args)), EINVAL);
  EXPECT_ERR("clone3 exit_signal 2^32+17", clone3_with(0, (1ull << 32) | 17, sizeof(struct clone_args)), EINVAL);
  EXPECT_ERR("clone3 flags with CSIGNAL bits", clone3_with(SIGCHLD, 0, sizeof(struct clone_args)), EINVAL);
  EXPECT_ERR("clone3 CLONE_THREAD with exit_signal", clone3_with(CLONE_THREAD | CLONE_SIGHAND | CLONE_VM, SIGCHLD, sizeof(struct clone_args)), EINVAL);
  EXPECT_ERR("clone3 CLONE_PARENT with exit_signal", clone3_with(CLONE_PARENT, SIGCHLD, sizeof(struct clone_args)), EINVAL);
  EXPECT_ERR("clone3 size 32", clone3_with(0, SIGCHLD, 32), EINVAL);
  EXPECT_ERR("clone3 size too big", clone3_with(0, SIGCHLD, 8192), E2BIG);
  EXPECT_ERR("clone3 unknown flag", clone3_with(1ull << 40, SIGCHLD, sizeof(struct clone_args)), EINVAL);
  EXPECT_ERR("clone3 SIGHAND|CLEAR_SIGHAND", clone3_with(CLONE_SIGHAND | CLONE_VM | CLONE_CLEAR_SIGHAND, SIGCHLD, sizeof(struct clone_args)), EINVAL);
  int s3[] = { 0, SIGCHLD, 40, 64 };
  for (unsigned k = 0; k < 4; k++) {
    int s = s3[k];
    char label[64];
    snprintf(label, sizeof label, "clone3 exit_signal %d", s);
    if (s) signal(s, h);
    p = clone3_with(0, s, sizeof(struct clone_args));
    if (p == 0) _exit(s & 0x7f);
    if (p < 0) { printf("%s: %s\n", label, ename(errno)); continue; }
    wait_report(label, p, __WALL);
  }
  /* Many in a row, mixed: no leaked internal errno, every child reaped. */
  int bad = 0, reaped = 0;
  for (int i = 0; i < 60; i++) {
    unsigned long sig = (unsigned long)((i * 37) & 0xff);
    if (sig == SIGKILL || sig == SIGSTOP || sig == SIGSEGV || sig == 32 || sig == 33) sig = 0;
    if (sig >= 1 && sig <= 64) signal((int)sig, h);
    long c = raw_clone(sig);
    if (c == 0) _exit(0);
    if (c < 0) { bad++; continue; }
    siginfo_t si;
    int r;
    while ((r = waitid(P_PID, c, &si, WEXITED | __WALL)) < 0 && errno == EINTR) {}
    if (r < 0) { printf("waitid: %d %s\n", errno, ename(errno)); bad++; }
    else reaped++;
  }
  printf("mixed clones: %d reaped, %d failed\n", reaped, bad);
  waitid_under_signals();
  printf("done\n");
  return 0;
}
