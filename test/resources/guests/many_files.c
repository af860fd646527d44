/* Opens N host files (argv[1]: directory of files 0..N-1, each holding its number;
 * argv[2]: N), as root after raising RLIMIT_NOFILE past N, keeps them all open, then
 * reads every one back through its fd. Each open must succeed or fail with EMFILE (its
 * own limit), never EIO. Prints "ready" and waits for a line on stdin between the two
 * passes (the test counts the Sentry's host fds then). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 3) return 2;
  int n = atoi(argv[2]);
  struct rlimit rl = { n + 64, n + 64 };
  if (setrlimit(RLIMIT_NOFILE, &rl) != 0) { printf("setrlimit: %s\n", strerror(errno)); return 1; }
  int *fds = calloc(n, sizeof *fds);
  int opened = 0, emfile = 0, other = 0, firstErr = 0;
  char p[4096];
  for (int i = 0; i < n; i++) {
    snprintf(p, sizeof p, "%s/%d", argv[1], i);
    fds[i] = open(p, O_RDONLY);
    if (fds[i] >= 0) opened++;
    else if (errno == EMFILE) emfile++;
    else { other++; if (!firstErr) firstErr = errno; }
  }
  printf("opened %d, EMFILE %d, other errors %d%s%s\n", opened, emfile, other, firstErr ? ": " : "", firstErr ? strerror(firstErr) : "");
  printf("ready\n");
  fflush(stdout);
  char line[16];
  if (!fgets(line, sizeof line, stdin)) return 1;
  int good = 0, bad = 0;
  for (int i = 0; i < n; i++) {
    if (fds[i] < 0) continue;
    char b[32] = {0};
    ssize_t k = pread(fds[i], b, sizeof b - 1, 0);
    if (k > 0 && atoi(b) == i) good++;
    else { if (bad < 3) printf("fd %d (file %d): read %zd %s\n", fds[i], i, k, k < 0 ? strerror(errno) : b); bad++; }
  }
  printf("read back %d right, %d wrong\n", good, bad);
  for (int i = 0; i < n; i++) if (fds[i] >= 0) close(fds[i]);
  return 0;
}
