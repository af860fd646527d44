/* Accounting is real: wait4/waitid rusage, getrusage, /proc/self/{stat,status,io}. Shapes only, never exact figures. */
#include "common.h"
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <sys/syscall.h>

static long us(struct timeval tv) { return tv.tv_sec * 1000000L + tv.tv_usec; }
static long cpu(struct rusage r) { return us(r.ru_utime) + us(r.ru_stime); }

/* Burns user CPU until getrusage says at least ms of it were used. */
static void burn(long ms) {
  struct rusage r;
  volatile unsigned long x = 0;
  do {
    for (unsigned long i = 0; i < 2000000UL; i++) x += i;
    getrusage(RUSAGE_SELF, &r);
  } while (us(r.ru_utime) < ms * 1000);
}

static char *touch(size_t mb) {
  volatile char *p = malloc(mb << 20);
  for (size_t i = 0; i < (mb << 20); i += 1024) p[i] = 1;
  return (char *)p;
}

static long field(const char *path, int n) { /* the n-th field (1-based) of /proc/self/stat */
  char b[1024];
  int fd = open(path, O_RDONLY);
  ssize_t len = read(fd, b, sizeof b - 1);
  close(fd);
  if (len <= 0) return -1;
  b[len] = 0;
  char *p = strrchr(b, ')') + 2;
  for (int i = 3; i < n; i++) p = strchr(p, ' ') + 1;
  return atol(p);
}

static long keyval(const char *path, const char *key) {
  FILE *f = fopen(path, "r");
  char l[256];
  long v = -1;
  while (f && fgets(l, sizeof l, f)) if (!strncmp(l, key, strlen(key))) v = atol(l + strlen(key) + 1);
  if (f) fclose(f);
  return v;
}

int main(void) {
  struct rusage a, b;
  getrusage(RUSAGE_SELF, &a);
  burn(60);
  char *mem = touch(24);
  getrusage(RUSAGE_SELF, &b);
  FACT("self utime grew", us(b.ru_utime) > us(a.ru_utime));
  FACT("self utime >= 60ms", us(b.ru_utime) >= 60000);
  FACT("self maxrss >= 24 MiB", b.ru_maxrss >= 24 * 1024);
  FACT("self minflt grew by >= 24 MiB of pages", b.ru_minflt - a.ru_minflt >= 24 * 256 / 2);
  FACT("self context switches counted", b.ru_nvcsw + b.ru_nivcsw > 0);
  FACT("/proc/self/stat utime > 0", field("/proc/self/stat", 14) > 0);
  FACT("/proc/self/stat minflt > 0", field("/proc/self/stat", 10) > 0);
  FACT("/proc/self/stat rss >= 24 MiB", field("/proc/self/stat", 24) >= 24 * 256);
  FACT("/proc/self/status VmHWM >= 24 MiB", keyval("/proc/self/status", "VmHWM:") >= 24 * 1024);
  FACT("/proc/self/status VmRSS >= 24 MiB", keyval("/proc/self/status", "VmRSS:") >= 24 * 1024);
  long r0 = keyval("/proc/self/io", "rchar:"), w0 = keyval("/proc/self/io", "wchar:"), sr0 = keyval("/proc/self/io", "syscr:");
  char buf[4096];
  int fd = open("/proc/self/stat", O_RDONLY);
  read(fd, buf, sizeof buf);
  close(fd);
  int nul = open("/dev/null", O_WRONLY);
  write(nul, buf, 1000);
  close(nul);
  FACT("/proc/self/io rchar grew", keyval("/proc/self/io", "rchar:") > r0);
  FACT("/proc/self/io wchar grew by >= 1000", keyval("/proc/self/io", "wchar:") >= w0 + 1000);
  FACT("/proc/self/io syscr grew", keyval("/proc/self/io", "syscr:") > sr0);
  free(mem);

  /* A child's usage comes back through wait4, and into RUSAGE_CHILDREN. */
  struct rusage none;
  getrusage(RUSAGE_CHILDREN, &none);
  FACT("no children yet: zero", us(none.ru_utime) == 0 && none.ru_maxrss == 0);
  fflush(stdout);
  pid_t p = fork();
  if (p == 0) { burn(50); touch(40); _exit(0); }
  struct rusage cr;
  int st;
  wait4(p, &st, 0, &cr);
  FACT("wait4 cpu >= 50ms", cpu(cr) >= 50000);
  FACT("wait4 maxrss >= 40 MiB", cr.ru_maxrss >= 40 * 1024);
  FACT("wait4 minflt >= 40 MiB of pages", cr.ru_minflt >= 40 * 256 / 2);
  struct rusage ch;
  getrusage(RUSAGE_CHILDREN, &ch);
  /* Linux splits user/system time anew per reading (cputime_adjust): compare totals, within a tick. */
  FACT("RUSAGE_CHILDREN has it", cpu(ch) + 10000 >= cpu(cr) && ch.ru_maxrss >= cr.ru_maxrss);
  /* A grandchild reaped by the child counts in the child's report. */
  fflush(stdout);
  p = fork();
  if (p == 0) {
    pid_t g = fork();
    if (g == 0) { burn(40); _exit(0); }
    waitpid(g, NULL, 0);
    _exit(0);
  }
  siginfo_t si;
  struct rusage wr;
  memset(&wr, 0, sizeof wr);
  syscall(SYS_waitid, P_PID, p, &si, WEXITED, &wr);
  FACT("waitid rusage includes the grandchild", cpu(wr) >= 40000);
  getrusage(RUSAGE_CHILDREN, &b);
  FACT("RUSAGE_CHILDREN accumulates", cpu(b) + 10000 >= cpu(ch) + 40000);
  FACT("/proc/self/stat cutime > 0", field("/proc/self/stat", 16) > 0);
  printf("done\n");
  return 0;
}
