/* Job control on a pty: a mini shell (session leader, forkpty child) runs jobs in their
 * own process groups. Background read -> SIGTTIN stop, tcsetpgrp + SIGCONT -> the read
 * completes; ^Z -> SIGTSTP stop, SIGCONT -> WIFCONTINUED; TOSTOP write -> SIGTTOU;
 * ignored SIGTTIN -> EIO; tcsetpgrp errors. The parent types at the master. */
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

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#include <stdarg.h>
static void say(const char *fmt, ...) {
  char b[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(b, sizeof b, fmt, ap);
  va_end(ap);
  write(1, b, n);
}

static const char *stopdesc(int st) {
  static char b[64];
  if (WIFSTOPPED(st)) snprintf(b, sizeof b, "stopped by %s", strsignal(WSTOPSIG(st)));
  else if (WIFCONTINUED(st)) snprintf(b, sizeof b, "continued");
  else if (WIFEXITED(st)) snprintf(b, sizeof b, "exited %d", WEXITSTATUS(st));
  else if (WIFSIGNALED(st)) snprintf(b, sizeof b, "killed by %s", strsignal(WTERMSIG(st)));
  return b;
}

static void on_hup(int sig) {
  (void)sig;
  say("F got SIGHUP\n");
  _exit(0);
}

static int shell(void) {
  signal(SIGTTOU, SIG_IGN); /* like bash: the shell may tcsetpgrp from the background */
  signal(SIGTTIN, SIG_IGN);
  signal(SIGTSTP, SIG_IGN);
  pid_t me = getpgrp();
  int st;
  struct termios t;

  /* 1. background read: SIGTTIN */
  pid_t a = fork();
  if (a == 0) {
    setpgid(0, 0);
    signal(SIGTTIN, SIG_DFL);
    signal(SIGTTOU, SIG_DFL);
    char line[64];
    ssize_t n = read(0, line, sizeof line - 1);
    if (n < 0) n = 0;
    line[n] = 0;
    say("A read: %s", line);
    _exit(3);
  }
  setpgid(a, a);
  waitpid(a, &st, WUNTRACED);
  say("A %s\n", stopdesc(st));
  tcsetpgrp(0, a);
  say("fg is A: %d\n", tcgetpgrp(0) == a);
  kill(-a, SIGCONT);
  waitpid(a, &st, WUNTRACED | WCONTINUED);
  say("A %s\n", stopdesc(st));
  say("READY-A\n");
  waitpid(a, &st, WUNTRACED);
  say("A %s\n", stopdesc(st));
  tcsetpgrp(0, me);
  say("fg back: %d\n", tcgetpgrp(0) == me);

  /* 2. foreground job stopped by ^Z, continued */
  pid_t b = fork();
  if (b == 0) {
    setpgid(0, 0);
    signal(SIGTSTP, SIG_DFL);
    signal(SIGTTOU, SIG_DFL);
    while (tcgetpgrp(0) != getpgrp()) usleep(1000);
    say("READY-B\n");
    for (;;) pause();
  }
  setpgid(b, b);
  tcsetpgrp(0, b);
  waitpid(b, &st, WUNTRACED);
  say("B %s\n", stopdesc(st));
  tcsetpgrp(0, me);
  kill(-b, SIGCONT);
  waitpid(b, &st, WCONTINUED);
  say("B %s\n", stopdesc(st));
  kill(b, SIGTERM);
  waitpid(b, &st, 0);
  say("B %s\n", stopdesc(st));

  /* 3. TOSTOP: a background write stops with SIGTTOU */
  tcgetattr(0, &t);
  t.c_lflag |= TOSTOP;
  tcsetattr(0, TCSANOW, &t);
  pid_t c = fork();
  if (c == 0) {
    setpgid(0, 0);
    signal(SIGTTOU, SIG_DFL);
    say("C wrote\n");
    _exit(0);
  }
  setpgid(c, c);
  waitpid(c, &st, WUNTRACED);
  say("C %s\n", stopdesc(st));
  t.c_lflag &= ~TOSTOP;
  tcsetattr(0, TCSANOW, &t);
  kill(c, SIGCONT);
  waitpid(c, &st, 0);
  say("C %s\n", stopdesc(st));

  /* 4. background read with SIGTTIN ignored: EIO; tcsetpgrp errors */
  pid_t d = fork();
  if (d == 0) {
    setpgid(0, 0);
    char x;
    errno = 0;
    ssize_t n = read(0, &x, 1);
    say("D read %zd %s\n", n, strerror(errno));
    _exit(0);
  }
  setpgid(d, d);
  waitpid(d, &st, 0);
  say("D %s\n", stopdesc(st));
  int r = tcsetpgrp(0, -1);
  say("tcsetpgrp(-1): %d %s\n", r, strerror(errno));
  r = tcsetpgrp(0, getppid());
  say("tcsetpgrp(other session's group): %d %s\n", r, strerror(errno));
  int fd = open("/dev/null", O_RDWR);
  r = tcgetpgrp(fd);
  say("tcgetpgrp(not a tty): %d %s\n", r, strerror(errno));

  /* 5. a group orphaned with a stopped member gets SIGHUP+SIGCONT. No sleeps: E leaves
   * only once F has stopped, and the shell goes on once F has exited (the pipe's last
   * writer gone), so the output does not depend on timing. */
  int done[2];
  if (pipe(done) != 0) return 9;
  pid_t e = fork();
  if (e == 0) {
    setpgid(0, 0);
    close(done[0]);
    pid_t f = fork();
    if (f == 0) {
      signal(SIGHUP, on_hup);
      raise(SIGSTOP);
      for (;;) pause(); /* the SIGHUP handler ends it */
    }
    waitpid(f, &st, WUNTRACED); /* F is stopped: orphan the group now */
    _exit(0);
  }
  close(done[1]);
  setpgid(e, e);
  waitpid(e, &st, 0);
  char z;
  while (read(done[0], &z, 1) > 0) {}
  close(done[0]);
  say("SHELL-DONE\n");
  return 0;
}

static char acc[8192];
static size_t accn;

/* Collects master output until `mark` appears (or ms without output: a loaded machine
   can be slow to produce the next line, so the marks get 20 s). */
static int wait_for(int m, const char *mark, int ms) {
  for (;;) {
    acc[accn] = 0;
    if (strstr(acc, mark)) return 1;
    struct pollfd p = {m, POLLIN, 0};
    if (poll(&p, 1, ms) <= 0) return 0;
    ssize_t n = read(m, acc + accn, sizeof acc - 1 - accn);
    if (n <= 0) return 0;
    accn += n;
  }
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  int m;
  pid_t pid = forkpty(&m, NULL, NULL, NULL);
  if (pid < 0) { perror("forkpty"); return 1; }
  if (pid == 0) _exit(shell());
  if (!wait_for(m, "READY-A", 20000)) printf("timeout A\n");
  write(m, "typed\n", 6);
  if (!wait_for(m, "READY-B", 20000)) printf("timeout B\n");
  write(m, "\x1a", 1);
  if (!wait_for(m, "SHELL-DONE", 20000)) printf("timeout end: %s\n", acc);
  int st;
  waitpid(pid, &st, 0);
  wait_for(m, "\x01never", 5000); /* drain: ends at EIO once the slave is gone */
  for (char *p = acc; *p; p++) if (*p != '\r') putchar(*p);
  printf("shell %s\n", WIFEXITED(st) ? "exited" : "killed");
  printf("done\n");
  return 0;
}
