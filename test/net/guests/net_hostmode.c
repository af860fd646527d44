// Socket calls against a peer's echo servers (TCP and UDP on port 7001, nothing on 7009),
// run natively and in --network=host: both print the same lines.
//   net_hostmode client PEER4 PEER6   the client checks, one "ok ..." line each
//   net_hostmode serve PORT           accepts one connection, echoes a line, prints the peer
//   net_hostmode policy PEER4         connects to 7001 and 7002 (the test denies 7002)
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define CHECK(c, ...)                                  \
  do {                                                 \
    if (!(c)) {                                        \
      printf("FAIL line %d errno %d: ", __LINE__, errno); \
      printf(__VA_ARGS__);                             \
      printf("\n");                                    \
      exit(1);                                         \
    }                                                  \
  } while (0)

static socklen_t mk(struct sockaddr_storage* ss, const char* ip, int port) {
  memset(ss, 0, sizeof *ss);
  if (strchr(ip, ':')) {
    struct sockaddr_in6* a = (struct sockaddr_in6*)ss;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    inet_pton(AF_INET6, ip, &a->sin6_addr);
    return sizeof *a;
  }
  struct sockaddr_in* a = (struct sockaddr_in*)ss;
  a->sin_family = AF_INET;
  a->sin_port = htons(port);
  inet_pton(AF_INET, ip, &a->sin_addr);
  return sizeof *a;
}

static const char* fmt(struct sockaddr_storage* ss, char* buf) {
  char ip[64];
  if (ss->ss_family == AF_INET6) {
    struct sockaddr_in6* a = (struct sockaddr_in6*)ss;
    inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
    sprintf(buf, "[%s]:%d", ip, ntohs(a->sin6_port));
  } else {
    struct sockaddr_in* a = (struct sockaddr_in*)ss;
    inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
    sprintf(buf, "%s:%d", ip, ntohs(a->sin_port));
  }
  return buf;
}

static void tcp(const char* peer) {
  int fam = strchr(peer, ':') ? AF_INET6 : AF_INET;
  int s = socket(fam, SOCK_STREAM, 0);
  CHECK(s >= 0, "socket");
  struct sockaddr_storage ss, me, them;
  socklen_t l = mk(&ss, peer, 7001);
  CHECK(connect(s, (struct sockaddr*)&ss, l) == 0, "connect %s", peer);
  socklen_t ml = sizeof me, tl = sizeof them;
  CHECK(getsockname(s, (struct sockaddr*)&me, &ml) == 0, "getsockname");
  CHECK(getpeername(s, (struct sockaddr*)&them, &tl) == 0, "getpeername");
  char b1[80];
  printf("ok tcp %s family %d socklen %d peer %s\n", peer, me.ss_family, (int)ml, fmt(&them, b1));
  int one = 1, v = 0;
  socklen_t vl = sizeof v;
  CHECK(setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0, "nodelay");
  CHECK(getsockopt(s, IPPROTO_TCP, TCP_NODELAY, &v, &vl) == 0 && v == 1, "nodelay get");
  int rb = 65536;
  CHECK(setsockopt(s, SOL_SOCKET, SO_RCVBUF, &rb, sizeof rb) == 0, "rcvbuf");
  vl = sizeof v;
  CHECK(getsockopt(s, SOL_SOCKET, SO_RCVBUF, &v, &vl) == 0, "rcvbuf get");
  printf("ok tcp sockopts nodelay 1 rcvbuf %d\n", v);
  // An empty nonblocking read, then the echo.
  char buf[64];
  CHECK(recv(s, buf, sizeof buf, MSG_DONTWAIT) < 0 && errno == EAGAIN, "empty recv");
  CHECK(send(s, "hello\n", 6, 0) == 6, "send");
  struct pollfd p = {s, POLLIN, 0};
  CHECK(poll(&p, 1, 10000) == 1 && (p.revents & POLLIN), "poll in");
  int avail = 0;
  for (int i = 0; i < 100 && avail < 6; i++) {
    ioctl(s, FIONREAD, &avail);
    if (avail < 6) usleep(10000);
  }
  CHECK(recv(s, buf, 3, MSG_PEEK) == 3 && memcmp(buf, "hel", 3) == 0, "peek");
  CHECK(recv(s, buf, 6, MSG_WAITALL) == 6, "recv");
  printf("ok tcp echo fionread %d '%.5s'\n", avail, buf);
  CHECK(shutdown(s, SHUT_WR) == 0, "shutdown");
  CHECK(read(s, buf, sizeof buf) == 0, "eof after shutdown");
  printf("ok tcp eof\n");
  close(s);
}

static void nonblocking(const char* peer) {
  int fam = strchr(peer, ':') ? AF_INET6 : AF_INET;
  int s = socket(fam, SOCK_STREAM | SOCK_NONBLOCK, 0);
  struct sockaddr_storage ss;
  socklen_t l = mk(&ss, peer, 7001);
  int r = connect(s, (struct sockaddr*)&ss, l);
  CHECK(r == 0 || errno == EINPROGRESS, "nb connect");
  int ep = epoll_create1(0);
  struct epoll_event ev = {EPOLLOUT | EPOLLIN | EPOLLET, {.fd = s}}, out;
  CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev) == 0, "epoll_ctl");
  CHECK(epoll_wait(ep, &out, 1, 10000) == 1 && (out.events & EPOLLOUT), "epoll out");
  int err = -1;
  socklen_t el = sizeof err;
  CHECK(getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &el) == 0 && err == 0, "so_error");
  CHECK(write(s, "abc\n", 4) == 4, "write");
  int got = 0;
  char buf[16];
  for (int i = 0; i < 5 && got < 4; i++) {
    int n = epoll_wait(ep, &out, 1, 10000);
    CHECK(n == 1, "epoll in");
    if (!(out.events & EPOLLIN)) continue;
    for (;;) {
      int k = read(s, buf + got, sizeof buf - got);
      if (k < 0 && errno == EAGAIN) break;
      CHECK(k > 0, "read");
      got += k;
    }
  }
  printf("ok nonblocking connect+epoll %s got %d\n", peer, got);
  close(ep);
  close(s);
  // Refused: blocking and nonblocking.
  s = socket(fam, SOCK_STREAM, 0);
  l = mk(&ss, peer, 7009);
  CHECK(connect(s, (struct sockaddr*)&ss, l) < 0 && errno == ECONNREFUSED, "refused");
  close(s);
  s = socket(fam, SOCK_STREAM | SOCK_NONBLOCK, 0);
  r = connect(s, (struct sockaddr*)&ss, l);
  if (r < 0 && errno == EINPROGRESS) {
    struct pollfd p = {s, POLLOUT, 0};
    CHECK(poll(&p, 1, 10000) == 1, "poll refused");
    el = sizeof err;
    getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &el);
  } else {
    err = errno;
  }
  printf("ok refused %s so_error %d\n", peer, err);
  close(s);
}

static void udp(const char* peer) {
  int fam = strchr(peer, ':') ? AF_INET6 : AF_INET;
  int s = socket(fam, SOCK_DGRAM, 0);
  struct sockaddr_storage ss, from;
  socklen_t l = mk(&ss, peer, 7001);
  CHECK(sendto(s, "dgram", 5, 0, (struct sockaddr*)&ss, l) == 5, "sendto");
  struct pollfd p = {s, POLLIN, 0};
  CHECK(poll(&p, 1, 10000) == 1, "udp poll");
  char buf[16], b1[80];
  socklen_t fl = sizeof from;
  int n = recvfrom(s, buf, 3, MSG_TRUNC, (struct sockaddr*)&from, &fl);
  printf("ok udp %s trunc %d from %s\n", peer, n, fmt(&from, b1));
  close(s);
  // Connected UDP to a closed port: the ICMP error is ECONNREFUSED.
  s = socket(fam, SOCK_DGRAM, 0);
  l = mk(&ss, peer, 7009);
  CHECK(connect(s, (struct sockaddr*)&ss, l) == 0, "udp connect");
  CHECK(send(s, "x", 1, 0) == 1, "udp send");
  struct timeval tv = {5, 0};
  setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  n = recv(s, buf, sizeof buf, 0);
  printf("ok udp refused %d errno %d\n", n, n < 0 ? errno : 0);
  close(s);
}

static void serve(int port) {
  int l = socket(AF_INET6, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_storage ss, peer;
  socklen_t sl = mk(&ss, "::", port);
  CHECK(bind(l, (struct sockaddr*)&ss, sl) == 0, "bind");
  CHECK(listen(l, 8) == 0, "listen");
  int acc = 0;
  socklen_t al = sizeof acc;
  getsockopt(l, SOL_SOCKET, SO_ACCEPTCONN, &acc, &al);
  printf("listening acceptconn %d\n", acc);
  fflush(stdout);
  socklen_t pl = sizeof peer;
  int c = accept(l, (struct sockaddr*)&peer, &pl);
  CHECK(c >= 0, "accept");
  char buf[64], b1[80];
  int n = 0;
  while (n < (int)sizeof buf) {
    int k = read(c, buf + n, sizeof buf - n);
    if (k <= 0) break;
    n += k;
    if (buf[n - 1] == '\n') break;
  }
  CHECK(write(c, buf, n) == n, "write back");
  // Only the address: the port is the peer's ephemeral one.
  char* colon = strrchr((char*)fmt(&peer, b1), ':');
  *colon = 0;
  printf("served %.*s from %s\n", n - 1, buf, b1);
  close(c);
  close(l);
}

static void policy(const char* peer) {
  for (int port = 7001; port <= 7002; port++) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_storage ss;
    socklen_t l = mk(&ss, peer, port);
    int r = connect(s, (struct sockaddr*)&ss, l);
    printf("connect %d: %s\n", port, r == 0 ? "ok" : strerror(errno));
    close(s);
  }
}

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc >= 4 && !strcmp(argv[1], "client")) {
    for (int i = 2; i < 4; i++) {
      tcp(argv[i]);
      nonblocking(argv[i]);
      udp(argv[i]);
    }
    return 0;
  }
  if (argc >= 3 && !strcmp(argv[1], "serve")) {
    serve(atoi(argv[2]));
    return 0;
  }
  if (argc >= 3 && !strcmp(argv[1], "policy")) {
    policy(argv[2]);
    return 0;
  }
  fprintf(stderr, "usage\n");
  return 2;
}
