/*
 * net_hoststream: a TCP stream over 127.0.0.1 with read/write/readv/recv/send of many
 * sizes, checked byte for byte, and the error cases of stream reads and writes (bad
 * buffers leave the bytes queued, zero-length calls, EAGAIN, EPIPE after shutdown). In
 * --network=host these go straight between the host socket and guest memory. The writer
 * is a child; the parent prints every line (after the child is gone: one order).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#define TOTAL (4u << 20)

/* One call's result and errno, printed after the call (argument order is unspecified). */
#define SHOW(what, call)                                  \
  do {                                                    \
    errno = 0;                                            \
    ssize_t r_ = (call);                                  \
    printf("%s %zd errno %d\n", what, r_, r_ < 0 ? errno : 0); \
  } while (0)

static void *volatile no_buf; /* NULL the compiler cannot see */

static unsigned char pat(size_t i) { return (unsigned char)(i * 7 + (i >> 12)); }

static int fill_and_write(int s) {
  static unsigned char b[1 << 20];
  size_t off = 0, sizes[] = {1, 4095, 65536, 1 << 20, 300000, 17};
  int k = 0;
  while (off < TOTAL) {
    size_t n = sizes[k++ % 6];
    if (n > TOTAL - off) n = TOTAL - off;
    for (size_t i = 0; i < n; i++) b[i] = pat(off + i);
    ssize_t w;
    if (k % 3 == 0) {
      struct iovec v[2] = {{b, n / 2}, {b + n / 2, n - n / 2}};
      w = writev(s, v, 2);
    } else if (k % 3 == 1) {
      w = send(s, b, n, MSG_NOSIGNAL);
    } else {
      w = write(s, b, n);
    }
    if (w <= 0) return -1;
    off += (size_t)w;
  }
  return 0;
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  int l = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t al = sizeof a;
  if (bind(l, (struct sockaddr *)&a, sizeof a) || listen(l, 1) || getsockname(l, (struct sockaddr *)&a, &al)) return perror("listen"), 1;
  int c = socket(AF_INET, SOCK_STREAM, 0);
  if (connect(c, (struct sockaddr *)&a, sizeof a)) return perror("connect"), 1;
  int s = accept(l, NULL, NULL);

  /* Nothing queued yet: a nonblocking read says EAGAIN; a zero-length read returns 0. */
  fcntl(s, F_SETFL, O_NONBLOCK);
  char one;
  SHOW("empty nonblocking read", read(s, &one, 1));
  SHOW("zero-length read", read(s, &one, 0));
  fcntl(s, F_SETFL, 0);

  /* Bad buffers: EFAULT, and the bytes stay queued for the next good read. */
  if (write(c, "abcdefgh", 8) != 8) return perror("write"), 1;
  char *page = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  munmap(page + 4096, 4096);
  char got[16] = {0};
  SHOW("read into NULL", read(s, no_buf, 8));
  SHOW("recv into an unmapped page", recv(s, page + 4096, 8, 0));
  ssize_t r = read(s, got, sizeof got);
  printf("then read %zd '%.*s'\n", r, r > 0 ? (int)r : 0, got);
  SHOW("write from NULL", write(c, no_buf, 8));
  SHOW("send from an unmapped page", send(c, page + 4096, 8, 0));
  SHOW("zero-length write", write(c, got, 0));

  /* A private file mapping's page past the file's end (truncated after mmap, never
   * touched): writable as far as the mapping goes, yet a copy there faults. EFAULT, and
   * no byte is lost: peek, FIONREAD, poll and read still see all of them. */
  if (write(c, "ijklmnop", 8) != 8) return perror("write"), 1;
  int mf = memfd_create("past-eof", 0);
  char *fm = ftruncate(mf, 8192) == 0 ? mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE, mf, 0) : MAP_FAILED;
  if (fm == MAP_FAILED || (fm[0] = 1, ftruncate(mf, 4096))) return perror("memfd"), 1;
  SHOW("recv into a page past EOF", recv(s, fm + 4096, 8, 0));
  SHOW("read into a page past EOF", read(s, fm + 4096, 8));
  memset(got, 0, sizeof got);
  r = recv(s, got, 3, MSG_PEEK);
  printf("peek %zd '%.*s'\n", r, r > 0 ? (int)r : 0, got);
  int inq = -1;
  ioctl(s, FIONREAD, &inq);
  struct pollfd pf = {.fd = s, .events = POLLIN};
  int ready = poll(&pf, 1, 0);
  printf("FIONREAD %d, poll %d revents %#x\n", inq, ready, pf.revents);
  r = read(s, got, sizeof got);
  printf("then read %zd '%.*s'\n", r, r > 0 ? (int)r : 0, got);
  munmap(fm, 8192);
  close(mf);

  /* A stream of 4 MiB in pieces of many sizes, read with many sizes. */
  pid_t kid = fork();
  if (kid == 0) _exit(fill_and_write(c) == 0 && shutdown(c, SHUT_WR) == 0 ? 0 : 1);
  static unsigned char buf[1 << 20];
  size_t off = 0, sizes[] = {1, 100, 4096, 65536, 1 << 20, 7777};
  int k = 0, bad = 0;
  for (;;) {
    size_t n = sizes[k++ % 6];
    if (k % 4 == 0) {
      struct iovec v[2] = {{buf, n / 2 + 1}, {buf + n / 2 + 1, n}};
      r = readv(s, v, 2);
    } else if (k % 4 == 1) {
      r = recv(s, buf, n, 0);
    } else {
      r = read(s, buf, n);
    }
    if (r <= 0) break;
    for (ssize_t i = 0; i < r; i++) bad += buf[i] != pat(off + (size_t)i);
    off += (size_t)r;
  }
  int st;
  waitpid(kid, &st, 0);
  printf("stream: %zu bytes, %d wrong, last read %zd, writer status %d\n", off, bad, r, st);

  /* Writes after our own shutdown: EPIPE (SIGPIPE ignored). */
  shutdown(c, SHUT_WR);
  SHOW("write after shutdown", write(c, "x", 1));
  SHOW("send after shutdown", send(c, "x", 1, MSG_NOSIGNAL));
  printf("done\n");
  return 0;
}
