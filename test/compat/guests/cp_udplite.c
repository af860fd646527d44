/* UDP-Lite (issue 15) on loopback: IPPROTO_UDPLITE sockets, their own port space,
 * UDPLITE_SEND_CSCOV / RECV_CSCOV (clamped as Linux), and the receive rule for partly
 * covered datagrams, against Linux. */
#define _GNU_SOURCE
#include "common.h"
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>

#ifndef IPPROTO_UDPLITE
#define IPPROTO_UDPLITE 136
#endif
#define SOL_UDPLITE 136
#define UDPLITE_SEND_CSCOV 10
#define UDPLITE_RECV_CSCOV 11

static struct sockaddr_in addr(int port) {
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

static int opt(int s, int name) {
  int v = -1;
  socklen_t n = sizeof v;
  if (getsockopt(s, SOL_UDPLITE, name, &v, &n) < 0) return -errno;
  return v;
}

static void set(int s, int name, int v) {
  if (setsockopt(s, SOL_UDPLITE, name, &v, sizeof v) < 0) printf("setsockopt %d %d: %s\n", name, v, ename(errno));
}

static void got(const char *label, int s) {
  char b[128];
  ssize_t n = recv(s, b, sizeof b, MSG_DONTWAIT);
  if (n < 0) printf("%s: %s\n", label, ename(errno));
  else printf("%s: %zd bytes\n", label, n);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  EXPECT_ERR("stream UDP-Lite", socket(AF_INET, SOCK_STREAM, IPPROTO_UDPLITE), EPROTONOSUPPORT);
  int r = socket(AF_INET, SOCK_DGRAM, IPPROTO_UDPLITE);
  int w = socket(AF_INET, SOCK_DGRAM, IPPROTO_UDPLITE);
  int u = socket(AF_INET, SOCK_DGRAM, 0);
  MUST(r); MUST(w); MUST(u);
  int proto = 0;
  socklen_t pl = sizeof proto;
  getsockopt(r, SOL_SOCKET, SO_PROTOCOL, &proto, &pl);
  printf("SO_PROTOCOL %d\n", proto);
  printf("default coverage: send %d recv %d\n", opt(w, UDPLITE_SEND_CSCOV), opt(w, UDPLITE_RECV_CSCOV));
  printf("on a UDP socket: %d\n", opt(u, UDPLITE_SEND_CSCOV));
  int one = 8;
  EXPECT_ERR("setting it on a UDP socket", setsockopt(u, SOL_UDPLITE, UDPLITE_SEND_CSCOV, &one, sizeof one), ENOPROTOOPT);
  set(w, UDPLITE_SEND_CSCOV, 4);
  printf("send coverage 4 -> %d\n", opt(w, UDPLITE_SEND_CSCOV));
  set(w, UDPLITE_SEND_CSCOV, 100000);
  printf("send coverage 100000 -> %d\n", opt(w, UDPLITE_SEND_CSCOV));
  set(w, UDPLITE_SEND_CSCOV, 0);
  struct sockaddr_in a = addr(0);
  MUST(bind(r, (struct sockaddr *)&a, sizeof a));
  socklen_t al = sizeof a;
  getsockname(r, (struct sockaddr *)&a, &al);
  int port = ntohs(a.sin_port);
  /* The same port for UDP: another protocol's table. */
  struct sockaddr_in ua = addr(port);
  SHOW("UDP bind on the UDP-Lite port", bind(u, (struct sockaddr *)&ua, sizeof ua));
  struct sockaddr_in to = addr(port);
  char msg[30] = "0123456789abcdefghijklmnopqrst";
  sendto(w, msg, 30, 0, (struct sockaddr *)&to, sizeof to);
  got("full coverage", r);
  got("the UDP socket got nothing", u);
  set(r, UDPLITE_RECV_CSCOV, 20);
  set(w, UDPLITE_SEND_CSCOV, 10);
  sendto(w, msg, 30, 0, (struct sockaddr *)&to, sizeof to);
  got("coverage 10 < required 20", r);
  set(w, UDPLITE_SEND_CSCOV, 20);
  sendto(w, msg, 30, 0, (struct sockaddr *)&to, sizeof to);
  got("coverage 20 = required 20", r);
  sendto(w, msg, 5, 0, (struct sockaddr *)&to, sizeof to);
  got("coverage 20 over a 13-byte datagram (full)", r);
  set(r, UDPLITE_RECV_CSCOV, 0);
  sendto(w, msg, 30, 0, (struct sockaddr *)&to, sizeof to);
  got("partial when full coverage is required", r);
  set(w, UDPLITE_SEND_CSCOV, 0);
  sendto(w, msg, 30, 0, (struct sockaddr *)&to, sizeof to);
  got("full again", r);
  sendto(u, msg, 7, 0, (struct sockaddr *)&to, sizeof to);
  got("UDP to the port reaches UDP", u);
  got("and not UDP-Lite", r);
  return 0;
}
