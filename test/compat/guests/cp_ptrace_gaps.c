/* ptrace (issue 15), against Linux: PTRACE_PEEKSIGINFO over a stopped tracee's own and
 * its process's pending queues; PTRACE_EVENT_EXIT when the tracee dies of a signal; a
 * group-stop of a traced process with three threads, each reported on its own. Every
 * step waits for the one before (pipes, wait): nothing depends on timing. */
#define _GNU_SOURCE
#include "common.h"
#include <dirent.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#ifndef PTRACE_PEEKSIGINFO
#define PTRACE_PEEKSIGINFO 0x4209
#endif
struct peek_args { unsigned long long off; unsigned flags; int nr; };

static void show_wait(const char *label, pid_t pid, int opts) {
  int st = 0;
  pid_t r = waitpid(pid, &st, opts);
  if (r < 0) { printf("%s: waitpid %s\n", label, ename(errno)); return; }
  if (WIFEXITED(st)) printf("%s: exited %d\n", label, WEXITSTATUS(st));
  else if (WIFSIGNALED(st)) printf("%s: killed by %d\n", label, WTERMSIG(st));
  else if (WIFSTOPPED(st)) printf("%s: stopped sig %d event %d\n", label, WSTOPSIG(st), st >> 16);
}

static void peek(const char *label, pid_t pid, unsigned long long off, unsigned flags, int nr, void *buf) {
  struct peek_args a = { off, flags, nr };
  siginfo_t si[8];
  errno = 0;
  long n = ptrace(PTRACE_PEEKSIGINFO, pid, &a, buf ? buf : si);
  if (n < 0) { printf("%s: %s\n", label, ename(errno)); return; }
  printf("%s: %ld\n", label, n);
  for (long i = 0; i < n && !buf; i++) {
    printf("  signo %d code %d from child %s", si[i].si_signo, si[i].si_code, si[i].si_pid == pid ? "yes" : "no");
    if (si[i].si_code == SI_QUEUE) printf(" value %d", si[i].si_value.sival_int);
    printf("\n");
  }
}

static void peeksiginfo_case(void) {
  pid_t c = fork();
  if (c == 0) {
    MUST(ptrace(PTRACE_TRACEME, 0, 0, 0));
    sigset_t m;
    sigemptyset(&m);
    sigaddset(&m, SIGUSR1);
    sigaddset(&m, SIGUSR2);
    sigaddset(&m, SIGRTMIN);
    MUST(sigprocmask(SIG_BLOCK, &m, NULL));
    kill(getpid(), SIGUSR1);                              /* the process's queue */
    syscall(SYS_tgkill, getpid(), gettid(), SIGUSR2);     /* this thread's */
    union sigval v = { .sival_int = 42 };
    sigqueue(getpid(), SIGRTMIN, v);
    v.sival_int = 43;
    sigqueue(getpid(), SIGRTMIN, v);
    raise(SIGSTOP);
    _exit(0);
  }
  show_wait("peek: child", c, 0);
  peek("own queue", c, 0, 0, 8, NULL);
  peek("shared queue", c, 0, 1, 8, NULL);
  peek("shared from 1, one", c, 1, 1, 1, NULL);
  peek("shared from 3", c, 3, 1, 8, NULL);
  peek("nr 0", c, 0, 1, 0, NULL);
  peek("bad flags", c, 0, 2, 1, NULL);
  peek("nr -1", c, 0, 1, -1, NULL);
  peek("bad buffer", c, 0, 1, 1, (void *)8);
  kill(c, SIGKILL);
  show_wait("peek: child", c, 0);
}

static void exit_event_case(void) {
  pid_t c = fork();
  if (c == 0) {
    MUST(ptrace(PTRACE_TRACEME, 0, 0, 0));
    raise(SIGSTOP);
    for (;;) pause();
  }
  show_wait("exit: child", c, 0);
  MUST(ptrace(PTRACE_SETOPTIONS, c, 0, PTRACE_O_TRACEEXIT));
  kill(c, SIGTERM);
  MUST(ptrace(PTRACE_CONT, c, 0, 0));
  show_wait("exit: SIGTERM comes", c, 0);
  MUST(ptrace(PTRACE_CONT, c, 0, SIGTERM));
  show_wait("exit: dying", c, 0);
  unsigned long msg = 0;
  MUST(ptrace(PTRACE_GETEVENTMSG, c, 0, &msg));
  printf("exit: event message %#lx\n", msg);
  MUST(ptrace(PTRACE_CONT, c, 0, 0));
  show_wait("exit: child", c, 0);
}

static int hold[2];
static void *parked(void *arg) {
  (void)arg;
  char b;
  (void)!read(hold[0], &b, 1); /* never written: parked in the Sentry until stopped */
  return NULL;
}

static void group_stop_case(void) {
  int ready[2];
  MUST(pipe(ready));
  MUST(pipe(hold));
  pid_t c = fork();
  if (c == 0) {
    pthread_t a, b;
    pthread_create(&a, NULL, parked, NULL);
    pthread_create(&b, NULL, parked, NULL);
    /* Tell the parent the thread ids (from /proc/self/task, once both exist). */
    pid_t tids[3];
    int n;
    for (;;) {
      n = 0;
      DIR *d = opendir("/proc/self/task");
      struct dirent *e;
      while (d && (e = readdir(d)) != NULL) if (e->d_name[0] != '.' && n < 3) tids[n++] = atoi(e->d_name);
      if (d) closedir(d);
      if (n == 3) break;
      sched_yield();
    }
    (void)!write(ready[1], tids, sizeof tids);
    parked(NULL);
    _exit(0);
  }
  pid_t tids[3];
  MUST(read(ready[0], tids, sizeof tids) == sizeof tids ? 0 : -1);
  for (int i = 0; i < 3; i++) MUST(ptrace(PTRACE_SEIZE, tids[i], 0, 0));
  kill(c, SIGSTOP);
  /* The thread that takes SIGSTOP first reports a signal-delivery stop; passed on, it
   * starts the group-stop, and every thread then traps in it. */
  int st;
  pid_t first = waitpid(-1, &st, __WALL);
  printf("group: first stop sig %d event %d (a thread of it: %s)\n", WSTOPSIG(st), st >> 16,
         first == tids[0] || first == tids[1] || first == tids[2] ? "yes" : "no");
  MUST(ptrace(PTRACE_CONT, first, 0, SIGSTOP));
  int seen = 0;
  for (int i = 0; i < 3; i++) {
    pid_t r = waitpid(-1, &st, __WALL);
    for (int j = 0; j < 3; j++) if (r == tids[j]) seen |= 1 << j;
    printf("group: a thread stopped sig %d event %d\n", WSTOPSIG(st), st >> 16);
  }
  printf("group: every thread reported: %s\n", seen == 7 ? "yes" : "no");
  kill(c, SIGKILL);
  while (waitpid(-1, &st, __WALL) != -1 || errno == EINTR) {}
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  peeksiginfo_case();
  exit_event_case();
  group_stop_case();
  return 0;
}
