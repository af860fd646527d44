/* The stat family: stat, fstat, lstat, fstatat, statx, access, readlink; and errors. */
#include "common.h"
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>

static const char *ftype(mode_t m) {
  switch (m & S_IFMT) {
    case S_IFREG: return "reg";
    case S_IFDIR: return "dir";
    case S_IFLNK: return "lnk";
    case S_IFCHR: return "chr";
    case S_IFBLK: return "blk";
    case S_IFIFO: return "fifo";
    case S_IFSOCK: return "sock";
  }
  return "?";
}

static void show(const char *label, int r, const struct stat *st) {
  if (r < 0) { printf("%s: -1 %s\n", label, ename(errno)); return; }
  printf("%s: type=%s perm=%04o size=%ld nlink=%ld uid_is_me=%d\n", label, ftype(st->st_mode),
         st->st_mode & 07777, S_ISREG(st->st_mode) || S_ISLNK(st->st_mode) ? (long)st->st_size : -1L,
         S_ISDIR(st->st_mode) ? -1L : (long)st->st_nlink, st->st_uid == geteuid());
}

int main(void) {
  guest_init();
  enter_tmpdir();
  struct stat st, st2;
  time_t before = time(NULL);

  int fd = open("f", O_CREAT | O_WRONLY, 0640);
  MUST(write(fd, "0123456789", 10));
  show("stat f", stat("f", &st), &st);
  show("fstat f", fstat(fd, &st), &st);
  FACT("mtime recent", st.st_mtime >= before - 5 && st.st_mtime <= time(NULL) + 5);
  FACT("blksize > 0", st.st_blksize > 0);
  FACT("blocks >= 0", st.st_blocks >= 0);
  MUST(fstat(fd, &st2));
  MUST(stat("f", &st));
  FACT("stat and fstat agree on ino/dev", st.st_ino == st2.st_ino && st.st_dev == st2.st_dev);
  close(fd);

  MUST(mkdir("d", 0750));
  show("stat d", stat("d", &st), &st);
  FACT("dir nlink >= 2", st.st_nlink >= 2);
  show("stat .", stat(".", &st), &st);

  MUST(symlink("f", "l"));
  MUST(symlink("missing", "dangling"));
  show("lstat l", lstat("l", &st), &st);
  show("stat l (follows)", stat("l", &st), &st);
  show("lstat dangling", lstat("dangling", &st), &st);
  show("stat dangling", stat("dangling", &st), &st);
  char lb[64] = {0};
  SHOW("readlink l", readlink("l", lb, sizeof lb));
  printf("  target=[%s]\n", lb);
  EXPECT_ERR("readlink f (not a link)", readlink("f", lb, sizeof lb), EINVAL);

  MUST(link("f", "h"));
  show("stat f after link", stat("f", &st), &st);
  MUST(stat("h", &st2));
  FACT("hard link same ino", st.st_ino == st2.st_ino);
  MUST(unlink("h"));
  show("stat f after unlink h", stat("f", &st), &st);

  int dfd = open("d", O_RDONLY | O_DIRECTORY);
  MUST(close(open("d/inner", O_CREAT | O_WRONLY, 0600)));
  show("fstatat d/inner", fstatat(dfd, "inner", &st, 0), &st);
  show("fstatat AT_EMPTY_PATH", fstatat(dfd, "", &st, AT_EMPTY_PATH), &st);
  show("fstatat l NOFOLLOW", fstatat(AT_FDCWD, "l", &st, AT_SYMLINK_NOFOLLOW), &st);
  EXPECT_ERR("fstatat \"\" without AT_EMPTY_PATH", fstatat(dfd, "", &st, 0), ENOENT);
  close(dfd);

  struct statx sx;
  int r = statx(AT_FDCWD, "f", 0, STATX_BASIC_STATS, &sx);
  if (r < 0) printf("statx: -1 %s\n", ename(errno));
  else printf("statx: size=%llu mode=%s perm=%04o has_basic=%d\n", (unsigned long long)sx.stx_size,
              ftype(sx.stx_mode), sx.stx_mode & 07777,
              (sx.stx_mask & (STATX_TYPE | STATX_MODE | STATX_SIZE)) == (STATX_TYPE | STATX_MODE | STATX_SIZE));

  MUST(chmod("f", 0604));
  show("stat after chmod", stat("f", &st), &st);
  MUST(truncate("f", 3));
  show("stat after truncate", stat("f", &st), &st);

  /* Host files, seen through the read-only lower layer. */
  show("stat /", stat("/", &st), &st);
  show("stat /etc/passwd", stat("/etc/passwd", &st), &st);
  FACT("/etc/passwd regular", S_ISREG(st.st_mode));
  show("stat /dev/null", stat("/dev/null", &st), &st);
  printf("/dev/null rdev=%u,%u\n", major(st.st_rdev), minor(st.st_rdev));
  int p[2];
  MUST(pipe(p));
  show("fstat pipe", fstat(p[0], &st), &st);
  close(p[0]);
  close(p[1]);

  /* access */
  SHOW("access f F_OK", access("f", F_OK));
  SHOW("access f R_OK", access("f", R_OK));
  EXPECT_ERR("access missing", access("missing", F_OK), ENOENT);
  SHOW("access /bin/sh X_OK", access("/bin/sh", X_OK));

  /* Errors */
  EXPECT_ERR("stat missing", stat("/nonexistent-tss", &st), ENOENT);
  EXPECT_ERR("stat empty path", stat("", &st), ENOENT);
  EXPECT_ERR("stat f/x", stat("f/x", &st), ENOTDIR);
  EXPECT_ERR("stat bad path ptr", stat((char *)1, &st), EFAULT);
  EXPECT_ERR("stat bad buf ptr", stat("f", (struct stat *)1), EFAULT);
  EXPECT_ERR("fstat bad fd", fstat(999, &st), EBADF);
  EXPECT_ERR("fstat -1", fstat(-1, &st), EBADF);
  char longname[300];
  memset(longname, 'a', sizeof longname - 1);
  longname[sizeof longname - 1] = 0;
  EXPECT_ERR("stat name too long", stat(longname, &st), ENAMETOOLONG);
  MUST(symlink("loop2", "loop1"));
  MUST(symlink("loop1", "loop2"));
  EXPECT_ERR("stat symlink loop", stat("loop1", &st), ELOOP);

  leave_tmpdir();
  printf("done\n");
  return 0;
}
