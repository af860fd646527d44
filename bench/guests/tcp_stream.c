/*
 * tcp_stream [N]: one TCP stream over loopback carrying N MiB (a forked child writes
 * 1 MiB blocks, the parent reads), timed from accept to EOF. Prints
 * "<ns per MiB> ns/iter".
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 1024;
  if (n < 1) n = 1;
  int l = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t al = sizeof a;
  if (bind(l, (struct sockaddr *)&a, sizeof a) || listen(l, 1) || getsockname(l, (struct sockaddr *)&a, &al)) return 1;
  static char buf[1 << 20];
  pid_t pid = fork();
  if (pid == 0) {
    int c = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(c, (struct sockaddr *)&a, sizeof a)) _exit(1);
    for (long i = 0; i < n; i++)
      for (size_t off = 0; off < sizeof buf;) {
        ssize_t w = write(c, buf + off, sizeof buf - off);
        if (w <= 0) _exit(1);
        off += (size_t)w;
      }
    close(c);
    _exit(0);
  }
  int s = accept(l, NULL, NULL);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  long long got = 0;
  for (;;) {
    ssize_t r = read(s, buf, sizeof buf);
    if (r <= 0) break;
    got += r;
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  int st;
  waitpid(pid, &st, 0);
  if (got != (long long)n << 20) return 1;
  double ns = (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec);
  printf("%.1f ns/iter\n", ns / (double)n);
  return 0;
}
