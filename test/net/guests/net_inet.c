/* AF_INET/AF_INET6 loopback: TCP echo across fork, UDP, ECONNREFUSED, ephemeral
 * ports, half-close, nonblocking connect, getifaddrs (lo only). */
#include "common.h"
#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <sys/ioctl.h>

static int port_of(int fd) {
  struct sockaddr_storage ss; socklen_t l = sizeof ss;
  if (getsockname(fd, (struct sockaddr *)&ss, &l) < 0) return -1;
  return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static void tcp(int family) {
  int srv = socket(family, SOCK_STREAM, 0);
  MUST(srv);
  int one = 1;
  SHOW("SO_REUSEADDR", setsockopt(srv, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one));
  struct sockaddr_storage ss = {0}; socklen_t sl;
  if (family == AF_INET) {
    struct sockaddr_in *a = (void *)&ss; a->sin_family = AF_INET; a->sin_addr.s_addr = htonl(INADDR_LOOPBACK); sl = sizeof *a;
  } else {
    struct sockaddr_in6 *a = (void *)&ss; a->sin6_family = AF_INET6; a->sin6_addr = in6addr_loopback; sl = sizeof *a;
  }
  SHOW("bind port 0", bind(srv, (struct sockaddr *)&ss, sl));
  int port = port_of(srv);
  FACT("ephemeral port in range", port >= 32768 && port <= 60999);
  SHOW("listen", listen(srv, 8));
  int acc = 0; socklen_t al = sizeof acc;
  getsockopt(srv, SOL_SOCKET, SO_ACCEPTCONN, &acc, &al);
  printf("SO_ACCEPTCONN=%d\n", acc);
  ((struct sockaddr_in *)&ss)->sin_port = htons(port);
  pid_t pid = fork();
  if (pid == 0) {
    int c = socket(family, SOCK_STREAM, 0);
    if (connect(c, (struct sockaddr *)&ss, sl) < 0) { printf("child connect: %s\n", ename(errno)); _exit(1); }
    int nd = 1; setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &nd, sizeof nd);
    char buf[300000]; memset(buf, 'a', sizeof buf);
    ssize_t w = write(c, buf, sizeof buf);
    shutdown(c, SHUT_WR);
    long got = 0; ssize_t n;
    while ((n = read(c, buf, sizeof buf)) > 0) got += n;
    printf("child wrote %zd, echoed back %ld, last read %zd\n", w, got, n);
    close(c);
    _exit(0);
  }
  struct sockaddr_storage peer; socklen_t pl = sizeof peer;
  int s = accept(srv, (struct sockaddr *)&peer, &pl);
  MUST(s);
  printf("peer len=%d family ok=%d\n", (int)pl, peer.ss_family == family);
  char buf[65536]; long total = 0; ssize_t n;
  while ((n = read(s, buf, sizeof buf)) > 0) { total += n; MUST(write(s, buf, n)); }
  printf("server echoed %ld, eof %zd\n", total, n);
  close(s);
  int st; waitpid(pid, &st, 0);
  printf("child status %d\n", WEXITSTATUS(st));
  int nd = 0; socklen_t ndl = sizeof nd;
  SHOW("TCP_NODELAY get", getsockopt(srv, IPPROTO_TCP, TCP_NODELAY, &nd, &ndl));
  close(srv);
  /* nothing listens there any more */
  int c = socket(family, SOCK_STREAM, 0);
  EXPECT_ERR("connect refused", connect(c, (struct sockaddr *)&ss, sl), ECONNREFUSED);
  close(c);
  c = socket(family, SOCK_STREAM | SOCK_NONBLOCK, 0);
  EXPECT_ERR("nonblock connect refused", connect(c, (struct sockaddr *)&ss, sl), EINPROGRESS);
  struct pollfd p = {c, POLLOUT, 0};
  poll(&p, 1, 1000);
  int err = 0; socklen_t el = sizeof err;
  getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &el);
  printf("SO_ERROR=%s\n", err ? ename(err) : "0");
  close(c);
}

static void udp(void) {
  int r = socket(AF_INET, SOCK_DGRAM, 0), s = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  MUST(bind(r, (struct sockaddr *)&a, sizeof a));
  a.sin_port = htons(port_of(r));
  SHOW("udp sendto", sendto(s, "datagram", 8, 0, (struct sockaddr *)&a, sizeof a));
  SHOW("udp sendto2", sendto(s, "two", 3, 0, (struct sockaddr *)&a, sizeof a));
  struct sockaddr_in from; socklen_t fl = sizeof from; char b[16];
  ssize_t n = recvfrom(r, b, sizeof b, 0, (struct sockaddr *)&from, &fl);
  printf("udp got %zd '%.*s' fromlen=%d from=%s same port=%d\n", n, (int)n, b, (int)fl, inet_ntoa(from.sin_addr), ntohs(from.sin_port) == port_of(s));
  SHOW("udp recv trunc", recv(r, b, 1, MSG_TRUNC));
  EXPECT_ERR("udp recv empty", recv(r, b, 1, MSG_DONTWAIT), EAGAIN);
  int avail = -1;
  sendto(s, "xyz", 3, 0, (struct sockaddr *)&a, sizeof a);
  ioctl(r, FIONREAD, &avail);
  printf("FIONREAD=%d\n", avail);
  close(r);
  /* connected UDP to a closed port learns ECONNREFUSED */
  MUST(connect(s, (struct sockaddr *)&a, sizeof a));
  SHOW("udp send to closed", send(s, "x", 1, 0));
  EXPECT_ERR("udp next recv", recv(s, b, 1, MSG_DONTWAIT), ECONNREFUSED);
  EXPECT_ERR("udp sendto no dest", send(socket(AF_INET, SOCK_DGRAM, 0), "x", 1, 0), EDESTADDRREQ);
  close(s);
}

static void misc(void) {
  int a = socket(AF_INET, SOCK_STREAM, 0), b = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_ANY)};
  MUST(bind(a, (struct sockaddr *)&sa, sizeof sa));
  sa.sin_port = htons(port_of(a));
  MUST(listen(a, 1));
  EXPECT_ERR("bind same port", bind(b, (struct sockaddr *)&sa, sizeof sa), EADDRINUSE);
  sa.sin_addr.s_addr = inet_addr("192.0.2.1");
  EXPECT_ERR("bind foreign addr", bind(b, (struct sockaddr *)&sa, sizeof sa), EADDRNOTAVAIL);
  EXPECT_ERR("getpeername unconnected", getpeername(b, (struct sockaddr *)&sa, &(socklen_t){sizeof sa}), ENOTCONN);
  EXPECT_ERR("bind short", bind(b, (struct sockaddr *)&sa, 4), EINVAL);
  int v = 0; socklen_t vl = sizeof v;
  getsockopt(b, SOL_SOCKET, SO_TYPE, &v, &vl); printf("SO_TYPE=%d\n", v);
  getsockopt(b, SOL_SOCKET, SO_PROTOCOL, &v, &vl); printf("SO_PROTOCOL=%d\n", v);
  getsockopt(b, SOL_SOCKET, SO_DOMAIN, &v, &vl); printf("SO_DOMAIN=%d\n", v);
  v = 10000; setsockopt(b, SOL_SOCKET, SO_SNDBUF, &v, sizeof v);
  getsockopt(b, SOL_SOCKET, SO_SNDBUF, &v, &vl); printf("SO_SNDBUF=%d\n", v);
  struct timeval tv = {0, 50000};
  SHOW("SO_RCVTIMEO", setsockopt(b, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
  int sv[2]; MUST(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
  setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char c;
  EXPECT_ERR("recv with timeout", recv(sv[0], &c, 1, 0), EAGAIN);
  EXPECT_ERR("unix TCP_NODELAY", setsockopt(sv[0], IPPROTO_TCP, TCP_NODELAY, &v, sizeof v), EOPNOTSUPP);
  EXPECT_ERR("bad SOL_SOCKET opt", getsockopt(sv[0], SOL_SOCKET, 9999, &v, &vl), ENOPROTOOPT);
  close(sv[0]); close(sv[1]); close(a); close(b);
}

static void ifaddrs(void) {
  struct ifaddrs *ifa;
  MUST(getifaddrs(&ifa));
  for (struct ifaddrs *i = ifa; i; i = i->ifa_next) {
    if (strcmp(i->ifa_name, "lo") != 0 || !i->ifa_addr) continue;
    char buf[64] = "";
    int fam = i->ifa_addr->sa_family;
    if (fam == AF_INET) inet_ntop(fam, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, buf, sizeof buf);
    else if (fam == AF_INET6) inet_ntop(fam, &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr, buf, sizeof buf);
    else strcpy(buf, "link");
    printf("ifaddr lo %d %s up=%d loopback=%d\n", fam, buf, (i->ifa_flags & IFF_UP) != 0, (i->ifa_flags & IFF_LOOPBACK) != 0);
  }
  freeifaddrs(ifa);
  printf("if_nametoindex(lo)=%u\n", if_nametoindex("lo"));
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  tcp(AF_INET);
  tcp(AF_INET6);
  udp();
  misc();
  ifaddrs();
  printf("done\n");
  return 0;
}
