/* fallocate: punching holes (ZGC uncommits its heap this way), on a file and a memfd. */
#include "common.h"
#include <fcntl.h>
#include <sys/mman.h>

static void check(const char *label, int fd) {
  char buf[4 * 4096];
  memset(buf, 'x', sizeof buf);
  MUST(pwrite(fd, buf, sizeof buf, 0));
  char *m = mmap(NULL, sizeof buf, PROT_READ, MAP_SHARED, fd, 0);
  SHOW("punch 4096 at 4096", fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 4096, 4096));
  EXPECT_ERR("punch without KEEP_SIZE", fallocate(fd, FALLOC_FL_PUNCH_HOLE, 0, 4096), EOPNOTSUPP);
  SHOW("punch past the end", fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 12288, 65536));
  struct stat st;
  fstat(fd, &st);
  char r[3];
  pread(fd, r, 1, 0);
  pread(fd, r + 1, 1, 5000);
  pread(fd, r + 2, 1, 13000);
  printf("%s: size %lld bytes: %c %d %d, mapping sees zero: %d\n", label, (long long)st.st_size, r[0], r[1], r[2], m != MAP_FAILED && m[5000] == 0);
}

int main(void) {
  guest_init();
  enter_tmpdir();
  int fd = open("f", O_CREAT | O_RDWR, 0644);
  check("file", fd);
  check("memfd", memfd_create("heap", 0));
  unlink("f");
  leave_tmpdir();
  return 0;
}
