/*
 * getppid_loop [N]: N iterations of syscall(SYS_getppid), timed with
 * clock_gettime(CLOCK_MONOTONIC) around the loop. Prints "<ns per iteration> ns/iter".
 * The raw syscall() (not the libc wrapper) guarantees one real syscall each time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 100000;
  if (n < 1) n = 1;
  struct timespec a, b;
  syscall(SYS_getppid); /* warm up */
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (long i = 0; i < n; i++) syscall(SYS_getppid);
  clock_gettime(CLOCK_MONOTONIC, &b);
  double ns = (double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec);
  printf("%.1f ns/iter\n", ns / (double)n);
  return 0;
}
