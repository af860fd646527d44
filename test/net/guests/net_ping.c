// Ping sockets (SOCK_DGRAM + IPPROTO_ICMP/ICMPV6) and raw ICMP sockets against a peer
// that answers echo requests: the same lines natively and in the sandbox.
//   net_ping PEER4 PEER6
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static unsigned short csum(const unsigned char* p, int n) {
  unsigned long s = 0;
  for (int i = 0; i + 1 < n; i += 2) s += (p[i] << 8) | p[i + 1];
  if (n & 1) s += p[n - 1] << 8;
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return (unsigned short)~s;
}

static socklen_t mk(struct sockaddr_storage* ss, const char* ip) {
  memset(ss, 0, sizeof *ss);
  if (strchr(ip, ':')) {
    struct sockaddr_in6* a = (struct sockaddr_in6*)ss;
    a->sin6_family = AF_INET6;
    inet_pton(AF_INET6, ip, &a->sin6_addr);
    return sizeof *a;
  }
  struct sockaddr_in* a = (struct sockaddr_in*)ss;
  a->sin_family = AF_INET;
  inet_pton(AF_INET, ip, &a->sin_addr);
  return sizeof *a;
}

static int wait_in(int s) {
  struct pollfd p = {s, POLLIN, 0};
  return poll(&p, 1, 10000);
}

static void dgram(const char* peer) {
  int v6 = strchr(peer, ':') != NULL;
  int s = socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM, v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP);
  if (s < 0) {
    printf("ping socket %s: %s\n", peer, strerror(errno));
    return;
  }
  struct sockaddr_storage ss, from;
  socklen_t l = mk(&ss, peer);
  unsigned char pkt[64] = {v6 ? 128 : 8, 0, 0, 0, 0x12, 0x34, 0, 1};
  memcpy(pkt + 8, "pingdata", 8);
  printf("short: %s\n", sendto(s, pkt, 4, 0, (struct sockaddr*)&ss, l) < 0 ? strerror(errno) : "sent");
  pkt[0] = 13;
  printf("not an echo request: %s\n", sendto(s, pkt, 16, 0, (struct sockaddr*)&ss, l) < 0 ? strerror(errno) : "sent");
  pkt[0] = v6 ? 128 : 8;
  printf("sendto %s = %zd\n", peer, sendto(s, pkt, 16, 0, (struct sockaddr*)&ss, l));
  struct sockaddr_storage me;
  socklen_t ml = sizeof me;
  getsockname(s, (struct sockaddr*)&me, &ml);
  int ident = ntohs(((struct sockaddr_in*)&me)->sin_port);
  if (wait_in(s) != 1) {
    printf("no reply\n");
    close(s);
    return;
  }
  unsigned char r[128];
  socklen_t fl = sizeof from;
  ssize_t n = recvfrom(s, r, sizeof r, 0, (struct sockaddr*)&from, &fl);
  char a[64];
  if (from.ss_family == AF_INET6) inet_ntop(AF_INET6, &((struct sockaddr_in6*)&from)->sin6_addr, a, sizeof a);
  else inet_ntop(AF_INET, &((struct sockaddr_in*)&from)->sin_addr, a, sizeof a);
  printf("reply %zd bytes type %d code %d id=ident %d seq %d '%.8s' from %s\n", n, r[0], r[1],
         ((r[4] << 8) | r[5]) == ident, (r[6] << 8) | r[7], r + 8, a);
  close(s);
}

static void raw4(const char* peer) {
  int s = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
  if (s < 0) {
    printf("raw socket: %s\n", strerror(errno));
    return;
  }
  struct sockaddr_storage ss;
  socklen_t l = mk(&ss, peer);
  unsigned char pkt[16] = {8, 0, 0, 0, 0x43, 0x21, 0, 7};
  memcpy(pkt + 8, "rawdata!", 8);
  unsigned short c = csum(pkt, 16);
  pkt[2] = c >> 8;
  pkt[3] = c & 0xff;
  printf("raw sendto = %zd\n", sendto(s, pkt, 16, 0, (struct sockaddr*)&ss, l));
  for (int i = 0; i < 10; i++) {
    if (wait_in(s) != 1) break;
    unsigned char r[256];
    ssize_t n = recv(s, r, sizeof r, 0);
    int ihl = (r[0] & 0xf) * 4;
    if (n < ihl + 8 || r[9] != IPPROTO_ICMP) continue;
    unsigned char* ic = r + ihl;
    if (ic[0] != 0 || ic[4] != 0x43 || ic[5] != 0x21) continue;  // not our reply
    printf("raw reply: ip header %d bytes, version %d, proto %d, icmp type %d seq %d '%.8s'\n", ihl, r[0] >> 4, r[9], ic[0],
           (ic[6] << 8) | ic[7], ic + 8);
    break;
  }
  close(s);
  // Without root: EPERM.
  pid_t pid = fork();
  if (pid == 0) {
    if (setuid(65534) != 0) _exit(1);
    int t = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
    printf("raw socket as uid 65534: %s\n", t < 0 ? strerror(errno) : "allowed");
    fflush(stdout);
    _exit(0);
  }
  waitpid(pid, NULL, 0);
}

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc < 3) return 2;
  dgram(argv[1]);
  dgram(argv[2]);
  raw4(argv[1]);
  printf("done\n");
  return 0;
}
