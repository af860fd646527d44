// One resource use per mode, sized by argv[2], for the CI limits' tests:
//   fds N    open /dev/null N times          out N   write N bytes to stdout
//   disk N   write N bytes to /tmp/disk      mem N   touch N MiB of anonymous memory
//   spin     burn CPU forever                sleep N sleep N seconds
//   fork N   keep N children alive at once
// Prints "ok" (on stderr for out) when it got through.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  long n = argc > 2 ? atol(argv[2]) : 0;
  const char *m = argv[1];
  if (!strcmp(m, "fds")) {
    for (long i = 0; i < n; i++) {
      if (open("/dev/null", O_RDONLY) < 0) { printf("open %ld: %s\n", i, strerror(errno)); return 1; }
    }
  } else if (!strcmp(m, "out")) {
    char buf[4096];
    memset(buf, 'x', sizeof buf);
    while (n > 0) {
      long k = n < (long)sizeof buf ? n : (long)sizeof buf;
      if (write(1, buf, k) != k) return 1;
      n -= k;
    }
    fprintf(stderr, "ok\n");
    return 0;
  } else if (!strcmp(m, "disk")) {
    int fd = open("/tmp/disk", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    char buf[65536];
    memset(buf, 'd', sizeof buf);
    while (n > 0) {
      long k = n < (long)sizeof buf ? n : (long)sizeof buf;
      if (write(fd, buf, k) != k) { printf("write: %s\n", strerror(errno)); return 1; }
      n -= k;
    }
    close(fd);
  } else if (!strcmp(m, "mem")) {
    for (long i = 0; i < n; i++) {
      char *p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (p == MAP_FAILED) { printf("mmap: %s\n", strerror(errno)); return 1; }
      memset(p, 1, 1 << 20);
    }
  } else if (!strcmp(m, "spin")) {
    for (volatile unsigned long i = 0;; i++) {}
  } else if (!strcmp(m, "sleep")) {
    sleep(n);
  } else if (!strcmp(m, "fork")) {
    for (long i = 0; i < n; i++) {
      pid_t p = fork();
      if (p < 0) { printf("fork: %s\n", strerror(errno)); return 1; }
      if (p == 0) { sleep(2); _exit(0); }
    }
    while (wait(NULL) > 0) {}
  } else {
    return 2;
  }
  printf("ok\n");
  return 0;
}
