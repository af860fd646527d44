/*
 * Runs as the only program in a --root directory the test built, full of ways out:
 * absolute and relative symlinks to /etc, ".." chains, /proc/self/root and /proc/self/fd
 * magic links, and a rename racing a path walk. It prints what each path shows: the
 * root's own etc/marker ("inside") or ENOENT, never the host's files.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void show(const char *path) {
  char buf[64] = {0};
  int fd = open(path, O_RDONLY);
  if (fd < 0) {
    printf("%s: %s\n", path, strerrorname_np(errno));
    return;
  }
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n > 0 && buf[n - 1] == '\n') buf[n - 1] = 0;
  printf("%s: %s\n", path, n >= 0 ? buf : strerrorname_np(errno));
}

static volatile int stop;
static void *renamer(void *a) {
  while (!stop) {
    rename("/race/a", "/race/b");
    rename("/race/b", "/race/a");
  }
  return a;
}

int main(void) {
  show("/etc/marker");
  show("/abs/marker");
  show("/rel/marker");
  show("/deep/../../../../../../etc/marker");
  show("/proc/self/root/etc/marker");
  show("/viaproc/marker");
  show("/etc/hostname");
  show("/abs/hostname");
  show("/rel/os-release");
  int dfd = open("/etc", O_RDONLY | O_DIRECTORY);
  char p[64];
  snprintf(p, sizeof p, "/proc/self/fd/%d/../../../etc/marker", dfd);
  show(p);
  int fd = openat(dfd, "../../../../etc/marker", O_RDONLY);
  printf("openat .. chain: %s\n", fd >= 0 ? "opened inside" : strerrorname_np(errno));
  /* A path walk racing renames of its own directories never lands outside. */
  pthread_t th;
  pthread_create(&th, NULL, renamer, NULL);
  int outside = 0;
  for (int i = 0; i < 2000; i++) {
    int f = open("/race/a/../../../../etc/os-release", O_RDONLY);
    if (f >= 0) {
      outside = 1;
      close(f);
    }
  }
  stop = 1;
  pthread_join(th, NULL);
  printf("rename race reached host os-release: %s\n", outside ? "yes" : "no");
  return 0;
}
