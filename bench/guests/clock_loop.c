/*
 * clock_loop [N]: N calls of the libc clock_gettime(CLOCK_MONOTONIC), which goes through
 * the vDSO where there is one (natively the host's, in tssandbox the Sentry's). Prints
 * "<ns per iteration> ns/iter". A 50 ms warm-up first: the Sentry publishes its clock
 * line a few ms after start, and reads before that are trapped syscalls.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double ns(struct timespec *t) { return (double)t->tv_sec * 1e9 + (double)t->tv_nsec; }

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 1000000;
  if (n < 1) n = 1;
  struct timespec a, b, w;
  clock_gettime(CLOCK_MONOTONIC, &w);
  do clock_gettime(CLOCK_MONOTONIC, &a); while (ns(&a) - ns(&w) < 50e6);
  for (long i = 0; i < n; i++) clock_gettime(CLOCK_MONOTONIC, &b);
  clock_gettime(CLOCK_MONOTONIC, &b);
  printf("%.1f ns/iter\n", (ns(&b) - ns(&a)) / (double)n);
  return 0;
}
