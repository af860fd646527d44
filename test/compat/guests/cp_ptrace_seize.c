/* PTRACE_SEIZE, PTRACE_INTERRUPT, PTRACE_LISTEN and group-stops (issue 15), against Linux:
 * a seized tracee does not stop at attach; INTERRUPT gives PTRACE_EVENT_STOP (SIGTRAP);
 * SIGSTOP gives a signal-delivery stop, then (passed on) a group-stop reported as
 * PTRACE_EVENT_STOP with SIGSTOP, which has no siginfo; LISTEN leaves it stopped until
 * SIGCONT makes it trap again; auto-attached children of a seized tracee start in
 * PTRACE_EVENT_STOP. */
#define _GNU_SOURCE
#include "common.h"
#include <signal.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>

static volatile int *flag;

static void show_wait(const char *label, pid_t pid, int opts) {
  int st = 0;
  pid_t r = waitpid(pid, &st, opts);
  if (r < 0) { printf("%s: waitpid %s\n", label, ename(errno)); return; }
  if (r == 0) { printf("%s: nothing to report\n", label); return; }
  if (WIFEXITED(st)) printf("%s: exited %d\n", label, WEXITSTATUS(st));
  else if (WIFSIGNALED(st)) printf("%s: killed by %d\n", label, WTERMSIG(st));
  else if (WIFSTOPPED(st)) printf("%s: stopped sig %d event %d\n", label, WSTOPSIG(st), st >> 16);
}

static void siginfo(const char *label, pid_t pid) {
  siginfo_t si;
  errno = 0;
  if (ptrace(PTRACE_GETSIGINFO, pid, 0, &si) < 0) printf("%s: %s\n", label, ename(errno));
  else printf("%s: signo %d\n", label, si.si_signo);
}

static pid_t spawn(int forks) {
  pid_t p = fork();
  if (p == 0) {
    while (!*flag) usleep(1000);
    if (forks) {
      pid_t g = fork();
      if (g == 0) _exit(3);
      waitpid(g, NULL, __WALL);
    }
    _exit(7);
  }
  return p;
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  flag = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  *flag = 0;
  pid_t c = spawn(0);
  EXPECT_ERR("seize with addr != 0", ptrace(PTRACE_SEIZE, c, 1, 0), EIO);
  EXPECT_ERR("seize with bad options", ptrace(PTRACE_SEIZE, c, 0, 0x80000000), EIO);
  SHOW("seize", ptrace(PTRACE_SEIZE, c, 0, PTRACE_O_TRACESYSGOOD));
  EXPECT_ERR("seize again", ptrace(PTRACE_SEIZE, c, 0, 0), EPERM);
  show_wait("after seize", c, WNOHANG);
  EXPECT_ERR("getregs while running", ptrace(PTRACE_GETREGS, c, 0, 0), ESRCH);
  SHOW("interrupt", ptrace(PTRACE_INTERRUPT, c, 0, 0));
  show_wait("after interrupt", c, 0);
  siginfo("siginfo at the event stop", c);
  SHOW("listen at the interrupt stop", ptrace(PTRACE_LISTEN, c, 0, 0));
  show_wait("listening", c, WNOHANG);
  EXPECT_ERR("cont while listening", ptrace(PTRACE_CONT, c, 0, 0), ESRCH);
  SHOW("interrupt while listening", ptrace(PTRACE_INTERRUPT, c, 0, 0));
  show_wait("after interrupt", c, 0);
  SHOW("cont", ptrace(PTRACE_CONT, c, 0, 0));
  kill(c, SIGSTOP);
  show_wait("after SIGSTOP", c, 0);
  siginfo("siginfo at the signal stop", c);
  SHOW("cont passing SIGSTOP", ptrace(PTRACE_CONT, c, 0, SIGSTOP));
  show_wait("group-stop", c, 0);
  siginfo("siginfo at the group-stop", c);
  SHOW("listen", ptrace(PTRACE_LISTEN, c, 0, 0));
  show_wait("while listening", c, WNOHANG);
  struct user_regs_struct regs;
  EXPECT_ERR("getregs while listening", ptrace(PTRACE_GETREGS, c, 0, &regs), ESRCH);
  kill(c, SIGCONT);
  show_wait("after SIGCONT", c, 0);
  SHOW("cont", ptrace(PTRACE_CONT, c, 0, 0));
  show_wait("SIGCONT delivery", c, 0);
  *flag = 1;
  SHOW("cont", ptrace(PTRACE_CONT, c, 0, 0));
  show_wait("end", c, 0);

  /* A tracee attached the old way: no INTERRUPT; its group-stop is a plain SIGSTOP stop. */
  *flag = 0;
  c = spawn(0);
  SHOW("attach", ptrace(PTRACE_ATTACH, c, 0, 0));
  show_wait("attach stop", c, 0);
  EXPECT_ERR("interrupt without seize", ptrace(PTRACE_INTERRUPT, c, 0, 0), EIO);
  SHOW("cont passing SIGSTOP", ptrace(PTRACE_CONT, c, 0, SIGSTOP));
  show_wait("group-stop (attach)", c, 0);
  siginfo("siginfo at the group-stop (attach)", c);
  EXPECT_ERR("listen without seize", ptrace(PTRACE_LISTEN, c, 0, 0), EIO);
  *flag = 1;
  SHOW("cont", ptrace(PTRACE_CONT, c, 0, 0));
  show_wait("end (attach)", c, 0);

  /* Auto-attach under seize: the new child starts in PTRACE_EVENT_STOP. */
  *flag = 0;
  c = spawn(1);
  SHOW("seize with TRACEFORK", ptrace(PTRACE_SEIZE, c, 0, PTRACE_O_TRACEFORK));
  *flag = 1;
  int st, fork_event = 0, child_stop = 0;
  pid_t g = 0;
  for (int i = 0; i < 2; i++) {
    pid_t r = waitpid(-1, &st, __WALL);
    if (r == c && WIFSTOPPED(st) && st >> 16 == PTRACE_EVENT_FORK) {
      unsigned long msg;
      ptrace(PTRACE_GETEVENTMSG, c, 0, &msg);
      g = (pid_t)msg;
      fork_event = 1;
    } else if (r != c && WIFSTOPPED(st)) {
      child_stop = (WSTOPSIG(st) << 8) | (st >> 16);
      g = r;
    }
  }
  printf("fork event: %d, new child stop: sig %d event %d\n", fork_event, child_stop >> 8, child_stop & 0xff);
  SHOW("cont child", ptrace(PTRACE_CONT, g, 0, 0));
  SHOW("cont parent", ptrace(PTRACE_CONT, c, 0, 0));
  /* The tracer hears of the new child's exit before its parent may reap it. */
  show_wait("end (new child)", g, __WALL);
  show_wait("parent's SIGCHLD", c, 0);
  SHOW("cont parent", ptrace(PTRACE_CONT, c, 0, 0));
  show_wait("end (parent)", c, 0);

  /* PTRACE_O_TRACEEXIT: a stop before the exit, the status to be in GETEVENTMSG. */
  *flag = 0;
  c = spawn(0);
  SHOW("seize with TRACEEXIT", ptrace(PTRACE_SEIZE, c, 0, PTRACE_O_TRACEEXIT));
  *flag = 1;
  show_wait("exit stop", c, 0);
  unsigned long msg = 0;
  SHOW("GETEVENTMSG", ptrace(PTRACE_GETEVENTMSG, c, 0, &msg));
  printf("exit status to be: %lu\n", msg);
  SHOW("getregs at the exit stop", ptrace(PTRACE_GETREGS, c, 0, &regs) == 0);
  SHOW("cont", ptrace(PTRACE_CONT, c, 0, 0));
  show_wait("end (exit)", c, 0);
  return 0;
}
