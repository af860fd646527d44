/*
 * net_pinggroup: who may open ping sockets (SOCK_DGRAM + IPPROTO_ICMP/ICMPV6) as
 * net.ipv4.ping_group_range says; run as root in a network namespace of its own (the
 * setting is per namespace on Linux), it changes the range and its groups and prints
 * what socket(2) and the sysctl file answer.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *F = "/proc/sys/net/ipv4/ping_group_range";

static void set(const char *v) {
  int fd = open(F, O_WRONLY);
  ssize_t w = fd < 0 ? -1 : write(fd, v, strlen(v));
  int e = errno;
  if (fd >= 0) close(fd);
  char b[64] = {0};
  fd = open(F, O_RDONLY);
  if (fd >= 0 && read(fd, b, sizeof b - 1) < 0) b[0] = 0;
  if (fd >= 0) close(fd);
  for (char *p = b; *p; p++)
    if (*p == '\t') *p = ' ';
    else if (*p == '\n') *p = 0;
  printf("write '%s': %s; now '%s'\n", v, w >= 0 ? "ok" : strerror(e), b);
}

static void try(const char *label) {
  int s4 = socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP);
  int e4 = errno;
  int s6 = socket(AF_INET6, SOCK_DGRAM, IPPROTO_ICMPV6);
  int e6 = errno;
  printf("%s: v4 %s, v6 %s\n", label, s4 >= 0 ? "ok" : strerror(e4), s6 >= 0 ? "ok" : strerror(e6));
  if (s4 >= 0) close(s4);
  if (s6 >= 0) close(s6);
}

int main(void) {
  set("1 0");
  try("root, range 1 0 (nobody)");
  set("0 0");
  try("root, range 0 0");
  set("100 200");
  try("root, range 100 200");
  gid_t g[] = {150};
  if (setgroups(1, g) != 0) perror("setgroups");
  try("supplementary group 150");
  if (setgroups(0, NULL) != 0 || setegid(201) != 0) perror("setegid");
  try("egid 201");
  if (setegid(200) != 0) perror("setegid");
  try("egid 200");
  if (setegid(0) != 0) perror("setegid");
  set("5");
  set("0 2147483648");
  set("10 5");
  try("range 10 5");
  set("0 2147483647");
  try("range 0 2147483647");
  return 0;
}
