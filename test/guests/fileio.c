/* File I/O: open/read/write/lseek/close/pread/pwrite/readv/writev and their errors. */
#include "common.h"
#include <fcntl.h>
#include <sys/uio.h>

int main(void) {
  guest_init();
  enter_tmpdir();
  char buf[256];

  int fd = open("f", O_CREAT | O_RDWR | O_TRUNC, 0644);
  printf("open f = %d\n", fd);             /* lowest free fd: 3 */
  SHOW("write", write(fd, "hello world\n", 12));
  SHOW("lseek SET 0", lseek(fd, 0, SEEK_SET));
  memset(buf, 0, sizeof buf);
  SHOW("read 5", read(fd, buf, 5));
  printf("  data=[%s]\n", buf);
  SHOW("lseek CUR 0", lseek(fd, 0, SEEK_CUR));
  SHOW("lseek END 0", lseek(fd, 0, SEEK_END));
  SHOW("lseek END -6", lseek(fd, -6, SEEK_END));
  memset(buf, 0, sizeof buf);
  SHOW("pread 5 @6", pread(fd, buf, 5, 6));
  printf("  data=[%s]\n", buf);
  SHOW("offset after pread", lseek(fd, 0, SEEK_CUR));
  SHOW("pwrite W @6", pwrite(fd, "W", 1, 6));
  SHOW("offset after pwrite", lseek(fd, 0, SEEK_CUR));
  memset(buf, 0, sizeof buf);
  SHOW("pread all", pread(fd, buf, sizeof buf, 0));
  printf("  data=[%.*s]\n", 11, buf);
  SHOW("read at EOF", (lseek(fd, 0, SEEK_END), read(fd, buf, 10)));

  /* writev / readv */
  struct iovec wv[3] = {{"abc", 3}, {"", 0}, {"defgh", 5}};
  SHOW("lseek SET 0", lseek(fd, 0, SEEK_SET));
  SHOW("writev", writev(fd, wv, 3));
  char a[2], b[4], c[32];
  memset(c, 0, sizeof c);
  struct iovec rv[3] = {{a, 2}, {b, 4}, {c, sizeof c - 1}};
  SHOW("lseek SET 0", lseek(fd, 0, SEEK_SET));
  SHOW("readv", readv(fd, rv, 3));
  printf("  a=[%.2s] b=[%.4s] c=[%s]\n", a, b, c);
  SHOW("preadv @2", (lseek(fd, 0, SEEK_SET), preadv(fd, rv, 2, 2)));
  printf("  a=[%.2s] b=[%.4s]\n", a, b);
  SHOW("pwritev @1", pwritev(fd, wv, 1, 1));

  /* A hole: seek past the end and write; the gap reads as zeros. */
  SHOW("lseek SET 100", lseek(fd, 100, SEEK_SET));
  SHOW("write at 100", write(fd, "Z", 1));
  memset(buf, 0x55, sizeof buf);
  SHOW("pread hole", pread(fd, buf, 10, 50));
  int zeros = 1;
  for (int i = 0; i < 10; i++) if (buf[i] != 0) zeros = 0;
  FACT("hole reads zero", zeros);
  struct stat st;
  MUST(fstat(fd, &st));
  printf("size=%ld\n", (long)st.st_size);

  /* O_APPEND: writes go to the end whatever the offset. */
  int fa = open("f", O_WRONLY | O_APPEND);
  printf("open O_APPEND = %d\n", fa);
  SHOW("lseek SET 0", lseek(fa, 0, SEEK_SET));
  SHOW("append write", write(fa, "END", 3));
  SHOW("offset after append", lseek(fa, 0, SEEK_CUR));
  EXPECT_ERR("read on O_WRONLY", read(fa, buf, 1), EBADF);
  SHOW("close append fd", close(fa));

  /* O_TRUNC */
  int ft = open("f", O_RDWR | O_TRUNC);
  MUST(fstat(ft, &st));
  printf("size after O_TRUNC=%ld\n", (long)st.st_size);
  SHOW("ftruncate 7", ftruncate(ft, 7));
  MUST(fstat(ft, &st));
  printf("size after ftruncate=%ld\n", (long)st.st_size);
  close(ft);

  /* Errors. */
  SHOW("close", close(fd));
  EXPECT_ERR("read closed fd", read(fd, buf, 1), EBADF);
  EXPECT_ERR("write closed fd", write(fd, "x", 1), EBADF);
  EXPECT_ERR("close closed fd", close(fd), EBADF);
  EXPECT_ERR("lseek closed fd", lseek(fd, 0, SEEK_SET), EBADF);
  EXPECT_ERR("read fd -1", read(-1, buf, 1), EBADF);
  EXPECT_ERR("write fd 9999", write(9999, "x", 1), EBADF);

  fd = open("f", O_RDWR);
  printf("reopen = %d\n", fd);
  MUST(write(fd, "0123456789", 10));
  MUST(lseek(fd, 0, SEEK_SET));
  EXPECT_ERR("read into (void*)1", read(fd, (void *)1, 5), EFAULT);
  EXPECT_ERR("write from (void*)1", write(fd, (void *)1, 5), EFAULT);
  EXPECT_ERR("pread into (void*)1", pread(fd, (void *)1, 5, 0), EFAULT);
  EXPECT_ERR("writev bad iov", writev(fd, (struct iovec *)1, 1), EFAULT);
  EXPECT_ERR("open bad path ptr", open((char *)1, O_RDONLY), EFAULT);
  EXPECT_ERR("lseek negative", lseek(fd, -1, SEEK_SET), EINVAL);
  EXPECT_ERR("lseek bad whence", lseek(fd, 0, 42), EINVAL);
  EXPECT_ERR("writev iovcnt -1", writev(fd, wv, -1), EINVAL);
  close(fd);

  EXPECT_ERR("open missing", open("/nonexistent-tss/x", O_RDONLY), ENOENT);
  EXPECT_ERR("open missing (cwd)", open("nope", O_RDONLY), ENOENT);
  EXPECT_ERR("open O_EXCL existing", open("f", O_CREAT | O_EXCL | O_WRONLY, 0644), EEXIST);
  EXPECT_ERR("open dir for write", open(".", O_WRONLY), EISDIR);
  EXPECT_ERR("open file O_DIRECTORY", open("f", O_RDONLY | O_DIRECTORY), ENOTDIR);
  EXPECT_ERR("open file/x", open("f/x", O_RDONLY), ENOTDIR);
  EXPECT_ERR("open empty path", open("", O_RDONLY), ENOENT);

  int p[2];
  MUST(pipe(p));
  EXPECT_ERR("lseek pipe", lseek(p[0], 0, SEEK_SET), ESPIPE);
  EXPECT_ERR("pread pipe", pread(p[0], buf, 1, 0), ESPIPE);
  close(p[0]);
  close(p[1]);

  /* Reading a host file through the read-only lower layer. */
  int h = open("/etc/hostname", O_RDONLY);
  if (h < 0) h = open("/etc/passwd", O_RDONLY);
  OKERR("open host file", h);
  SHOW("read host file > 0", read(h, buf, sizeof buf) > 0);
  close(h);

  /* openat relative to a directory fd. */
  MUST(mkdir("d", 0755));
  int dfd = open("d", O_RDONLY | O_DIRECTORY);
  int g = openat(dfd, "g", O_CREAT | O_WRONLY, 0600);
  OKERR("openat dfd", g);
  SHOW("write g", write(g, "gg", 2));
  close(g);
  close(dfd);
  g = open("d/g", O_RDONLY);
  memset(buf, 0, sizeof buf);
  SHOW("read d/g", read(g, buf, 10));
  printf("  data=[%s]\n", buf);
  close(g);

  /* Write to /dev/null, read from /dev/zero. */
  int dn = open("/dev/null", O_RDWR);
  SHOW("write /dev/null", write(dn, "abc", 3));
  SHOW("read /dev/null", read(dn, buf, 3));
  close(dn);
  int dz = open("/dev/zero", O_RDONLY);
  memset(buf, 1, 8);
  SHOW("read /dev/zero", read(dz, buf, 8));
  FACT("zeros", buf[0] == 0 && buf[7] == 0);
  close(dz);

  leave_tmpdir();
  printf("done\n");
  return 0;
}
