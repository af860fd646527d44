/* Pseudo-terminals: posix_openpt/grantpt/unlockpt/ptsname, echo and canonical input,
 * output NL->CRNL, raw mode, EOF, hang-up. Output compared with Linux. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

static void dump(const char *what, const char *b, int n) {
  printf("%s: %d \"", what, n);
  for (int i = 0; i < n; i++) {
    if (b[i] == '\r') printf("\\r");
    else if (b[i] == '\n') printf("\\n");
    else if (b[i] < 32 || b[i] == 127) printf("\\x%02x", (unsigned char)b[i]);
    else putchar(b[i]);
  }
  printf("\"\n");
}

/*
 * Reads until `want` bytes have come (or EOF/an error). Linux delivers pty input and
 * echo asynchronously, so one read may return part of it under load; the total does
 * not depend on timing. The timeout only ends a broken run.
 */
static int rd(int fd, char *b, int len, int want) {
  int got = 0;
  while (got < want) {
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 20000) <= 0) return got ? got : -2;
    int n = read(fd, b + got, len - got);
    if (n < 0) return got ? got : n;
    if (n == 0) return got;
    got += n;
  }
  return got;
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  int m = posix_openpt(O_RDWR | O_NOCTTY);
  printf("openpt: %s\n", m >= 0 ? "ok" : strerror(errno));
  printf("grantpt: %d unlockpt: %d\n", grantpt(m), unlockpt(m));
  char *name = ptsname(m);
  printf("ptsname under /dev/pts: %s\n", name && strncmp(name, "/dev/pts/", 9) == 0 ? "yes" : "no");
  int s = open(name, O_RDWR | O_NOCTTY);
  printf("slave open: %s isatty=%d\n", s >= 0 ? "ok" : strerror(errno), isatty(s));
  struct winsize ws = {24, 80, 0, 0};
  printf("TIOCSWINSZ: %d\n", ioctl(m, TIOCSWINSZ, &ws));
  struct winsize w2;
  ioctl(s, TIOCGWINSZ, &w2);
  printf("winsize from slave: %dx%d\n", w2.ws_row, w2.ws_col);
  char b[256];
  int n;
  write(m, "hel", 3);
  n = rd(m, b, sizeof b, 3);
  dump("echo of partial line", b, n);
  struct pollfd p = {s, POLLIN, 0};
  printf("slave readable before newline: %d\n", poll(&p, 1, 50));
  write(m, "lo\x7fo\r", 5);
  n = rd(m, b, sizeof b, 8);
  dump("echo with erase", b, n);
  n = rd(s, b, sizeof b, 6);
  dump("slave line", b, n);
  write(s, "out\n", 4);
  n = rd(m, b, sizeof b, 5);
  dump("master sees", b, n);
  write(m, "\x04", 1);
  n = rd(s, b, sizeof b, 1); /* EOF: 0 */
  printf("EOF read: %d\n", n);
  struct termios t;
  tcgetattr(s, &t);
  printf("default lflag has ICANON|ECHO: %d\n", (t.c_lflag & (ICANON | ECHO)) == (ICANON | ECHO));
  cfmakeraw(&t);
  printf("tcsetattr raw: %d\n", tcsetattr(s, TCSANOW, &t));
  write(m, "ab\r", 3);
  n = rd(s, b, sizeof b, 3);
  dump("raw read", b, n);
  write(s, "x\n", 2);
  n = rd(m, b, sizeof b, 2);
  dump("raw output", b, n);
  close(s);
  n = read(m, b, sizeof b);
  printf("master read after slave closed: %d %s\n", n, n < 0 ? strerrorname_np(errno) : "");
  int s2 = open(name, O_RDWR | O_NOCTTY);
  close(m);
  n = read(s2, b, sizeof b);
  printf("slave read after master closed: %d\n", n);
  n = write(s2, "z", 1);
  printf("slave write after master closed: %d %s\n", n, n < 0 ? strerrorname_np(errno) : "");
  return 0;
}
