/* Counts with a socket pair open: a state checkpoints cannot save yet (refused, the run goes on). */
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>
int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 50;
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) return 1;
  if (write(sv[0], "x", 1) != 1) return 1;
  volatile unsigned long x = 0;
  setvbuf(stdout, NULL, _IONBF, 0);
  for (long i = 0; i < n; i++) {
    for (long j = 0; j < 3000000; j++) x += j ^ i;
    printf("%ld %lu\n", i, x);
  }
  char c = 0;
  if (read(sv[1], &c, 1) != 1) return 1;
  printf("socket %c\n", c);
  return 0;
}
