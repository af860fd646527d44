/* Writing one cgroup control file, for the cgroupfs guests: 0 or -errno. */
#ifndef TSS_CGROUP_PUT_H
#define TSS_CGROUP_PUT_H
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#define CG "/sys/fs/cgroup"

static int put(const char *path, const char *s) {
  int fd = open(path, O_WRONLY);
  if (fd < 0) return -errno;
  int r = write(fd, s, strlen(s)) < 0 ? -errno : 0;
  close(fd);
  return r;
}
#endif
