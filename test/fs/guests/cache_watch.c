// Watches a shared bind while the host changes it (test/fs/cache.test.ts).
//   cache_watch watch DIR   for each scenario: observe the old state (so the Sentry has
//                           it cached), create DIR/.ready-N (the host then makes its
//                           change), loop until the new state shows (at most 30 s)
//   cache_watch own DIR     the sandbox's own changes are seen at once (any cache mode)
//   cache_watch stats PATH N  stat PATH N times (exclusive-mode hit counting)
//   cache_watch prefetch DIR  the sandbox's changes in directories read ahead are seen
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char dir[4096];

static const char* at(const char* name) {
  static char p[2][8192];
  static int k;
  k ^= 1;
  snprintf(p[k], sizeof p[k], "%s/%s", dir, name);
  return p[k];
}

static void ready(int n) {
  char name[32];
  snprintf(name, sizeof name, ".ready-%d", n);
  int fd = open(at(name), O_CREAT | O_WRONLY, 0644);
  if (fd < 0) { perror("ready"); exit(2); }
  close(fd);
}

static int content_is(const char* name, const char* want) {
  char b[256];
  int fd = open(at(name), O_RDONLY);
  if (fd < 0) return 0;
  ssize_t n = read(fd, b, sizeof b - 1);
  close(fd);
  if (n < 0) return 0;
  b[n] = 0;
  return strcmp(b, want) == 0;
}

static int exists(const char* name) {
  struct stat st;
  return lstat(at(name), &st) == 0;
}

static int mtime_is(const char* name, long t) {
  struct stat st;
  return lstat(at(name), &st) == 0 && st.st_mtime == t;
}

static int listed(const char* sub, const char* name) {
  DIR* d = opendir(at(sub));
  if (!d) return 0;
  int found = 0;
  for (struct dirent* e; (e = readdir(d));) found |= strcmp(e->d_name, name) == 0;
  closedir(d);
  return found;
}

static int link_is(const char* name, const char* want) {
  char b[256];
  ssize_t n = readlink(at(name), b, sizeof b - 1);
  if (n < 0) return 0;
  b[n] = 0;
  return strcmp(b, want) == 0;
}

static int held_fd = -1;
static int held_size_is(long want) {
  struct stat st;
  return fstat(held_fd, &st) == 0 && st.st_size == want;
}

// Loops until cond holds (a generous bound: the cache's is 100 ms).
#define WAIT(n, what, cond)                                              \
  do {                                                                   \
    time_t t0 = time(NULL);                                              \
    while (!(cond)) {                                                    \
      if (time(NULL) - t0 > 30) { printf("%d %s: NOT SEEN\n", n, what); exit(1); } \
      usleep(2000);                                                      \
    }                                                                    \
    printf("%d %s: seen\n", n, what);                                    \
    fflush(stdout);                                                      \
  } while (0)

static int expect(int ok, const char* what) {
  printf("%s: %s\n", what, ok ? "ok" : "WRONG");
  return ok ? 0 : 1;
}

int main(int argc, char** argv) {
  if (argc < 3) return 2;
  snprintf(dir, sizeof dir, "%s", argv[2]);
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (strcmp(argv[1], "watch") == 0) {
    if (!content_is("f", "old")) { printf("setup wrong\n"); return 2; }
    ready(1);
    WAIT(1, "content and size", content_is("f", "new content"));
    ready(2);
    WAIT(2, "mtime", mtime_is("f", 1000000000));
    if (exists("late")) return 2;
    ready(3);
    WAIT(3, "new file", exists("late") && content_is("late", "late"));
    if (!exists("gone")) return 2;
    ready(4);
    WAIT(4, "deleted file", !exists("gone"));
    if (!content_is("a", "A") || exists("b")) return 2;
    ready(5);
    WAIT(5, "rename", !exists("a") && content_is("b", "A"));
    if (listed("d", "x")) return 2;
    ready(6);
    WAIT(6, "new directory entry", listed("d", "x") && exists("d/x"));
    if (!link_is("l", "t1")) return 2;
    ready(7);
    WAIT(7, "symlink retarget", link_is("l", "t2"));
    held_fd = open(at("g"), O_RDONLY);
    if (held_fd < 0 || !held_size_is(1)) return 2;
    ready(8);
    WAIT(8, "open file grows", held_size_is(4));
    return 0;
  }
  if (strcmp(argv[1], "own") == 0) {
    int bad = 0;
    int fd = open(at("mine"), O_CREAT | O_WRONLY | O_EXCL, 0600);
    bad |= expect(fd >= 0, "create");
    struct stat st;
    bad |= expect(lstat(at("mine"), &st) == 0 && st.st_size == 0, "new file is empty");
    bad |= expect(write(fd, "12345", 5) == 5, "write");
    bad |= expect(lstat(at("mine"), &st) == 0 && st.st_size == 5, "size after own write");
    bad |= expect(ftruncate(fd, 2) == 0 && lstat(at("mine"), &st) == 0 && st.st_size == 2, "size after own truncate");
    close(fd);
    bad |= expect(chmod(at("mine"), 0640) == 0 && lstat(at("mine"), &st) == 0 && (st.st_mode & 0777) == 0640, "mode after chmod");
    bad |= expect(listed(".", "mine"), "listed after create");
    bad |= expect(rename(at("mine"), at("moved")) == 0 && !exists("mine") && exists("moved"), "rename");
    bad |= expect(!listed(".", "mine") && listed(".", "moved"), "listing after rename");
    bad |= expect(link(at("moved"), at("hard")) == 0 && lstat(at("moved"), &st) == 0 && st.st_nlink == 2, "link count after link");
    bad |= expect(unlink(at("hard")) == 0 && !exists("hard") && lstat(at("moved"), &st) == 0 && st.st_nlink == 1, "unlink");
    bad |= expect(mkdir(at("sub"), 0755) == 0 && lstat(at("sub"), &st) == 0 && S_ISDIR(st.st_mode), "mkdir");
    bad |= expect(symlink("moved", at("sym")) == 0 && link_is("sym", "moved"), "symlink");
    bad |= expect(unlink(at("sym")) == 0 && !exists("sym"), "unlink symlink");
    bad |= expect(rmdir(at("sub")) == 0 && !exists("sub") && !listed(".", "sub"), "rmdir");
    bad |= expect(unlink(at("moved")) == 0 && !exists("moved") && !listed(".", "moved"), "unlink last");
    return bad;
  }
  if (strcmp(argv[1], "prefetch") == 0) {
    // DIR, then DIR/a: a walk, so a/b, a/c, a/d are read ahead; then the sandbox changes
    // them before reading them: every read must show the change.
    int bad = 0;
    bad |= expect(listed(".", "a") && listed("a", "b"), "walk");
    int fd = open(at("a/b/new"), O_CREAT | O_WRONLY, 0644);
    close(fd);
    bad |= expect(listed("a/b", "new") && listed("a/b", "old"), "created in a read-ahead directory");
    bad |= expect(rmdir(at("a/c")) == 0 && mkdir(at("a/c"), 0755) == 0 && !listed("a/c", "was"), "a directory made again is empty");
    bad |= expect(rename(at("a/d"), at("a/z")) == 0 && listed("a/z", "e") && mkdir(at("a/d"), 0755) == 0 && !listed("a/d", "e"),
                  "a moved directory's listing moves with it");
    bad |= expect(unlink(at("a/b/old")) == 0 && !listed("a/b", "old"), "unlinked in a read-ahead directory");
    return bad;
  }
  if (strcmp(argv[1], "stats") == 0) {
    int n = argc > 3 ? atoi(argv[3]) : 1000;
    struct stat st;
    for (int i = 0; i < n; i++)
      if (stat(argv[2], &st) != 0) { perror("stat"); return 1; }
    printf("statted %d\n", n);
    return 0;
  }
  return 2;
}
