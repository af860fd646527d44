// Send-side IP-level ancillary data (IP_TTL, IP_TOS, IP_PKTINFO; IPV6_HOPLIMIT,
// IPV6_TCLASS, IPV6_PKTINFO) on UDP sockets over loopback: a receiver asks for the
// matching receive-side cmsgs and prints what each datagram carried; bad values print
// the send's error. Run natively and in the sandbox: the same lines.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct c { int level, type, len; unsigned char data[20]; };

static struct c ci(int level, int type, int v) {
  struct c x = {level, type, sizeof(int), {0}};
  memcpy(x.data, &v, sizeof v);
  return x;
}

static void sendwith(const char *what, int s, struct sockaddr *to, socklen_t tl, struct c *cs, int n) {
  union { char buf[512]; struct cmsghdr align; } u;
  memset(&u, 0, sizeof u);
  struct iovec iov = {(void *)what, strlen(what)};
  struct msghdr m = {.msg_name = to, .msg_namelen = tl, .msg_iov = &iov, .msg_iovlen = 1, .msg_control = n ? u.buf : NULL};
  size_t total = 0;
  for (int i = 0; i < n; i++) total += CMSG_SPACE(cs[i].len);
  m.msg_controllen = total;
  struct cmsghdr *h = n ? CMSG_FIRSTHDR(&m) : NULL;
  for (int i = 0; i < n; i++, h = CMSG_NXTHDR(&m, h)) {
    h->cmsg_level = cs[i].level;
    h->cmsg_type = cs[i].type;
    h->cmsg_len = CMSG_LEN(cs[i].len);
    memcpy(CMSG_DATA(h), cs[i].data, cs[i].len);
  }
  ssize_t r = sendmsg(s, &m, 0);
  if (r < 0) printf("%s: send %s\n", what, strerror(errno));
}

static void show(int r, int v6) {
  struct pollfd p = {r, POLLIN, 0};
  while (poll(&p, 1, 300) > 0) {
    char data[64] = {0}, ctl[512];
    struct iovec iov = {data, sizeof data - 1};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl};
    if (recvmsg(r, &m, 0) < 0) return;
    printf("%s:", data);
    for (struct cmsghdr *h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h)) {
      int v = 0;
      if (h->cmsg_level == IPPROTO_IP && h->cmsg_type == IP_TTL) memcpy(&v, CMSG_DATA(h), 4), printf(" ttl %d", v);
      else if (h->cmsg_level == IPPROTO_IP && h->cmsg_type == IP_TOS) printf(" tos %#x", *CMSG_DATA(h));
      else if (h->cmsg_level == IPPROTO_IP && h->cmsg_type == IP_PKTINFO) {
        struct in_pktinfo pi;
        char a[32];
        memcpy(&pi, CMSG_DATA(h), sizeof pi);
        printf(" dst %s", inet_ntop(AF_INET, &pi.ipi_addr, a, sizeof a));
      } else if (h->cmsg_level == IPPROTO_IPV6 && h->cmsg_type == IPV6_HOPLIMIT) memcpy(&v, CMSG_DATA(h), 4), printf(" hoplimit %d", v);
      else if (h->cmsg_level == IPPROTO_IPV6 && h->cmsg_type == IPV6_TCLASS) memcpy(&v, CMSG_DATA(h), 4), printf(" tclass %#x", v);
      else if (h->cmsg_level == IPPROTO_IPV6 && h->cmsg_type == IPV6_PKTINFO) {
        struct in6_pktinfo pi;
        char a[64];
        memcpy(&pi, CMSG_DATA(h), sizeof pi);
        printf(" dst %s", inet_ntop(AF_INET6, &pi.ipi6_addr, a, sizeof a));
      } else printf(" cmsg %d/%d", h->cmsg_level, h->cmsg_type);
    }
    printf("\n");
  }
  (void)v6;
}

int main(void) {
  int one = 1;
  // IPv4
  int r = socket(AF_INET, SOCK_DGRAM, 0), s = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t al = sizeof a;
  if (bind(r, (struct sockaddr *)&a, sizeof a) || getsockname(r, (struct sockaddr *)&a, &al)) return perror("bind"), 1;
  setsockopt(r, IPPROTO_IP, IP_RECVTTL, &one, sizeof one);
  setsockopt(r, IPPROTO_IP, IP_RECVTOS, &one, sizeof one);
  setsockopt(r, IPPROTO_IP, IP_PKTINFO, &one, sizeof one);
  sendwith("v4 plain", s, (struct sockaddr *)&a, sizeof a, NULL, 0);
  struct c v4[3] = {ci(IPPROTO_IP, IP_TTL, 7), ci(IPPROTO_IP, IP_TOS, 0x28)};
  sendwith("v4 ttl 7 tos 0x28", s, (struct sockaddr *)&a, sizeof a, v4, 2);
  struct c tos1 = {IPPROTO_IP, IP_TOS, 1, {0x10}};
  sendwith("v4 one-byte tos 0x10", s, (struct sockaddr *)&a, sizeof a, &tos1, 1);
  struct c pk = {IPPROTO_IP, IP_PKTINFO, sizeof(struct in_pktinfo), {0}};
  struct in_pktinfo pi = {.ipi_ifindex = 0};
  inet_pton(AF_INET, "127.0.0.1", &pi.ipi_spec_dst);
  memcpy(pk.data, &pi, sizeof pi);
  sendwith("v4 pktinfo", s, (struct sockaddr *)&a, sizeof a, &pk, 1);
  struct c bad = ci(IPPROTO_IP, IP_TTL, 0);
  sendwith("v4 ttl 0", s, (struct sockaddr *)&a, sizeof a, &bad, 1);
  bad = ci(IPPROTO_IP, IP_TTL, 256);
  sendwith("v4 ttl 256", s, (struct sockaddr *)&a, sizeof a, &bad, 1);
  bad = ci(IPPROTO_IP, 12345, 1);
  sendwith("v4 unknown type", s, (struct sockaddr *)&a, sizeof a, &bad, 1);
  bad = ci(IPPROTO_IPV6, IPV6_HOPLIMIT, 3);
  sendwith("v4 with an IPv6 cmsg", s, (struct sockaddr *)&a, sizeof a, &bad, 1);
  show(r, 0);
  // IPv6
  int r6 = socket(AF_INET6, SOCK_DGRAM, 0), s6 = socket(AF_INET6, SOCK_DGRAM, 0);
  struct sockaddr_in6 b = {.sin6_family = AF_INET6, .sin6_addr = in6addr_loopback};
  socklen_t bl = sizeof b;
  if (bind(r6, (struct sockaddr *)&b, sizeof b) || getsockname(r6, (struct sockaddr *)&b, &bl)) return perror("bind6"), 1;
  setsockopt(r6, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &one, sizeof one);
  setsockopt(r6, IPPROTO_IPV6, IPV6_RECVTCLASS, &one, sizeof one);
  setsockopt(r6, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one);
  sendwith("v6 plain", s6, (struct sockaddr *)&b, sizeof b, NULL, 0);
  struct c v6[2] = {ci(IPPROTO_IPV6, IPV6_HOPLIMIT, 9), ci(IPPROTO_IPV6, IPV6_TCLASS, 0x40)};
  sendwith("v6 hoplimit 9 tclass 0x40", s6, (struct sockaddr *)&b, sizeof b, v6, 2);
  struct c pk6 = {IPPROTO_IPV6, IPV6_PKTINFO, sizeof(struct in6_pktinfo), {0}};
  struct in6_pktinfo p6 = {.ipi6_addr = in6addr_loopback, .ipi6_ifindex = 0};
  memcpy(pk6.data, &p6, sizeof p6);
  sendwith("v6 pktinfo ::1", s6, (struct sockaddr *)&b, sizeof b, &pk6, 1);
  bad = ci(IPPROTO_IPV6, IPV6_HOPLIMIT, 300);
  sendwith("v6 hoplimit 300", s6, (struct sockaddr *)&b, sizeof b, &bad, 1);
  bad = ci(IPPROTO_IPV6, 12345, 1);
  sendwith("v6 unknown type", s6, (struct sockaddr *)&b, sizeof b, &bad, 1);
  show(r6, 1);
  printf("done\n");
  return 0;
}
