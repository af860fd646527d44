/* Blocking parks only the caller: one child blocks in read() on a pipe that only a second
   child writes, and that one writes after making 200k getppid() calls while the first stays
   blocked. A Sentry whose blocked read held up the other tasks never gets to the write: the
   guest hangs instead of printing, whatever the machine's load (no time is compared). */
#include "pr.h"

int main(int argc, char **argv) {
  guest_init();
  int iters = argc > 1 ? atoi(argv[1]) : 200000;
  int sp[2]; MUST(pipe(sp));
  pid_t sleeper = fork();
  if (sleeper == 0) {
    char b = 0; close(sp[1]);
    ssize_t n = read(sp[0], &b, 1);
    printf("sleeper: read %zd '%c', after the worker's calls\n", n, b);
    _exit(0);
  }
  close(sp[0]);
  /* The sleeper is blocked in its read before the worker starts. */
  printf("sleeper blocked in read: %s\n", await_pid_state(sleeper, 'S') ? "yes" : "no");
  pid_t worker = fork();
  if (worker == 0) {
    for (int i = 0; i < iters; i++) getppid();
    printf("worker: %d getppid calls made, sleeper still blocked: %s\n", iters, await_pid_state(sleeper, 'S') ? "yes" : "no");
    write(sp[1], "w", 1);
    _exit(0);
  }
  close(sp[1]);
  reap("sleeper", sleeper); /* first: it prints only after the worker's line */
  reap("worker", worker);
  printf("done\n");
  return 0;
}
