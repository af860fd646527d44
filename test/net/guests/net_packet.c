/* Packet sockets (AF_PACKET) for root, against Linux, on a veth whose peer is a Linux host:
 *   net_packet IFNAME OUR_V4 PEER_V4
 * SOCK_RAW of ETH_P_ARP bound to the interface: an ARP request built by hand, the peer's
 * reply received with its sockaddr_ll; SOCK_DGRAM of ETH_P_ALL: an outgoing UDP datagram
 * (PACKET_OUTGOING) and the peer's ICMP port unreachable (PACKET_HOST) seen without their
 * Ethernet header; getsockname, bind's errors, EPERM without root. Prints facts only (no
 * MAC, no index). */
#define _GNU_SOURCE
#include "common.h"
#include <arpa/inet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netpacket/packet.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/ip.h>

/* linux/if_packet.h's, which cannot be included beside glibc's netpacket/packet.h. */
struct tpacket_auxdata { unsigned tp_status, tp_len, tp_snaplen; unsigned short tp_mac, tp_net, tp_vlan_tci, tp_vlan_tpid; };
struct tpacket_stats { unsigned tp_packets, tp_drops; };
#ifndef PACKET_AUXDATA
#define PACKET_AUXDATA 8
#endif

static int ifindex;
static unsigned char mac[6];
static struct in_addr me, peer;

/* Waits up to 3 s for a datagram on s (0: none). */
static ssize_t recv_wait(int s, void *b, size_t n, struct sockaddr_ll *from) {
  struct pollfd p = {.fd = s, .events = POLLIN};
  if (poll(&p, 1, 3000) <= 0) return 0;
  socklen_t l = sizeof *from;
  return recvfrom(s, b, n, 0, (struct sockaddr *)from, &l);
}

static void arp(void) {
  int s = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ARP));
  MUST(s);
  struct sockaddr_ll a = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ARP), .sll_ifindex = 999999};
  EXPECT_ERR("bind to no interface", bind(s, (struct sockaddr *)&a, sizeof a), ENODEV);
  EXPECT_ERR("bind short", bind(s, (struct sockaddr *)&a, 8), EINVAL);
  a.sll_ifindex = ifindex;
  SHOW("bind", bind(s, (struct sockaddr *)&a, sizeof a));
  struct sockaddr_ll n = {0};
  socklen_t nl = sizeof n;
  SHOW("getsockname", getsockname(s, (struct sockaddr *)&n, &nl));
  printf("name: len %u family %d protocol %#x own index %s hatype %d halen %d own mac %s\n", nl, n.sll_family, ntohs(n.sll_protocol),
         n.sll_ifindex == ifindex ? "yes" : "no", n.sll_hatype, n.sll_halen, memcmp(n.sll_addr, mac, 6) == 0 ? "yes" : "no");

  /* PACKET_* options: memberships (errors, a promiscuous one added and dropped), auxdata, statistics. */
  struct packet_mreq mr = {.mr_ifindex = 999999, .mr_type = PACKET_MR_PROMISC};
  EXPECT_ERR("membership on no interface", setsockopt(s, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof mr), ENODEV);
  mr.mr_ifindex = ifindex;
  EXPECT_ERR("membership short", setsockopt(s, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, 8), EINVAL);
  SHOW("drop a membership never added", setsockopt(s, SOL_PACKET, PACKET_DROP_MEMBERSHIP, &mr, sizeof mr));
  SHOW("add promiscuous membership", setsockopt(s, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof mr));
  SHOW("drop it", setsockopt(s, SOL_PACKET, PACKET_DROP_MEMBERSHIP, &mr, sizeof mr));
  SHOW("drop it again", setsockopt(s, SOL_PACKET, PACKET_DROP_MEMBERSHIP, &mr, sizeof mr));
  int one = 1, v = -1;
  socklen_t vl = sizeof v;
  EXPECT_ERR("auxdata short", setsockopt(s, SOL_PACKET, PACKET_AUXDATA, &one, 2), EINVAL);
  SHOW("auxdata on", setsockopt(s, SOL_PACKET, PACKET_AUXDATA, &one, sizeof one));
  SHOW("get auxdata", getsockopt(s, SOL_PACKET, PACKET_AUXDATA, &v, &vl));
  printf("auxdata %d len %u\n", v, vl);
  EXPECT_ERR("unknown option", setsockopt(s, SOL_PACKET, 9999, &one, sizeof one), ENOPROTOOPT);
  EXPECT_ERR("SOL_IP option", getsockopt(s, SOL_IP, IP_TTL, &v, &vl), ENOPROTOOPT);
  struct tpacket_stats ts;
  socklen_t tsl = sizeof ts;
  SHOW("statistics (reset)", getsockopt(s, SOL_PACKET, PACKET_STATISTICS, &ts, &tsl));

  unsigned char f[42] = {0};
  memset(f, 0xff, 6);
  memcpy(f + 6, mac, 6);
  f[12] = 0x08, f[13] = 0x06;
  unsigned char *p = f + 14;
  p[1] = 1, p[2] = 0x08, p[4] = 6, p[5] = 4, p[7] = 1; /* Ethernet, IPv4, request */
  memcpy(p + 8, mac, 6);
  memcpy(p + 14, &me, 4);
  memcpy(p + 24, &peer, 4);
  struct sockaddr_ll to = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ARP), .sll_ifindex = ifindex, .sll_halen = 6};
  memset(to.sll_addr, 0xff, 6);
  SHOW("send ARP request", sendto(s, f, sizeof f, 0, (struct sockaddr *)&to, sizeof to));
  for (int i = 0; i < 20; i++) {
    unsigned char b[1600];
    struct sockaddr_ll from = {0};
    union { struct cmsghdr h; char b[256]; } cb;
    struct iovec iov = {.iov_base = b, .iov_len = sizeof b};
    struct msghdr m = {.msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &cb, .msg_controllen = sizeof cb};
    struct pollfd pl = {.fd = s, .events = POLLIN};
    if (poll(&pl, 1, 3000) <= 0) break;
    ssize_t r = recvmsg(s, &m, 0);
    if (r <= 0) break;
    if (r < 42 || b[14 + 7] != 2 || memcmp(b + 14 + 14, &peer, 4) != 0) continue;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
      if (c->cmsg_level != SOL_PACKET || c->cmsg_type != PACKET_AUXDATA) continue;
      struct tpacket_auxdata ax;
      memcpy(&ax, CMSG_DATA(c), sizeof ax);
      printf("auxdata: cmsg len %zu status %#x len %u snaplen %u mac %u net %u vlan %u/%u (frame %zd)\n", (size_t)c->cmsg_len, ax.tp_status,
             ax.tp_len, ax.tp_snaplen, ax.tp_mac, ax.tp_net, ax.tp_vlan_tci, ax.tp_vlan_tpid, r);
    }
    tsl = sizeof ts;
    SHOW("statistics", getsockopt(s, SOL_PACKET, PACKET_STATISTICS, &ts, &tsl));
    printf("statistics: len %u packets >= 1 %d drops %u\n", tsl, ts.tp_packets >= 1, ts.tp_drops);
    tsl = sizeof ts;
    getsockopt(s, SOL_PACKET, PACKET_STATISTICS, &ts, &tsl);
    printf("statistics read again: drops %u\n", ts.tp_drops);
    printf("ARP reply from the peer: to us %s, target mac ours %s; from: family %d protocol %#x index ours %s hatype %d pkttype %d halen %d src mac in frame %s\n",
           memcmp(b, mac, 6) == 0 ? "yes" : "no", memcmp(b + 14 + 18, mac, 6) == 0 ? "yes" : "no", from.sll_family,
           ntohs(from.sll_protocol), from.sll_ifindex == ifindex ? "yes" : "no", from.sll_hatype, from.sll_pkttype, from.sll_halen,
           memcmp(from.sll_addr, b + 6, 6) == 0 ? "yes" : "no");
    break;
  }
  close(s);
}

static void dgram_all(void) {
  int s = socket(AF_PACKET, SOCK_DGRAM, htons(ETH_P_ALL));
  MUST(s);
  struct sockaddr_ll a = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL), .sll_ifindex = ifindex};
  SHOW("bind all", bind(s, (struct sockaddr *)&a, sizeof a));
  int u = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in d = {.sin_family = AF_INET, .sin_port = htons(9), .sin_addr = peer};
  SHOW("udp to the peer's port 9", sendto(u, "hello", 5, 0, (struct sockaddr *)&d, sizeof d));
  int out = 0, in = 0;
  for (int i = 0; i < 50 && !(out && in); i++) {
    unsigned char b[1600];
    struct sockaddr_ll from = {0};
    ssize_t r = recv_wait(s, b, sizeof b, &from);
    if (r <= 0) break;
    if (ntohs(from.sll_protocol) != ETH_P_IP || r < 28 || b[0] != 0x45) continue;
    if (!out && from.sll_pkttype == PACKET_OUTGOING && b[9] == 17 && memcmp(b + 16, &peer, 4) == 0 && r == 20 + 8 + 5) {
      out = 1;
      printf("outgoing UDP seen without its Ethernet header: %zd bytes, payload %.5s\n", r, b + 28);
    } else if (!in && from.sll_pkttype == PACKET_HOST && b[9] == 1 && memcmp(b + 12, &peer, 4) == 0 && b[20] == 3 && b[21] == 3) {
      in = 1;
      printf("incoming ICMP port unreachable seen: quotes our datagram %s\n", memcmp(b + 28 + 16, &peer, 4) == 0 ? "yes" : "no");
    }
  }
  printf("outgoing %s incoming %s\n", out ? "yes" : "no", in ? "yes" : "no");
  close(u);
  close(s);
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc < 4) return 2;
  ifindex = (int)if_nametoindex(argv[1]);
  inet_pton(AF_INET, argv[2], &me);
  inet_pton(AF_INET, argv[3], &peer);
  int q = socket(AF_INET, SOCK_DGRAM, 0);
  struct ifreq r = {0};
  strncpy(r.ifr_name, argv[1], IFNAMSIZ - 1);
  MUST(ioctl(q, SIOCGIFHWADDR, &r));
  memcpy(mac, r.ifr_hwaddr.sa_data, 6);
  close(q);
  EXPECT_ERR("SOCK_STREAM", socket(AF_PACKET, SOCK_STREAM, 0), ESOCKTNOSUPPORT);
  pid_t c = fork();
  if (c == 0) {
    if (setuid(65534) != 0) _exit(3);
    EXPECT_ERR("not root", socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL)), EPERM);
    _exit(0);
  }
  int st;
  waitpid(c, &st, 0);
  arp();
  dgram_all();
  printf("done\n");
  return 0;
}
