/* create + write + stat + unlink of a small file in /tmp, per iteration (tmpfs in the sandbox). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 10000;
  char path[64];
  snprintf(path, sizeof path, "/tmp/tss-meta-%d", getpid());
  struct timespec a, b;
  struct stat st;
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (long i = 0; i < n; i++) {
    int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
    if (fd < 0 || write(fd, "0123456789abcdef", 16) != 16) return 1;
    close(fd);
    if (stat(path, &st) != 0 || st.st_size != 16) return 2;
    if (unlink(path) != 0) return 3;
  }
  clock_gettime(CLOCK_MONOTONIC, &b);
  double ns = (b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec);
  printf("%.1f ns/iter\n", ns / n);
  return 0;
}
