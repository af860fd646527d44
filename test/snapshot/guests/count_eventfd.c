/* Counts with an eventfd holding 3 (+4 written before the loop), read at the end: its count goes with the image. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>
int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 50;
  int fd = eventfd(3, 0);
  unsigned long long four = 4;
  if (write(fd, &four, sizeof four) != sizeof four) return 1;
  volatile unsigned long x = 0;
  setvbuf(stdout, NULL, _IONBF, 0);
  for (long i = 0; i < n; i++) {
    for (long j = 0; j < 3000000; j++) x += j ^ i;
    printf("%ld %lu\n", i, x);
  }
  unsigned long long v = 0;
  if (read(fd, &v, sizeof v) != sizeof v) return 1;
  printf("eventfd %llu\n", v);
  return 0;
}
