/* IP fragmentation and reassembly counters: with lo's MTU set to 1500 (ip link), a
 * 4000-byte UDP datagram over 127.0.0.1 leaves in three fragments and is reassembled;
 * /proc/net/snmp's Ip group counts both sides (FragOKs, FragCreates, ReasmReqds,
 * ReasmOKs), the datagram arrives whole. The MTU is put back at the end. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void die(const char *what) { printf("%s: %s\n", what, strerror(errno)); exit(1); }

#define NF 19
static const char *names[NF];
static char namebuf[1024];

/* The Ip group's values, in the order of its names line. */
static void ip_counts(long long *v) {
  FILE *f = fopen("/proc/net/snmp", "r");
  if (!f) die("/proc/net/snmp");
  char line[1024];
  int row = 0;
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, "Ip: ", 4) != 0) continue;
    if (row++ == 0) {
      strcpy(namebuf, line + 4);
      int i = 0;
      for (char *t = strtok(namebuf, " \n"); t && i < NF; t = strtok(NULL, " \n")) names[i++] = t;
      continue;
    }
    char *p = line + 4;
    for (int i = 0; i < NF; i++) v[i] = strtoll(p, &p, 10);
    break;
  }
  fclose(f);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (system("ip link set dev lo mtu 1500") != 0) die("ip link set mtu");
  long long before[NF], after[NF];
  ip_counts(before);
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t al = sizeof a;
  if (s < 0 || bind(s, (void *)&a, sizeof a) < 0 || getsockname(s, (void *)&a, &al) < 0) die("bind");
  static char out[4000], in[5000];
  for (int i = 0; i < (int)sizeof out; i++) out[i] = (char)(i * 7);
  printf("sendto: %zd\n", sendto(s, out, sizeof out, 0, (void *)&a, sizeof a));
  ssize_t n = recv(s, in, sizeof in, 0);
  printf("recv: %zd, intact: %d\n", n, n == (ssize_t)sizeof out && memcmp(in, out, sizeof out) == 0);
  ip_counts(after);
  for (int i = 0; i < NF; i++) {
    const char *k = names[i];
    if (!strcmp(k, "InReceives") || !strcmp(k, "InDelivers") || !strcmp(k, "OutRequests") || !strncmp(k, "Reasm", 5) || !strncmp(k, "Frag", 4))
      printf("%s +%lld\n", k, after[i] - before[i]);
  }
  if (system("ip link set dev lo mtu 65536") != 0) die("ip link set mtu back");
  printf("done\n");
  return 0;
}
