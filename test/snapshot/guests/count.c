/* Counts, printing each step: a long computation whose output shows where it is. */
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 50;
  volatile unsigned long x = 0;
  setvbuf(stdout, NULL, _IONBF, 0);
  for (long i = 0; i < n; i++) {
    for (long j = 0; j < 3000000; j++) x += j ^ i;
    printf("%ld %lu\n", i, x);
  }
  return 7;
}
