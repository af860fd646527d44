/*
 * net_stream: one TCP stream between two machines, for the network-mode rows.
 *   net_stream serve PORT        accept one connection at a time (forever): read to EOF,
 *                                answer the byte count (8 bytes), close; prints "ready"
 *                                once listening. A connection that first sends 'R'
 *                                followed by an 8-byte count gets that many bytes instead.
 *   net_stream send HOST PORT N  connect, write N MiB, shut down, wait for the count.
 *   net_stream recv HOST PORT N  connect, ask for N MiB, read them to EOF.
 * The client prints "<ns per MiB> ns/iter", timed from connect to the last byte.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static char buf[1 << 20];

/* A blocking socket should never say EAGAIN; runsc's host network (2022 build) does. */
static int again(int fd, short ev) {
  if (errno != EAGAIN) return 0;
  struct pollfd p = {.fd = fd, .events = ev};
  poll(&p, 1, 1000);
  return 1;
}

static ssize_t read_some(int fd, void *p, size_t n) {
  for (;;) {
    ssize_t r = read(fd, p, n);
    if (r >= 0 || !again(fd, POLLIN)) return r;
  }
}

static int full_read(int fd, void *p, size_t n) {
  for (size_t off = 0; off < n;) {
    ssize_t r = read_some(fd, (char *)p + off, n - off);
    if (r <= 0) return -1;
    off += (size_t)r;
  }
  return 0;
}

static int write_n(int fd, long long total) {
  while (total > 0) {
    size_t want = total < (long long)sizeof buf ? (size_t)total : sizeof buf;
    ssize_t w = write(fd, buf, want);
    if (w < 0 && again(fd, POLLOUT)) continue;
    if (w <= 0) return -1;
    total -= w;
  }
  return 0;
}

static int serve(int port) {
  signal(SIGPIPE, SIG_IGN); /* a client gone mid-stream must not end the server */
  int l = socket(AF_INET6, SOCK_STREAM, 0), one = 1, zero = 0;
  setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  setsockopt(l, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
  struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port), .sin6_addr = in6addr_any};
  if (bind(l, (struct sockaddr *)&a, sizeof a) || listen(l, 16)) return perror("bind/listen"), 1;
  printf("ready\n");
  fflush(stdout);
  for (;;) {
    int s = accept(l, NULL, NULL);
    if (s < 0) continue;
    unsigned char first;
    long long got = 0;
    ssize_t r = read_some(s, &first, 1);
    if (r == 1 && first == 'R') {
      long long want;
      if (full_read(s, &want, sizeof want) == 0) write_n(s, want);
    } else if (r == 1) {
      got = 1;
      while ((r = read_some(s, buf, sizeof buf)) > 0) got += r;
      if (write(s, &got, sizeof got) != sizeof got) perror("write");
    }
    close(s);
  }
}

int main(int argc, char **argv) {
  if (argc >= 3 && strcmp(argv[1], "serve") == 0) return serve(atoi(argv[2]));
  if (argc < 5) return fprintf(stderr, "usage: net_stream serve PORT | send|recv HOST PORT MiB\n"), 2;
  int sending = strcmp(argv[1], "send") == 0;
  long long total = atoll(argv[4]) << 20;
  struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)atoi(argv[3]))};
  struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = a6.sin6_port};
  int v6 = strchr(argv[2], ':') != NULL;
  if ((v6 ? inet_pton(AF_INET6, argv[2], &a6.sin6_addr) : inet_pton(AF_INET, argv[2], &a4.sin_addr)) != 1) return fprintf(stderr, "bad address\n"), 2;
  struct sockaddr *sa = v6 ? (struct sockaddr *)&a6 : (struct sockaddr *)&a4;
  socklen_t sl = v6 ? sizeof a6 : sizeof a4;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  int c = socket(sa->sa_family, SOCK_STREAM, 0);
  if (connect(c, sa, sl)) return perror("connect"), 1;
  long long got = 0;
  if (sending) {
    if (write_n(c, total) || shutdown(c, SHUT_WR) || full_read(c, &got, sizeof got)) return perror("send"), 1;
  } else {
    char req[9] = {'R'};
    memcpy(req + 1, &total, 8);
    if (write(c, req, sizeof req) != sizeof req) return perror("write"), 1;
    ssize_t r;
    while ((r = read_some(c, buf, sizeof buf)) > 0) got += r;
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  if (got != total) return fprintf(stderr, "short: %lld of %lld\n", got, total), 1;
  double ns = (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec);
  printf("%.1f ns/iter\n", ns / (double)(total >> 20));
  return 0;
}
