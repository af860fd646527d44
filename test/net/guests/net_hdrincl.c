// IP_HDRINCL on raw IPv4 sockets (raw(7)): the option's rules, then echo requests sent
// with the sender's own IP header (zero source, id, length and checksum filled in by the
// stack; an IPPROTO_RAW socket always includes it) that a peer answers, and the errors
// for short, inconsistent and oversized packets. The same lines natively and in the sandbox.
//   net_hdrincl PEER4 SELF4
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static unsigned short csum(const unsigned char *p, int n) {
  unsigned long s = 0;
  for (int i = 0; i + 1 < n; i += 2) s += (p[i] << 8) | p[i + 1];
  if (n & 1) s += p[n - 1] << 8;
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return (unsigned short)~s;
}

static const char *err(int r) { return r < 0 ? strerror(errno) : "ok"; }

static void opt(const char *what, int s) {
  int v = -1;
  socklen_t l = sizeof v;
  int r = getsockopt(s, IPPROTO_IP, IP_HDRINCL, &v, &l);
  printf("%s: get IP_HDRINCL %s %d\n", what, err(r), r < 0 ? -1 : v);
}

/* An IPv4 header (as given: fields the stack fills left as the caller chose) and an echo request. */
static int packet(unsigned char *b, struct in_addr src, struct in_addr dst, unsigned short id, unsigned short ident, int payload) {
  memset(b, 0, 28 + payload);
  b[0] = 0x45;
  b[4] = id >> 8;
  b[5] = id & 0xff;
  b[8] = 64;
  b[9] = IPPROTO_ICMP;
  memcpy(b + 12, &src, 4);
  memcpy(b + 16, &dst, 4);
  unsigned char *ic = b + 20;
  ic[0] = 8;
  ic[4] = ident >> 8;
  ic[5] = ident & 0xff;
  ic[7] = 1;
  for (int i = 0; i < payload; i++) ic[8 + i] = (unsigned char)i;
  unsigned short c = csum(ic, 8 + payload);
  ic[2] = c >> 8;
  ic[3] = c & 0xff;
  return 28 + payload;
}

/* Waits for the echo reply with this identifier on a raw ICMP socket; prints its header. */
static void reply(int s, unsigned short ident, struct in_addr self) {
  unsigned char b[2048];
  for (int tries = 0; tries < 50; tries++) {
    struct pollfd p = {s, POLLIN, 0};
    if (poll(&p, 1, 5000) <= 0) break;
    ssize_t n = recv(s, b, sizeof b, 0);
    if (n < 28) continue;
    int hl = (b[0] & 15) * 4;
    if (b[hl] != 0 || ((b[hl + 4] << 8) | b[hl + 5]) != ident) continue;
    printf("  reply ident %#x seq %d, %zd bytes, to %s\n", ident, b[hl + 7], n - hl, memcmp(b + 16, &self, 4) == 0 ? "self" : "elsewhere");
    return;
  }
  printf("  no reply\n");
}

int main(int argc, char **argv) {
  if (argc < 3) return 2;
  struct sockaddr_in peer = {.sin_family = AF_INET};
  struct in_addr self, any = {0};
  inet_pton(AF_INET, argv[1], &peer.sin_addr);
  inet_pton(AF_INET, argv[2], &self);
  int one = 1, zero = 0;

  int s = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
  int r = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
  int u = socket(AF_INET, SOCK_DGRAM, 0);
  if (s < 0 || r < 0 || u < 0) return perror("socket"), 1;
  opt("raw icmp", s);
  opt("raw IPPROTO_RAW", r);
  opt("udp", u);
  printf("udp: set IP_HDRINCL %s\n", err(setsockopt(u, IPPROTO_IP, IP_HDRINCL, &one, sizeof one)));
  printf("raw icmp: set IP_HDRINCL 1 %s\n", err(setsockopt(s, IPPROTO_IP, IP_HDRINCL, &one, sizeof one)));
  opt("raw icmp", s);

  unsigned char b[4096];
  int n = packet(b, any, peer.sin_addr, 0, 0x1234, 16);
  printf("zero source/id/length/checksum: sendto %s\n", err((int)sendto(s, b, n, 0, (struct sockaddr *)&peer, sizeof peer)));
  reply(s, 0x1234, self);
  n = packet(b, self, peer.sin_addr, 777, 0x1235, 100);
  printf("IPPROTO_RAW, own source and id: sendto %s\n", err((int)sendto(r, b, n, 0, (struct sockaddr *)&peer, sizeof peer)));
  reply(s, 0x1235, self);
  printf("10 bytes: sendto %s\n", err((int)sendto(s, b, 10, 0, (struct sockaddr *)&peer, sizeof peer)));
  n = packet(b, any, peer.sin_addr, 0, 0x1236, 0);
  b[0] = 0x4f; /* a 60-byte header claimed in a 28-byte packet */
  printf("ihl beyond the packet: sendto %s\n", err((int)sendto(s, b, n, 0, (struct sockaddr *)&peer, sizeof peer)));
  n = packet(b, any, peer.sin_addr, 0, 0x1237, 2000);
  printf("over the MTU: sendto %s\n", err((int)sendto(s, b, n, 0, (struct sockaddr *)&peer, sizeof peer)));
  printf("no address: send %s\n", err((int)send(s, b, 28, 0)));
  printf("raw icmp: set IP_HDRINCL 0 %s\n", err(setsockopt(s, IPPROTO_IP, IP_HDRINCL, &zero, sizeof zero)));
  opt("raw icmp", s);
  /* Without the option the stack writes the header: the bytes are the ICMP message alone. */
  n = packet(b, any, peer.sin_addr, 0, 0x1238, 8);
  printf("header off: sendto %s\n", err((int)sendto(s, b + 20, n - 20, 0, (struct sockaddr *)&peer, sizeof peer)));
  reply(s, 0x1238, self);
  return 0;
}
