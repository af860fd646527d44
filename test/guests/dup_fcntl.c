/* dup, dup2, dup3, fcntl (F_DUPFD, F_GETFD/SETFD, F_GETFL/SETFL), shared offsets, errors. */
#include "common.h"
#include <fcntl.h>

int main(void) {
  guest_init();
  enter_tmpdir();
  int fd = open("f", O_CREAT | O_RDWR | O_TRUNC, 0644);
  printf("open = %d\n", fd);
  SHOW("dup", dup(fd));                       /* lowest free: 4 */
  SHOW("dup2 -> 10", dup2(fd, 10));
  SHOW("dup2 same fd", dup2(fd, fd));
  EXPECT_ERR("dup3 same fd", dup3(fd, fd, 0), EINVAL);
  SHOW("dup3 -> 11 CLOEXEC", dup3(fd, 11, O_CLOEXEC));
  printf("fd 11 FD_CLOEXEC=%d fd 10 FD_CLOEXEC=%d\n", fcntl(11, F_GETFD) & FD_CLOEXEC, fcntl(10, F_GETFD) & FD_CLOEXEC);
  SHOW("F_DUPFD >= 20", fcntl(fd, F_DUPFD, 20));
  SHOW("F_DUPFD >= 20 again", fcntl(fd, F_DUPFD, 20));
  SHOW("F_DUPFD_CLOEXEC >= 30", fcntl(fd, F_DUPFD_CLOEXEC, 30));
  printf("fd 30 FD_CLOEXEC=%d\n", fcntl(30, F_GETFD) & FD_CLOEXEC);
  SHOW("F_SETFD CLOEXEC on 10", fcntl(10, F_SETFD, FD_CLOEXEC));
  printf("fd 10 FD_CLOEXEC=%d fd %d FD_CLOEXEC=%d (per-descriptor flag)\n", fcntl(10, F_GETFD), fd, fcntl(fd, F_GETFD));

  /* Duplicates share the offset and status flags. */
  SHOW("write via fd", write(fd, "abcdef", 6));
  SHOW("offset via dup 10", lseek(10, 0, SEEK_CUR));
  SHOW("lseek via 20 to 2", lseek(20, 2, SEEK_SET));
  char b[8] = {0};
  SHOW("read via fd", read(fd, b, 3));
  printf("  data=[%s]\n", b);
  int fl = fcntl(fd, F_GETFL);
  printf("F_GETFL accmode=%s append=%d nonblock=%d\n", (fl & O_ACCMODE) == O_RDWR ? "O_RDWR" : "?", !!(fl & O_APPEND), !!(fl & O_NONBLOCK));
  SHOW("F_SETFL O_APPEND|O_NONBLOCK via 10", fcntl(10, F_SETFL, O_APPEND | O_NONBLOCK));
  fl = fcntl(fd, F_GETFL);
  printf("F_GETFL on fd after: append=%d nonblock=%d\n", !!(fl & O_APPEND), !!(fl & O_NONBLOCK));
  SHOW("F_SETFL cannot change access mode", fcntl(fd, F_SETFL, O_RDONLY) >= 0 && (fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDWR);

  /* An independent open has its own offset. */
  int other = open("f", O_RDONLY);
  SHOW("independent open offset", lseek(other, 0, SEEK_CUR));
  close(other);

  /* Closing one duplicate leaves the others working. */
  SHOW("close fd", close(fd));
  SHOW("write via 10 after close(fd)", write(10, "Z", 1));
  SHOW("reopen takes lowest free", open("f", O_RDONLY));

  /* dup2 over stdout, then restore. */
  int saved = dup(1);
  int g = open("g", O_CREAT | O_WRONLY | O_TRUNC, 0644);
  dup2(g, 1);
  printf("this goes to g\n");
  dup2(saved, 1);
  close(saved);
  close(g);
  g = open("g", O_RDONLY);
  char gb[64] = {0};
  read(g, gb, sizeof gb - 1);
  printf("g contains [%.*s]\n", (int)strcspn(gb, "\n"), gb);
  close(g);

  /* Errors */
  EXPECT_ERR("dup bad fd", dup(999), EBADF);
  EXPECT_ERR("dup2 bad oldfd", dup2(999, 50), EBADF);
  EXPECT_ERR("dup2 newfd negative", dup2(10, -1), EBADF);
  EXPECT_ERR("dup2 newfd huge", dup2(10, 1 << 30), EBADF);
  EXPECT_ERR("fcntl bad fd", fcntl(999, F_GETFD), EBADF);
  EXPECT_ERR("fcntl bad cmd", fcntl(10, 9999), EINVAL);
  EXPECT_ERR("F_DUPFD negative", fcntl(10, F_DUPFD, -1), EINVAL);
  EXPECT_ERR("dup3 bad flags", dup3(10, 40, 0x40000000), EINVAL);

  /* RLIMIT_NOFILE style exhaustion is not tested here (host-dependent). */
  leave_tmpdir();
  printf("done\n");
  return 0;
}
