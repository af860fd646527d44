#define _GNU_SOURCE
/* ss inside: TCP listeners (v4 and a v6 wildcard, each with its backlog), connections with
 * unread bytes, one not yet accepted, a v4-mapped one on the v6 listener, UDP sockets bound
 * and connected, a unix listener; then ss (its netlink path) in several forms. Fixed ports,
 * so natively (a fresh network namespace) and inside print the same. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <sys/syscall.h>

static void die(const char *what) { printf("%s: %s\n", what, strerror(errno)); exit(1); }

static struct sockaddr_in a4(const char *ip, int port) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  inet_pton(AF_INET, ip, &a.sin_addr);
  return a;
}
static struct sockaddr_in6 a6(const char *ip, int port) {
  struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
  inet_pton(AF_INET6, ip, &a.sin6_addr);
  return a;
}
static int sock(int fam, int type, void *bind_to, socklen_t len) {
  int s = socket(fam, type | SOCK_CLOEXEC, 0);
  if (s < 0) die("socket");
  int one = 1;
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind_to && bind(s, bind_to, len) < 0) die("bind");
  return s;
}
/* Until the peer has the bytes and has acknowledged them (Send-Q 0 on the sender). */
static void settle(int sender, int receiver) {
  struct pollfd p = {.fd = receiver, .events = POLLIN};
  if (poll(&p, 1, 5000) != 1) die("poll");
  for (int i = 0; i < 500; i++) {
    int q = -1;
    ioctl(sender, SIOCOUTQ, &q);
    if (q == 0) return;
    usleep(10000);
  }
}
/* "==": compared with Linux line for line; "=~": values the host decides (rtt, memory), checked by pattern. */
static void run_as(const char *mark, const char *args) {
  printf("%s ss %s\n", mark, args);
  fflush(stdout);
  pid_t p = fork();
  if (p == 0) {
    char cmd[256];
    snprintf(cmd, sizeof cmd, "exec ss %s", args);
    execl("/bin/sh", "sh", "-c", cmd, (char *)0);
    _exit(127);
  }
  int st;
  waitpid(p, &st, 0);
  printf("-- exit %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}
static void run(const char *args) { run_as("==", args); }

/* `net_ss raw`: ss -w (raw_diag): raw sockets of several protocols, v4 and v6, one bound
 * and connected; each shows its protocol as the port, UNCONN or ESTAB (mode sandbox: the
 * loopback fast path has no raw sockets). */
static int raw_main(void) {
  int icmp = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
  int icmp6 = socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMPV6);
  int udp = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_UDP);
  int raw = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
  if (icmp < 0 || icmp6 < 0 || udp < 0 || raw < 0) die("socket raw");
  struct sockaddr_in a = a4("127.0.0.1", 0);
  if (bind(udp, (void *)&a, sizeof a) < 0 || connect(udp, (void *)&a, sizeof a) < 0) die("bind/connect raw");
  run("-wan");
  run("-wanp");
  run("-wn");
  run("-4wan");
  run("-6wan");
  printf("done\n");
  return 0;
}

int main(int argc, char **argv) {
  /* fds as numbered inside (ss -p shows them): none inherited beyond stdio. */
  syscall(SYS_close_range, 3, ~0U, 0);
  if (argc > 1 && strcmp(argv[1], "raw") == 0) return raw_main();
  struct sockaddr_in l4 = a4("127.0.0.1", 47301);
  int lis4 = sock(AF_INET, SOCK_STREAM, &l4, sizeof l4);
  if (listen(lis4, 7) < 0) die("listen");
  struct sockaddr_in6 l6 = a6("::", 47302);
  int lis6 = sock(AF_INET6, SOCK_STREAM, &l6, sizeof l6);
  if (listen(lis6, 5) < 0) die("listen6");
  /* A v6-only wildcard listener: [::] rather than *. */
  struct sockaddr_in6 l6o = a6("::", 47305);
  int lis6o = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0), on = 1;
  setsockopt(lis6o, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
  if (bind(lis6o, (void *)&l6o, sizeof l6o) < 0 || listen(lis6o, 0) < 0) die("listen6 v6only");

  /* c1 -> lis4, accepted, 5 bytes unread; c2 -> lis4, left in the accept queue. */
  struct sockaddr_in b1 = a4("127.0.0.1", 47311), b2 = a4("127.0.0.1", 47312);
  int c1 = sock(AF_INET, SOCK_STREAM, &b1, sizeof b1);
  if (connect(c1, (void *)&l4, sizeof l4) < 0) die("connect c1");
  int s1 = accept4(lis4, NULL, NULL, SOCK_CLOEXEC);
  if (s1 < 0) die("accept");
  if (write(c1, "hello", 5) != 5) die("write");
  settle(c1, s1);
  int c2 = sock(AF_INET, SOCK_STREAM, &b2, sizeof b2);
  if (connect(c2, (void *)&l4, sizeof l4) < 0) die("connect c2");

  /* c3: v6 to ::1 on the wildcard listener; c4: v6 socket to 127.0.0.1 (v4-mapped). */
  struct sockaddr_in6 b3 = a6("::1", 47313), t3 = a6("::1", 47302);
  int c3 = sock(AF_INET6, SOCK_STREAM, &b3, sizeof b3);
  if (connect(c3, (void *)&t3, sizeof t3) < 0) die("connect c3");
  int s3 = accept4(lis6, NULL, NULL, SOCK_CLOEXEC);
  if (s3 < 0) die("accept c3");
  struct sockaddr_in6 t4 = a6("::ffff:127.0.0.1", 47302), b4 = a6("::ffff:127.0.0.1", 47314);
  int c4 = sock(AF_INET6, SOCK_STREAM, &b4, sizeof b4);
  if (connect(c4, (void *)&t4, sizeof t4) < 0) die("connect c4");
  int s4 = accept4(lis6, NULL, NULL, SOCK_CLOEXEC);
  if (s4 < 0) die("accept c4");
  if (write(s4, "abc", 3) != 3) die("write s4");
  settle(s4, c4);

  /* UDP: bound v4, bound v6 wildcard, one connected. */
  struct sockaddr_in u1a = a4("127.0.0.1", 47303), u3a = a4("127.0.0.1", 47318);
  struct sockaddr_in6 u2a = a6("::", 47304);
  int u1 = sock(AF_INET, SOCK_DGRAM, &u1a, sizeof u1a);
  int u2 = sock(AF_INET6, SOCK_DGRAM, &u2a, sizeof u2a);
  int u3 = sock(AF_INET, SOCK_DGRAM, &u3a, sizeof u3a);
  struct sockaddr_in6 u4a = a6("::", 47306);
  int u4 = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  setsockopt(u4, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
  if (bind(u4, (void *)&u4a, sizeof u4a) < 0) die("bind u4");
  if (connect(u3, (void *)&u1a, sizeof u1a) < 0) die("connect u3");

  /* A unix listener with a backlog of 3. */
  struct sockaddr_un ua = {.sun_family = AF_UNIX};
  snprintf(ua.sun_path, sizeof ua.sun_path, "/tmp/net_ss.%d.sock", 1);
  unlink(ua.sun_path);
  int ux = sock(AF_UNIX, SOCK_STREAM, &ua, sizeof ua);
  if (listen(ux, 3) < 0) die("listen unix");

  run("-tanp");
  run("-tan");
  run("-uanp");
  run("-tlnp");
  run("-tn state listening");
  run("-tn state established '( sport = :47301 )'");
  run("-xlnp");
  run("-4tan");
  run("-6tan");
  /* ss -m / -i: s1's memory (skmem: its buffer sizes as SO_RCVBUF/SO_SNDBUF say) and tcp_info. */
  int rb = 100000, sb = 50000;
  socklen_t ol = sizeof rb;
  setsockopt(s1, SOL_SOCKET, SO_RCVBUF, &rb, sizeof rb);
  setsockopt(s1, SOL_SOCKET, SO_SNDBUF, &sb, sizeof sb);
  getsockopt(s1, SOL_SOCKET, SO_RCVBUF, &rb, &ol);
  getsockopt(s1, SOL_SOCKET, SO_SNDBUF, &sb, &ol);
  printf("=~ s1 rcvbuf %d sndbuf %d\n", rb, sb);
  run_as("=~", "-tnmi state established '( sport = :47301 and dport = :47311 )'");
  /* ss --tos: IP_TOS (every socket), IPV6_TCLASS (AF_INET6 ones), class_id (SO_PRIORITY without net_cls). */
  int tos = 0x10, prio = 3, tclass = 0x28;
  if (setsockopt(c1, IPPROTO_IP, IP_TOS, &tos, sizeof tos) < 0) die("IP_TOS");
  if (setsockopt(c1, SOL_SOCKET, SO_PRIORITY, &prio, sizeof prio) < 0) die("SO_PRIORITY");
  if (setsockopt(c3, IPPROTO_IPV6, IPV6_TCLASS, &tclass, sizeof tclass) < 0) die("IPV6_TCLASS");
  run("-tn --tos state established");
  unlink(ua.sun_path);
  (void)c2; (void)c3; (void)s3; (void)u1; (void)u2; (void)u3; (void)u4; (void)lis6o;
  printf("done\n");
  return 0;
}
