/* TCP_INFO on loopback connections (v4 and v6): after a small exchange each way, the
 * fields a loopback connection fixes (state, options, window scales, MSS, advmss, path
 * MTU, ato, reordering, counts of bytes, nothing lost or retransmitted) of both ends, and
 * the timing-dependent ones (rto, cwnd) as ranges; the window scale (from the host's
 * rmem_max) and the send MSS (bounded by half the peer's window) as relations. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <linux/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/sockios.h>
#include <sys/socket.h>
#include <unistd.h>

static void die(const char *what) { printf("%s: %s\n", what, strerror(errno)); exit(1); }

static void full_read(int fd, char *b, int n) {
  for (int got = 0; got < n;) {
    int r = read(fd, b + got, n - got);
    if (r <= 0) die("read");
    got += r;
  }
}

/* Until everything the sender wrote is acknowledged (SIOCOUTQ 0). */
static void settle(int fd) {
  for (int i = 0; i < 500; i++) {
    int q = -1;
    ioctl(fd, SIOCOUTQ, &q);
    if (q == 0) return;
    usleep(10000);
  }
}

static void show(const char *who, int fd) {
  struct tcp_info ti;
  memset(&ti, 0xee, sizeof ti);
  socklen_t tl = sizeof ti;
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &tl) < 0) die("TCP_INFO");
  printf("%s: len %u state %u ca_state %u retransmits %u probes %u backoff %u options %u wscales equal, in [7, 14]: %d\n", who, tl,
         ti.tcpi_state, ti.tcpi_ca_state, ti.tcpi_retransmits, ti.tcpi_probes, ti.tcpi_backoff, ti.tcpi_options,
         ti.tcpi_snd_wscale == ti.tcpi_rcv_wscale && ti.tcpi_rcv_wscale >= 7 && ti.tcpi_rcv_wscale <= 14);
  printf("%s: snd_mss in [536, advmss]: %d advmss %u pmtu %u ato %u reordering %u unacked %u sacked %u lost %u retrans %u total_retrans %u\n", who,
         ti.tcpi_snd_mss >= 536 && ti.tcpi_snd_mss <= ti.tcpi_advmss, ti.tcpi_advmss, ti.tcpi_pmtu, ti.tcpi_ato, ti.tcpi_reordering, ti.tcpi_unacked, ti.tcpi_sacked,
         ti.tcpi_lost, ti.tcpi_retrans, ti.tcpi_total_retrans);
  printf("%s: bytes_acked %llu bytes_received %llu snd_ssthresh %u rto in [200000, 300000]: %d cwnd in [10, 20]: %d\n", who,
         (unsigned long long)ti.tcpi_bytes_acked, (unsigned long long)ti.tcpi_bytes_received, ti.tcpi_snd_ssthresh,
         ti.tcpi_rto >= 200000 && ti.tcpi_rto <= 300000, ti.tcpi_snd_cwnd >= 10 && ti.tcpi_snd_cwnd <= 20);
}

static void pair(int family) {
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof ss);
  socklen_t sl;
  if (family == AF_INET) {
    struct sockaddr_in *a = (void *)&ss;
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sl = sizeof *a;
  } else {
    struct sockaddr_in6 *a = (void *)&ss;
    a->sin6_family = AF_INET6;
    a->sin6_addr = in6addr_loopback;
    sl = sizeof *a;
  }
  int l = socket(family, SOCK_STREAM, 0);
  if (l < 0 || bind(l, (void *)&ss, sl) < 0 || listen(l, 1) < 0) die("listen");
  if (getsockname(l, (void *)&ss, &sl) < 0) die("getsockname");
  int c = socket(family, SOCK_STREAM, 0);
  struct tcp_info ti;
  socklen_t tl = sizeof ti;
  if (getsockopt(c, IPPROTO_TCP, TCP_INFO, &ti, &tl) < 0) die("TCP_INFO");
  printf("unconnected: state %u\n", ti.tcpi_state);
  if (getsockopt(l, IPPROTO_TCP, TCP_INFO, &ti, &tl) < 0) die("TCP_INFO");
  printf("listener: state %u\n", ti.tcpi_state);
  if (connect(c, (void *)&ss, sl) < 0) die("connect");
  int s = accept(l, NULL, NULL);
  if (s < 0) die("accept");
  static char buf[4000];
  memset(buf, 'x', sizeof buf);
  if (write(c, buf, 1000) != 1000) die("write");
  full_read(s, buf, 1000);
  if (write(s, buf, 300) != 300) die("write");
  full_read(c, buf, 300);
  settle(c);
  settle(s);
  printf("-- %s\n", family == AF_INET ? "IPv4" : "IPv6");
  show("client", c);
  show("server", s);
  close(c);
  close(s);
  close(l);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  pair(AF_INET);
  pair(AF_INET6);
  printf("done\n");
  return 0;
}
