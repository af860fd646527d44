/* timerfd: create/settime/gettime, blocking and non-blocking reads, poll, epoll, errors. */
#include "common.h"
#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <time.h>

static long long ns(struct timespec t) { return t.tv_sec * 1000000000LL + t.tv_nsec; }
static long long mono(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return ns(t); }

int main(void) {
  guest_init();
  int fd = timerfd_create(CLOCK_MONOTONIC, 0);
  FACT("timerfd_create", fd >= 0);
  struct itimerspec its = {{0, 20000000}, {0, 20000000}}, old;
  /* Read before arming: the expiry is at least 20 ms after it however late this process
     runs again (read after, a preemption in between counted against the timer). */
  long long t0 = mono();
  SHOW("settime 20ms periodic", timerfd_settime(fd, 0, &its, &old));
  printf("old: %ld %ld\n", (long)old.it_value.tv_nsec, (long)old.it_interval.tv_nsec);
  uint64_t ticks = 0;
  SHOW("blocking read", read(fd, &ticks, 8));
  long long el = mono() - t0;
  FACT("first tick after >= 20ms", el >= 19000000LL);
  FACT("ticks >= 1", ticks >= 1);
  struct timespec nap = {0, 75000000};
  nanosleep(&nap, NULL);
  SHOW("read after 75ms", read(fd, &ticks, 8));
  FACT("ticks >= 3 (accumulated)", ticks >= 3);
  MUST(timerfd_gettime(fd, &old));
  printf("gettime interval %ld, value in (0,20ms]: %s\n", old.it_interval.tv_nsec,
         old.it_value.tv_sec == 0 && old.it_value.tv_nsec > 0 && old.it_value.tv_nsec <= 20000000 ? "yes" : "no");

  struct pollfd p = {fd, POLLIN, 0};
  SHOW("poll 100ms", poll(&p, 1, 100));
  printf("revents %#x\n", p.revents);
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 7}, out;
  SHOW("epoll_ctl", epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev));
  read(fd, &ticks, 8);
  SHOW("epoll_wait", epoll_wait(ep, &out, 1, 200));
  printf("epoll data %u events %#x\n", out.data.u32, out.events);
  close(ep);

  /* Disarm: non-blocking read says EAGAIN. */
  its = (struct itimerspec){{0, 0}, {0, 0}};
  SHOW("disarm", timerfd_settime(fd, 0, &its, NULL));
  int nb = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK | TFD_CLOEXEC);
  EXPECT_ERR("nonblock read unarmed", read(nb, &ticks, 8), EAGAIN);
  SHOW("fcntl cloexec", fcntl(nb, F_GETFD) & FD_CLOEXEC);
  SHOW("fcntl nonblock", (fcntl(nb, F_GETFL) & O_NONBLOCK) != 0);

  /* Absolute REALTIME, in the past: fires at once with 1 tick. */
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  its = (struct itimerspec){{0, 0}, {now.tv_sec - 1, 0}};
  SHOW("settime ABSTIME past", timerfd_settime(nb, TFD_TIMER_ABSTIME, &its, NULL));
  poll(&(struct pollfd){nb, POLLIN, 0}, 1, 1000);
  SHOW("read", read(nb, &ticks, 8));
  printf("ticks %llu\n", (unsigned long long)ticks);
  MUST(timerfd_gettime(nb, &old));
  printf("one-shot after expiry: %ld %ld\n", (long)old.it_value.tv_sec, old.it_value.tv_nsec);
  EXPECT_ERR("read 4 bytes", read(nb, &ticks, 4), EINVAL);

  /* Errors */
  EXPECT_ERR("create bad clock", timerfd_create(CLOCK_MONOTONIC_RAW, 0), EINVAL);
  EXPECT_ERR("create clock 99", timerfd_create(99, 0), EINVAL);
  EXPECT_ERR("create bad flags", timerfd_create(CLOCK_MONOTONIC, 1), EINVAL);
  its = (struct itimerspec){{0, 0}, {0, 1000}};
  EXPECT_ERR("settime bad flags", timerfd_settime(fd, 4, &its, NULL), EINVAL);
  EXPECT_ERR("settime EBADF", timerfd_settime(999, 0, &its, NULL), EBADF);
  EXPECT_ERR("settime not a timerfd", timerfd_settime(1, 0, &its, NULL), EINVAL);
  EXPECT_ERR("gettime not a timerfd", timerfd_gettime(1, &old), EINVAL);
  EXPECT_ERR("gettime EBADF", timerfd_gettime(999, &old), EBADF);
  its = (struct itimerspec){{0, 0}, {0, 1000000000}};
  EXPECT_ERR("settime bad nsec", timerfd_settime(fd, 0, &its, NULL), EINVAL);
  EXPECT_ERR("settime (void*)1", syscall(SYS_timerfd_settime, fd, 0, (void *)1, NULL), EFAULT);
  EXPECT_ERR("gettime (void*)1", syscall(SYS_timerfd_gettime, fd, (void *)1), EFAULT);
  SHOW("BOOTTIME", timerfd_create(CLOCK_BOOTTIME, 0) >= 0);
  SHOW("REALTIME_ALARM as root", timerfd_create(CLOCK_REALTIME_ALARM, 0) >= 0);
  close(fd);
  close(nb);
  printf("done\n");
  return 0;
}
