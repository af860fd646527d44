/*
 * net_udpgso: UDP segmentation offload (UDP_SEGMENT as a socket option and as a send
 * cmsg) and UDP_GRO on 127.0.0.1, IPv4 and IPv6: what the receiver gets (one datagram
 * per segment, or with UDP_GRO the whole send with its segment size in a cmsg), the
 * options read back, and the errors (too many segments, bad cmsg length). Each send is
 * received before the next: the output has one order. `nogro` leaves UDP_GRO out (the
 * Sentry's stack cuts GSO sends but does not coalesce them for a UDP_GRO receiver).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

static char buf[70000];

static int sender; /* the marker goes out from the same socket, after the datagrams */
static int gro = 1; /* "nogro": leave UDP_GRO out (a stack that does not coalesce) */

/*
 * Every datagram up to a 1-byte marker the sender sends last (blocking: delivery may lag
 * on a loaded machine): sizes, and the UDP_GRO cmsg when there is one.
 */
static void drain(int r, const char *what) {
  printf("%s:", what);
  if (send(sender, "M", 1, 0) != 1) perror("marker");
  size_t at = 0; /* the segments of one send continue its byte pattern */
  for (;;) {
    char ctl[64];
    struct iovec v = {buf, sizeof buf};
    struct msghdr m = {.msg_iov = &v, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl};
    ssize_t n = recvmsg(r, &m, 0);
    if (n < 0) {
      perror("recvmsg");
      break;
    }
    if (n == 1 && buf[0] == 'M') break;
    printf(" %zd", n);
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
      if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
        int g;
        memcpy(&g, CMSG_DATA(c), sizeof g);
        printf("(gro %d)", g);
      }
    }
    int ok = 1;
    for (ssize_t i = 0; i < n; i++) ok &= buf[i] == (char)((at + (size_t)i) % 251);
    at += (size_t)n;
    if (!ok) printf("(bad bytes)");
  }
  printf("\n");
}

static ssize_t send_seg(int s, size_t len, int seg, size_t cmsg_data_len) {
  for (size_t i = 0; i < len; i++) buf[i] = (char)(i % 251);
  union {
    char b[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } u;
  memset(&u, 0, sizeof u);
  struct iovec v = {buf, len};
  struct msghdr m = {.msg_iov = &v, .msg_iovlen = 1};
  if (seg > 0) {
    m.msg_control = u.b;
    m.msg_controllen = CMSG_SPACE(cmsg_data_len);
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_UDP;
    c->cmsg_type = UDP_SEGMENT;
    c->cmsg_len = CMSG_LEN(cmsg_data_len);
    unsigned short g = (unsigned short)seg;
    memcpy(CMSG_DATA(c), &g, sizeof g);
  }
  return sendmsg(s, &m, 0);
}

static void run(int family) {
  const char *fam = family == AF_INET ? "v4" : "v6";
  int r = socket(family, SOCK_DGRAM, 0), s = socket(family, SOCK_DGRAM, 0);
  struct sockaddr_storage a;
  memset(&a, 0, sizeof a);
  socklen_t al;
  if (family == AF_INET) {
    struct sockaddr_in *p = (struct sockaddr_in *)&a;
    p->sin_family = AF_INET;
    p->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    al = sizeof *p;
  } else {
    struct sockaddr_in6 *p = (struct sockaddr_in6 *)&a;
    p->sin6_family = AF_INET6;
    p->sin6_addr = in6addr_loopback;
    al = sizeof *p;
  }
  if (bind(r, (struct sockaddr *)&a, al) || getsockname(r, (struct sockaddr *)&a, &al) || connect(s, (struct sockaddr *)&a, al)) {
    perror("setup");
    return;
  }
  sender = s;
  struct timeval tmo = {.tv_sec = 20};
  setsockopt(r, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof tmo);
  int v = 0;
  socklen_t vl = sizeof v;
  printf("%s UDP_SEGMENT default %d (%d)\n", fam, getsockopt(s, SOL_UDP, UDP_SEGMENT, &v, &vl) ? -errno : v, (int)vl);
  v = 1000;
  printf("%s set UDP_SEGMENT 1000: %d\n", fam, setsockopt(s, SOL_UDP, UDP_SEGMENT, &v, sizeof v) ? -errno : 0);
  vl = sizeof v;
  v = 0;
  getsockopt(s, SOL_UDP, UDP_SEGMENT, &v, &vl);
  printf("%s UDP_SEGMENT now %d\n", fam, v);
  printf("%s send 3500: %zd\n", fam, send_seg(s, 3500, 0, 0));
  drain(r, "  got");
  printf("%s send 900 (one segment's worth): %zd\n", fam, send_seg(s, 900, 0, 0));
  drain(r, "  got");
  errno = 0;
  ssize_t n = send_seg(s, 2000, 700, sizeof(unsigned short));
  printf("%s sendmsg 2000 with cmsg UDP_SEGMENT 700: %zd errno %d\n", fam, n, n < 0 ? errno : 0);
  drain(r, "  got");
  n = send_seg(s, 2000, 700, sizeof(int));
  printf("%s cmsg UDP_SEGMENT of 4 bytes: %zd errno %d\n", fam, n, n < 0 ? errno : 0);
  drain(r, "  got");
  n = send_seg(s, 65000, 100, sizeof(unsigned short));
  printf("%s 650 segments of 100: %zd errno %d\n", fam, n, n < 0 ? errno : 0);
  drain(r, "  got");

  if (gro) {
    v = 1;
    printf("%s set UDP_GRO on the receiver: %d\n", fam, setsockopt(r, SOL_UDP, UDP_GRO, &v, sizeof v) ? -errno : 0);
    vl = sizeof v;
    v = -1;
    getsockopt(r, SOL_UDP, UDP_GRO, &v, &vl);
    printf("%s UDP_GRO now %d\n", fam, v);
    printf("%s send 3500 (segments of 1000): %zd\n", fam, send_seg(s, 3500, 0, 0));
    drain(r, "  got");
  }
  v = 0;
  setsockopt(s, SOL_UDP, UDP_SEGMENT, &v, sizeof v);
  printf("%s plain send 1200: %zd\n", fam, send_seg(s, 1200, 0, 0));
  drain(r, "  got");
  close(r);
  close(s);
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "nogro") == 0) gro = 0;
  run(AF_INET);
  run(AF_INET6);
  printf("done\n");
  return 0;
}
