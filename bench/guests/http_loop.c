/*
 * http_loop [N]: a small HTTP server and client in one sandbox, over loopback TCP. A
 * forked child serves (accept, read the request to its blank line, answer 200 with a
 * 13-byte body, close); the parent makes N requests, each on a new connection as
 * `curl` would (connect, GET, read the answer to EOF, close). Prints
 * "<ns per request> ns/iter".
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char REQ[] = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: http_loop\r\nAccept: */*\r\nConnection: close\r\n\r\n";
static const char RESP[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\nConnection: close\r\n\r\nHello, world\n";

static void serve(int l) {
  char buf[4096];
  for (;;) {
    int s = accept(l, NULL, NULL);
    if (s < 0) continue;
    size_t got = 0;
    while (got < sizeof buf - 1) {
      ssize_t r = read(s, buf + got, sizeof buf - 1 - got);
      if (r <= 0) break;
      got += (size_t)r;
      buf[got] = 0;
      if (strstr(buf, "\r\n\r\n")) break;
    }
    if (write(s, RESP, sizeof RESP - 1) != (ssize_t)(sizeof RESP - 1)) perror("write");
    close(s);
  }
}

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 1000;
  if (n < 1) n = 1;
  int l = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t al = sizeof a;
  if (bind(l, (struct sockaddr *)&a, sizeof a) || listen(l, 128) || getsockname(l, (struct sockaddr *)&a, &al)) return 1;
  pid_t pid = fork();
  if (pid == 0) serve(l);
  close(l);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  char buf[4096];
  for (long i = 0; i < n; i++) {
    int c = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(c, (struct sockaddr *)&a, sizeof a)) return perror("connect"), 1;
    if (write(c, REQ, sizeof REQ - 1) != (ssize_t)(sizeof REQ - 1)) return 1;
    size_t got = 0;
    ssize_t r;
    while ((r = read(c, buf + got, sizeof buf - got)) > 0) got += (size_t)r;
    if (got != sizeof RESP - 1) return fprintf(stderr, "short answer: %zu\n", got), 1;
    close(c);
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  double ns = (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec);
  printf("%.1f ns/iter\n", ns / (double)n);
  return 0;
}
