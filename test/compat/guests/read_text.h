/* A small text file (a /proc, /sys or mqueue status file) read whole into buf, NUL-ended:
 * the bytes read, or -1 with errno set. */
#ifndef TSS_READ_TEXT_H
#define TSS_READ_TEXT_H
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

static inline ssize_t read_text(const char *path, char *buf, size_t size) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, size - 1);
  int e = errno;
  close(fd);
  errno = e;
  buf[n < 0 ? 0 : n] = 0;
  return n;
}
#endif
