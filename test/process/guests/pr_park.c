/* Blocking parks only the caller: one child sleeps ~1 s in read() on a pipe while another makes
   200k getppid() calls. Prints the times (ms since start) for the test to compare. */
#include "pr.h"

int main(int argc, char **argv) {
  guest_init();
  int iters = argc > 1 ? atoi(argv[1]) : 200000;
  int sp[2], rp[2]; MUST(pipe(sp)); MUST(pipe(rp));
  long t0 = now_ms();
  pid_t sleeper = fork();
  if (sleeper == 0) {
    char b; close(sp[1]);
    read(sp[0], &b, 1);
    long t = now_ms() - t0; write(rp[1], &t, sizeof t); _exit(0);
  }
  pid_t worker = fork();
  if (worker == 0) {
    for (int i = 0; i < iters; i++) getppid();
    long t = now_ms() - t0; write(rp[1], &t, sizeof t); _exit(0);
  }
  close(sp[0]);
  msleep(1000);
  write(sp[1], "x", 1);
  long first, second;
  read(rp[0], &first, sizeof first); read(rp[0], &second, sizeof second);
  reap("sleeper", sleeper); reap("worker", worker);
  printf("worker_ms=%ld sleeper_ms=%ld\n", first < second ? first : second, first < second ? second : first);
  printf("done\n");
  return 0;
}
