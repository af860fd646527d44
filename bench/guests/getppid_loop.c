/*
 * getppid_loop [libc] [N]: N iterations of syscall(SYS_getppid), timed with
 * clock_gettime(CLOCK_MONOTONIC) around the loop. Prints "<ns per iteration> ns/iter".
 * The raw syscall() (not the libc wrapper) guarantees one real syscall each time; with
 * "libc", the wrapper getppid() instead (`mov $110,%eax; syscall`: a site systrap's
 * syscall-site patching takes, where syscall()'s `mov %rdi,%rax` is not).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
  int libc = argc > 1 && strcmp(argv[1], "libc") == 0;
  long n = argc > 1 + libc ? atol(argv[1 + libc]) : 100000;
  if (n < 1) n = 1;
  struct timespec a, b;
  syscall(SYS_getppid); /* warm up (and, with libc, the site patched) */
  getppid();
  clock_gettime(CLOCK_MONOTONIC, &a);
  if (libc)
    for (long i = 0; i < n; i++) getppid();
  else
    for (long i = 0; i < n; i++) syscall(SYS_getppid);
  clock_gettime(CLOCK_MONOTONIC, &b);
  double ns = (double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec);
  printf("%.1f ns/iter\n", ns / (double)n);
  return 0;
}
