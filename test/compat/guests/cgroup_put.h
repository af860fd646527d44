/* For the cgroupfs guests: writing one cgroup control file (0 or -errno), and a child that
 * joins a group and touches memory there. */
#ifndef TSS_CGROUP_PUT_H
#define TSS_CGROUP_PUT_H
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <stdio.h>
#include <time.h>
#include <sys/mman.h>
#include "read_text.h"

#define CG "/sys/fs/cgroup"
#define MiB (1 << 20)

static int put(const char *path, const char *s) {
  int fd = open(path, O_WRONLY);
  if (fd < 0) return -errno;
  int r = write(fd, s, strlen(s)) < 0 ? -errno : 0;
  close(fd);
  return r;
}
/* A child in group g touching mib MiB; it reports on done and exits when told (or after 30 s). */
static inline pid_t hog(const char *g, int mib, int done, int go) {
  pid_t p = fork();
  if (p != 0) return p;
  char path[128], me[32];
  snprintf(path, sizeof path, CG "/%s/cgroup.procs", g);
  snprintf(me, sizeof me, "%d\n", (int)getpid());
  if (put(path, me) != 0) _exit(2);
  char *m = mmap(NULL, (size_t)mib * MiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) _exit(3);
  for (size_t i = 0; i < (size_t)mib * MiB; i += 4096) m[i] = 1;
  if (write(done, "x", 1) != 1) _exit(4);
  if (go < 0) {
    /* Over the limit: the OOM killer ends it; 30 s of waiting is a failure. */
    for (int i = 0; i < 300; i++) nanosleep(&(struct timespec){ 0, 100000000 }, NULL);
    _exit(5);
  }
  char c;
  if (read(go, &c, 1) != 1) _exit(6);
  _exit(0);
}
#endif
