/*
 * A lossy Ethernet forwarder for the loss tests (this kernel has no netem qdisc):
 * `lossy_fwd IF_A IF_B LOSS_PERCENT REORDER_PERCENT SEED [OFFSETS]` bridges two interfaces
 * of the namespace it runs in with AF_PACKET, dropping LOSS% of frames and holding REORDER%
 * back one frame, in both directions, until killed. OFFSETS (comma-separated byte offsets
 * into the IPv4 TCP stream IF_A sends, counted from its SYN): the first transmission of
 * each segment holding one is dropped, its retransmissions pass (chosen first losses). Frames travel with their
 * virtio_net_hdr (PACKET_VNET_HDR), so checksum offload survives the hop; a TCP GSO
 * super-frame (up to 64 KiB a sender left to the host to cut) is cut here into the
 * MSS-sized segments a wire would carry, each then dropped or held on its own: losing
 * the whole super-frame would lose a whole window at once, which no wire does.
 */
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <linux/virtio_net.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int open_if(const char *name) {
  int fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
  if (fd < 0) { perror("socket"); exit(1); }
  struct sockaddr_ll sll;
  memset(&sll, 0, sizeof sll);
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(ETH_P_ALL);
  sll.sll_ifindex = if_nametoindex(name);
  if (sll.sll_ifindex == 0 || bind(fd, (struct sockaddr *)&sll, sizeof sll) != 0) { perror(name); exit(1); }
  int one = 1;
  setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one);
  /* Frames keep their virtio_net_hdr: a checksum the sender left to offload stays marked. */
  if (setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof one) != 0) { perror("PACKET_VNET_HDR"); exit(1); }
  int buf = 64 << 20; /* a burst must not overflow it: losses are ours to choose */
  setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof buf);
  return fd;
}

static unsigned long sum16(const unsigned char *p, size_t n, unsigned long s) {
  for (; n > 1; p += 2, n -= 2) s += (p[0] << 8) | p[1];
  if (n) s += p[0] << 8;
  return s;
}
static unsigned short fold(unsigned long s) {
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return (unsigned short)~s;
}
static void put16(unsigned char *p, unsigned v) { p[0] = v >> 8; p[1] = v & 0xff; }
static void put32(unsigned char *p, unsigned long v) { p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v; }

/*
 * Cuts the TCP GSO frame f (virtio_net_hdr first) into wire segments, each with a whole
 * checksum and no offload left, calling emit for each; returns the count (0: not TCP GSO).
 */
static int segment(unsigned char *f, ssize_t n, void (*emit)(unsigned char *, ssize_t, void *), void *ctx) {
  struct virtio_net_hdr *vh = (struct virtio_net_hdr *)f;
  int type = vh->gso_type & ~VIRTIO_NET_HDR_GSO_ECN;
  if (type != VIRTIO_NET_HDR_GSO_TCPV4 && type != VIRTIO_NET_HDR_GSO_TCPV6) return 0;
  unsigned char *eth = f + sizeof *vh, *ip = eth + 14;
  int v6 = type == VIRTIO_NET_HDR_GSO_TCPV6;
  int iphl = v6 ? 40 : (ip[0] & 15) * 4;
  unsigned char *tcp = ip + iphl;
  int thl = (tcp[12] >> 4) * 4, hdrs = 14 + iphl + thl;
  ssize_t payload = n - (ssize_t)sizeof *vh - hdrs;
  unsigned mss = vh->gso_size;
  if (payload <= 0 || mss == 0) return 0;
  unsigned long seq = ((unsigned long)tcp[4] << 24) | (tcp[5] << 16) | (tcp[6] << 8) | tcp[7];
  unsigned id = (ip[4] << 8) | ip[5];
  static unsigned char seg[sizeof(struct virtio_net_hdr) + 65600];
  int count = 0;
  for (ssize_t off = 0; off < payload; off += mss, count++) {
    ssize_t len = payload - off < mss ? payload - off : mss;
    int last = off + len == payload;
    memset(seg, 0, sizeof *vh);
    unsigned char *e = seg + sizeof *vh, *sip = e + 14, *st = sip + iphl;
    memcpy(e, eth, hdrs);
    memcpy(e + hdrs, eth + hdrs + off, len);
    if (v6) put16(sip + 4, thl + len);
    else {
      put16(sip + 2, iphl + thl + len);
      put16(sip + 4, id + count);
      put16(sip + 10, 0);
      put16(sip + 10, fold(sum16(sip, iphl, 0)));
    }
    put32(st + 4, seq + off);
    if (!last) st[13] &= ~0x09; /* FIN and PSH only on the last segment */
    put16(st + 16, 0);
    unsigned long ps = v6 ? sum16(sip + 8, 32, 0) : sum16(sip + 12, 8, 0);
    ps += 6 + thl + len;
    put16(st + 16, fold(sum16(st, thl + len, ps)));
    emit(seg, sizeof *vh + hdrs + len, ctx);
  }
  return count;
}

#define MAX_OFFS 16
static long offs[MAX_OFFS];
static int nOffs, offDropped[MAX_OFFS];
static unsigned long isn;
static int haveIsn;

/* A chosen first loss: an IPv4 TCP segment of IF_A's stream holding an offset not dropped yet. */
static int chosen(const unsigned char *f, ssize_t n) {
  const unsigned char *eth = f + sizeof(struct virtio_net_hdr), *ip = eth + 14;
  if (n < (ssize_t)sizeof(struct virtio_net_hdr) + 14 + 40 || eth[12] != 0x08 || eth[13] != 0 || ip[9] != 6) return 0;
  int iphl = (ip[0] & 15) * 4;
  const unsigned char *tcp = ip + iphl;
  unsigned long seq = ((unsigned long)tcp[4] << 24) | (tcp[5] << 16) | (tcp[6] << 8) | tcp[7];
  if (tcp[13] & 0x02) { isn = seq; haveIsn = 1; return 0; }
  long len = ((ip[2] << 8) | ip[3]) - iphl - (tcp[12] >> 4) * 4;
  if (!haveIsn || len <= 0) return 0;
  long rel = (long)((seq - isn - 1) & 0xffffffffUL);
  for (int i = 0; i < nOffs; i++) {
    if (!offDropped[i] && offs[i] >= rel && offs[i] < rel + len) {
      /* Every offset this segment holds counts as dropped: its retransmission passes. */
      for (int j = 0; j < nOffs; j++) if (offs[j] >= rel && offs[j] < rel + len) offDropped[j] = 1;
      fprintf(stderr, "dropped %ld+%ld\n", rel, len);
      return 1;
    }
  }
  return 0;
}

struct way {
  int out, fromA;
  unsigned char held[sizeof(struct virtio_net_hdr) + 65600];
  ssize_t heldLen;
  double loss, reorder;
};

/* One frame on the wire: dropped, held back behind the next one, or passed on. */
static void wire(unsigned char *buf, ssize_t n, void *ctx) {
  struct way *w = ctx;
  if (w->fromA && nOffs && chosen(buf, n)) return;
  double r = rand() / (double)RAND_MAX;
  if (r < w->loss) return;
  if (r < w->loss + w->reorder && w->heldLen == 0) {
    memcpy(w->held, buf, n);
    w->heldLen = n;
    return;
  }
  send(w->out, buf, n, 0);
  if (w->heldLen) {
    send(w->out, w->held, w->heldLen, 0);
    w->heldLen = 0;
  }
}

int main(int argc, char **argv) {
  if (argc < 6) return 2;
  int fds[2] = {open_if(argv[1]), open_if(argv[2])};
  double loss = atof(argv[3]) / 100, reorder = atof(argv[4]) / 100;
  srand(atoi(argv[5]));
  for (char *p = argc > 6 ? argv[6] : NULL; p && *p && nOffs < MAX_OFFS; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL) offs[nOffs++] = atol(p);
  static unsigned char buf[sizeof(struct virtio_net_hdr) + 65600];
  static struct way ways[2];
  for (int i = 0; i < 2; i++) ways[i] = (struct way){.out = fds[1 - i], .fromA = i == 0, .heldLen = 0, .loss = loss, .reorder = reorder};
  printf("forwarding\n");
  fflush(stdout);
  for (;;) {
    struct pollfd p[2] = {{fds[0], POLLIN, 0}, {fds[1], POLLIN, 0}};
    if (poll(p, 2, -1) < 0) continue;
    for (int i = 0; i < 2; i++) {
      if (!(p[i].revents & POLLIN)) continue;
      ssize_t n = recv(fds[i], buf, sizeof buf, MSG_DONTWAIT);
      if (n <= (ssize_t)sizeof(struct virtio_net_hdr)) continue;
      if (segment(buf, n, wire, &ways[i]) == 0) wire(buf, n, &ways[i]);
    }
  }
}
