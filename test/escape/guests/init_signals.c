/*
 * init_signals: run as pid 1 of a pid namespace (the sandbox's init, or natively under
 * `unshare --pid --fork`). Linux ignores every signal sent to init from inside its
 * namespace that init has no handler for, SIGKILL and SIGSTOP included
 * (kernel/signal.c sig_task_ignored, SIGNAL_UNKILLABLE); a handled one is delivered;
 * kill(-1, sig) reaches everyone but init and the sender; a real fault still kills it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t got;
static void on_usr1(int s) { got = s; }

static void show(const char *label, long r) {
  if (r < 0) printf("%s = -1 %s\n", label, strerrorname_np(errno));
  else printf("%s = %ld\n", label, r);
  fflush(stdout);
}

/* A child that waits to be killed; returns its pid. */
static pid_t sleeper(void) {
  pid_t c = fork();
  if (c == 0) {
    for (;;) pause();
  }
  return c;
}

static void reap(const char *label, pid_t c) {
  int st = 0;
  waitpid(c, &st, 0);
  if (WIFSIGNALED(st)) printf("%s: killed by %d\n", label, WTERMSIG(st));
  else printf("%s: exit %d\n", label, WEXITSTATUS(st));
  fflush(stdout);
}

int main(void) {
  printf("pid %d\n", getpid());
  fflush(stdout);
  if (getpid() != 1) return 2;

  /* From init itself: every default-action signal is dropped. */
  show("kill(1, SIGKILL)", kill(1, SIGKILL));
  show("kill(1, SIGSTOP)", kill(1, SIGSTOP));
  show("kill(1, SIGTERM)", kill(1, SIGTERM));
  show("kill(1, SIGUSR1)", kill(1, SIGUSR1));
  show("tgkill(1, 1, SIGSEGV)", syscall(SYS_tgkill, 1, 1, SIGSEGV));
  show("raise(SIGINT)", raise(SIGINT));
  printf("alive after self-signals\n");

  /* Blocked while sent: queued, then dropped at delivery (still no handler). */
  sigset_t set, old;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigprocmask(SIG_BLOCK, &set, &old);
  show("kill(1, SIGTERM) blocked", kill(1, SIGTERM));
  sigset_t pend;
  sigpending(&pend);
  printf("SIGTERM pending while blocked: %s\n", sigismember(&pend, SIGTERM) ? "yes" : "no");
  sigprocmask(SIG_SETMASK, &old, NULL);
  printf("alive after unblocking\n");
  fflush(stdout);

  /* From a child: the same. */
  pid_t c = fork();
  if (c == 0) {
    show("child kill(1, SIGKILL)", kill(1, SIGKILL));
    show("child kill(1, SIGTERM)", kill(1, SIGTERM));
    show("child kill(1, SIGSTOP)", kill(1, SIGSTOP));
    _exit(0);
  }
  reap("child", c);
  printf("alive after the child's signals\n");

  /* A handler: delivered. */
  signal(SIGUSR1, on_usr1);
  show("kill(1, SIGUSR1) handled", kill(1, SIGUSR1));
  printf("handler ran: %s\n", got == SIGUSR1 ? "yes" : "no");
  fflush(stdout);

  /* kill(-1): everyone but init and the sender. */
  pid_t a = sleeper(), b = sleeper();
  c = fork();
  if (c == 0) {
    show("child kill(-1, SIGTERM)", kill(-1, SIGTERM));
    _exit(0);
  }
  reap("kill(-1) sender", c);
  reap("sleeper a", a);
  reap("sleeper b", b);
  show("init kill(-1, SIGTERM) with no one else", kill(-1, SIGTERM));
  printf("alive at the end\n");
  fflush(stdout);

  /* A real fault is forced: it kills init. */
  signal(SIGSEGV, SIG_DFL);
  *(volatile int *)16 = 1;
  printf("survived a fault\n");
  return 0;
}
