/* Error semantics of file syscalls: run natively and in the sandbox, output compared.
 * Works in a fresh directory under /tmp; prints no pids, inode numbers or times. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static void show(const char *what, long r) {
  if (r < 0) printf("%-40s -1 %s\n", what, strerrorname_np(errno));
  else printf("%-40s %ld\n", what, r);
}
#define T(what, expr) do { errno = 0; show(what, (long)(expr)); } while (0)

int main(void) {
  char dir[] = "/tmp/fs_semXXXXXX";
  if (!mkdtemp(dir) || chdir(dir) != 0) return 1;
  signal(SIGPIPE, SIG_IGN);
  umask(022);

  /* open */
  T("open missing", open("nope", O_RDONLY));
  T("open empty path", open("", O_RDONLY));
  T("mkdir d", mkdir("d", 0755));
  T("open dir O_WRONLY", open("d", O_WRONLY));
  T("open dir O_RDONLY", open("d", O_RDONLY) >= 0);
  int f = open("f", O_CREAT | O_RDWR, 0666);
  T("creat f", f >= 0);
  T("open f O_DIRECTORY", open("f", O_RDONLY | O_DIRECTORY));
  T("open f/ trailing slash", open("f/", O_RDONLY));
  T("open f O_CREAT|O_EXCL", open("f", O_CREAT | O_EXCL | O_RDWR, 0644));
  T("open d/ O_CREAT", open("d/", O_CREAT | O_RDWR, 0644));
  T("open missing/x O_CREAT", open("missing/x", O_CREAT | O_RDWR, 0644));
  T("open f/x (f not dir)", open("f/x", O_RDONLY));
  T("open O_CREAT|O_DIRECTORY", open("g", O_CREAT | O_DIRECTORY | O_RDWR, 0644));
  T("openat with file as dirfd", openat(f, "x", O_RDONLY));
  T("openat bad dirfd", openat(999, "x", O_RDONLY));
  T("open O_RDWR|O_WRONLY (3)", open("f", 3));
  char longname[300];
  memset(longname, 'a', 299); longname[299] = 0;
  T("open name too long", open(longname, O_RDONLY));

  /* read/write/seek */
  T("write f", write(f, "hello world", 11));
  T("lseek end", lseek(f, 0, SEEK_END));
  T("lseek negative", lseek(f, -100, SEEK_SET));
  T("lseek bad whence", lseek(f, 0, 7));
  T("lseek SEEK_DATA past EOF", lseek(f, 100, SEEK_DATA));
  T("lseek SEEK_HOLE 0", lseek(f, 0, SEEK_HOLE));
  char b[64];
  T("pread past EOF", pread(f, b, 10, 100));
  T("pread negative", pread(f, b, 10, -1));
  int ro = open("f", O_RDONLY);
  T("write to O_RDONLY", write(ro, "x", 1));
  T("ftruncate O_RDONLY", ftruncate(ro, 0));
  int wo = open("f", O_WRONLY);
  T("read from O_WRONLY", read(wo, b, 1));
  int dfd = open("d", O_RDONLY | O_DIRECTORY);
  T("read dir", read(dfd, b, 1));
  T("write dir fd", write(dfd, b, 1));
  T("ftruncate negative", ftruncate(f, -1));
  T("truncate dir", truncate("d", 0));
  T("truncate missing", truncate("nope", 0));
  int ap = open("f", O_WRONLY | O_APPEND);
  T("append write", write(ap, "!", 1));
  T("append pos", lseek(ap, 0, SEEK_CUR));
  T("pread after append", pread(f, b, 64, 0));
  printf("content %.*s\n", 12, b);
  T("fstat size", ({ struct stat st; fstat(f, &st); st.st_size; }));

  /* directories */
  T("mkdir existing", mkdir("d", 0755));
  T("mkdir missing parent", mkdir("a/b/c", 0755));
  T("mkdir under file", mkdir("f/x", 0755));
  T("mkdir d/e", mkdir("d/e", 0755));
  T("mkdir d/e2", mkdir("d/e2", 0700));
  T("nlink of d", ({ struct stat st; stat("d", &st); (long)st.st_nlink; }));
  T("mode of d/e2", ({ struct stat st; stat("d/e2", &st); (long)(st.st_mode & 07777); }));
  T("mode of f (umask)", ({ struct stat st; stat("f", &st); (long)(st.st_mode & 07777); }));
  T("rmdir non-empty", rmdir("d"));
  T("rmdir file", rmdir("f"));
  T("rmdir .", rmdir("d/e/."));
  T("rmdir missing", rmdir("nope"));
  T("unlink dir", unlink("d"));
  T("unlink missing", unlink("nope"));
  T("unlink f/ (trailing slash)", unlink("f/"));
  T("getdents on file", syscall(SYS_getdents64, f, b, sizeof b));
  T("getdents tiny buffer", syscall(SYS_getdents64, dfd, b, 8));
  T("chdir to file", chdir("f"));
  T("getcwd small", (long)(getcwd(b, 3) ? 0 : -1));

  /* rename */
  T("rename into own subdir", rename("d", "d/e/x"));
  T("rename file over dir", rename("f", "d"));
  T("mkdir empty", mkdir("empty", 0755));
  T("rename dir over file", rename("empty", "f"));
  T("rename dir over non-empty dir", rename("empty", "d"));
  T("rename to itself", rename("f", "f"));
  T("rename missing", rename("nope", "x"));
  T("renameat2 NOREPLACE existing", syscall(SYS_renameat2, AT_FDCWD, "empty", AT_FDCWD, "f", 1));
  T("renameat2 EXCHANGE missing", syscall(SYS_renameat2, AT_FDCWD, "empty", AT_FDCWD, "nope", 2));
  T("renameat2 EXCHANGE+NOREPLACE", syscall(SYS_renameat2, AT_FDCWD, "empty", AT_FDCWD, "f", 3));
  T("rename empty over empty dir", rename("empty", "d/e"));
  T("stat old name", ({ struct stat st; stat("empty", &st); }));

  /* links */
  T("link dir", link("d", "dl"));
  T("link f f2", link("f", "f2"));
  T("nlink of f", ({ struct stat st; stat("f", &st); (long)st.st_nlink; }));
  T("link existing target", link("f", "f2"));
  T("symlink loop a->b", symlink("lb", "la"));
  T("symlink loop b->a", symlink("la", "lb"));
  T("stat loop", ({ struct stat st; stat("la", &st); }));
  T("open loop", open("la", O_RDONLY));
  T("lstat symlink size", ({ struct stat st; lstat("la", &st); (long)st.st_size; }));
  T("readlink file", readlink("f", b, sizeof b));
  T("readlink bufsiz 0", readlink("la", b, 0));
  T("readlink truncated", readlink("la", b, 1));
  T("open O_NOFOLLOW symlink", open("la", O_RDONLY | O_NOFOLLOW));
  T("symlink empty target", symlink("", "le"));
  T("symlink existing", symlink("x", "f"));
  T("stat symlink/ to dir", ({ symlink("d", "ld"); struct stat st; lstat("ld/", &st); (long)S_ISDIR(st.st_mode); }));

  /* access, chmod */
  T("access f X_OK (0644, root)", access("f", X_OK));
  T("access d X_OK", access("d", X_OK));
  T("access bad mode", access("f", 8));
  T("chmod f 0755", chmod("f", 0755));
  T("access f X_OK after chmod", access("f", X_OK));
  T("fchmodat missing", fchmodat(AT_FDCWD, "nope", 0644, 0));

  /* fds */
  T("dup2 bad fd", dup2(999, 5));
  T("dup3 same fd", dup3(f, f, 0));
  T("dup3 bad flags", dup3(f, 20, 0x1));
  T("dup2 same fd", dup2(f, f) == f);
  T("fcntl bad cmd", fcntl(f, 9999));
  T("fcntl F_GETFL rdwr", fcntl(f, F_GETFL) & ~O_LARGEFILE);
  T("fcntl F_GETFL append", fcntl(ap, F_GETFL) & ~O_LARGEFILE);
  T("close bad fd", close(999));
  T("close_range first>last", syscall(SYS_close_range, 10, 5, 0));

  /* pipes */
  int p[2];
  T("pipe2 bad flags", pipe2(p, 1));
  T("pipe", pipe(p));
  T("lseek pipe", lseek(p[0], 0, SEEK_SET));
  T("pread pipe", pread(p[0], b, 1, 0));
  T("F_GETPIPE_SZ", fcntl(p[0], F_GETPIPE_SZ));
  T("F_SETPIPE_SZ 100000", fcntl(p[0], F_SETPIPE_SZ, 100000));
  T("write pipe", write(p[1], "abc", 3));
  T("fsync pipe", fsync(p[0]));
  close(p[1]);
  T("read pipe", read(p[0], b, 10));
  T("read pipe EOF", read(p[0], b, 10));
  T("pipe again", pipe(p));
  close(p[0]);
  T("write no reader", write(p[1], "x", 1));
  T("ftruncate pipe", ftruncate(p[1], 0));

  /* misc objects */
  int ep = epoll_create1(0);
  struct epoll_event ev = { .events = EPOLLIN };
  T("epoll_ctl regular file", epoll_ctl(ep, EPOLL_CTL_ADD, f, &ev));
  T("epoll_ctl self", epoll_ctl(ep, EPOLL_CTL_ADD, ep, &ev));
  T("epoll_ctl del missing", epoll_ctl(ep, EPOLL_CTL_DEL, dfd, &ev));
  T("epoll_create 0", epoll_create(0));
  int e = eventfd(0, EFD_NONBLOCK);
  T("eventfd read empty", read(e, b, 8));
  T("eventfd short read", read(e, b, 4));
  int l1 = open("f", O_RDONLY), l2 = open("f", O_RDONLY);
  T("flock ex", flock(l1, LOCK_EX));
  T("flock ex nb (other fd)", flock(l2, LOCK_EX | LOCK_NB));
  T("flock bad op", flock(l2, 0));
  T("mkfifo", mkfifo("fifo", 0644));
  T("fifo type", ({ struct stat st; stat("fifo", &st); (long)S_ISFIFO(st.st_mode); }));
  T("open fifo wronly nonblock no reader", open("fifo", O_WRONLY | O_NONBLOCK));
  T("open fifo rdonly nonblock", open("fifo", O_RDONLY | O_NONBLOCK) >= 0);
  T("mknod dir type", mknod("nd", S_IFDIR | 0755, 0));
  T("utimensat omit both", utimensat(AT_FDCWD, "f", (struct timespec[]){{0, UTIME_OMIT}, {0, UTIME_OMIT}}, 0));
  T("utimensat bad nsec", utimensat(AT_FDCWD, "f", (struct timespec[]){{0, 2000000000}, {0, 0}}, 0));
  T("utimensat set", utimensat(AT_FDCWD, "f", (struct timespec[]){{1000, 5}, {2000, 7}}, 0));
  T("mtime after utimensat", ({ struct stat st; stat("f", &st); st.st_mtim.tv_sec * 10 + st.st_mtim.tv_nsec; }));
  T("fstatat AT_EMPTY_PATH", ({ struct stat st; fstatat(f, "", &st, AT_EMPTY_PATH); (long)S_ISREG(st.st_mode); }));
  T("fstatat empty without flag", ({ struct stat st; fstatat(f, "", &st, 0); }));
  T("fstatat bad flags", ({ struct stat st; fstatat(f, "x", &st, 0x8000); }));
  T("unlinkat bad flags", unlinkat(AT_FDCWD, "f", 0x1));
  T("unlinkat AT_REMOVEDIR file", unlinkat(AT_FDCWD, "f", AT_REMOVEDIR));
  T("memfd name too long", memfd_create("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 0));
  int m = memfd_create("m", MFD_ALLOW_SEALING);
  T("memfd write", write(m, "abcd", 4));
  T("memfd seal write", fcntl(m, F_ADD_SEALS, F_SEAL_WRITE));
  T("memfd write sealed", write(m, "x", 1));
  char *map = mmap(NULL, 4096, PROT_READ, MAP_SHARED, m, 0);
  T("memfd shared map", map != MAP_FAILED);
  if (map != MAP_FAILED) printf("map content %.4s\n", map);
  T("sendfile to file", ({ int o = open("sf", O_CREAT | O_WRONLY, 0644); off_t off = 0; sendfile(o, f, &off, 100); }));
  T("copy_file_range", ({ int i = open("f", O_RDONLY); int o = open("cfr", O_CREAT | O_WRONLY, 0644); copy_file_range(i, NULL, o, NULL, 100, 0); }));
  T("copy_file_range bad flags", ({ int i = open("f", O_RDONLY); int o = open("cfr", O_WRONLY); copy_file_range(i, NULL, o, NULL, 100, 1); }));
  /* clean up (natively this is the host's /tmp) */
  if (chdir("/") == 0 && fork() == 0) {
    execlp("rm", "rm", "-rf", dir, (char *)NULL);
    _exit(127);
  }
  wait(NULL);
  return 0;
}
