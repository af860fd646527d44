/* sigaltstack with size 2^64-1, then a handler on that stack: the Sentry built the frame with 2^64 (a number rounded up) and crashed (found by trinity). */
#include <signal.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
static void h(int s) { (void)s; }
int main(void) {
  static char stk[65536];
  struct { void *sp; int flags; size_t size; } ss = { stk, 0, SIZE_MAX };
  long r = syscall(SYS_sigaltstack, &ss, NULL);
  printf("sigaltstack(size=2^64-1) = %ld\n", r);
  struct sigaction sa; memset(&sa, 0, sizeof sa); sa.sa_handler = h; sa.sa_flags = SA_ONSTACK;
  sigaction(SIGUSR1, &sa, NULL);
  raise(SIGUSR1);
  printf("handled\n");
  return 0;
}
