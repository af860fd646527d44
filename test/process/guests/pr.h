/* Shared helpers for the process-model guests (test/process/guests). */
#ifndef TSS_PR_H
#define TSS_PR_H
#include "common.h"
#include <signal.h>
#include <sys/wait.h>
#include <sys/syscall.h>
#include <time.h>

static inline void show_status(const char *label, int st) {
  if (WIFEXITED(st)) printf("%s: exited %d\n", label, WEXITSTATUS(st));
  else if (WIFSIGNALED(st)) printf("%s: killed by %s%s\n", label, sigabbrev_np(WTERMSIG(st)), WCOREDUMP(st) ? " (core)" : "");
  else if (WIFSTOPPED(st)) printf("%s: stopped by %s\n", label, sigabbrev_np(WSTOPSIG(st)));
  else if (WIFCONTINUED(st)) printf("%s: continued\n", label);
  else printf("%s: status %#x\n", label, st);
}

static inline void msleep(long ms) {
  struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {}
}

static inline long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Wait for one specific child and print its status. */
static inline void reap(const char *label, pid_t pid) {
  int st = 0;
  pid_t r;
  while ((r = waitpid(pid, &st, 0)) < 0 && errno == EINTR) {}
  if (r < 0) printf("%s: waitpid %s\n", label, ename(errno));
  else show_status(label, st);
}
#endif
