/* Per-process state a checkpoint must keep: dumpability, timer slack, THP disable
 * (prctl), printed with each step of a count, so a restore that lost one shows it. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 50;
  volatile unsigned long x = 0;
  setvbuf(stdout, NULL, _IONBF, 0);
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) || prctl(PR_SET_TIMERSLACK, 123456, 0, 0, 0) || prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0)) {
    perror("prctl");
    return 1;
  }
  for (long i = 0; i < n; i++) {
    for (long j = 0; j < 3000000; j++) x += j ^ i;
    printf("%ld dumpable %d slack %d thp_disable %d\n", i, prctl(PR_GET_DUMPABLE, 0, 0, 0, 0),
           prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0), prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0));
  }
  return 0;
}
