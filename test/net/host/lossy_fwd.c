/*
 * A lossy Ethernet forwarder for the loss tests (this kernel has no netem qdisc):
 * `lossy_fwd IF_A IF_B LOSS_PERCENT REORDER_PERCENT SEED` bridges two interfaces of the
 * namespace it runs in with AF_PACKET, dropping LOSS% of frames and holding REORDER%
 * back one frame, in both directions, until killed. Frames travel with their
 * virtio_net_hdr (PACKET_VNET_HDR), so checksum offload and GSO survive the hop.
 */
#include <arpa/inet.h>
#include <linux/if_packet.h>
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

int main(int argc, char **argv) {
  if (argc < 6) return 2;
  int fds[2] = {open_if(argv[1]), open_if(argv[2])};
  double loss = atof(argv[3]) / 100, reorder = atof(argv[4]) / 100;
  srand(atoi(argv[5]));
  static unsigned char buf[65600], held[2][65600];
  ssize_t heldLen[2] = {0, 0};
  long fwd = 0, dropped = 0;
  printf("forwarding\n");
  fflush(stdout);
  for (;;) {
    struct pollfd p[2] = {{fds[0], POLLIN, 0}, {fds[1], POLLIN, 0}};
    if (poll(p, 2, -1) < 0) continue;
    for (int i = 0; i < 2; i++) {
      if (!(p[i].revents & POLLIN)) continue;
      ssize_t n = recv(fds[i], buf, sizeof buf, MSG_DONTWAIT);
      if (n <= 0) continue;
      int out = fds[1 - i];
      double r = rand() / (double)RAND_MAX;
      if (r < loss) { dropped++; continue; }
      if (r < loss + reorder && heldLen[i] == 0) {
        memcpy(held[i], buf, n);
        heldLen[i] = n;
        continue;
      }
      send(out, buf, n, 0);
      if (heldLen[i]) {
        send(out, held[i], heldLen[i], 0);
        heldLen[i] = 0;
      }
      fwd++;
    }
  }
}
