/* connect(2) with AF_UNSPEC on a live socket (Linux's disconnect): a connected TCP socket
 * is reset (its peer reads ECONNRESET) and becomes unconnected, so it can connect again; a
 * listener stops listening; a UDP socket drops its association. v4 and v6 over loopback. */
#include "common.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

static int fam;
static struct sockaddr_storage lo;
static socklen_t lol;
static const struct sockaddr unspec = {.sa_family = AF_UNSPEC};

static void set_lo(int port) {
  memset(&lo, 0, sizeof lo);
  if (fam == AF_INET) {
    struct sockaddr_in *a = (void *)&lo;
    a->sin_family = AF_INET; a->sin_addr.s_addr = htonl(INADDR_LOOPBACK); a->sin_port = htons(port);
    lol = sizeof *a;
  } else {
    struct sockaddr_in6 *a = (void *)&lo;
    a->sin6_family = AF_INET6; a->sin6_addr = in6addr_loopback; a->sin6_port = htons(port);
    lol = sizeof *a;
  }
}

static int port_of(int fd) {
  struct sockaddr_storage ss; socklen_t l = sizeof ss;
  if (getsockname(fd, (struct sockaddr *)&ss, &l) < 0) return -1;
  return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* getsockname as "any"/"loopback" and whether the port is 0, the old one, or another. */
static void show_name(const char *label, int fd, int old) {
  struct sockaddr_storage ss; socklen_t l = sizeof ss;
  if (getsockname(fd, (struct sockaddr *)&ss, &l) < 0) { printf("%s: -1 %s\n", label, ename(errno)); return; }
  int any, port;
  if (ss.ss_family == AF_INET) {
    struct sockaddr_in *a = (void *)&ss; any = a->sin_addr.s_addr == 0; port = ntohs(a->sin_port);
  } else {
    struct sockaddr_in6 *a = (void *)&ss; any = IN6_IS_ADDR_UNSPECIFIED(&a->sin6_addr); port = ntohs(a->sin6_port);
  }
  printf("%s: family %s, addr %s, port %s\n", label, ss.ss_family == fam ? "same" : "other",
         any ? "any" : "loopback", port == 0 ? "0" : port == old ? "kept" : "other");
}

static int sock_err(int fd) {
  int e = 0; socklen_t l = sizeof e;
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &l);
  return e;
}

static int listener(void) {
  int l = socket(fam, SOCK_STREAM, 0), one = 1;
  MUST(l);
  setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  set_lo(0);
  MUST(bind(l, (struct sockaddr *)&lo, lol));
  MUST(listen(l, 8));
  set_lo(port_of(l));
  return l;
}

static void tcp(int bound) {
  printf("-- tcp %s%s\n", fam == AF_INET ? "v4" : "v6", bound ? " bound" : "");
  int l = listener();
  int lport = port_of(l);
  int c = socket(fam, SOCK_STREAM, 0);
  MUST(c);
  int cport = 0;
  if (bound) {
    struct sockaddr_storage b = lo; socklen_t bl = lol;
    ((struct sockaddr_in *)&b)->sin_port = 0;
    MUST(bind(c, (struct sockaddr *)&b, bl));
    cport = port_of(c);
  }
  SHOW("unconnected disconnect", connect(c, &unspec, sizeof unspec));
  SHOW("connect", connect(c, (struct sockaddr *)&lo, lol));
  if (!bound) cport = port_of(c);
  int s = accept(l, NULL, NULL);
  MUST(s);
  SHOW("server send", send(s, "hello", 5, 0));
  SHOW("client send", send(c, "abc", 3, 0));
  char b[16];
  SHOW("server recv", recv(s, b, sizeof b, 0));
  EXPECT_ERR("short addrlen", connect(c, &unspec, 1), EINVAL);
  SHOW("disconnect", connect(c, &unspec, sizeof(sa_family_t)));
  show_name("name after", c, cport);
  struct sockaddr_storage ss; socklen_t sl = sizeof ss;
  EXPECT_ERR("getpeername after", getpeername(c, (struct sockaddr *)&ss, &sl), ENOTCONN);
  struct pollfd p = {.fd = c, .events = POLLIN | POLLOUT};
  poll(&p, 1, 0);
  printf("client poll: in=%d out=%d err=%d hup=%d\n", !!(p.revents & POLLIN), !!(p.revents & POLLOUT),
         !!(p.revents & POLLERR), !!(p.revents & POLLHUP));
  printf("client SO_ERROR: %s\n", ename(sock_err(c)));
  EXPECT_ERR("client recv after", recv(c, b, sizeof b, MSG_DONTWAIT), ENOTCONN);
  EXPECT_ERR("client send after", send(c, "x", 1, MSG_NOSIGNAL), EPIPE);
  /* The peer got the reset: its next read fails, then reads end. */
  struct pollfd sp = {.fd = s, .events = POLLIN};
  poll(&sp, 1, 5000);
  EXPECT_ERR("server recv after reset", recv(s, b, sizeof b, 0), ECONNRESET);
  SHOW("server recv again", recv(s, b, sizeof b, 0));
  close(s);
  /* Unconnected again: connect works as on a fresh socket. */
  SHOW("reconnect", connect(c, (struct sockaddr *)&lo, lol));
  show_name("name after reconnect", c, cport);
  s = accept(l, NULL, NULL);
  MUST(s);
  SHOW("send after reconnect", send(c, "again", 5, 0));
  SHOW("recv after reconnect", recv(s, b, sizeof b, 0));
  EXPECT_ERR("connect while connected", connect(c, (struct sockaddr *)&lo, lol), EISCONN);
  close(s);
  close(c);
  /* A listener stops listening; it may listen again. */
  SHOW("listener disconnect", connect(l, &unspec, sizeof unspec));
  int acc = -1; socklen_t al = sizeof acc;
  getsockopt(l, SOL_SOCKET, SO_ACCEPTCONN, &acc, &al);
  printf("SO_ACCEPTCONN after: %d\n", acc);
  show_name("listener name after", l, lport);
  int c2 = socket(fam, SOCK_STREAM, 0);
  EXPECT_ERR("connect to stopped listener", connect(c2, (struct sockaddr *)&lo, lol), ECONNREFUSED);
  close(c2);
  close(l);
}

static void udp(void) {
  printf("-- udp %s\n", fam == AF_INET ? "v4" : "v6");
  int r = socket(fam, SOCK_DGRAM, 0);
  MUST(r);
  set_lo(0);
  MUST(bind(r, (struct sockaddr *)&lo, lol));
  set_lo(port_of(r));
  int u = socket(fam, SOCK_DGRAM, 0);
  MUST(u);
  SHOW("unconnected disconnect", connect(u, &unspec, sizeof unspec));
  SHOW("connect", connect(u, (struct sockaddr *)&lo, lol));
  int uport = port_of(u);
  SHOW("send connected", send(u, "one", 3, 0));
  SHOW("disconnect", connect(u, &unspec, sizeof unspec));
  show_name("name after", u, uport);
  struct sockaddr_storage ss; socklen_t sl = sizeof ss;
  EXPECT_ERR("getpeername after", getpeername(u, (struct sockaddr *)&ss, &sl), ENOTCONN);
  EXPECT_ERR("send after", send(u, "two", 3, 0), EDESTADDRREQ);
  SHOW("sendto after", sendto(u, "three", 5, 0, (struct sockaddr *)&lo, lol));
  char b[16];
  SHOW("recv 1", recv(r, b, sizeof b, 0));
  SHOW("recv 2", recv(r, b, sizeof b, 0));
  close(u);
  close(r);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  int fams[] = {AF_INET, AF_INET6};
  for (int i = 0; i < 2; i++) {
    fam = fams[i];
    tcp(0);
    tcp(1);
    udp();
  }
  printf("done\n");
  return 0;
}
