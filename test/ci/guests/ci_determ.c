// Issue 12, deterministic mode: prints what differs from run to run on Linux — clock
// readings (syscall and vDSO paths), random bytes (getrandom, /dev/urandom, AT_RANDOM),
// pids/tids, inode numbers and timestamps of new files, a sleep's effect on the clock,
// CPU time, and a racy counter: 4 threads increment a shared counter without a lock,
// with a syscall between the read and the write-back, so lost updates depend on the
// schedule.
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static volatile long counter;
static char order[4096];
static volatile int order_len;

static void *worker(void *arg) {
  long id = (long)arg;
  for (int i = 0; i < 200; i++) {
    long v = counter;
    if (i % 3 == 0) syscall(SYS_getpid);  // a trapped call between read and write-back
    else sched_yield();
    counter = v + 1;
    if (order_len < (int)sizeof order - 1) order[order_len++] = (char)('a' + id);
  }
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  printf("thread %ld tid %ld done at %ld.%09ld\n", id, (long)syscall(SYS_gettid), (long)ts.tv_sec, ts.tv_nsec);
  return NULL;
}

static void hex(const char *what, const unsigned char *b, int n) {
  printf("%s ", what);
  for (int i = 0; i < n; i++) printf("%02x", b[i]);
  printf("\n");
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  struct timespec ts;
  struct timeval tv;
  clock_gettime(CLOCK_REALTIME, &ts);
  printf("realtime %ld.%09ld\n", (long)ts.tv_sec, ts.tv_nsec);
  clock_gettime(CLOCK_MONOTONIC, &ts);
  printf("monotonic %ld.%09ld\n", (long)ts.tv_sec, ts.tv_nsec);
  gettimeofday(&tv, NULL);
  printf("gettimeofday %ld.%06ld time %ld\n", (long)tv.tv_sec, (long)tv.tv_usec, (long)time(NULL));

  unsigned char r[16];
  if (getrandom(r, sizeof r, 0) != sizeof r) return 1;
  hex("getrandom", r, 16);
  int fd = open("/dev/urandom", O_RDONLY);
  if (fd < 0 || read(fd, r, 16) != 16) return 2;
  close(fd);
  hex("urandom", r, 16);
  hex("at_random", (const unsigned char *)getauxval(AT_RANDOM), 16);
  printf("rand %d\n", rand());
  printf("pid %d ppid %d tid %ld\n", getpid(), getppid(), (long)syscall(SYS_gettid));
  char host[64];
  gethostname(host, sizeof host);
  printf("hostname %s uid %d gid %d\n", host, getuid(), getgid());

  for (int i = 0; i < 3; i++) {
    char p[64];
    snprintf(p, sizeof p, "/tmp/determ-%d", i);
    int f = open(p, O_CREAT | O_WRONLY | O_TRUNC, 0644);
    if (f < 0) return 3;
    if (write(f, "x", 1) != 1) return 4;
    close(f);
    struct stat st;
    stat(p, &st);
    printf("%s ino %lu dev %lu mtime %ld.%09ld\n", p, (unsigned long)st.st_ino, (unsigned long)st.st_dev,
           (long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
  }

  struct timespec a, b, nap = {2, 500000000};
  clock_gettime(CLOCK_MONOTONIC, &a);
  nanosleep(&nap, NULL);
  clock_gettime(CLOCK_MONOTONIC, &b);
  long slept = (b.tv_sec - a.tv_sec) * 1000000000L + (b.tv_nsec - a.tv_nsec);
  printf("slept %s 2.5 s: %ld ns\n", slept >= 2500000000L ? ">=" : "<", slept);

  pthread_t th[4];
  for (long i = 0; i < 4; i++) pthread_create(&th[i], NULL, worker, (void *)i);
  for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
  order[order_len] = 0;
  printf("counter %ld (of 800)\n", counter);
  printf("order %s\n", order);

  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  printf("rusage user %ld.%06ld sys %ld.%06ld maxrss %ld\n", (long)ru.ru_utime.tv_sec, (long)ru.ru_utime.tv_usec,
         (long)ru.ru_stime.tv_sec, (long)ru.ru_stime.tv_usec, ru.ru_maxrss);
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  printf("cputime %ld.%09ld\n", (long)ts.tv_sec, ts.tv_nsec);
  FILE *up = fopen("/proc/uptime", "r");
  char line[128] = "";
  if (up) {
    fgets(line, sizeof line, up);
    fclose(up);
  }
  printf("uptime %s", line);
  return 0;
}
