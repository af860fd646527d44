/* Socket behaviour over TCP/UDP on loopback, for comparison with Linux: error cases,
 * nonblocking connect and SO_ERROR, poll/epoll readiness (edge-triggered transitions),
 * SO_LINGER 0 resets, EPIPE/SIGPIPE, MSG_PEEK/WAITALL/DONTWAIT/TRUNC, options
 * (TCP_INFO state, IP_TTL, IPV6_V6ONLY, SO_RCVBUF), IP_PKTINFO/IPV6_RECVPKTINFO. */
#include "common.h"
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>

static int fam;
static volatile int sigpipes;
static void on_pipe(int s) { (void)s; sigpipes++; }

static socklen_t addr(struct sockaddr_storage *ss, int port) {
  memset(ss, 0, sizeof *ss);
  if (fam == AF_INET) {
    struct sockaddr_in *a = (void *)ss; a->sin_family = AF_INET; a->sin_port = htons(port); a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return sizeof *a;
  }
  struct sockaddr_in6 *a = (void *)ss; a->sin6_family = AF_INET6; a->sin6_port = htons(port); a->sin6_addr = in6addr_loopback;
  return sizeof *a;
}
static int port_of(int fd) {
  struct sockaddr_storage ss; socklen_t l = sizeof ss;
  getsockname(fd, (struct sockaddr *)&ss, &l);
  return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}
static int listener(int *port) {
  int s = socket(fam, SOCK_STREAM, 0);
  struct sockaddr_storage ss; socklen_t l = addr(&ss, 0);
  MUST(bind(s, (struct sockaddr *)&ss, l));
  MUST(listen(s, 8));
  *port = port_of(s);
  return s;
}
static int connect_to(int port, int nonblock) {
  int c = socket(fam, SOCK_STREAM | (nonblock ? SOCK_NONBLOCK : 0), 0);
  struct sockaddr_storage ss; socklen_t l = addr(&ss, port);
  int r = connect(c, (struct sockaddr *)&ss, l);
  if (r < 0 && !(nonblock && errno == EINPROGRESS)) { printf("connect: %s\n", ename(errno)); return -1; }
  return c;
}
static const char *ev(int m) {
  static char b[128];
  b[0] = 0;
  if (m & POLLIN) strcat(b, "IN ");
  if (m & POLLOUT) strcat(b, "OUT ");
  if (m & POLLERR) strcat(b, "ERR ");
  if (m & POLLHUP) strcat(b, "HUP ");
  if (m & POLLRDHUP) strcat(b, "RDHUP ");
  if (!b[0]) strcat(b, "-");
  return b;
}
static int pollmask(int fd, int ms) {
  struct pollfd p = {fd, POLLIN | POLLOUT | POLLRDHUP, 0};
  poll(&p, 1, ms);
  return p.revents;
}
/* Waits (up to 20 s) until fd's mask includes want. The bound is a clock, not a count:
   poll returns at once while the socket is writable, so 500 polls took a few ms. */
static int wait_mask(int fd, int want) {
  struct timespec t0, t;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  int m = 0;
  for (;;) {
    m = pollmask(fd, 10);
    if ((m & want) == want) break;
    clock_gettime(CLOCK_MONOTONIC, &t);
    if (t.tv_sec - t0.tv_sec >= 20) break;
    if (m) usleep(1000);
  }
  return m;
}
/* Waits (up to 20 s) until fd has at least n bytes to read; returns FIONREAD. */
static int wait_bytes(int fd, int n) {
  int have = 0;
  for (int i = 0; i < 20000; i++) { ioctl(fd, FIONREAD, &have); if (have >= n) break; usleep(1000); }
  return have;
}
static int sockerr(int fd) {
  int e = -1; socklen_t l = sizeof e;
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &l);
  return e;
}

static void errors(void) {
  int port;
  int l = listener(&port);
  close(l); /* the port is now closed */
  struct sockaddr_storage ss; socklen_t sl = addr(&ss, port);
  int c = socket(fam, SOCK_STREAM, 0);
  EXPECT_ERR("connect to closed port", connect(c, (struct sockaddr *)&ss, sl), ECONNREFUSED);
  close(c);
  c = socket(fam, SOCK_STREAM | SOCK_NONBLOCK, 0);
  EXPECT_ERR("nonblocking connect", connect(c, (struct sockaddr *)&ss, sl), EINPROGRESS);
  int m = wait_mask(c, POLLERR);
  printf("refused poll: %s\n", ev(m));
  printf("SO_ERROR: %s, then %d\n", ename(sockerr(c)), sockerr(c));
  close(c);
  c = socket(fam, SOCK_STREAM, 0);
  char b[4];
  EXPECT_ERR("recv unconnected", recv(c, b, 4, 0), ENOTCONN);
  EXPECT_ERR("send unconnected", send(c, b, 4, MSG_NOSIGNAL), EPIPE);
  struct sockaddr_storage p; socklen_t pl = sizeof p;
  EXPECT_ERR("getpeername unconnected", getpeername(c, (struct sockaddr *)&p, &pl), ENOTCONN);
  EXPECT_ERR("shutdown unconnected", shutdown(c, SHUT_RDWR), ENOTCONN);
  EXPECT_ERR("accept not listening", accept(c, NULL, NULL), EINVAL);
  printf("fresh socket poll: %s\n", ev(pollmask(c, 0)));
  close(c);
  /* Address in use, reuse rules. */
  int a1 = listener(&port);
  int a2 = socket(fam, SOCK_STREAM, 0);
  sl = addr(&ss, port);
  EXPECT_ERR("bind in use", bind(a2, (struct sockaddr *)&ss, sl), EADDRINUSE);
  int one = 1;
  setsockopt(a2, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  EXPECT_ERR("bind in use (REUSEADDR, listener)", bind(a2, (struct sockaddr *)&ss, sl), EADDRINUSE);
  close(a2);
  close(a1);
  int r1 = socket(fam, SOCK_STREAM, 0), r2 = socket(fam, SOCK_STREAM, 0);
  setsockopt(r1, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  setsockopt(r2, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  sl = addr(&ss, 0);
  SHOW("REUSEPORT bind 1", bind(r1, (struct sockaddr *)&ss, sl));
  sl = addr(&ss, port_of(r1));
  SHOW("REUSEPORT bind 2", bind(r2, (struct sockaddr *)&ss, sl));
  close(r1);
  close(r2);
  /* A documentation address is not ours. */
  c = socket(fam, SOCK_STREAM, 0);
  if (fam == AF_INET) {
    struct sockaddr_in a = {.sin_family = AF_INET};
    inet_pton(AF_INET, "198.51.100.77", &a.sin_addr);
    EXPECT_ERR("bind foreign address", bind(c, (struct sockaddr *)&a, sizeof a), EADDRNOTAVAIL);
  } else {
    struct sockaddr_in6 a = {.sin6_family = AF_INET6};
    inet_pton(AF_INET6, "2001:db8::77", &a.sin6_addr);
    EXPECT_ERR("bind foreign address", bind(c, (struct sockaddr *)&a, sizeof a), EADDRNOTAVAIL);
  }
  close(c);
}

static void readiness(void) {
  int port;
  int l = listener(&port);
  int c = connect_to(port, 1);
  int m = wait_mask(c, POLLOUT);
  printf("nonblocking connect done: %s SO_ERROR=%d\n", ev(m), sockerr(c));
  struct sockaddr_storage ss; socklen_t sl = addr(&ss, port);
  EXPECT_ERR("connect again", connect(c, (struct sockaddr *)&ss, sl), EISCONN);
  int s = accept(l, NULL, NULL);
  MUST(s);
  struct tcp_info ti; socklen_t tl = sizeof ti;
  getsockopt(c, IPPROTO_TCP, TCP_INFO, &ti, &tl);
  printf("TCP_INFO state %d\n", ti.tcpi_state);
  printf("idle: %s\n", ev(pollmask(c, 0)));
  int ep = epoll_create1(0);
  struct epoll_event e = {.events = EPOLLIN | EPOLLET, .data.fd = c};
  epoll_ctl(ep, EPOLL_CTL_ADD, c, &e);
  struct epoll_event out[4];
  printf("epoll ET before data: %d\n", epoll_wait(ep, out, 4, 0));
  write(s, "hello", 5);
  printf("epoll ET after data: %d\n", epoll_wait(ep, out, 4, 5000));
  printf("epoll ET again: %d\n", epoll_wait(ep, out, 4, 0));
  write(s, "world", 5);
  printf("epoll ET more data: %d\n", epoll_wait(ep, out, 4, 5000));
  m = wait_mask(c, POLLIN);
  int n = wait_bytes(c, 10);
  printf("readable: %s FIONREAD=%d\n", ev(m), n);
  char b[64];
  SHOW("MSG_PEEK", recv(c, b, 3, MSG_PEEK));
  SHOW("recv", recv(c, b, 10, 0));
  EXPECT_ERR("MSG_DONTWAIT empty", recv(c, b, 10, MSG_DONTWAIT), EAGAIN);
  /* MSG_WAITALL across two writes. */
  write(s, "abc", 3);
  usleep(20000);
  write(s, "defgh", 5);
  SHOW("MSG_WAITALL", recv(c, b, 8, MSG_WAITALL));
  write(s, "12345", 5);
  wait_bytes(c, 5);
  SHOW("MSG_TRUNC (discard)", recv(c, NULL, 3, MSG_TRUNC));
  SHOW("after discard", recv(c, b, 10, 0));
  printf("after discard data: %.2s\n", b);
  /* Half close from the server. */
  shutdown(s, SHUT_WR);
  m = wait_mask(c, POLLRDHUP);
  printf("peer shut wr: %s\n", ev(m));
  SHOW("read at eof", read(c, b, 10));
  SHOW("write after peer half-close", write(c, "x", 1));
  shutdown(c, SHUT_WR);
  m = wait_mask(c, POLLHUP);
  printf("both shut: %s\n", ev(m));
  close(c);
  close(s);
  close(ep);
  close(l);
}

static void resets(void) {
  int port;
  int l = listener(&port);
  int c = connect_to(port, 0);
  int s = accept(l, NULL, NULL);
  struct linger lg = {1, 0};
  setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  close(s);
  int m = wait_mask(c, POLLERR);
  printf("after peer linger-0 close: %s\n", ev(m));
  char b[8];
  EXPECT_ERR("read after RST", read(c, b, 8), ECONNRESET);
  SHOW("read after RST again", read(c, b, 8));
  close(c);
  /* Unread data at close: RST as well. */
  c = connect_to(port, 0);
  s = accept(l, NULL, NULL);
  write(c, "unread", 6);
  wait_bytes(s, 6); /* it has come: the close then resets */
  close(s);
  m = wait_mask(c, POLLERR);
  printf("after close with unread data: %s\n", ev(m));
  EXPECT_ERR("write after RST", write(c, "x", 1), ECONNRESET);
  close(c);
  /* EPIPE and SIGPIPE: the peer closed normally, our writes meet its RST. */
  c = connect_to(port, 0);
  s = accept(l, NULL, NULL);
  close(s);
  wait_mask(c, POLLRDHUP);
  SHOW("first write to closed peer", write(c, "a", 1));
  wait_mask(c, POLLERR);
  sigpipes = 0;
  EXPECT_ERR("second write", write(c, "b", 1), EPIPE);
  EXPECT_ERR("third write (MSG_NOSIGNAL)", send(c, "c", 1, MSG_NOSIGNAL), EPIPE);
  printf("SIGPIPEs: %d\n", sigpipes);
  close(c);
  close(l);
}

static void options(void) {
  int c = socket(fam, SOCK_STREAM, 0);
  int v = -1; socklen_t l = sizeof v;
  if (fam == AF_INET) {
    getsockopt(c, IPPROTO_IP, IP_TTL, &v, &l);
    printf("IP_TTL default %d\n", v);
    v = 10;
    SHOW("IP_TTL set 10", setsockopt(c, IPPROTO_IP, IP_TTL, &v, sizeof v));
    getsockopt(c, IPPROTO_IP, IP_TTL, &v, &l);
    printf("IP_TTL now %d\n", v);
    v = 0;
    EXPECT_ERR("IP_TTL 0", setsockopt(c, IPPROTO_IP, IP_TTL, &v, sizeof v), EINVAL);
  } else {
    v = 1;
    SHOW("IPV6_V6ONLY", setsockopt(c, IPPROTO_IPV6, IPV6_V6ONLY, &v, sizeof v));
    struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = in6addr_any};
    MUST(bind(c, (struct sockaddr *)&a, sizeof a));
    MUST(listen(c, 1));
    int port = port_of(c);
    int c4 = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    EXPECT_ERR("v4 connect to v6only listener", connect(c4, (struct sockaddr *)&a4, sizeof a4), ECONNREFUSED);
    close(c4);
  }
  v = 4096;
  setsockopt(c, SOL_SOCKET, SO_RCVBUF, &v, sizeof v);
  getsockopt(c, SOL_SOCKET, SO_RCVBUF, &v, &l);
  printf("SO_RCVBUF after 4096: %d\n", v);
  v = 1;
  SHOW("TCP_NODELAY", setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &v, sizeof v));
  v = 0;
  getsockopt(c, IPPROTO_TCP, TCP_NODELAY, &v, &l);
  printf("TCP_NODELAY get %d\n", v);
  v = 0;
  EXPECT_ERR("TCP_KEEPIDLE 0", setsockopt(c, IPPROTO_TCP, TCP_KEEPIDLE, &v, sizeof v), EINVAL);
  close(c);
}

static void udp(void) {
  int r = socket(fam, SOCK_DGRAM, 0), s = socket(fam, SOCK_DGRAM, 0);
  struct sockaddr_storage ss; socklen_t sl = addr(&ss, 0);
  MUST(bind(r, (struct sockaddr *)&ss, sl));
  int one = 1;
  if (fam == AF_INET) setsockopt(r, IPPROTO_IP, IP_PKTINFO, &one, sizeof one);
  else setsockopt(r, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one);
  sl = addr(&ss, port_of(r));
  SHOW("sendto", sendto(s, "datagram-one", 12, 0, (struct sockaddr *)&ss, sl));
  wait_mask(r, POLLIN);
  char b[64], cbuf[256];
  struct iovec iov = {b, 4};
  struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
  SHOW("recvmsg (truncated)", recvmsg(r, &mh, MSG_TRUNC));
  printf("msg_flags TRUNC: %d\n", !!(mh.msg_flags & MSG_TRUNC));
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
    if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
      struct in_pktinfo *pi = (void *)CMSG_DATA(c);
      char a[64];
      inet_ntop(AF_INET, &pi->ipi_addr, a, sizeof a);
      printf("IP_PKTINFO addr %s ifindex %d\n", a, pi->ipi_ifindex);
    } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
      struct in6_pktinfo *pi = (void *)CMSG_DATA(c);
      char a[64];
      inet_ntop(AF_INET6, &pi->ipi6_addr, a, sizeof a);
      printf("IPV6_PKTINFO addr %s ifindex %d\n", a, pi->ipi6_ifindex);
    } else printf("cmsg %d/%d\n", c->cmsg_level, c->cmsg_type);
  }
  /* A connected UDP socket learns of an unreachable port. */
  int gone = socket(fam, SOCK_DGRAM, 0);
  sl = addr(&ss, 0);
  bind(gone, (struct sockaddr *)&ss, sl);
  int gport = port_of(gone);
  close(gone);
  sl = addr(&ss, gport);
  MUST(connect(s, (struct sockaddr *)&ss, sl));
  SHOW("send to closed port", send(s, "x", 1, 0));
  wait_mask(s, POLLERR);
  EXPECT_ERR("recv after port unreachable", recv(s, b, 8, MSG_DONTWAIT), ECONNREFUSED);
  close(r);
  close(s);
}

int main(void) {
  signal(SIGPIPE, on_pipe);
  setvbuf(stdout, NULL, _IONBF, 0);
  int fams[2] = {AF_INET, AF_INET6};
  for (int i = 0; i < 2; i++) {
    fam = fams[i];
    printf("== %s\n", fam == AF_INET ? "inet" : "inet6");
    errors();
    readiness();
    resets();
    options();
    udp();
  }
  printf("done\n");
  return 0;
}
