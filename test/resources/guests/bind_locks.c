/* File locks on one host file, taken by separate processes that each open it by path:
 * they must exclude each other (fcntl record locks, flock, OFD locks) as on Linux.
 * argv[1]: a path on a rw bind mount (or any directory natively). Prints one line per check. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *path;

static int lk(int fd, int cmd, short type, off_t start, off_t len) {
  struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len };
  return fcntl(fd, cmd, &fl);
}

/* One child per check: opens the file itself (a separate lookup) and reports. */
static void probe(const char *what, int pfd_unused) {
  (void)pfd_unused;
  int fd = open(path, O_RDWR);
  if (fd < 0) { printf("%s: open %s\n", what, strerror(errno)); return; }
  if (!strcmp(what, "setlk")) {
    int r = lk(fd, F_SETLK, F_WRLCK, 0, 0);
    printf("child F_SETLK over parent's lock: %s\n", r < 0 ? (errno == EAGAIN || errno == EACCES ? "refused" : strerror(errno)) : "GRANTED");
  } else if (!strcmp(what, "getlk")) {
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };
    fcntl(fd, F_GETLK, &fl);
    printf("child F_GETLK: type %s, pid is parent %s\n", fl.l_type == F_WRLCK ? "F_WRLCK" : fl.l_type == F_UNLCK ? "F_UNLCK" : "other",
           fl.l_pid == getppid() ? "yes" : "no");
  } else if (!strcmp(what, "flock")) {
    int r = flock(fd, LOCK_EX | LOCK_NB);
    printf("child flock LOCK_EX|LOCK_NB over parent's flock: %s\n", r < 0 ? (errno == EWOULDBLOCK ? "EWOULDBLOCK" : strerror(errno)) : "GRANTED");
  } else if (!strcmp(what, "ofd")) {
    int r = lk(fd, F_OFD_SETLK, F_WRLCK, 0, 10);
    printf("child F_OFD_SETLK over parent's OFD lock: %s\n", r < 0 ? (errno == EAGAIN ? "refused" : strerror(errno)) : "GRANTED");
  } else if (!strcmp(what, "free")) {
    int a = lk(fd, F_SETLK, F_WRLCK, 0, 0);
    int b = flock(fd, LOCK_EX | LOCK_NB);
    printf("child after parent unlocked: fcntl %s, flock %s\n", a == 0 ? "granted" : strerror(errno), b == 0 ? "granted" : strerror(errno));
  }
  close(fd);
}

static void in_child(const char *what) {
  fflush(stdout);
  pid_t p = fork();
  if (p == 0) { probe(what, -1); fflush(stdout); _exit(0); }
  waitpid(p, NULL, 0);
}

/* N writers, each K read-modify-write rounds of a counter under a lock of the given kind. */
static int counter_run(int kind, int n, int k) {
  int fd = open(path, O_RDWR | O_TRUNC);
  if (write(fd, "0\n", 2) != 2) return -1;
  close(fd);
  for (int i = 0; i < n; i++) {
    if (fork() == 0) {
      for (int j = 0; j < k; j++) {
        int f = open(path, O_RDWR);  /* a fresh open each round: a new lookup each time */
        if (kind == 0) lk(f, F_SETLKW, F_WRLCK, 0, 0); else flock(f, LOCK_EX);
        char b[32] = {0};
        pread(f, b, sizeof b - 1, 0);
        long v = atol(b);
        sched_yield();  /* give the others every chance to break in */
        int m = snprintf(b, sizeof b, "%ld\n", v + 1);
        pwrite(f, b, m, 0);
        if (kind == 0) lk(f, F_SETLK, F_UNLCK, 0, 0); else flock(f, LOCK_UN);
        close(f);
      }
      _exit(0);
    }
  }
  for (int i = 0; i < n; i++) wait(NULL);
  fd = open(path, O_RDONLY);
  char b[32] = {0};
  read(fd, b, sizeof b - 1);
  close(fd);
  return atoi(b);
}

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  path = argv[1];
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) { perror("open"); return 1; }
  if (write(fd, "0123456789abcdef", 16) != 16) return 1;

  printf("parent F_SETLK: %d\n", lk(fd, F_SETLK, F_WRLCK, 0, 0));
  in_child("setlk");
  in_child("getlk");
  lk(fd, F_SETLK, F_UNLCK, 0, 0);

  printf("parent flock: %d\n", flock(fd, LOCK_EX));
  in_child("flock");
  flock(fd, LOCK_UN);

  printf("parent F_OFD_SETLK: %d\n", lk(fd, F_OFD_SETLK, F_WRLCK, 0, 10));
  in_child("ofd");
  lk(fd, F_OFD_SETLK, F_UNLCK, 0, 10);

  in_child("free");

  /* Two names, one file: a hard link shares the locks. */
  char alt[4096];
  snprintf(alt, sizeof alt, "%s.link", path);
  unlink(alt);
  if (link(path, alt) == 0) {
    lk(fd, F_SETLK, F_WRLCK, 0, 0);
    fflush(stdout);
    if (fork() == 0) {
      int f2 = open(alt, O_RDWR);
      int r = lk(f2, F_SETLK, F_WRLCK, 0, 0);
      printf("child F_SETLK through a hard link: %s\n", r < 0 ? "refused" : "GRANTED");
      fflush(stdout);
      _exit(0);
    }
    wait(NULL);
    lk(fd, F_SETLK, F_UNLCK, 0, 0);
    unlink(alt);
  }
  /* MAP_SHARED of the file in two processes (each opened it by path): one page. */
  char *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  fflush(stdout);
  if (fork() == 0) {
    int f2 = open(path, O_RDWR);
    char *m2 = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, f2, 0);
    m2[3] = 'X';
    printf("child sees parent's page: %.4s\n", m2);
    fflush(stdout);
    _exit(0);
  }
  wait(NULL);
  m[5] = 'Y';
  char b5[8] = {0};
  pread(fd, b5, 6, 0);
  printf("parent sees child's store: %c, read(2) sees both: %.6s\n", m[3], b5);
  munmap(m, 4096);
  close(fd);

  printf("fcntl counter: %d of %d\n", counter_run(0, 4, 50), 200);
  printf("flock counter: %d of %d\n", counter_run(1, 4, 50), 200);
  return 0;
}
