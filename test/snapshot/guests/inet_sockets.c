/* Loopback TCP and UDP across the checkpoint: a listener with an accepted connection
 * (data queued both ways), one still in its backlog with data, one half closed; UDP
 * datagrams queued on a bound socket and on a connected one. After the counting loop all
 * is read back, and the listener and the UDP port still take new peers. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
static void show(const char *what, int fd) {
  char b[64];
  ssize_t n = recv(fd, b, sizeof b, 0);
  printf("%s: %zd '%.*s'\n", what, n, n > 0 ? (int)n : 0, b);
}
static int sock(int type) { int s = socket(AF_INET, type, 0); if (s < 0) exit(1); return s; }
static struct sockaddr_in lo(int port) {
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}
static int port_of(int fd) {
  struct sockaddr_in a;
  socklen_t l = sizeof a;
  getsockname(fd, (struct sockaddr *)&a, &l);
  return ntohs(a.sin_port);
}
int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 50;
  setvbuf(stdout, NULL, _IONBF, 0);
  int l = sock(SOCK_STREAM);
  struct sockaddr_in a = lo(0);
  if (bind(l, (struct sockaddr *)&a, sizeof a) || listen(l, 8)) return 2;
  a = lo(port_of(l));
  int c1 = sock(SOCK_STREAM), c2 = sock(SOCK_STREAM), c3 = sock(SOCK_STREAM);
  if (connect(c1, (struct sockaddr *)&a, sizeof a)) return 3;
  int a1 = accept(l, NULL, NULL);
  if (connect(c3, (struct sockaddr *)&a, sizeof a)) return 3;
  int a3 = accept(l, NULL, NULL);
  if (connect(c2, (struct sockaddr *)&a, sizeof a)) return 3;
  send(c1, "to-server", 9, 0);
  send(a1, "to-client", 9, 0);
  send(c2, "in-backlog", 10, 0);
  send(c3, "bye", 3, 0);
  shutdown(c3, SHUT_WR);
  int u1 = sock(SOCK_DGRAM), u2 = sock(SOCK_DGRAM), u3 = sock(SOCK_DGRAM);
  struct sockaddr_in any = lo(0);
  if (bind(u1, (struct sockaddr *)&any, sizeof any) || bind(u2, (struct sockaddr *)&any, sizeof any)) return 4;
  struct sockaddr_in ua = lo(port_of(u1));
  sendto(u2, "d1", 2, 0, (struct sockaddr *)&ua, sizeof ua);
  sendto(u2, "d22", 3, 0, (struct sockaddr *)&ua, sizeof ua);
  if (connect(u3, (struct sockaddr *)&ua, sizeof ua)) return 4;
  send(u3, "connected", 9, 0);
  int lport = port_of(l), u2port = port_of(u2);
  volatile unsigned long x = 0;
  for (long i = 0; i < n; i++) {
    for (long j = 0; j < 3000000; j++) x += j ^ i;
    printf("%ld %lu\n", i, x);
  }
  show("to server", a1);
  show("to client", c1);
  show("half closed: data", a3);
  show("half closed: EOF", a3);
  send(a3, "still open", 10, 0);
  show("other way", c3);
  int a2 = accept(l, NULL, NULL);
  show("from the backlog", a2);
  for (int i = 0; i < 3; i++) {
    char b[64];
    struct sockaddr_in from;
    socklen_t fl = sizeof from;
    ssize_t k = recvfrom(u1, b, sizeof b, 0, (struct sockaddr *)&from, &fl);
    printf("udp %zd '%.*s' from the sender's port %d\n", k, k > 0 ? (int)k : 0, b,
           ntohs(from.sin_port) == u2port || ntohs(from.sin_port) == port_of(u3));
  }
  printf("ports kept: %d\n", port_of(l) == lport && port_of(u2) == u2port);
  int c4 = sock(SOCK_STREAM), u4 = sock(SOCK_DGRAM);
  printf("new connection %d\n", connect(c4, (struct sockaddr *)&a, sizeof a));
  int a4 = accept(l, NULL, NULL);
  send(c4, "new", 3, 0);
  show("new connection's data", a4);
  sendto(u4, "late", 4, 0, (struct sockaddr *)&ua, sizeof ua);
  show("a new UDP sender", u1);
  struct sockaddr_in taken = lo(lport);
  int dup = sock(SOCK_STREAM);
  printf("the listener's port is taken: %d\n", bind(dup, (struct sockaddr *)&taken, sizeof taken) != 0);
  return 0;
}
