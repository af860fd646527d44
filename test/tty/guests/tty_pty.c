/* openpty/forkpty round trips: canonical vs raw mode, echo, ^C kills the foreground
 * child, TIOCSWINSZ -> SIGWINCH, hangup. Deterministic output, compared with native. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

static void show(const char *tag, const char *b, ssize_t n) {
  printf("%s: %zd \"", tag, n);
  for (ssize_t i = 0; i < n; i++) {
    unsigned char c = b[i];
    if (c == '\r') printf("\\r");
    else if (c == '\n') printf("\\n");
    else if (c < 32 || c >= 127) printf("\\x%02x", c);
    else putchar(c);
  }
  printf("\"\n");
}

/*
 * Reads from fd until exactly the `want` bytes the step produces have come. Linux
 * delivers pty input and echo asynchronously (a worker thread), so what one read
 * returns depends on timing; the count does not. The timeout only ends a broken run.
 */
static ssize_t read_some(int fd, char *b, size_t cap, size_t want) {
  size_t got = 0;
  while (got < want) {
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 20000) <= 0) break;
    ssize_t n = read(fd, b + got, cap - got);
    if (n <= 0) break;
    got += n;
  }
  return got;
}

static volatile sig_atomic_t winch;
static void on_winch(int s) { (void)s; winch = 1; }
static volatile sig_atomic_t interrupted;
static void on_int(int s) { (void)s; interrupted = 1; }

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  int m, s;
  char name[64], b[256];
  struct winsize ws = {24, 80, 0, 0};
  if (openpty(&m, &s, name, NULL, &ws) < 0) { perror("openpty"); return 1; }
  printf("ptsname ok: %d\n", strncmp(name, "/dev/pts/", 9) == 0);
  printf("isatty: %d %d\n", isatty(m), isatty(s));
  char *pn = ptsname(m);
  printf("ptsname matches: %d\n", pn && strcmp(pn, name) == 0);
  struct winsize g;
  ioctl(s, TIOCGWINSZ, &g);
  printf("winsize: %d %d\n", g.ws_row, g.ws_col);
  struct termios t;
  tcgetattr(s, &t);
  printf("termios %#x %#x %#x %#x cc", t.c_iflag, t.c_oflag, t.c_cflag, t.c_lflag);
  for (int i = 0; i < 17; i++) printf(" %d", t.c_cc[i]);
  printf("\n");
  printf("canon=%d echo=%d isig=%d onlcr=%d icrnl=%d\n", !!(t.c_lflag & ICANON), !!(t.c_lflag & ECHO),
         !!(t.c_lflag & ISIG), !!(t.c_oflag & ONLCR), !!(t.c_iflag & ICRNL));

  /* slave output: \n becomes \r\n */
  write(s, "hi\n", 3);
  show("master got", b, read_some(m, b, sizeof b, 4));

  /* canonical input with echo: the slave sees one line; erase works */
  write(m, "abX\x7f" "c\r", 6);
  show("echo", b, read_some(m, b, sizeof b, 9));
  int avail = -1;
  ioctl(s, FIONREAD, &avail);
  printf("FIONREAD %d\n", avail);
  show("slave line", b, read(s, b, sizeof b));

  /* VEOF on an empty line reads as 0; on a partial line returns it */
  write(m, "xy\x04", 3);
  show("partial", b, read(s, b, sizeof b));
  write(m, "\x04", 1);
  printf("eof read: %zd\n", read(s, b, sizeof b));
  read_some(m, b, sizeof b, 2);

  /* raw mode, no echo: bytes as they come, VMIN=0 VTIME=0 returns 0 */
  cfmakeraw(&t);
  t.c_cc[VMIN] = 0;
  t.c_cc[VTIME] = 0;
  tcsetattr(s, TCSANOW, &t);
  printf("raw empty read: %zd\n", read(s, b, sizeof b));
  write(m, "q\r\x03", 3);
  show("raw", b, read_some(s, b, sizeof b, 3)); /* VMIN=0: a read returns what has come so far */
  struct pollfd pm = {m, POLLIN, 0};
  printf("no echo: %d\n", poll(&pm, 1, 100));
  /* raw output: no \r added */
  write(s, "x\n", 2);
  show("raw out", b, read_some(m, b, sizeof b, 2));
  close(s);
  close(m);

  /* forkpty: the child is a session leader with the pty as controlling tty */
  int hold[2]; /* keeps the child (and so the slave) alive until its ^C echo is read */
  if (pipe(hold) < 0) { perror("pipe"); return 1; }
  pid_t pid = forkpty(&m, NULL, NULL, NULL);
  if (pid == 0) {
    close(hold[1]);
    signal(SIGWINCH, on_winch);
    signal(SIGINT, on_int);
    printf("child sid==pid %d, tcgetpgrp==pgrp %d, tcgetsid==pid %d\n", getsid(0) == getpid(),
           tcgetpgrp(0) == getpgrp(), tcgetsid(0) == getpid());
    int fd = open("/dev/tty", O_RDWR);
    printf("dev/tty open: %d\n", fd >= 0);
    fflush(stdout);
    char line[64];
    while (!winch) pause();
    printf("got SIGWINCH\n");
    fflush(stdout);
    if (fgets(line, sizeof line, stdin)) printf("child read: %s", line);
    fflush(stdout);
    /* Linux signals before it echoes ^C: a child dying at once could close the slave
     * before the echo is written, and native output would depend on timing. So the
     * child catches ^C, waits until the parent has read the echo, then dies of it. */
    while (!interrupted) pause();
    read(hold[0], b, 1);
    signal(SIGINT, SIG_DFL);
    raise(SIGINT);
    _exit(1);
  }
  close(hold[0]);
  show("child says", b, read_some(m, b, sizeof b, 71));
  ws.ws_row = 30;
  ioctl(m, TIOCSWINSZ, &ws);
  show("after winch", b, read_some(m, b, sizeof b, 14));
  write(m, "hello\n", 6);
  show("echo+line", b, read_some(m, b, sizeof b, 26));
  write(m, "\x03", 1);
  show("^C echo", b, read_some(m, b, sizeof b, 2));
  close(hold[1]);
  int st;
  waitpid(pid, &st, 0);
  printf("child killed by SIGINT: %d\n", WIFSIGNALED(st) && WTERMSIG(st) == SIGINT);
  /* slave all closed: master read gives EIO */
  errno = 0;
  ssize_t r = read(m, b, sizeof b);
  printf("master read after child: %zd %s\n", r, r < 0 ? strerror(errno) : "");

  /* hangup: closing the master discards input; slave reads EOF, writes EIO; SIGHUP */
  int m2, s2;
  openpty(&m2, &s2, NULL, NULL, NULL);
  write(m2, "ab\n", 3);
  close(m2);
  struct pollfd ph = {s2, POLLIN | POLLOUT, 0};
  poll(&ph, 1, 0);
  printf("hung up revents %#x\n", ph.revents);
  errno = 0;
  r = read(s2, b, sizeof b);
  printf("read after hangup: %zd %s\n", r, strerror(errno));
  errno = 0;
  r = write(s2, "x", 1);
  printf("write after hangup: %zd %s\n", r, strerror(errno));
  close(s2);
  pid = forkpty(&m2, NULL, NULL, NULL);
  if (pid == 0) {
    write(1, "x", 1);
    pause();
    _exit(0);
  }
  read(m2, b, 1);
  close(m2);
  waitpid(pid, &st, 0);
  printf("session leader on hangup: %s\n", WIFSIGNALED(st) ? strsignal(WTERMSIG(st)) : "exited");
  printf("done\n");
  return 0;
}
