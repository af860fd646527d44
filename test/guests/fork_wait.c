/* fork, exit, wait/waitpid/wait4 and exit statuses. */
#include "common.h"
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>

static void show_status(const char *label, int st) {
  if (WIFEXITED(st)) printf("%s: exited %d\n", label, WEXITSTATUS(st));
  else if (WIFSIGNALED(st)) printf("%s: killed by %s%s\n", label, sigabbrev_np(WTERMSIG(st)), WCOREDUMP(st) ? " (core)" : "");
  else if (WIFSTOPPED(st)) printf("%s: stopped by %s\n", label, sigabbrev_np(WSTOPSIG(st)));
  else printf("%s: status %#x\n", label, st);
}

int main(void) {
  guest_init();
  int st;

  /* Children exiting with distinct codes, reaped by pid in order. */
  pid_t kids[5];
  for (int i = 0; i < 5; i++) {
    kids[i] = fork();
    if (kids[i] == 0) _exit(10 + i);
    if (kids[i] < 0) { printf("fork: %s\n", ename(errno)); return 1; }
  }
  for (int i = 4; i >= 0; i--) {
    pid_t r = waitpid(kids[i], &st, 0);
    char l[32];
    sprintf(l, "child %d (pid ok=%d)", i, r == kids[i]);
    show_status(l, st);
  }
  EXPECT_ERR("wait with no children", wait(&st), ECHILD);
  EXPECT_ERR("waitpid non-child", waitpid(12345678, &st, 0), ECHILD);

  /* exit() runs atexit/flushes; status is truncated to 8 bits. */
  pid_t c = fork();
  if (c == 0) exit(256 + 7);
  waitpid(c, &st, 0);
  show_status("exit(263)", st);

  /* Killed by signals. */
  c = fork();
  if (c == 0) { kill(getpid(), SIGTERM); pause(); _exit(0); }
  waitpid(c, &st, 0);
  show_status("self SIGTERM", st);
  c = fork();
  if (c == 0) { pause(); _exit(0); }
  kill(c, SIGKILL);
  waitpid(c, &st, 0);
  show_status("parent SIGKILL", st);
  c = fork();
  if (c == 0) { signal(SIGUSR1, SIG_IGN); kill(getpid(), SIGUSR1); _exit(3); }
  waitpid(c, &st, 0);
  show_status("ignored SIGUSR1", st);

  /* WNOHANG on a live child returns 0; after it exits, the status. */
  int p[2];
  MUST(pipe(p));
  c = fork();
  if (c == 0) { char b; close(p[1]); read(p[0], &b, 1); _exit(5); }
  close(p[0]);
  SHOW("WNOHANG while running", waitpid(c, &st, WNOHANG));
  close(p[1]); /* child's read returns 0; it exits */
  pid_t r = waitpid(c, &st, 0);
  FACT("waitpid returns pid", r == c);
  show_status("after release", st);

  /* wait4 with rusage; waitpid(-1) reaps any; wait on process group 0. */
  c = fork();
  if (c == 0) _exit(9);
  struct rusage ru;
  memset(&ru, 0xff, sizeof ru);
  r = wait4(-1, &st, 0, &ru);
  FACT("wait4(-1) got child", r == c);
  FACT("rusage filled", ru.ru_utime.tv_sec >= 0 && ru.ru_utime.tv_usec >= 0 && ru.ru_utime.tv_usec < 1000000);
  show_status("wait4", st);
  c = fork();
  if (c == 0) _exit(4);
  r = waitpid(0, &st, 0);
  FACT("waitpid(0) got child", r == c);
  show_status("waitpid(0)", st);

  /* waitid */
  c = fork();
  if (c == 0) _exit(6);
  siginfo_t si;
  memset(&si, 0, sizeof si);
  MUST(waitid(P_PID, c, &si, WEXITED));
  printf("waitid: code=%s status=%d pid ok=%d\n", si.si_code == CLD_EXITED ? "CLD_EXITED" : "?", si.si_status, si.si_pid == c);

  /* Grandchild: orphaned grandchild must not be reaped by us; child's status ok. */
  c = fork();
  if (c == 0) {
    pid_t g = fork();
    if (g == 0) _exit(0);
    waitpid(g, &st, 0);
    _exit(WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 21 : 22);
  }
  waitpid(c, &st, 0);
  show_status("child that reaped its own child", st);

  /* vfork: parent is suspended until the child exits. */
  volatile int shared = 0;
  c = vfork();
  if (c == 0) { shared = 1; _exit(8); }
  waitpid(c, &st, 0);
  printf("vfork: shared=%d ", shared);
  show_status("vfork child", st);

  /* Many forks in sequence (pids and tasks are recycled properly). */
  int okc = 0;
  for (int i = 0; i < 50; i++) {
    c = fork();
    if (c == 0) _exit(i & 0x7f);
    if (waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == (i & 0x7f)) okc++;
  }
  printf("50 sequential forks ok=%d\n", okc);

  printf("done\n");
  return 0;
}
