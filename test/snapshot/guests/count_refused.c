/* Counts with a signalfd open: a state checkpoints cannot save yet (refused, the run goes on). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/signalfd.h>
#include <unistd.h>
int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 50;
  sigset_t m;
  sigemptyset(&m);
  sigaddset(&m, SIGUSR2);
  if (signalfd(-1, &m, 0) != 3) return 1;
  volatile unsigned long x = 0;
  setvbuf(stdout, NULL, _IONBF, 0);
  for (long i = 0; i < n; i++) {
    for (long j = 0; j < 3000000; j++) x += j ^ i;
    printf("%ld %lu\n", i, x);
  }
  return 0;
}
