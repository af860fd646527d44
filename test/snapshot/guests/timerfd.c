/* A periodic timerfd read in a loop (each expiry printed, however many one read returns),
 * a one-shot timerfd far ahead, and one that expired before the checkpoint and is read only
 * at the end: their ticks, time left and interval go with the image. */
#include <stdint.h>
#include <stdio.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>
int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  int tick = timerfd_create(CLOCK_MONOTONIC, 0);
  int far = timerfd_create(CLOCK_REALTIME, TFD_CLOEXEC);
  int done = timerfd_create(CLOCK_BOOTTIME, TFD_NONBLOCK);
  struct itimerspec p = {{0, 120000000}, {0, 120000000}}, f = {{0, 0}, {600, 0}}, d = {{0, 0}, {0, 1000}};
  if (tick < 0 || far < 0 || done < 0 || timerfd_settime(tick, 0, &p, NULL) || timerfd_settime(far, 0, &f, NULL)
      || timerfd_settime(done, 0, &d, NULL))
    return 1;
  uint64_t seen = 0, n;
  while (seen < 12) {
    if (read(tick, &n, sizeof n) != sizeof n) return 2;
    for (uint64_t i = 0; i < n && seen < 12; i++) printf("tick %llu\n", (unsigned long long)++seen);
  }
  struct itimerspec now;
  timerfd_gettime(tick, &now);
  printf("interval %ld ms\n", now.it_interval.tv_nsec / 1000000);
  timerfd_gettime(far, &now);
  printf("far: armed %d, within 600 s %d\n", now.it_value.tv_sec > 0, now.it_value.tv_sec < 600);
  n = 0;
  ssize_t got = read(done, &n, sizeof n); /* before the printf: its arguments are evaluated in any order */
  printf("expired one: read %zd ticks %llu\n", got, (unsigned long long)n);
  printf("again: %zd\n", read(done, &n, sizeof n));
  return 0;
}
