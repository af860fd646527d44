/* The errno sweeps' sections: each runs in a child (a crash or a blocked call ends only it,
 * bounded by an alarm) and ends with its exit status. */
#ifndef TSS_ERRNO_RUN_H
#define TSS_ERRNO_RUN_H
#include <stdio.h>
#include <unistd.h>
#include <sys/wait.h>

static void run(const char *label, void (*fn)(void)) {
  printf("-- %s\n", label);
  fflush(stdout);
  pid_t c = fork();
  if (c == 0) { alarm(20); fn(); fflush(stdout); _exit(0); }
  int st;
  waitpid(c, &st, 0);
  printf("%s: %s %d\n", label, WIFEXITED(st) ? "exit" : "signal", WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
}
#endif
