/* Crashes three calls deep: for gdb's backtrace. */
#include <stdio.h>
static int __attribute__((noinline)) depth3(volatile int *p) { return *p; }
static int __attribute__((noinline)) depth2(volatile int *p) { return depth3(p) + 1; }
int __attribute__((noinline)) depth1(volatile int *p) { return depth2(p) + 1; }
int main(void) {
  puts("start");
  fflush(stdout);
  return depth1((int *)0);
}
