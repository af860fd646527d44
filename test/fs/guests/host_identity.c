#define _GNU_SOURCE
// One object per host file while anything refers to it, however many names a guest
// walks past meanwhile (fs/fsimpl/hostfs: the identity table is collected).
//   make DIR N: DIR/tree/dNNN/fNNNN (N files, 1000 a directory), DIR/lockme and its
//               hard link DIR/lockme2, DIR/watched/, DIR/cwd/ (run natively, once).
//   check DIR:  takes an fcntl and a flock lock on lockme, watches watched/ (inotify),
//               stands in cwd/ and lists it, walks the whole tree (lstat of every name),
//               then: a child sees both locks through the other name, a file made in
//               watched/ by its absolute path is reported by the watch, one made in cwd/
//               by its absolute path is listed by ".". Prints what Linux answers.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void die(const char* what) {
  printf("%s: %s\n", what, strerrorname_np(errno));
  exit(1);
}

static long walked;
static int onEntry(const char* p, const struct stat* st, int flag, struct FTW* f) {
  (void)p; (void)st; (void)flag; (void)f;
  walked++;
  return 0;
}

static int cmp(const void* a, const void* b) {
  return strcmp(*(char* const*)a, *(char* const*)b);
}

// The names of "." (the cwd), sorted, on one line.
static void listCwd(const char* what) {
  DIR* d = opendir(".");
  if (!d) die("opendir .");
  char* names[64];
  int n = 0;
  struct dirent* e;
  while ((e = readdir(d)) != NULL && n < 64) {
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) names[n++] = strdup(e->d_name);
  }
  closedir(d);
  qsort(names, n, sizeof names[0], cmp);
  printf("%s:", what);
  for (int i = 0; i < n; i++) printf(" %s", names[i]);
  printf("\n");
}

static void make(const char* dir, long n) {
  char p[4096];
  snprintf(p, sizeof p, "%s/tree", dir);
  if (mkdir(p, 0755) != 0) die("mkdir tree");
  for (long i = 0; i < n; i++) {
    if (i % 1000 == 0) {
      snprintf(p, sizeof p, "%s/tree/d%03ld", dir, i / 1000);
      if (mkdir(p, 0755) != 0) die("mkdir d");
    }
    snprintf(p, sizeof p, "%s/tree/d%03ld/f%04ld", dir, i / 1000, i % 1000);
    int fd = open(p, O_CREAT | O_EXCL | O_WRONLY, 0644);
    if (fd < 0) die("create");
    close(fd);
  }
  snprintf(p, sizeof p, "%s/lockme", dir);
  int fd = open(p, O_CREAT | O_EXCL | O_WRONLY, 0644);
  if (fd < 0) die("create lockme");
  close(fd);
  char q[4096];
  snprintf(q, sizeof q, "%s/lockme2", dir);
  if (link(p, q) != 0) die("link");
  snprintf(p, sizeof p, "%s/watched", dir);
  if (mkdir(p, 0755) != 0) die("mkdir watched");
  snprintf(p, sizeof p, "%s/cwd", dir);
  if (mkdir(p, 0755) != 0) die("mkdir cwd");
  snprintf(p, sizeof p, "%s/cwd/old", dir);
  fd = open(p, O_CREAT | O_EXCL | O_WRONLY, 0644);
  if (fd < 0) die("create old");
  close(fd);
}

static void check(const char* dir) {
  char p[4096];
  snprintf(p, sizeof p, "%s/lockme", dir);
  int fd = open(p, O_RDWR);
  if (fd < 0) die("open lockme");
  struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
  if (fcntl(fd, F_SETLK, &fl) != 0) die("F_SETLK");
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) die("flock");
  int in = inotify_init1(IN_NONBLOCK);
  if (in < 0) die("inotify_init1");
  snprintf(p, sizeof p, "%s/watched", dir);
  if (inotify_add_watch(in, p, IN_CREATE) < 0) die("inotify_add_watch");
  snprintf(p, sizeof p, "%s/cwd", dir);
  if (chdir(p) != 0) die("chdir");
  listCwd("cwd before");

  snprintf(p, sizeof p, "%s/tree", dir);
  if (nftw(p, onEntry, 16, FTW_PHYS) != 0) die("nftw");
  printf("walked %ld names\n", walked);

  fflush(stdout);
  pid_t parent = getpid();
  pid_t c = fork();
  if (c == 0) {
    snprintf(p, sizeof p, "%s/lockme2", dir);
    int f2 = open(p, O_RDWR);
    if (f2 < 0) die("open lockme2");
    struct flock q = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
    if (fcntl(f2, F_GETLK, &q) != 0) die("F_GETLK");
    printf("child: fcntl lock %s, by the parent: %s\n", q.l_type == F_WRLCK ? "write" : q.l_type == F_UNLCK ? "none" : "other",
           q.l_pid == parent ? "yes" : "no");
    int r = flock(f2, LOCK_EX | LOCK_NB);
    printf("child: flock %s\n", r == 0 ? "taken" : strerrorname_np(errno));
    fflush(stdout);
    _exit(0);
  }
  int status;
  if (waitpid(c, &status, 0) != c) die("waitpid");

  snprintf(p, sizeof p, "%s/watched/new", dir);
  int nf = open(p, O_CREAT | O_EXCL | O_WRONLY, 0644);
  if (nf < 0) die("create watched/new");
  close(nf);
  char ev[4096];
  ssize_t n = read(in, ev, sizeof ev);
  if (n < 0) printf("watch: no event (%s)\n", strerrorname_np(errno));
  else {
    struct inotify_event* e = (struct inotify_event*)ev;
    printf("watch: mask %x name %s\n", e->mask, e->len ? e->name : "");
  }
  unlink(p);

  snprintf(p, sizeof p, "%s/cwd/made", dir);
  nf = open(p, O_CREAT | O_EXCL | O_WRONLY, 0644);
  if (nf < 0) die("create cwd/made");
  close(nf);
  listCwd("cwd after");
  unlink(p);
  close(fd);
}

int main(int argc, char** argv) {
  if (argc >= 4 && strcmp(argv[1], "make") == 0) make(argv[2], atol(argv[3]));
  else if (argc == 3 && strcmp(argv[1], "check") == 0) check(argv[2]);
  else {
    fprintf(stderr, "usage: host_identity make DIR N | check DIR\n");
    return 2;
  }
  return 0;
}
