// copy_range DIR: copy_file_range between two files of DIR (a host directory: under the
// sandbox, a rw bind), with and without offsets, across a short source; prints what
// each call returned and a checksum of the result, to compare with Linux.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  char src[4096], dst[4096];
  snprintf(src, sizeof src, "%s/src", argv[1]);
  snprintf(dst, sizeof dst, "%s/dst", argv[1]);
  int in = open(src, O_RDWR | O_CREAT | O_TRUNC, 0644);
  int out = open(dst, O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (in < 0 || out < 0) { perror("open"); return 2; }
  static char buf[3 << 20];
  for (size_t i = 0; i < sizeof buf; i++) buf[i] = (char)(i * 7 + i / 4096);
  if (write(in, buf, sizeof buf) != (ssize_t)sizeof buf) return 3;
  lseek(in, 0, SEEK_SET);
  ssize_t a = copy_file_range(in, NULL, out, NULL, 1 << 20, 0);  // file positions
  printf("whole MiB: %zd, in pos %ld, out pos %ld\n", a, (long)lseek(in, 0, SEEK_CUR), (long)lseek(out, 0, SEEK_CUR));
  loff_t oi = 2 << 20, oo = 100;
  ssize_t b = copy_file_range(in, &oi, out, &oo, 4 << 20, 0);  // past the end of src: short
  printf("at offsets: %zd, offsets now %ld %ld, positions %ld %ld\n", b, (long)oi, (long)oo,
         (long)lseek(in, 0, SEEK_CUR), (long)lseek(out, 0, SEEK_CUR));
  loff_t end = 3 << 20;
  printf("at EOF: %zd\n", copy_file_range(in, &end, out, NULL, 10, 0));
  errno = 0;
  printf("bad flags: %zd %s\n", copy_file_range(in, NULL, out, NULL, 10, 1), strerror(errno));
  unsigned long sum = 0;
  lseek(out, 0, SEEK_SET);
  ssize_t n;
  long total = 0;
  while ((n = read(out, buf, sizeof buf)) > 0) {
    for (ssize_t i = 0; i < n; i++) sum = sum * 31 + (unsigned char)buf[i];
    total += n;
  }
  printf("dst %ld bytes, sum %lx\n", total, sum);
  unlink(src);
  unlink(dst);
  return 0;
}
