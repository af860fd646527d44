/* wait4/waitid: WNOHANG, WUNTRACED/WSTOPPED, WCONTINUED, __WALL/__WCLONE, WNOWAIT, zombies. */
#include "pr.h"
#include <sched.h>
#include <sys/resource.h>

static char proc_state(pid_t pid) {
  char path[64]; sprintf(path, "/proc/%d/stat", pid);
  return stat_state(path);
}
static const char *code_name(int c) {
  switch (c) {
    case CLD_EXITED: return "CLD_EXITED"; case CLD_KILLED: return "CLD_KILLED"; case CLD_DUMPED: return "CLD_DUMPED";
    case CLD_STOPPED: return "CLD_STOPPED"; case CLD_CONTINUED: return "CLD_CONTINUED"; case CLD_TRAPPED: return "CLD_TRAPPED";
  }
  return "?";
}
static void show_si(const char *label, siginfo_t *si, pid_t pid) {
  printf("%s: signo=%s code=%s status=%d pid ok=%s\n", label, si->si_signo ? sigabbrev_np(si->si_signo) : "0",
         si->si_signo ? code_name(si->si_code) : "-", si->si_status, si->si_pid == pid ? "yes" : "no");
}
static char stk[65536] __attribute__((aligned(16)));
static int clone_child(void *a) { (void)a; return 12; }
static volatile int chld_count;
static void on_chld(int s) { (void)s; chld_count++; }

int main(void) {
  guest_init();
  int st; siginfo_t si;
  EXPECT_ERR("wait4 with no children", wait4(-1, &st, 0, NULL), ECHILD);
  EXPECT_ERR("waitid with no children", waitid(P_ALL, 0, &si, WEXITED), ECHILD);
  EXPECT_ERR("waitid no event flags", waitid(P_ALL, 0, &si, 0), EINVAL);
  EXPECT_ERR("wait4 bad options", wait4(-1, &st, 0x10000000, NULL), EINVAL);
  EXPECT_ERR("waitid bad idtype", waitid(17, 0, &si, WEXITED), EINVAL);

  /* WNOHANG on a running child, then a zombie until reaped. */
  int p[2]; MUST(pipe(p));
  pid_t c = fork();
  if (c == 0) { char b; close(p[1]); read(p[0], &b, 1); _exit(5); }
  close(p[0]);
  SHOW("wait4 WNOHANG, child running", wait4(c, &st, WNOHANG, NULL));
  memset(&si, 0, sizeof si);
  SHOW("waitid WNOHANG, child running", waitid(P_PID, c, &si, WEXITED | WNOHANG));
  printf("waitid WNOHANG: si_pid=%d\n", si.si_pid);
  close(p[1]);
  await_pid_state(c, 'Z'); /* its exit, not a nap, before looking */
  printf("exited child state before reaping: %c\n", proc_state(c));
  OKERR("kill(zombie, 0)", kill(c, 0));
  memset(&si, 0, sizeof si);
  MUST(waitid(P_PID, c, &si, WEXITED | WNOWAIT));
  show_si("waitid WNOWAIT", &si, c);
  printf("still a zombie after WNOWAIT: %c\n", proc_state(c));
  memset(&si, 0, sizeof si);
  MUST(waitid(P_PID, c, &si, WEXITED | WNOWAIT));
  show_si("waitid WNOWAIT again", &si, c);
  struct rusage ru;
  pid_t r = wait4(c, &st, 0, &ru);
  FACT("wait4 reaped it", r == c); show_status("wait4", st);
  EXPECT_ERR("kill(reaped, 0)", kill(c, 0), ESRCH);
  EXPECT_ERR("wait4 again", wait4(c, &st, WNOHANG, NULL), ECHILD);

  /* WUNTRACED / WCONTINUED with wait4. */
  c = fork();
  if (c == 0) { raise(SIGSTOP); for (;;) pause(); }
  r = wait4(c, &st, WUNTRACED, NULL); FACT("wait4 WUNTRACED pid", r == c); show_status("wait4 WUNTRACED", st);
  SHOW("wait4 WUNTRACED again (already reported)", wait4(c, &st, WUNTRACED | WNOHANG, NULL));
  printf("stopped child state: %c\n", proc_state(c));
  kill(c, SIGCONT);
  /* Polled with a deadline, so a missing report cannot hang the guest. */
  r = 0; for (int i = 0; i < 2000 && r == 0; i++) { r = wait4(c, &st, WCONTINUED | WNOHANG, NULL); if (r == 0) msleep(10); }
  FACT("wait4 WCONTINUED pid", r == c); if (r == c) show_status("wait4 WCONTINUED", st);
  kill(c, SIGTERM);
  r = wait4(c, &st, 0, NULL); show_status("after SIGTERM", st);

  /* The same with waitid and siginfo. */
  c = fork();
  if (c == 0) { for (;;) pause(); }
  kill(c, SIGSTOP);
  memset(&si, 0, sizeof si); MUST(waitid(P_PID, c, &si, WSTOPPED)); show_si("waitid WSTOPPED", &si, c);
  kill(c, SIGCONT);
  memset(&si, 0, sizeof si);
  for (int i = 0; i < 2000 && si.si_pid == 0; i++) { MUST(waitid(P_PID, c, &si, WCONTINUED | WNOHANG)); if (si.si_pid == 0) msleep(10); }
  show_si("waitid WCONTINUED", &si, c);
  kill(c, SIGKILL);
  memset(&si, 0, sizeof si); MUST(waitid(P_ALL, 0, &si, WEXITED)); show_si("waitid WEXITED (killed)", &si, c);
  c = fork();
  if (c == 0) _exit(33);
  memset(&si, 0, sizeof si); MUST(waitid(P_PID, c, &si, WEXITED)); show_si("waitid WEXITED", &si, c);

  /* Stop not reported without WUNTRACED; exit still is. */
  c = fork();
  if (c == 0) { raise(SIGSTOP); _exit(2); }
  await_pid_state(c, 'T'); /* stopped: a SIGCONT sent earlier would leave it stopped for good */
  r = wait4(c, &st, WNOHANG, NULL);
  printf("wait4 WNOHANG without WUNTRACED on stopped child: %s\n", r == 0 ? "0 (nothing to report)" : r == c ? "reported" : "error");
  if (r == c) show_status("  reported as", st);
  kill(c, SIGCONT);
  reap("continued child", c);

  /* Process groups: waitpid(0) and waitpid(-pgid). */
  pid_t g1 = fork();
  if (g1 == 0) { setpgid(0, 0); msleep(50); _exit(21); }
  setpgid(g1, g1);
  pid_t g2 = fork();
  if (g2 == 0) { _exit(22); }
  r = waitpid(-g1, &st, 0); FACT("waitpid(-pgid) got the group member", r == g1); show_status("waitpid(-pgid)", st);
  r = waitpid(0, &st, 0); FACT("waitpid(0) got the same-group child", r == g2); show_status("waitpid(0)", st);

  /* Non-SIGCHLD clone children need __WCLONE or __WALL. */
  c = clone(clone_child, stk + sizeof stk, 0, NULL);
  await_pid_state(c, 'Z'); /* exited, so WNOHANG below has it to report */
  EXPECT_ERR("wait4 without __WALL on a clone child", wait4(c, &st, 0, NULL), ECHILD);
  SHOW("wait4 __WCLONE WNOHANG (pid>0)", wait4(c, &st, __WCLONE | WNOHANG, NULL) == c);
  show_status("__WCLONE", st);
  /* Ignore the exit signal before the child can send it (a loaded machine runs it first). */
  signal(SIGUSR2, SIG_IGN);
  c = clone(clone_child, stk + sizeof stk, SIGUSR2, NULL);
  r = wait4(c, &st, __WALL, NULL); FACT("wait4 __WALL", r == c); show_status("__WALL", st);
  signal(SIGUSR2, SIG_DFL);
  c = fork();
  if (c == 0) _exit(1);
  EXPECT_ERR("wait4 __WCLONE on a fork child", wait4(c, &st, __WCLONE | WNOHANG, NULL), ECHILD);
  r = wait4(c, &st, __WALL, NULL); FACT("wait4 __WALL on fork child", r == c);

  /* SIGCHLD is delivered; with SIGCHLD ignored children are reaped automatically. */
  signal(SIGCHLD, on_chld);
  c = fork(); if (c == 0) _exit(0);
  while (waitpid(c, &st, 0) < 0 && errno == EINTR) {}
  printf("SIGCHLD handler ran: %d\n", chld_count);
  signal(SIGCHLD, SIG_IGN);
  for (int i = 0; i < 3; i++) { c = fork(); if (c == 0) { msleep(50); _exit(0); } }
  EXPECT_ERR("wait with SIGCHLD ignored (blocks until all exit)", wait(&st), ECHILD);
  signal(SIGCHLD, SIG_DFL);
  struct sigaction sa = {0}; sa.sa_handler = SIG_DFL; sa.sa_flags = SA_NOCLDWAIT; sigaction(SIGCHLD, &sa, NULL);
  c = fork(); if (c == 0) _exit(0);
  EXPECT_ERR("wait with SA_NOCLDWAIT", waitpid(c, &st, 0), ECHILD);
  printf("done\n");
  return 0;
}
