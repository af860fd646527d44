/* sendfile/splice/tee: no byte lost on short writes, a pipe is no sendfile source, flags checked. */
#include "common.h"
#include <fcntl.h>
#include <poll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/wait.h>

#define SIZE 567198

static unsigned char pat(long i) { return (unsigned char)(i * 7 + (i >> 9)); }

/* Child: read everything from fd, check the pattern, print the count. */
static pid_t receiver(int fd, int other, long expect) {
  fflush(stdout);
  pid_t p = fork();
  if (p == 0) {
    close(other);
    static unsigned char b[65536];
    long got = 0, bad = 0;
    for (;;) {
      ssize_t n = read(fd, b, sizeof b);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      for (ssize_t i = 0; i < n; i++) if (b[i] != pat(got + i)) bad++;
      got += n;
    }
    printf("receiver: %ld of %ld bytes, %s\n", got, expect, bad ? "corrupt" : "intact");
    fflush(stdout);
    _exit(0);
  }
  return p;
}

int main(void) {
  char path[] = "/tmp/cp_sendfile.XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) { printf("mkstemp %s\n", ename(errno)); return 1; }
  unlink(path);
  static unsigned char buf[SIZE];
  for (long i = 0; i < SIZE; i++) buf[i] = pat(i);
  if (write(fd, buf, SIZE) != SIZE) { printf("write failed\n"); return 1; }
  lseek(fd, 0, SEEK_SET);

  /* 1. NULL offset, non-blocking socket: the file position moves by what was sent. */
  int sv[2];
  socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
  fcntl(sv[0], F_SETFL, O_NONBLOCK);
  ssize_t first = sendfile(sv[0], fd, NULL, SIZE);
  FACT("first sendfile is short", first > 0 && first < SIZE);
  FACT("position equals bytes sent", lseek(fd, 0, SEEK_CUR) == first);
  fflush(stdout);
  pid_t rp = receiver(sv[1], sv[0], SIZE);
  close(sv[1]);
  long sent = first > 0 ? first : 0;
  int mismatch = 0;
  while (sent < SIZE) {
    ssize_t r = sendfile(sv[0], fd, NULL, SIZE - sent);
    if (r < 0 && errno == EAGAIN) {
      struct pollfd p = { sv[0], POLLOUT, 0 };
      poll(&p, 1, -1);
      continue;
    }
    if (r <= 0) { printf("sendfile: %s\n", r < 0 ? ename(errno) : "0"); break; }
    sent += r;
    if (lseek(fd, 0, SEEK_CUR) != sent) mismatch++;
  }
  printf("sent %ld, position mismatches %d\n", sent, mismatch);
  SHOW("sendfile at EOF", sendfile(sv[0], fd, NULL, 100));
  close(sv[0]);
  waitpid(rp, NULL, 0);

  /* 2. Explicit offset: the file position does not move, *offset does. */
  socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
  off_t off = 1000;
  lseek(fd, 5, SEEK_SET);
  SHOW("sendfile with offset", sendfile(sv[0], fd, &off, 4096));
  printf("offset now %ld, position %ld\n", (long)off, (long)lseek(fd, 0, SEEK_CUR));
  close(sv[0]); close(sv[1]);

  /* 3. A pipe is no sendfile source. */
  int pp[2];
  pipe(pp);
  int out = open("/dev/null", O_WRONLY);
  EXPECT_ERR("sendfile from empty pipe", sendfile(out, pp[0], NULL, 10), EINVAL);
  write(pp[1], "hello", 5);
  EXPECT_ERR("sendfile from full pipe", sendfile(out, pp[0], NULL, 10), EINVAL);
  off = 0;
  EXPECT_ERR("sendfile from pipe with offset", sendfile(out, pp[0], &off, 10), ESPIPE);
  char c[8];
  SHOW("pipe data kept", read(pp[0], c, sizeof c));
  EXPECT_ERR("sendfile to O_APPEND", sendfile(open(path, O_WRONLY | O_CREAT | O_APPEND, 0600), fd, NULL, 10), EINVAL);
  unlink(path);

  /* 4. splice from a pipe into a socket that takes less: nothing lost. */
  socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
  fcntl(pp[1], F_SETPIPE_SZ, 1 << 20);
  long total = 0;
  for (int k = 0; k < 8; k++) {
    ssize_t w = write(pp[1], buf + total, 65536);
    if (w > 0) total += w;
  }
  close(pp[1]);
  rp = receiver(sv[1], sv[0], total);
  close(sv[1]);
  long moved = 0;
  for (;;) {
    ssize_t r = splice(pp[0], NULL, sv[0], NULL, 1 << 20, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    moved += r;
  }
  printf("spliced %ld of %ld\n", moved, total);
  close(sv[0]);
  waitpid(rp, NULL, 0);

  /* 5. Flags outside SPLICE_F_ALL are EINVAL. */
  int a[2], b[2];
  pipe(a); pipe(b);
  write(a[1], "xy", 2);
  EXPECT_ERR("tee bad flags", tee(a[0], b[1], 2, 0x10), EINVAL);
  EXPECT_ERR("tee bad flags, len 0", tee(a[0], b[1], 0, ~0u), EINVAL);
  SHOW("tee ok", tee(a[0], b[1], 2, 0));
  EXPECT_ERR("splice bad flags", splice(a[0], NULL, b[1], NULL, 2, 0x100), EINVAL);
  SHOW("splice ok", splice(a[0], NULL, b[1], NULL, 2, 0xf & ~2));
  printf("done\n");
  return 0;
}
