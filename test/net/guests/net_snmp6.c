/* /proc/net/snmp6 against Linux: the names (in Linux's order) and what a raw ICMPv6
 * socket's echo of ::1, a small UDP datagram over ::1, one to a closed port and a
 * 4000-byte one with lo's MTU at 1500 (fragmented, reassembled) add to each counter.
 * The MTU is put back at the end. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/icmp6.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void die(const char *what) { printf("%s: %s\n", what, strerror(errno)); exit(1); }

#define MAXN 256
struct snap { int n; char name[MAXN][40]; long long v[MAXN]; };

static void snap(struct snap *s) {
  FILE *f = fopen("/proc/net/snmp6", "r");
  if (!f) die("/proc/net/snmp6");
  s->n = 0;
  while (s->n < MAXN && fscanf(f, "%39s %lld", s->name[s->n], &s->v[s->n]) == 2) s->n++;
  fclose(f);
}

static int bynum(const char *n) { return !strncmp(n, "Icmp6InType", 11) || !strncmp(n, "Icmp6OutType", 12); }

static struct sockaddr_in6 lo6(int port) {
  struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons(port), .sin6_addr = IN6ADDR_LOOPBACK_INIT};
  return a;
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  struct snap a, b;
  snap(&a);
  /* Names: every line "Name<spaces>\tValue" with the name padded to 32 columns. */
  FILE *f = fopen("/proc/net/snmp6", "r");
  char line[256];
  int good = 1, lines = 0;
  while (fgets(line, sizeof line, f)) {
    lines++;
    char *tab = strchr(line, '\t');
    if (tab == NULL || tab - line < 32 || line[31] == '\t') good = 0;
  }
  fclose(f);
  printf("lines padded to 32 then a tab: %d\n", good && lines > 0);
  /* The fixed lines' names (the by-number Icmp6 lines depend on earlier traffic). */
  for (int i = 0; i < a.n; i++)
    if (!bynum(a.name[i])) printf("name %s\n", a.name[i]);

  /* An echo request to ::1 from a raw socket (root) and its reply. */
  int p = socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6);
  if (p < 0) die("raw socket");
  struct icmp6_hdr e = {.icmp6_type = ICMP6_ECHO_REQUEST};
  struct sockaddr_in6 d = lo6(0);
  if (sendto(p, &e, sizeof e, 0, (void *)&d, sizeof d) < 0) die("ping");
  char buf[5000];
  struct pollfd pf = {.fd = p, .events = POLLIN};
  for (;;) { /* the raw socket sees its own request too */
    if (poll(&pf, 1, 5000) != 1 || recv(p, buf, sizeof buf, 0) < 1) die("echo reply");
    if ((unsigned char)buf[0] == ICMP6_ECHO_REPLY) break;
  }

  /* UDP: a small datagram to itself, one to a closed port (port unreachable back). */
  int u = socket(AF_INET6, SOCK_DGRAM, 0);
  struct sockaddr_in6 ua = lo6(0);
  socklen_t ul = sizeof ua;
  if (bind(u, (void *)&ua, sizeof ua) < 0 || getsockname(u, (void *)&ua, &ul) < 0) die("bind");
  if (sendto(u, "hi", 2, 0, (void *)&ua, sizeof ua) != 2 || recv(u, buf, sizeof buf, 0) != 2) die("udp");
  int c = socket(AF_INET6, SOCK_DGRAM, 0);
  struct sockaddr_in6 closed = lo6(9);
  if (connect(c, (void *)&closed, sizeof closed) < 0 || send(c, "x", 1, 0) != 1) die("closed");
  pf.fd = c;
  poll(&pf, 1, 5000);
  ssize_t cr = recv(c, buf, sizeof buf, 0);
  printf("closed port: %zd %s\n", cr, cr < 0 ? strerror(errno) : "-");

  /* Fragmented: lo at MTU 1500, 4000 bytes. */
  if (system("ip link set dev lo mtu 1500") != 0) die("ip link set mtu");
  static char big[4000];
  memset(big, 'z', sizeof big);
  if (sendto(u, big, sizeof big, 0, (void *)&ua, sizeof ua) != (ssize_t)sizeof big) die("big");
  printf("big: %zd\n", recv(u, buf, sizeof buf, 0));
  if (system("ip link set dev lo mtu 65536") != 0) die("ip link set mtu back");

  snap(&b);
  /* By name: lines of types first seen (Icmp6InType128 ...) start from 0. */
  for (int i = 0; i < b.n; i++) {
    long long was = 0;
    for (int j = 0; j < a.n; j++)
      if (!strcmp(a.name[j], b.name[i])) was = a.v[j];
    if (b.v[i] != was) printf("%s +%lld\n", b.name[i], b.v[i] - was);
  }
  printf("done\n");
  return 0;
}
