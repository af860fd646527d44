/* Network namespaces (issue 15): a new one has only lo, down until brought up
 * (RTM_NEWLINK over netlink, as `ip link set lo up`), its own ports, and nothing of
 * the namespace it came from is reachable; against Linux. Run as root. */
#define _GNU_SOURCE
#include "common.h"
#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/ioctl.h>
#include <sys/wait.h>

static struct sockaddr_in lo_addr(int port) {
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

static int listener(int *port) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = lo_addr(*port);
  if (bind(s, (struct sockaddr *)&a, sizeof a) < 0) { int e = errno; close(s); errno = e; return -1; }
  socklen_t n = sizeof a;
  getsockname(s, (struct sockaddr *)&a, &n);
  *port = ntohs(a.sin_port);
  listen(s, 4);
  return s;
}

static int try_connect(int port) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = lo_addr(port);
  int r = connect(s, (struct sockaddr *)&a, sizeof a);
  int e = errno;
  if (r < 0) { close(s); errno = e; return -1; }
  return s;
}

static int lo_up(void) {
  int s = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
  if (s < 0) return -1;
  struct { struct nlmsghdr h; struct ifinfomsg i; } m = { 0 };
  m.h.nlmsg_len = sizeof m;
  m.h.nlmsg_type = RTM_NEWLINK;
  m.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  m.h.nlmsg_seq = 1;
  m.i.ifi_family = AF_UNSPEC;
  m.i.ifi_index = if_nametoindex("lo");
  m.i.ifi_flags = IFF_UP;
  m.i.ifi_change = IFF_UP;
  if (send(s, &m, sizeof m, 0) < 0) { close(s); return -1; }
  char buf[512];
  ssize_t n = recv(s, buf, sizeof buf, 0);
  close(s);
  if (n < (ssize_t)sizeof(struct nlmsghdr)) return -1;
  struct nlmsghdr *h = (struct nlmsghdr *)buf;
  if (h->nlmsg_type != NLMSG_ERROR) return -1;
  int err = ((struct nlmsgerr *)NLMSG_DATA(h))->error;
  if (err) { errno = -err; return -1; }
  return 0;
}

static int lo_flags(void) {
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  struct ifreq r = { 0 };
  strcpy(r.ifr_name, "lo");
  int x = ioctl(s, SIOCGIFFLAGS, &r);
  close(s);
  return x < 0 ? -1 : (r.ifr_flags & IFF_UP) != 0;
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  int port = 0;
  int l = listener(&port);
  MUST(l);
  char before[64] = "", after[64] = "";
  readlink("/proc/self/ns/net", before, sizeof before - 1);
  printf("lo up outside: %d\n", lo_flags());
  pid_t p = fork();
  if (p == 0) {
    MUST(unshare(CLONE_NEWNET));
    readlink("/proc/self/ns/net", after, sizeof after - 1);
    FACT("net ns link changed", strcmp(before, after) != 0);
    printf("lo up in the new ns: %d\n", lo_flags());
    EXPECT_ERR("connect while lo is down", try_connect(port), ENETUNREACH);
    SHOW("bring lo up", lo_up());
    printf("lo up now: %d\n", lo_flags());
    EXPECT_ERR("connect to the outer listener", try_connect(port), ECONNREFUSED);
    int same = port;
    int l2 = listener(&same);
    FACT("the same port is free here", l2 >= 0 && same == port);
    int c = try_connect(port);
    FACT("connect inside", c >= 0);
    int a = accept(l2, NULL, NULL);
    FACT("accept inside", a >= 0);
    SHOW("send", send(c, "ns", 2, 0));
    char b[4] = { 0 };
    SHOW("recv", recv(a, b, sizeof b, 0));
    printf("got: %s\n", b);
    _exit(0);
  }
  int st;
  waitpid(p, &st, 0);
  printf("child: exit %d\n", WEXITSTATUS(st));
  fcntl(l, F_SETFL, O_NONBLOCK);
  EXPECT_ERR("outer listener got nothing", accept(l, NULL, NULL), EAGAIN);
  int c = try_connect(port);
  FACT("outer connect still works", c >= 0);
  return 0;
}
