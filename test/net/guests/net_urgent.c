/* TCP urgent data over loopback (v4 and v6), against Linux: send(MSG_OOB), reads that stop
 * at the mark, SIOCATMARK, recv(MSG_OOB) (with MSG_PEEK, twice, with no room), POLLPRI,
 * a read past the mark, SO_OOBINLINE, a newer mark replacing an unread one, and the
 * errors (EINVAL with no urgent byte, ENOTCONN on a listener); MSG_ERRQUEUE never waits. */
#define _GNU_SOURCE
#include "common.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

static int lst, cli, srv;

static void pair(int family) {
  struct sockaddr_storage ss = {0};
  socklen_t sl;
  if (family == AF_INET) {
    struct sockaddr_in *a = (void *)&ss; a->sin_family = AF_INET; a->sin_addr.s_addr = htonl(INADDR_LOOPBACK); sl = sizeof *a;
  } else {
    struct sockaddr_in6 *a = (void *)&ss; a->sin6_family = AF_INET6; a->sin6_addr = in6addr_loopback; sl = sizeof *a;
  }
  MUST(lst = socket(family, SOCK_STREAM, 0));
  MUST(bind(lst, (struct sockaddr *)&ss, sl));
  MUST(listen(lst, 4));
  MUST(getsockname(lst, (struct sockaddr *)&ss, &sl));
  MUST(cli = socket(family, SOCK_STREAM, 0));
  MUST(connect(cli, (struct sockaddr *)&ss, sl));
  MUST(srv = accept(lst, NULL, NULL));
}

static void unpair(void) {
  close(cli);
  close(srv);
  close(lst);
}

/* Until everything sent has been acknowledged (so it is all queued at the receiver). */
static void await(void) {
  for (int i = 0; i < 5000; i++) {
    int q = 0;
    ioctl(cli, SIOCOUTQ, &q);
    if (q == 0) return;
    usleep(1000);
  }
  printf("timed out waiting for the ACK\n");
}

static void inq(const char *what) {
  int q = -1;
  ioctl(srv, FIONREAD, &q);
  printf("%s: FIONREAD %d\n", what, q);
}

static void mark(const char *what) {
  int m = -1;
  if (ioctl(srv, SIOCATMARK, &m) < 0) printf("%s: SIOCATMARK -1 %s\n", what, ename(errno));
  else printf("%s: at mark %d\n", what, m);
}

static void events(const char *what) {
  struct pollfd p = {.fd = srv, .events = POLLIN | POLLPRI};
  int n = poll(&p, 1, 0);
  printf("%s: poll %d%s%s\n", what, n, p.revents & POLLIN ? " IN" : "", p.revents & POLLPRI ? " PRI" : "");
}

static void rd(const char *what) {
  char b[64];
  ssize_t n = recv(srv, b, sizeof b, MSG_DONTWAIT);
  if (n < 0) printf("%s: read -1 %s\n", what, ename(errno));
  else printf("%s: read %zd '%.*s'\n", what, n, (int)n, b);
}

static void oob(const char *what, int flags, size_t room) {
  char b[4] = {0};
  struct iovec v = {b, room};
  struct msghdr m = {.msg_iov = &v, .msg_iovlen = 1};
  ssize_t n = recvmsg(srv, &m, MSG_OOB | flags);
  if (n < 0) printf("%s: oob -1 %s\n", what, ename(errno));
  else printf("%s: oob %zd '%.*s'%s%s\n", what, n, (int)n, b, m.msg_flags & MSG_OOB ? " MSG_OOB" : "", m.msg_flags & MSG_TRUNC ? " MSG_TRUNC" : "");
}

/* Sends before, then the urgent byte with MSG_OOB, then after; waits until all is acknowledged. */
static void urgent(const char *before, const char *byte, const char *after) {
  send(cli, before, strlen(before), 0);
  send(cli, byte, 1, MSG_OOB);
  send(cli, after, strlen(after), 0);
  await();
}

static void run(int family) {
  printf("-- family %s\n", family == AF_INET ? "inet" : "inet6");
  pair(family);
  oob("none yet", 0, 1);
  events("idle");
  SHOW("send ab", send(cli, "ab", 2, 0));
  SHOW("send ! oob", send(cli, "!", 1, MSG_OOB));
  SHOW("send cd", send(cli, "cd", 2, 0));
  await();
  events("urgent queued");
  inq("urgent queued");
  mark("before");
  rd("first");
  mark("after first");
  events("at mark");
  oob("peek", MSG_PEEK, 1);
  oob("no room", 0, 0);
  oob("take", 0, 1);
  oob("again", 0, 1);
  events("taken");
  inq("taken");
  rd("second");
  mark("after second");
  rd("empty");

  /* Read past the mark: the urgent byte is skipped, then gone. */
  urgent("xy", "#", "z");
  rd("past 1");
  rd("past 2");
  oob("past", 0, 1);

  /* A second urgent byte before the first is read: only the newer one is urgent. */
  urgent("a", "1", "b");
  send(cli, "2", 1, MSG_OOB);
  await();
  rd("two marks 1");
  oob("two marks", 0, 1);
  rd("two marks 2");

  /* SO_OOBINLINE: the byte stays in the stream; reads still stop at the mark. */
  int one = 1;
  SHOW("SO_OOBINLINE", setsockopt(srv, SOL_SOCKET, SO_OOBINLINE, &one, sizeof one));
  urgent("12", "3", "45");
  inq("inline");
  rd("inline 1");
  mark("inline");
  oob("inline", 0, 1);
  rd("inline 2");

  char c;
  /* A blocking socket's error queue is empty: at once EAGAIN, no wait (ip_recv_error). */
  EXPECT_ERR("MSG_ERRQUEUE", recv(srv, &c, 1, MSG_ERRQUEUE), EAGAIN);
  /* The listener has no connection. */
  EXPECT_ERR("oob on a listener", recv(lst, &c, 1, MSG_OOB), ENOTCONN);
  SHOW("empty oob send", send(cli, "", 0, MSG_OOB));
  unpair();
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  run(AF_INET);
  run(AF_INET6);
  printf("done\n");
  return 0;
}
