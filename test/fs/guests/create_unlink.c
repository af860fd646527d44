#define _GNU_SOURCE
// open(O_CREAT) and unlink in a directory (argv[1]): every case the one-step create
// and unlink of a host tree (fs/fsimpl/hostfs: Gofer create and unlink that answer the
// lookup too) must answer as Linux does. "many N" instead creates then removes N files
// (the test counts the Gofer's round trips for it).
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

static int opn(const char* what, const char* p, int flags) {
  int fd = open(p, flags, 0666);
  show(what, fd);
  return fd;
}

static void st(const char* p) {
  struct stat s;
  if (lstat(p, &s) != 0) {
    printf("stat %s: %s\n", p, strerrorname_np(errno));
    return;
  }
  printf("stat %s: type %o mode %o size %ld nlink %ld\n", p, s.st_mode >> 12, s.st_mode & 07777, (long)s.st_size, (long)s.st_nlink);
}

// As uid/gid 65534 in a child: what an unprivileged caller may create and remove.
static void asNobody(void) {
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    if (setgid(65534) != 0 || setuid(65534) != 0) _exit(3);
    opn("nobody creat new in 0755 dir", "new", O_CREAT | O_WRONLY);
    int fd = opn("nobody creat existing readable", "t2", O_CREAT | O_RDONLY);
    if (fd >= 0) close(fd);
    show("nobody unlink in 0755 dir", unlink("t2"));
    show("nobody mkdir existing in 0755 dir", mkdir("d", 0755));
    show("nobody mkdir new in 0755 dir", mkdir("nd", 0755));
    show("nobody symlink existing in 0755 dir", symlink("x", "t2"));
    // What an unprivileged caller makes is its own (and the setgid directory's group).
    int of = opn("nobody creat in sticky dir", "s/own", O_CREAT | O_WRONLY);
    if (of >= 0) close(of);
    show("nobody symlink in sticky dir", symlink("t", "s/ownlink"));
    show("nobody mkdir in setgid dir", mkdir("g/sub", 0755));
    of = opn("nobody creat in setgid dir", "g/f", O_CREAT | O_WRONLY);
    if (of >= 0) close(of);
    const char* mine[] = {"s/own", "s/ownlink", "g/sub", "g/f"};
    for (int i = 0; i < 4; i++) {
      struct stat s;
      if (lstat(mine[i], &s) == 0) printf("owner %s: %d:%d mode %o\n", mine[i], (int)s.st_uid, (int)s.st_gid, s.st_mode & 07777);
      else printf("owner %s: %s\n", mine[i], strerrorname_np(errno));
    }
    show("nobody unlink own", unlink("s/own"));
    show("nobody unlink own link", unlink("s/ownlink"));
    show("nobody rmdir own in setgid dir", rmdir("g/sub"));
    show("nobody unlink own in setgid dir", unlink("g/f"));
    show("nobody mkdir in sticky dir", mkdir("s/nd", 0755));
    show("nobody rmdir own in sticky dir", rmdir("s/nd"));
    show("nobody unlink root's file in sticky dir", unlink("s/f"));
    show("nobody unlink missing in sticky dir", unlink("s/none"));
    fflush(stdout);
    _exit(0);
  }
  int status;
  waitpid(pid, &status, 0);
  printf("child exit %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

int main(int argc, char** argv) {
  if (argc < 2 || chdir(argv[1]) != 0) return 2;
  umask(022);
  if (argc == 4 && strcmp(argv[2], "many") == 0) {
    int n = atoi(argv[3]);
    char nm[32];
    for (int i = 0; i < n; i++) {
      snprintf(nm, sizeof nm, "f%d", i);
      int fd = open(nm, O_CREAT | O_WRONLY, 0644);
      if (fd < 0) return 4;
      close(fd);
    }
    for (int i = 0; i < n; i++) {
      snprintf(nm, sizeof nm, "f%d", i);
      if (unlink(nm) != 0) return 5;
    }
    printf("made and removed %d\n", n);
    return 0;
  }
  int fd = opn("creat new", "a", O_CREAT | O_WRONLY);
  st("a");
  if (fd >= 0) close(fd);
  fd = opn("creat existing", "a", O_CREAT | O_WRONLY);
  if (fd >= 0) {
    show("write", write(fd, "x", 1));
    close(fd);
  }
  st("a");
  opn("creat excl existing", "a", O_CREAT | O_EXCL | O_WRONLY);
  show("symlink dangle", symlink("target", "dangle"));
  fd = opn("creat through dangling symlink", "dangle", O_CREAT | O_WRONLY);
  if (fd >= 0) close(fd);
  st("target");
  opn("creat excl on symlink", "dangle", O_CREAT | O_EXCL | O_WRONLY);
  opn("creat nofollow on symlink", "dangle", O_CREAT | O_NOFOLLOW | O_WRONLY);
  show("mkdir d", mkdir("d", 0755));
  opn("creat on dir", "d", O_CREAT | O_WRONLY);
  opn("creat dir slash", "d/", O_CREAT | O_WRONLY);
  opn("creat in missing dir", "missing/x", O_CREAT | O_WRONLY);
  opn("creat below a file", "a/x", O_CREAT | O_WRONLY);
  opn("creat trailing slash new", "new/", O_CREAT | O_WRONLY);
  // mkdir and symlink answer EEXIST for any existing name, and make what is absent.
  show("mkdir existing dir", mkdir("d", 0755));
  show("mkdir over a file", mkdir("a", 0755));
  show("mkdir over a dangling symlink", symlink("nowhere", "dl") == 0 ? mkdir("dl", 0755) : -1);
  show("mkdir trailing slash", mkdir("d2/", 0700));
  st("d2");
  show("mkdir below a file", mkdir("a/x", 0755));
  show("mkdir in missing dir", mkdir("missing/x", 0755));
  show("symlink over a dir", symlink("t", "d"));
  show("symlink over a symlink", symlink("t", "dl"));
  show("symlink trailing slash", symlink("t", "sl/"));
  show("rmdir d2", rmdir("d2"));
  show("unlink dl", unlink("dl"));
  show("unlink dir", unlink("d"));
  show("unlink missing", unlink("missing"));
  show("unlink file slash", unlink("a/"));
  show("unlink below a file", unlink("a/x"));
  show("unlink a", unlink("a"));
  st("a");
  show("unlink dangle (the link)", unlink("dangle"));
  st("dangle");
  st("target");
  show("link target t2", link("target", "t2"));
  show("unlink target", unlink("target"));
  st("t2");
  // A file removed while open keeps its data.
  fd = opn("creat o rdwr", "o", O_CREAT | O_RDWR);
  if (fd >= 0) {
    show("write o", write(fd, "hello", 5));
    show("unlink o", unlink("o"));
    struct stat s;
    if (fstat(fd, &s) == 0) printf("fstat o: nlink %ld size %ld\n", (long)s.st_nlink, (long)s.st_size);
    char b[8] = {0};
    show("pread o", pread(fd, b, 5, 0));
    printf("o says %s\n", b);
    close(fd);
  }
  st("o");
  // Times set through an fd of a new file, twice (the second time the Sentry knows
  // whether its own futimens is refused for this owner: the launcher run by root).
  for (int k = 0; k < 2; k++) {
    const char* nm = k ? "tm2" : "tm1";
    fd = opn("creat tm", nm, O_CREAT | O_WRONLY);
    if (fd < 0) continue;
    struct timespec ts[2] = {{1000000000 + k, 5000}, {1200000000 + k, 7000}};
    show("futimens explicit", futimens(fd, ts));
    struct stat s;
    if (fstat(fd, &s) == 0) printf("times %ld.%ld %ld.%ld\n", (long)s.st_atim.tv_sec, s.st_atim.tv_nsec, (long)s.st_mtim.tv_sec, s.st_mtim.tv_nsec);
    struct timespec half[2] = {{0, UTIME_OMIT}, {1300000000, 0}};
    show("utimensat mtime only", utimensat(AT_FDCWD, nm, half, 0));
    if (stat(nm, &s) == 0) printf("times %ld.%ld %ld.%ld\n", (long)s.st_atim.tv_sec, s.st_atim.tv_nsec, (long)s.st_mtim.tv_sec, s.st_mtim.tv_nsec);
    show("futimens now", futimens(fd, NULL));
    if (fstat(fd, &s) == 0) printf("now set: %d\n", s.st_mtim.tv_sec > 1300000000);
    close(fd);
    show("unlink tm", unlink(nm));
  }
  // Permissions: a sticky directory, then an unprivileged caller.
  show("mkdir s", mkdir("s", 0755));
  show("chmod s 1777", chmod("s", 01777));
  fd = opn("creat s/f", "s/f", O_CREAT | O_WRONLY);
  if (fd >= 0) close(fd);
  show("chmod t2 0644", chmod("t2", 0644));
  show("mkdir g", mkdir("g", 0777));
  show("chown g 0:4242", chown("g", 0, 4242));
  show("chmod g 2777", chmod("g", 02777));
  asNobody();
  st("new");
  st("t2");
  st("s/f");
  show("unlink s/f", unlink("s/f"));
  show("rmdir s", rmdir("s"));
  show("rmdir g", rmdir("g"));
  show("rmdir d", rmdir("d"));
  show("unlink t2", unlink("t2"));
  return 0;
}
