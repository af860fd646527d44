/* pipe + fork: data transfer larger than the pipe buffer, EOF, EPIPE/SIGPIPE, O_NONBLOCK, pipe2. */
#include "common.h"
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>

#define BIG (300 * 1024)

int main(void) {
  guest_init();
  int p[2], st;
  MUST(pipe(p));
  printf("pipe fds=%d,%d\n", p[0], p[1]);

  /* Child writes BIG bytes (blocks when the pipe is full); parent reads and checks. */
  pid_t c = fork();
  if (c == 0) {
    close(p[0]);
    static char buf[BIG];
    for (int i = 0; i < BIG; i++) buf[i] = (char)(i % 251);
    long off = 0;
    while (off < BIG) {
      long n = write(p[1], buf + off, BIG - off);
      if (n < 0) _exit(1);
      off += n;
    }
    _exit(0);
  }
  close(p[1]);
  static char in[BIG + 16];
  long total = 0, n;
  while ((n = read(p[0], in + total, sizeof in - total)) > 0) total += n;
  printf("read total=%ld last read=%ld\n", total, n);
  int good = 1;
  for (int i = 0; i < BIG && i < total; i++) if (in[i] != (char)(i % 251)) { good = 0; break; }
  FACT("data intact", good);
  waitpid(c, &st, 0);
  printf("writer exit=%d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
  close(p[0]);

  /* Two-way: parent -> child -> parent (a round trip through two pipes). */
  int to[2], from[2];
  MUST(pipe(to));
  MUST(pipe(from));
  c = fork();
  if (c == 0) {
    close(to[1]);
    close(from[0]);
    char b[64];
    long k;
    while ((k = read(to[0], b, sizeof b)) > 0) {
      for (long i = 0; i < k; i++) if (b[i] >= 'a' && b[i] <= 'z') b[i] -= 32;
      write(from[1], b, k);
    }
    _exit(0);
  }
  close(to[0]);
  close(from[1]);
  for (int i = 0; i < 3; i++) {
    char msg[32], got[32] = {0};
    sprintf(msg, "ping %d", i);
    write(to[1], msg, strlen(msg));
    long k = read(from[0], got, sizeof got - 1);
    printf("round trip %d: %ld [%s]\n", i, k, got);
  }
  close(to[1]);
  waitpid(c, &st, 0);
  printf("echo child exit=%d\n", WEXITSTATUS(st));
  close(from[0]);

  /* Writing with no reader: EPIPE when SIGPIPE is ignored, death by SIGPIPE otherwise. */
  MUST(pipe(p));
  close(p[0]);
  signal(SIGPIPE, SIG_IGN);
  EXPECT_ERR("write no reader (SIGPIPE ignored)", write(p[1], "x", 1), EPIPE);
  signal(SIGPIPE, SIG_DFL);
  c = fork();
  if (c == 0) { write(p[1], "x", 1); _exit(0); }
  waitpid(c, &st, 0);
  printf("writer without reader: %s\n", WIFSIGNALED(st) ? sigabbrev_np(WTERMSIG(st)) : "exited");
  close(p[1]);

  /* O_NONBLOCK empty read -> EAGAIN; pipe2 flags. */
  MUST(pipe2(p, O_NONBLOCK | O_CLOEXEC));
  char b;
  EXPECT_ERR("nonblocking empty read", read(p[0], &b, 1), EAGAIN);
  printf("pipe2 FD_CLOEXEC=%d O_NONBLOCK=%d\n", (fcntl(p[0], F_GETFD) & FD_CLOEXEC) != 0,
         (fcntl(p[1], F_GETFL) & O_NONBLOCK) != 0);
  printf("pipe access modes: r=%d w=%d\n", (fcntl(p[0], F_GETFL) & O_ACCMODE) == O_RDONLY,
         (fcntl(p[1], F_GETFL) & O_ACCMODE) == O_WRONLY);
  EXPECT_ERR("write to read end", write(p[0], "x", 1), EBADF);
  EXPECT_ERR("read from write end", read(p[1], &b, 1), EBADF);
  /* Fill a nonblocking pipe: EAGAIN once full; capacity is 64 KiB by default. */
  static char chunk[4096];
  long filled = 0;
  for (;;) {
    long k = write(p[1], chunk, sizeof chunk);
    if (k < 0) { printf("fill stops with %s\n", ename(errno)); break; }
    filled += k;
    if (filled > (1 << 22)) break;
  }
  printf("pipe capacity=%ld\n", filled);
  close(p[0]);
  close(p[1]);
  EXPECT_ERR("pipe bad pointer", pipe((int *)1), EFAULT);
  EXPECT_ERR("pipe2 bad flags", pipe2(p, 0x7fff0000), EINVAL);

  /* A shell-style pipeline: child1 | child2 via dup2. */
  MUST(pipe(p));
  pid_t w = fork();
  if (w == 0) {
    dup2(p[1], 1);
    close(p[0]);
    close(p[1]);
    for (int i = 1; i <= 5; i++) printf("line %d\n", i);
    _exit(0);
  }
  pid_t rd = fork();
  if (rd == 0) {
    close(p[1]);
    char buf[256];
    long tot = 0, k;
    while ((k = read(p[0], buf + tot, sizeof buf - tot)) > 0) tot += k;
    int lines = 0;
    for (long i = 0; i < tot; i++) lines += buf[i] == '\n';
    printf("reader saw %ld bytes, %d lines\n", tot, lines);
    _exit(0);
  }
  close(p[0]);
  close(p[1]);
  waitpid(w, &st, 0);
  waitpid(rd, &st, 0);
  printf("done\n");
  return 0;
}
