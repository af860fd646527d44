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

/* The third and fourth batches' start (common.h first): SIGPIPE ignored, a fresh directory
 * with "f" holding "hello world", `longname` 299 bytes of 'n'. */
#include <fcntl.h>
#include <signal.h>
static inline void sweep_start(char *longname, size_t size) {
  guest_init();
  signal(SIGPIPE, SIG_IGN);
  memset(longname, 'n', size - 1);
  enter_tmpdir();
  int f = open("f", O_CREAT | O_WRONLY, 0644);
  MUST(write(f, "hello world", 11));
  close(f);
}
#endif
