/*
 * gofer_loop DIR: opens DIR/f (a host file, served by the Gofer), says "ready" and waits
 * for a line on stdin (the test kills the Gofer meanwhile), then stats and opens DIR/f
 * in a loop until a call fails, and reports what each kind of call gives from then on:
 * EIO, never a crash or a Sentry error.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *en(int e) { return strerrorname_np(e) ? strerrorname_np(e) : "E?"; }

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  char f[4096], g[4096];
  snprintf(f, sizeof f, "%s/f", argv[1]);
  snprintf(g, sizeof g, "%s/new", argv[1]);
  struct stat st;
  int fd0 = open(f, O_RDONLY);
  if (fd0 < 0) { printf("first open: %s\n", en(errno)); return 3; }
  close(fd0);
  printf("ready\n");
  fflush(stdout);
  char line[8];
  if (read(0, line, sizeof line) <= 0) return 4;
  long i;
  int err = 0;
  for (i = 0; i < 100000000L; i++) {
    if (stat(f, &st) != 0) { err = errno; printf("stat failed: %s\n", en(err)); break; }
    int fd = open(f, O_RDONLY);
    if (fd < 0) { err = errno; printf("open failed: %s\n", en(err)); break; }
    close(fd);
    char m[4096];
    snprintf(m, sizeof m, "%s/missing%ld", argv[1], i % 64);
    if (stat(m, &st) == 0 || errno != ENOENT) { err = errno; printf("stat missing: %s\n", en(err)); break; }
  }
  if (!err) { printf("never failed\n"); return 1; }
  /* From now on, every host call fails the same way. */
  errno = 0;
  printf("stat again: %s\n", stat(f, &st) == 0 ? "ok" : en(errno));
  errno = 0;
  printf("open again: %s\n", open(f, O_RDONLY) >= 0 ? "ok" : en(errno));
  errno = 0;
  printf("create: %s\n", open(g, O_WRONLY | O_CREAT, 0644) >= 0 ? "ok" : en(errno));
  errno = 0;
  DIR *d = opendir(argv[1]);
  printf("opendir: %s\n", d ? "ok" : en(errno));
  printf("done\n");
  return 0;
}
