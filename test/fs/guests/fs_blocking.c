/* Blocking file objects across processes: poll/select/epoll wake-ups, FIFO opens,
 * PIPE_BUF atomicity, flock and fcntl locks, eventfd. Output compared with Linux.
 * A child that wakes the parent first waits until the parent sleeps in the call
 * (await_pid_state), never for a nap: on a loaded machine a nap may end first. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "../../guests/common.h"

static void msleep(int ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}
static void on_alarm(int sig) { (void)sig; }
static long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int main(void) {
  char dir[] = "/tmp/fs_blkXXXXXX";
  if (!mkdtemp(dir) || chdir(dir) != 0) return 1;
  setvbuf(stdout, NULL, _IONBF, 0);
  int p[2];
  char b[8192];

  /* poll wakes when a child writes */
  pipe(p);
  pid_t me = getpid();
  if (fork() == 0) { char w = await_pid_state(me, 'S') ? 'y' : 'n'; write(p[1], &w, 1); _exit(0); }
  struct pollfd pf = {p[0], POLLIN, 0};
  int r = poll(&pf, 1, 20000);
  char w = 0;
  read(p[0], &w, 1);
  printf("poll: r=%d revents=%#x waited=%s\n", r, pf.revents, w == 'y' ? "yes" : "no");
  wait(NULL);

  /* poll timeout */
  long t0 = now_ms();
  r = poll(&pf, 1, 60);
  printf("poll timeout: r=%d elapsed>=50: %s\n", r, now_ms() - t0 >= 50 ? "yes" : "no");

  /* select timeout updates the timeval */
  fd_set rs;
  FD_ZERO(&rs);
  FD_SET(p[0], &rs);
  struct timeval tv = {0, 50000};
  r = select(p[0] + 1, &rs, NULL, NULL, &tv);
  printf("select timeout: r=%d tv=%ld.%06ld\n", r, (long)tv.tv_sec, (long)tv.tv_usec);

  /* EOF wakes a blocked reader; POLLHUP */
  if (fork() == 0) { msleep(30); close(p[1]); _exit(0); }
  close(p[1]);
  r = read(p[0], b, 10);
  printf("read at EOF: %d\n", r);
  r = poll(&pf, 1, 0);
  printf("poll after EOF: r=%d revents=%#x\n", r, pf.revents);
  wait(NULL);
  close(p[0]);

  /* epoll: level and edge across processes */
  pipe(p);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.u64 = 42};
  epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev);
  /* Each write once the parent sleeps in epoll_wait: both before the first wait make
     one edge, and the second wait would get nothing. */
  if (fork() == 0) { await_pid_state(me, 'S'); write(p[1], "ab", 2); await_pid_state(me, 'S'); write(p[1], "c", 1); _exit(0); }
  struct epoll_event out[4];
  r = epoll_wait(ep, out, 4, 20000);
  printf("epoll 1: r=%d data=%lu events=%#x\n", r, (unsigned long)out[0].data.u64, out[0].events);
  r = epoll_wait(ep, out, 4, 20000);
  printf("epoll 2 (after second write): r=%d\n", r);
  r = epoll_wait(ep, out, 4, 0);
  printf("epoll 3 (edge, no new data): r=%d\n", r);
  wait(NULL);
  r = read(p[0], b, 10);
  printf("epoll data: %d %.3s\n", r, b);
  close(p[0]);
  close(p[1]);

  /* a blocking FIFO open waits for the writer */
  mkfifo("fifo", 0600);
  int seen[2];
  pipe(seen);
  if (fork() == 0) { char w = await_pid_state(me, 'S') ? 'y' : 'n'; write(seen[1], &w, 1); int wf = open("fifo", O_WRONLY); write(wf, "fifo!", 5); close(wf); _exit(0); }
  int fr = open("fifo", O_RDONLY);
  w = 0;
  read(seen[0], &w, 1);
  printf("fifo open waited: %s\n", w == 'y' ? "yes" : "no");
  r = read(fr, b, 10);
  printf("fifo read: %d %.5s\n", r, b);
  r = read(fr, b, 10);
  printf("fifo EOF: %d\n", r);
  close(fr);
  wait(NULL);

  /* PIPE_BUF atomicity: two writers, 4096-byte records, never interleaved */
  pipe(p);
  for (int k = 0; k < 2; k++) {
    if (fork() == 0) {
      char rec[4096];
      memset(rec, 'A' + k, sizeof rec);
      close(p[0]);
      for (int i = 0; i < 64; i++) write(p[1], rec, sizeof rec);
      _exit(0);
    }
  }
  close(p[1]);
  long total = 0, bad = 0;
  char rec[4096];
  for (;;) {
    int got = 0;
    while (got < 4096) {
      int n = read(p[0], rec + got, 4096 - got);
      if (n <= 0) break;
      got += n;
    }
    if (got == 0) break;
    for (int i = 1; i < got; i++) if (rec[i] != rec[0]) { bad++; break; }
    total += got;
  }
  printf("atomic records: total=%ld torn=%ld\n", total, bad);
  wait(NULL);
  wait(NULL);
  close(p[0]);

  /* flock across processes */
  int lf = open("lock", O_CREAT | O_RDWR, 0600);
  pipe(p);
  if (fork() == 0) {
    int l = open("lock", O_RDWR);
    flock(l, LOCK_EX);
    write(p[1], "L", 1);
    char w = await_pid_state(me, 'S') ? 'y' : 'n'; /* the parent blocked in flock */
    write(seen[1], &w, 1);
    flock(l, LOCK_UN);
    _exit(0);
  }
  read(p[0], b, 1);
  r = flock(lf, LOCK_EX | LOCK_NB);
  printf("flock nb while held: %d %s\n", r, strerrorname_np(errno));
  r = flock(lf, LOCK_EX);
  w = 0;
  read(seen[0], &w, 1);
  printf("flock blocking: r=%d waited=%s\n", r, w == 'y' ? "yes" : "no");
  flock(lf, LOCK_UN);
  wait(NULL);

  /* POSIX record locks across processes, and F_GETLK reports the holder's pid */
  if (fork() == 0) {
    int l = open("lock", O_RDWR);
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10};
    fcntl(l, F_SETLK, &fl);
    write(p[1], "L", 1);
    char w = await_pid_state(me, 'S') ? 'y' : 'n'; /* the parent blocked in F_SETLKW */
    write(seen[1], &w, 1);
    _exit(0); /* exit releases the lock */
  }
  read(p[0], b, 1);
  struct flock q = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 5, .l_len = 1};
  fcntl(lf, F_GETLK, &q);
  printf("F_GETLK: type=%s start=%ld len=%ld pid_is_child=%s\n", q.l_type == F_WRLCK ? "WR" : "other",
         (long)q.l_start, (long)q.l_len, q.l_pid > 0 && q.l_pid != getpid() ? "yes" : "no");
  struct flock s = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 20, .l_len = 5};
  printf("F_SETLK outside range: %d\n", fcntl(lf, F_SETLK, &s));
  s.l_start = 0;
  r = fcntl(lf, F_SETLK, &s);
  printf("F_SETLK conflicting: %d %s\n", r, strerrorname_np(errno));
  r = fcntl(lf, F_SETLKW, &s);
  w = 0;
  read(seen[0], &w, 1);
  printf("F_SETLKW after holder exits: r=%d waited=%s\n", r, w == 'y' ? "yes" : "no");
  wait(NULL);

  /* eventfd between processes */
  int efd = eventfd(0, 0);
  if (fork() == 0) { msleep(30); uint64_t v = 7; write(efd, &v, 8); _exit(0); }
  uint64_t v = 0;
  r = read(efd, &v, 8);
  printf("eventfd: r=%d v=%lu\n", r, (unsigned long)v);
  wait(NULL);

  /* signals: a blocked pipe write returns what it wrote; a blocked FIFO open gives EINTR
   * and leaves no reader behind */
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_alarm; /* no SA_RESTART */
  sigaction(SIGALRM, &sa, NULL);
  pipe(p);
  static char big[100000];
  alarm(1);
  r = write(p[1], big, sizeof big);
  printf("interrupted pipe write: %d\n", r);
  close(p[0]);
  close(p[1]);
  mkfifo("fifo2", 0600);
  alarm(1);
  r = open("fifo2", O_RDONLY);
  printf("interrupted fifo open: %d %s\n", r, strerrorname_np(errno));
  r = open("fifo2", O_WRONLY | O_NONBLOCK);
  printf("writer open after: %d %s\n", r, strerrorname_np(errno));

  if (chdir("/") == 0 && fork() == 0) {
    execlp("rm", "rm", "-rf", dir, (char *)NULL);
    _exit(127);
  }
  wait(NULL);
  return 0;
}
