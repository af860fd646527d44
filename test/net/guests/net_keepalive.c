// A connection whose peer goes silent: keepalive (TCP_KEEPIDLE/INTVL/CNT of 1 s, 1 s, 2)
// gives up and the blocked recv returns ETIMEDOUT, as does SO_ERROR after it; a second
// connection with unacknowledged data and TCP_USER_TIMEOUT 1500 ms fails the same way.
// The test makes the peer silent after the "connected" lines.
//   net_keepalive PEER4 PORT
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int dial(const char *ip, int port) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
  inet_pton(AF_INET, ip, &a.sin_addr);
  int s = socket(AF_INET, SOCK_STREAM, 0);
  if (connect(s, (struct sockaddr *)&a, sizeof a)) return perror("connect"), exit(1), -1;
  return s;
}

static const char *name(int e) { return e == ETIMEDOUT ? "ETIMEDOUT" : e == EHOSTUNREACH ? "EHOSTUNREACH" : e == ECONNRESET ? "ECONNRESET" : strerror(e); }

int main(int argc, char **argv) {
  if (argc < 3) return 2;
  int port = atoi(argv[2]), one = 1, idle = 1, intvl = 1, cnt = 2, ut = 1500;
  int k = dial(argv[1], port);
  setsockopt(k, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
  setsockopt(k, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
  setsockopt(k, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
  setsockopt(k, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
  int u = dial(argv[1], port);
  setsockopt(u, IPPROTO_TCP, TCP_USER_TIMEOUT, &ut, sizeof ut);
  printf("connected\n");
  fflush(stdout);
  // Wait for the test to silence the peer (it closes our stdin then).
  char c;
  while (read(0, &c, 1) > 0) {}
  if (send(u, "data", 4, 0) != 4) printf("send: %s\n", name(errno));
  char b[16];
  ssize_t r = recv(k, b, sizeof b, 0);
  int e = errno, se = 0;
  socklen_t l = sizeof se;
  getsockopt(k, SOL_SOCKET, SO_ERROR, &se, &l);
  printf("keepalive: recv %zd %s, then SO_ERROR %d\n", r, r < 0 ? name(e) : "-", se);
  r = recv(u, b, sizeof b, 0);
  e = errno;
  printf("user timeout: recv %zd %s\n", r, r < 0 ? name(e) : "-");
  r = send(u, "more", 4, MSG_NOSIGNAL);
  printf("then send: %zd %s\n", r, r < 0 ? name(errno) : "-");
  return 0;
}
