/*
 * The Sentry's fast paths give what Linux gives: path strings read from guest memory
 * (short, long, across a page, up to an unmapped page, too long), symlink loops,
 * getdents64 with tiny and one-entry buffers, and a stat that sees a chmod made by
 * another process and through another name. Prints results and errno names only.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/openat2.h>

static const char *en(int e) {
  switch (e) {
    case 0: return "0";
    case ENOENT: return "ENOENT";
    case EFAULT: return "EFAULT";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    case ELOOP: return "ELOOP";
    case EINVAL: return "EINVAL";
    case ENOTDIR: return "ENOTDIR";
    case EXDEV: return "EXDEV";
    case EEXIST: return "EEXIST";
    default: return "other";
  }
}

static void st(const char *what, const char *p) {
  struct stat s;
  int r = stat(p, &s);
  printf("%s: %d %s\n", what, r, en(r ? errno : 0));
}

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Lists dir with getdents64 in buffers of bufsz bytes; prints the sorted names. */
static void list(const char *dir, size_t bufsz) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY);
  char *buf = malloc(bufsz);
  char *names[256];
  int n = 0, calls = 0;
  for (;;) {
    long r = syscall(SYS_getdents64, fd, buf, bufsz);
    if (r < 0) {
      printf("getdents64(%zu): %s\n", bufsz, en(errno));
      break;
    }
    if (r == 0) break;
    calls++;
    for (long off = 0; off < r;) {
      struct dirent64 *d = (struct dirent64 *)(buf + off);
      if (n < 256) names[n++] = strdup(d->d_name);
      off += d->d_reclen;
    }
  }
  qsort(names, n, sizeof *names, cmp);
  printf("getdents64(%zu): %d names, %s", bufsz, n, calls > 1 ? "several calls" : "one call");
  for (int i = 0; i < n; i++) printf(" %s", names[i]);
  printf("\n");
  for (int i = 0; i < n; i++) free(names[i]);
  free(buf);
  close(fd);
}

/* argv[1]: the directory to work under (a host bind in the sandbox), default /tmp. */
/* Lists dir with the old getdents (type in a record's last byte) and getdents64 in
 * buffers of bufsz bytes; prints the sorted "name:type" and whether every record is
 * 8-aligned with its name NUL-terminated inside it. */
struct old_dirent {
  unsigned long d_ino, d_off;
  unsigned short d_reclen;
  char d_name[];
};
static void list_types(const char *dir, size_t bufsz, int old) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY);
  char *buf = malloc(bufsz);
  char *names[256];
  int n = 0, shaped = 1;
  for (;;) {
    long r = syscall(old ? SYS_getdents : SYS_getdents64, fd, buf, bufsz);
    if (r < 0) {
      printf("getdents%s(%zu): %s\n", old ? "" : "64", bufsz, en(errno));
      break;
    }
    if (r == 0) break;
    for (long off = 0; off < r;) {
      unsigned short rl;
      const char *name;
      int type;
      if (old) {
        struct old_dirent *d = (struct old_dirent *)(buf + off);
        rl = d->d_reclen, name = d->d_name, type = buf[off + rl - 1];
      } else {
        struct dirent64 *d = (struct dirent64 *)(buf + off);
        rl = d->d_reclen, name = d->d_name, type = d->d_type;
      }
      if (rl % 8 != 0 || (size_t)(name - (buf + off)) + strlen(name) >= rl) shaped = 0;
      char e[300];
      snprintf(e, sizeof e, "%s:%d", name, type);
      if (n < 256) names[n++] = strdup(e);
      off += rl;
    }
  }
  qsort(names, n, sizeof *names, cmp);
  printf("getdents%s(%zu): %s,", old ? "" : "64", bufsz, shaped ? "records aligned" : "BAD RECORDS");
  for (int i = 0; i < n; i++) printf(" %s", names[i]);
  printf("\n");
  for (int i = 0; i < n; i++) free(names[i]);
  free(buf);
  close(fd);
}

int main(int argc, char **argv) {
  char dir[256];
  snprintf(dir, sizeof dir, "%s/tss-hot-XXXXXX", argc > 1 ? argv[1] : "/tmp");
  if (!mkdtemp(dir)) return 1;
  if (chdir(dir) != 0) return 1;

  /* Paths at a page's end: two pages, the second unmapped. */
  long pg = sysconf(_SC_PAGESIZE);
  char *m = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  munmap(m + pg, pg);
  close(open("f", O_CREAT | O_WRONLY, 0644));
  strcpy(m + pg - 2, "f"); /* "f\0" ends the page */
  st("name ending the page", m + pg - 2);
  memcpy(m + pg - 1, "f", 1); /* no NUL before the unmapped page */
  st("name running into an unmapped page", m + pg - 1);
  st("bad pointer", (char *)8);

  /* A long path (longer than one short read), across a page boundary of mapped memory. */
  char *m2 = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  char *p = m2 + pg - 150;
  size_t at = 0;
  for (int i = 0; i < 60; i++) {
    memcpy(p + at, "./", 2);
    at += 2;
  }
  memcpy(p + at, "f", 2);
  st("long path across pages", p);
  /* 300 bytes in one page, NUL past the first 256. */
  p = m2;
  at = 0;
  for (int i = 0; i < 150; i++) {
    memcpy(p + at, "./", 2);
    at += 2;
  }
  memcpy(p + at, "f", 2);
  st("300-byte path", p);
  /* 4095 bytes + NUL fits PATH_MAX's limit; 4096 without a NUL does not. */
  char *big = malloc(8192);
  memset(big, '/', 4094);
  big[4094] = 'f';
  big[4095] = 0;
  memcpy(big, dir, strlen(dir)); /* "/tmp/tss-hot-XXXXXX////...f" */
  st("4095-byte path", big);
  memset(big, '/', 4096);
  big[4096] = 0;
  st("4096-byte path", big);

  /* Symlink loops and chains. */
  symlink("loop2", "loop1");
  symlink("loop1", "loop2");
  st("symlink loop", "loop1");
  st("symlink loop as a directory", "loop1/x");
  int fd = open("loop1", O_RDONLY);
  printf("open symlink loop: %d %s\n", fd, en(fd < 0 ? errno : 0));
  struct stat ls;
  printf("lstat symlink loop: %d\n", lstat("loop1", &ls) == 0 && S_ISLNK(ls.st_mode));
  symlink("f", "c0");
  char a[16], b[16];
  for (int i = 1; i <= 41; i++) {
    snprintf(a, sizeof a, "c%d", i);
    snprintf(b, sizeof b, "c%d", i - 1);
    symlink(b, a);
  }
  st("40 links", "c39");
  st("41 links", "c40");
  st("42 links", "c41");
  st("file as a directory", "f/x");

  /* getdents64: tiny buffers, one entry a call, a whole listing. */
  mkdir("d", 0755);
  for (int i = 0; i < 40; i++) {
    snprintf(a, sizeof a, "d/n%02d", i);
    close(open(a, O_CREAT | O_WRONLY, 0644));
  }
  list("d", 8);
  list("d", 24);
  list("d", 32);
  list("d", 4096);
  /* Names of every length around a record's alignment, of each type, both layouts. */
  mkdir("e", 0755);
  mkdir("e/sub", 0755);
  symlink("sub", "e/link");
  char en_[300];
  for (int i = 1; i <= 20; i++) {
    snprintf(en_, sizeof en_, "e/%.*s", i, "abcdefghijklmnopqrstuvwxyz");
    close(open(en_, O_CREAT | O_WRONLY, 0644));
  }
  /* A record longer than 255 bytes (d_reclen's high byte). */
  char longname[260];
  memset(longname, 'L', 250);
  longname[250] = 0;
  snprintf(en_, sizeof en_, "e/%s", longname);
  close(open(en_, O_CREAT | O_WRONLY, 0644));
  list_types("e", 4096, 0);
  list_types("e", 4096, 1);

  /* Walks: dots, doubled and trailing slashes, symlinks in the middle, parent-mode calls. */
  symlink("d", "ld");
  symlink("../f", "d/up");
  st("./d//./n00", "./d//./n00");
  st("d/../d/n01", "d/../d/n01");
  st("ld/n02", "ld/n02");
  st("ld/", "ld/");
  st("ld/up", "ld/up");
  st("ld/up/", "ld/up/");
  st("ld/../f", "ld/../f");
  st("f/", "f/");
  int rc = mkdir("ld/new/", 0755);
  printf("mkdir ld/new/: %d\n", rc);
  rc = rmdir("d/new//");
  printf("rmdir d/new//: %d\n", rc);
  rc = unlink("ld/n03");
  printf("unlink ld/n03: %d\n", rc);
  rc = unlink("ld/n03");
  printf("unlink ld/n03 again: %d %s\n", rc, en(rc ? errno : 0));
  close(open("d/n03", O_CREAT | O_WRONLY, 0644));
  printf("rename ld/n03 d/../d/n03b: %d\n", rename("ld/n03", "d/../d/n03b"));
  printf("rename back: %d\n", rename("d/n03b", "ld/n03"));
  struct open_how how = {0};
  how.flags = O_RDONLY;
  how.resolve = 0x08; /* RESOLVE_BENEATH */
  int dfd = open("d", O_RDONLY | O_DIRECTORY);
  long r2 = syscall(SYS_openat2, dfd, "../f", &how, sizeof how);
  printf("openat2 BENEATH ../f: %s\n", r2 < 0 ? en(errno) : "opened");
  r2 = syscall(SYS_openat2, dfd, "up", &how, sizeof how);
  printf("openat2 BENEATH up (-> ../f): %s\n", r2 < 0 ? (errno == EXDEV ? "EXDEV" : en(errno)) : "opened");
  how.resolve = 0x04; /* RESOLVE_NO_SYMLINKS */
  r2 = syscall(SYS_openat2, AT_FDCWD, "ld/n00", &how, sizeof how);
  printf("openat2 NO_SYMLINKS ld/n00: %s\n", r2 < 0 ? en(errno) : "opened");
  close(dfd);
  unlink("d/up");
  unlink("ld");

  /* A stat sees a chmod made by another process, and through another name. */
  struct stat s1, s2;
  stat("f", &s1);
  pid_t c = fork();
  if (c == 0) _exit(chmod("f", 0600) != 0);
  int ws;
  waitpid(c, &ws, 0);
  stat("f", &s2);
  printf("mode after a child's chmod: %o (was %o)\n", s2.st_mode & 07777, s1.st_mode & 07777);
  link("f", "g");
  chmod("g", 0640);
  stat("f", &s2);
  printf("mode after chmod through a link: %o, nlink %ld\n", s2.st_mode & 07777, (long)s2.st_nlink);
  struct stat sg;
  stat("g", &sg);
  printf("same inode through both names: %d\n", sg.st_ino == s2.st_ino);
  fd = open("f", O_WRONLY);
  write(fd, "hello", 5);
  close(fd);
  stat("g", &sg);
  printf("size through the other name: %ld\n", (long)sg.st_size);

  /* A small file grown past its first buffer, then truncated up and down: the bytes. */
  fd = open("s", O_CREAT | O_RDWR | O_TRUNC, 0644);
  write(fd, "0123456789abcdef", 16);
  char chunk[5000];
  for (int i = 0; i < 5000; i++) chunk[i] = 'a' + i % 26;
  pwrite(fd, chunk, 300, 16);
  pwrite(fd, chunk, 5000, 316);
  ftruncate(fd, 9000);
  ftruncate(fd, 200);
  ftruncate(fd, 400);
  char back[9000];
  long got = pread(fd, back, sizeof back, 0);
  unsigned long sum = 0;
  for (long i = 0; i < got; i++) sum = sum * 31 + (unsigned char)back[i];
  printf("small file grown and truncated: %ld bytes, sum %lu, byte 250 = %d\n", got, sum, back[250]);
  close(fd);
  unlink("s");

  /* Clean up. */
  for (int i = 0; i <= 41; i++) {
    snprintf(a, sizeof a, "c%d", i);
    unlink(a);
  }
  for (int i = 0; i < 40; i++) {
    snprintf(a, sizeof a, "d/n%02d", i);
    unlink(a);
  }
  rmdir("d");
  for (int i = 1; i <= 20; i++) {
    snprintf(en_, sizeof en_, "e/%.*s", i, "abcdefghijklmnopqrstuvwxyz");
    unlink(en_);
  }
  snprintf(en_, sizeof en_, "e/%s", longname);
  unlink(en_);
  unlink("e/link");
  rmdir("e/sub");
  rmdir("e");
  unlink("loop1");
  unlink("loop2");
  unlink("f");
  unlink("g");
  chdir("/");
  printf("rmdir: %d\n", rmdir(dir));
  return 0;
}
