#define _GNU_SOURCE
/* ss -w inside (raw_diag): raw sockets of several protocols, v4 and v6, one bound and
 * connected; ss shows each with its protocol as the port, UNCONN or ESTAB. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void die(const char *what) { printf("%s: %s\n", what, strerror(errno)); exit(1); }

static void run(const char *args) {
  printf("== ss %s\n", args);
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

int main(void) {
  syscall(SYS_close_range, 3, ~0U, 0);
  int icmp = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
  int icmp6 = socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMPV6);
  int udp = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_UDP);
  int raw = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
  if (icmp < 0 || icmp6 < 0 || udp < 0 || raw < 0) die("socket");
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (bind(udp, (void *)&a, sizeof a) < 0 || connect(udp, (void *)&a, sizeof a) < 0) die("bind/connect");
  run("-wan");
  run("-wanp");
  run("-wn");
  run("-4wan");
  run("-6wan");
  printf("done\n");
  return 0;
}
