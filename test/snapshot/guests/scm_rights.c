/* Fds in flight across the checkpoint (SCM_RIGHTS): a pipe's read end (its data queued,
 * its write end closed) and a file open at an offset travel in one stream message, an
 * eventfd with a count in a datagram; the sender closes its own copies, so the in-flight
 * messages are their only holders. After the counting loop they are received and read. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <stdint.h>
#include <unistd.h>

static void send_fds(int s, const char *tag, const int *fds, int n) {
  char ctrl[CMSG_SPACE(sizeof(int) * 4)] = {0};
  struct iovec iov = {(void *)tag, strlen(tag)};
  struct msghdr m = {0};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = ctrl;
  m.msg_controllen = CMSG_SPACE(sizeof(int) * n);
  struct cmsghdr *c = CMSG_FIRSTHDR(&m);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int) * n);
  memcpy(CMSG_DATA(c), fds, sizeof(int) * n);
  if (sendmsg(s, &m, 0) < 0) exit(2);
}

static int recv_fds(int s, int *fds) {
  char ctrl[CMSG_SPACE(sizeof(int) * 4)], b[32];
  struct iovec iov = {b, sizeof b};
  struct msghdr m = {0};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = ctrl;
  m.msg_controllen = sizeof ctrl;
  ssize_t r = recvmsg(s, &m, 0);
  struct cmsghdr *c = CMSG_FIRSTHDR(&m);
  int n = c && c->cmsg_type == SCM_RIGHTS ? (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int)) : 0;
  if (n) memcpy(fds, CMSG_DATA(c), sizeof(int) * n);
  printf("received '%.*s' with %d fds\n", r > 0 ? (int)r : 0, b, n);
  return n;
}

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 50;
  setvbuf(stdout, NULL, _IONBF, 0);
  int sp[2], dp[2], pf[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) || socketpair(AF_UNIX, SOCK_DGRAM, 0, dp) || pipe(pf)) return 1;
  if (write(pf[1], "through the pipe", 16) != 16) return 1;
  close(pf[1]);
  int file = open("/etc/passwd", O_RDONLY);
  if (file < 0 || lseek(file, 5, SEEK_SET) != 5) return 1;
  int e = eventfd(41, 0);
  int two[2] = {pf[0], file};
  send_fds(sp[0], "pipe+file", two, 2);
  send_fds(dp[0], "eventfd", &e, 1);
  close(pf[0]);
  close(file);
  close(e);
  volatile unsigned long x = 0;
  for (long i = 0; i < n; i++) {
    for (long j = 0; j < 3000000; j++) x += j ^ i;
    printf("%ld %lu\n", i, x);
  }
  int got[4];
  if (recv_fds(sp[1], got) == 2) {
    char b[64];
    ssize_t r = read(got[0], b, sizeof b);
    printf("pipe: %zd '%.*s'\n", r, r > 0 ? (int)r : 0, b);
    printf("then %zd\n", read(got[0], b, sizeof b));
    r = read(got[1], b, 4);
    printf("file at %ld: '%.*s'\n", (long)lseek(got[1], 0, SEEK_CUR) - (r > 0 ? r : 0), r > 0 ? (int)r : 0, b);
  }
  if (recv_fds(dp[1], got) == 1) {
    uint64_t v = 0;
    ssize_t r = read(got[0], &v, 8);
    printf("eventfd: %zd %llu\n", r, (unsigned long long)v);
  }
  return 0;
}
