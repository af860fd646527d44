/* Reopening a pipe through /dev/stdin or /proc/self/fd/N: never waits for a peer (named FIFOs still do). */
#include "common.h"
#include <fcntl.h>
#include <signal.h>

static void rd(const char *label, int fd) {
  char b[64];
  ssize_t n = read(fd, b, sizeof b - 1);
  if (n < 0) { printf("%s: read %s\n", label, ename(errno)); return; }
  b[n] = 0;
  printf("%s: read %zd \"%s\"\n", label, n, b);
}

int main(void) {
  alarm(10);
  int p[2];
  pipe(p);
  write(p[1], "one", 3);
  dup2(p[0], 0);
  int a = open("/dev/stdin", O_RDONLY);
  SHOW("open /dev/stdin", a >= 0 ? 0 : -1);
  rd("via /dev/stdin", a);
  char path[64];
  snprintf(path, sizeof path, "/proc/self/fd/%d", p[1]);
  int w = open(path, O_WRONLY);
  SHOW("open write end by /proc/self/fd", w >= 0 ? 0 : -1);
  write(w, "two", 3);
  rd("original read end", p[0]);
  close(w);
  close(p[1]);
  /* No writer left: the reopened read end sees EOF at once, not a FIFO wait. */
  int b = open("/proc/self/fd/0", O_RDONLY);
  SHOW("open /proc/self/fd/0 without writers", b >= 0 ? 0 : -1);
  rd("eof", b);
  struct stat st;
  fstat(b, &st);
  FACT("same pipe", fstat(0, &st) == 0 && S_ISFIFO(st.st_mode));
  close(a); close(b); close(0); close(p[0]);

  /* Write end reopened while no reader: allowed for a pipe, even O_NONBLOCK. */
  pipe(p);
  snprintf(path, sizeof path, "/proc/self/fd/%d", p[1]);
  close(p[0]);
  int wn = open(path, O_WRONLY | O_NONBLOCK);
  SHOW("open write end, no reader, O_NONBLOCK", wn >= 0 ? 0 : -1);
  signal(SIGPIPE, SIG_IGN);
  EXPECT_ERR("write without reader", write(wn, "x", 1), EPIPE);
  close(wn); close(p[1]);

  /* A named FIFO keeps its rules. */
  char fifo[] = "/tmp/cp_stdin_fifoXXXXXX";
  int tfd = mkstemp(fifo);
  close(tfd); unlink(fifo);
  mkfifo(fifo, 0600);
  EXPECT_ERR("fifo O_WRONLY|O_NONBLOCK without reader", open(fifo, O_WRONLY | O_NONBLOCK), ENXIO);
  int r = open(fifo, O_RDONLY | O_NONBLOCK);
  SHOW("fifo reader", r >= 0 ? 0 : -1);
  int w2 = open(fifo, O_WRONLY | O_NONBLOCK);
  SHOW("fifo writer with reader", w2 >= 0 ? 0 : -1);
  close(r); close(w2); unlink(fifo);
  printf("done\n");
  return 0;
}
