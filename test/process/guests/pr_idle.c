/* Sleeps until its stdin reaches EOF, in nanosleep for all but a check twice a second: the
   test reads the Sentry's CPU time while every task sleeps, from the "asleep" line on. */
#include "pr.h"
#include <fcntl.h>

int main(void) {
  guest_init();
  MUST(fcntl(0, F_SETFL, O_NONBLOCK));
  printf("asleep\n");
  for (;;) {
    msleep(500);
    char b;
    ssize_t n = read(0, &b, 1);
    if (n == 0) break;
    if (n < 0 && errno != EAGAIN) { printf("read: %s\n", ename(errno)); return 1; }
  }
  printf("done\n");
  return 0;
}
