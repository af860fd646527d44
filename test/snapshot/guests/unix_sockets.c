/* Unix sockets with data queued across the checkpoint: stream, seqpacket and datagram
 * pairs, an abstract and a pathname listener each with a connection accepted and one still
 * in the accept queue, a pair whose one end closed after writing. After the counting loop
 * every queued byte is read back, and new connections reach both names. */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
static void show(const char *what, int fd) {
  char b[64];
  ssize_t n = recv(fd, b, sizeof b, 0);
  printf("%s: %zd '%.*s'\n", what, n, n > 0 ? (int)n : 0, b);
}
static int sock(int type) { int s = socket(AF_UNIX, type, 0); if (s < 0) exit(1); return s; }
static socklen_t addr(struct sockaddr_un *a, const char *name, int abstract) {
  memset(a, 0, sizeof *a);
  a->sun_family = AF_UNIX;
  strcpy(a->sun_path + (abstract ? 1 : 0), name);
  return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(name) + 1); /* the leading NUL of an abstract name, or the path's final one */
}
int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 50;
  setvbuf(stdout, NULL, _IONBF, 0);
  int sp[2], qp[2], dp[2], cp[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) || socketpair(AF_UNIX, SOCK_SEQPACKET, 0, qp)
      || socketpair(AF_UNIX, SOCK_DGRAM, 0, dp) || socketpair(AF_UNIX, SOCK_STREAM, 0, cp)) return 1;
  send(sp[0], "stream-a", 8, 0);
  send(sp[1], "stream-b", 8, 0);
  send(qp[0], "pkt1", 4, 0);
  send(qp[0], "packet2", 7, 0);
  send(dp[1], "dg1", 3, 0);
  send(dp[1], "dgram2", 6, 0);
  send(cp[0], "last words", 10, 0);
  close(cp[0]);
  char name[64], path[80];
  snprintf(name, sizeof name, "tss-ckpt-abs-%d", (int)getpid());
  snprintf(path, sizeof path, "/tmp/tss-ckpt-sock-%d", (int)getpid());
  struct sockaddr_un aa, pa;
  socklen_t al = addr(&aa, name, 1), pl = addr(&pa, path, 0);
  int l = sock(SOCK_STREAM), p = sock(SOCK_STREAM);
  unlink(path);
  if (bind(l, (struct sockaddr *)&aa, al) || listen(l, 8) || bind(p, (struct sockaddr *)&pa, pl) || listen(p, 8)) return 2;
  int c1 = sock(SOCK_STREAM), c2 = sock(SOCK_STREAM), pc = sock(SOCK_STREAM);
  if (connect(c1, (struct sockaddr *)&aa, al) || connect(c2, (struct sockaddr *)&aa, al) || connect(pc, (struct sockaddr *)&pa, pl)) return 3;
  int a1 = accept(l, NULL, NULL);
  send(c1, "to-server", 9, 0);
  send(a1, "to-client", 9, 0);
  send(c2, "before-accept", 13, 0);
  send(pc, "by-path", 7, 0);
  volatile unsigned long x = 0;
  for (long i = 0; i < n; i++) {
    for (long j = 0; j < 3000000; j++) x += j ^ i;
    printf("%ld %lu\n", i, x);
  }
  show("stream a->b", sp[1]);
  show("stream b->a", sp[0]);
  show("seqpacket 1", qp[1]);
  show("seqpacket 2", qp[1]);
  show("dgram 1", dp[0]);
  show("dgram 2", dp[0]);
  show("closed peer's data", cp[1]);
  show("then EOF", cp[1]);
  show("accepted, to server", a1);
  show("accepted, to client", c1);
  int a2 = accept(l, NULL, NULL);
  show("accepted after, its data", a2);
  send(a2, "reply", 5, 0);
  show("its reply", c2);
  int ap = accept(p, NULL, NULL);
  show("by path, its data", ap);
  int c3 = sock(SOCK_STREAM), pc2 = sock(SOCK_STREAM);
  printf("new connections: abstract %d, path %d\n", connect(c3, (struct sockaddr *)&aa, al), connect(pc2, (struct sockaddr *)&pa, pl));
  int a3 = accept(l, NULL, NULL);
  send(c3, "new", 3, 0);
  show("new connection", a3);
  struct ucred cr;
  socklen_t crl = sizeof cr;
  getsockopt(a1, SOL_SOCKET, SO_PEERCRED, &cr, &crl);
  printf("peer uid %d\n", (int)cr.uid);
  unlink(path);
  return 0;
}
