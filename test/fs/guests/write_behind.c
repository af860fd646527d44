#define _GNU_SOURCE
// What tar x and cp -a do to each file they make in a directory (argv[1]): create,
// write, set times (explicit, UTIME_OMIT, UTIME_NOW), owner and mode, close; then what a
// later look at the file must see, in every order where it matters (a write or a read
// after setting the times, a stat between, a rename, a chmod of setuid bits then a
// chown, an unprivileged caller refused). fs/fsimpl/hostfs may send those setattrs
// write-behind: each answer here must still be Linux's. "many N" instead makes N files
// as tar does and leaves them (the test counts the Gofer's round trips for it, and
// looks at them from the host once the sandbox is gone).
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void show(const char* what, long r) {
  if (r < 0) printf("%s: %s\n", what, strerrorname_np(errno));
  else printf("%s: ok\n", what);
}

static time_t t0;

// (An mtime the file got from the clock is said as "now": natively it differs run to run.)
static void st(const char* p) {
  struct stat s;
  if (lstat(p, &s) != 0) {
    printf("stat %s: %s\n", p, strerrorname_np(errno));
    return;
  }
  if (s.st_mtim.tv_sec >= t0)
    printf("stat %s: mode %o uid %d gid %d size %ld mtime now\n", p, s.st_mode & 07777, (int)s.st_uid, (int)s.st_gid, (long)s.st_size);
  else
    printf("stat %s: mode %o uid %d gid %d size %ld mtime %ld.%09ld\n", p, s.st_mode & 07777, (int)s.st_uid, (int)s.st_gid,
           (long)s.st_size, (long)s.st_mtim.tv_sec, s.st_mtim.tv_nsec);
}

// Times that moved on since t0 (a write or read bumped them): said as "now", not as a value.
static void times(const char* p) {
  struct stat s;
  if (lstat(p, &s) != 0) {
    printf("times %s: %s\n", p, strerrorname_np(errno));
    return;
  }
  printf("times %s: atime %s mtime %s\n", p, s.st_atim.tv_sec >= t0 ? "now" : "set", s.st_mtim.tv_sec >= t0 ? "now" : "set");
}

// One file as tar x makes it.
static int extract(const char* p, int mode, long mtime, int chown_it) {
  int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_NOCTTY | O_NONBLOCK | O_CLOEXEC, 0600);
  if (fd < 0) return -1;
  if (write(fd, "data\n", 5) != 5) return -1;
  struct timespec ts[2] = {{0, UTIME_OMIT}, {mtime, 123456789}};
  if (futimens(fd, ts) != 0) return -1;
  if (chown_it && fchown(fd, 0, 0) != 0) return -1;
  if (fchmod(fd, mode) != 0) return -1;
  return close(fd);
}

int main(int argc, char** argv) {
  if (argc < 2 || chdir(argv[1]) != 0) return 2;
  t0 = time(NULL);
  umask(022);
  if (argc > 3 && strcmp(argv[2], "many") == 0) {
    int n = atoi(argv[3]);
    char name[32];
    for (int i = 0; i < n; i++) {
      snprintf(name, sizeof name, "m%d", i);
      if (extract(name, 0644, 1000000000 + i, 1) != 0) return 3;
    }
    for (int i = 0; i < n; i++) {
      snprintf(name, sizeof name, "m%d", i);
      struct stat s;
      if (lstat(name, &s) != 0 || s.st_mtim.tv_sec != 1000000000 + i || s.st_mtim.tv_nsec != 123456789 || (s.st_mode & 07777) != 0644) return 4;
    }
    printf("made and checked %d\n", n);
    return 0;
  }

  // As tar x: every attribute as set, seen by stat.
  show("extract a", extract("a", 0755, 1500000000, 1));
  st("a");
  // Setuid asked for after the owner (tar's order with --same-permissions).
  show("extract b", extract("b", 04755, 1500000001, 1));
  st("b");

  // Times then a write: the write's mtime wins. Times then a read: atime as Linux leaves it.
  int fd = open("c", O_RDWR | O_CREAT | O_EXCL, 0644);
  struct timespec old[2] = {{1400000000, 5}, {1400000000, 6}};
  show("futimens c", futimens(fd, old));
  show("write c", write(fd, "x", 1));
  close(fd);
  times("c");
  fd = open("d", O_RDWR | O_CREAT | O_EXCL, 0644);
  if (write(fd, "y", 1) != 1) return 6;
  show("futimens d", futimens(fd, old));
  char ch;
  show("pread d", pread(fd, &ch, 1, 0));
  close(fd);
  times("d");

  // A stat between two setattrs, then a rename: each sees the last.
  fd = open("e", O_WRONLY | O_CREAT | O_EXCL, 0600);
  show("fchmod e 0640", fchmod(fd, 0640));
  st("e");
  show("fchmod e 0604", fchmod(fd, 0604));
  close(fd);
  show("rename e f", rename("e", "f"));
  st("f");
  struct timespec t2[2] = {{1300000000, 7}, {1300000000, 8}};
  show("utimensat f", utimensat(AT_FDCWD, "f", t2, 0));
  show("link f g", link("f", "g"));
  st("g");

  // A setuid file chowned: the bits go, as Linux clears them.
  fd = open("h", O_WRONLY | O_CREAT | O_EXCL, 0600);
  show("fchmod h 06755", fchmod(fd, 06755));
  show("fchown h", fchown(fd, 65534, 65534));
  close(fd);
  st("h");

  // A directory made then given times (tar's last step for each directory).
  show("mkdir i", mkdir("i", 0700));
  show("chmod i", chmod("i", 0755));
  struct timespec t3[2] = {{0, UTIME_OMIT}, {1200000000, 9}};
  show("utimensat i", utimensat(AT_FDCWD, "i", t3, AT_SYMLINK_NOFOLLOW));
  show("lchown i", lchown("i", 1, 2));
  st("i");

  // An unprivileged caller: refused as Linux refuses it, nothing changed.
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    if (setgid(65534) != 0 || setuid(65534) != 0) _exit(3);
    show("nobody chmod a", chmod("a", 0777));
    show("nobody utimensat a", utimensat(AT_FDCWD, "a", t2, 0));
    show("nobody chown a", chown("a", 65534, 65534));
    fd = open("n", O_WRONLY | O_CREAT | O_EXCL, 0600);
    show("nobody create n", fd);
    show("nobody futimens n", futimens(fd, t2));
    show("nobody fchmod n", fchmod(fd, 0640));
    show("nobody fchown n to root", fchown(fd, 0, 0));
    close(fd);
    st("n");
    fflush(stdout);
    _exit(0);
  }
  int ws;
  waitpid(pid, &ws, 0);
  st("a");

  const char* all[] = {"a", "b", "c", "d", "f", "g", "h", "n"};
  for (unsigned i = 0; i < sizeof all / sizeof all[0]; i++) unlink(all[i]);
  rmdir("i");
  return 0;
}
