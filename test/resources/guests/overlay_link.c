/* link(2) of a file that exists only in the overlay's lower layer: the new name is the
 * same inode (st_ino equal, st_nlink 2 on both names, data shared), as on Linux.
 * argv[1]: an existing file holding "hello\n"; argv[2]: the new name. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 3) return 2;
  struct stat a0, a, b;
  if (stat(argv[1], &a0) != 0) { perror("stat"); return 1; }
  printf("before: nlink %lu\n", (unsigned long)a0.st_nlink);
  if (link(argv[1], argv[2]) != 0) { perror("link"); return 1; }
  stat(argv[1], &a);
  stat(argv[2], &b);
  printf("same st_ino: %s, same st_dev: %s, old name's ino kept: %s\n", a.st_ino == b.st_ino ? "yes" : "no",
         a.st_dev == b.st_dev ? "yes" : "no", a.st_ino == a0.st_ino ? "yes" : "no");
  printf("nlink: %lu %lu\n", (unsigned long)a.st_nlink, (unsigned long)b.st_nlink);
  int fd = open(argv[2], O_WRONLY | O_APPEND);
  if (write(fd, "world\n", 6) != 6) return 1;
  close(fd);
  char buf[64] = {0};
  fd = open(argv[1], O_RDONLY);
  read(fd, buf, sizeof buf - 1);
  close(fd);
  printf("old name reads: %s", buf);
  struct stat fa, fb;
  int f1 = open(argv[1], O_RDONLY), f2 = open(argv[2], O_RDONLY);
  fstat(f1, &fa);
  fstat(f2, &fb);
  printf("fstat of both: same ino %s\n", fa.st_ino == fb.st_ino ? "yes" : "no");
  close(f1);
  close(f2);
  unlink(argv[1]);
  stat(argv[2], &b);
  printf("after unlink of the old name: nlink %lu, ino kept %s, old name %s\n", (unsigned long)b.st_nlink,
         b.st_ino == a.st_ino ? "yes" : "no", access(argv[1], F_OK) == 0 ? "still there" : "gone");
  return 0;
}
