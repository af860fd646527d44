/* Directory listing: getdents64 (raw, with a small buffer), readdir, rewind, and errors. */
#include "common.h"
#include <dirent.h>
#include <fcntl.h>
#include <sys/syscall.h>

struct linux_dirent64 {
  unsigned long long d_ino;
  long long d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[];
};

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static const char *dtype(unsigned char t) {
  switch (t) {
    case DT_REG: return "reg";
    case DT_DIR: return "dir";
    case DT_LNK: return "lnk";
    case DT_FIFO: return "fifo";
    case DT_CHR: return "chr";
    case DT_UNKNOWN: return "unknown";
  }
  return "?";
}

/* Lists a directory with raw getdents64 using a buffer of `bufsz` bytes; prints sorted "name type". */
static void list_raw(const char *path, size_t bufsz, int print) {
  int fd = open(path, O_RDONLY | O_DIRECTORY);
  if (fd < 0) { printf("open %s: %s\n", path, ename(errno)); return; }
  char *buf = malloc(bufsz);
  char *names[512];
  int n = 0, calls = 0;
  for (;;) {
    long r = syscall(SYS_getdents64, fd, buf, bufsz);
    if (r < 0) { printf("getdents64 %s: %s\n", path, ename(errno)); break; }
    if (r == 0) break;
    calls++;
    for (long off = 0; off < r;) {
      struct linux_dirent64 *d = (struct linux_dirent64 *)(buf + off);
      if (n < 512) {
        char *s = malloc(strlen(d->d_name) + 16);
        sprintf(s, "%s %s", d->d_name, dtype(d->d_type));
        names[n++] = s;
      }
      off += d->d_reclen;
    }
  }
  qsort(names, n, sizeof names[0], cmp);
  printf("%s (buf %zu): %d entries%s\n", path, bufsz, n, bufsz < 200 && calls > 1 ? ", several calls" : "");
  for (int i = 0; i < n; i++) {
    if (print) printf("  %s\n", names[i]);
    free(names[i]);
  }
  free(buf);
  close(fd);
}

int main(void) {
  guest_init();
  enter_tmpdir();

  list_raw(".", 4096, 1); /* only . and .. */
  const char *files[] = {"alpha", "beta", "gamma", "a-much-longer-file-name-to-vary-record-lengths.txt"};
  for (int i = 0; i < 4; i++) MUST(close(open(files[i], O_CREAT | O_WRONLY, 0644)));
  for (int i = 0; i < 40; i++) {
    char name[32];
    sprintf(name, "many-%02d", i);
    MUST(close(open(name, O_CREAT | O_WRONLY, 0644)));
  }
  MUST(mkdir("sub", 0755));
  MUST(symlink("alpha", "link"));
  MUST(mkfifo("fifo", 0644));

  list_raw(".", 4096, 1);
  list_raw(".", 128, 0); /* forces many calls: continuation must neither skip nor repeat */

  /* readdir + rewinddir */
  DIR *d = opendir(".");
  int n1 = 0, n2 = 0;
  while (readdir(d)) n1++;
  rewinddir(d);
  while (readdir(d)) n2++;
  printf("readdir count=%d after rewind=%d\n", n1, n2);
  closedir(d);

  /* Changes are visible to a new listing. */
  MUST(unlink("beta"));
  MUST(rename("gamma", "sub/gamma"));
  list_raw(".", 4096, 0);
  list_raw("sub", 4096, 1);

  /* Errors */
  int fd = open("alpha", O_RDONLY);
  char buf[512];
  long r = syscall(SYS_getdents64, fd, buf, sizeof buf);
  printf("getdents64 on file: %s\n", r < 0 ? ename(errno) : "success?");
  close(fd);
  r = syscall(SYS_getdents64, 999, buf, sizeof buf);
  printf("getdents64 bad fd: %s\n", r < 0 ? ename(errno) : "success?");
  fd = open(".", O_RDONLY | O_DIRECTORY);
  r = syscall(SYS_getdents64, fd, buf, 1);
  printf("getdents64 tiny buffer: %s\n", r < 0 ? ename(errno) : "success?");
  r = syscall(SYS_getdents64, fd, (void *)1, 4096);
  printf("getdents64 bad buffer: %s\n", r < 0 ? ename(errno) : "success?");
  close(fd);
  EXPECT_ERR("opendir missing", (long)(opendir("nope") ? 0 : -1), ENOENT);
  EXPECT_ERR("rmdir non-empty", rmdir("sub"), ENOTEMPTY);

  /* A host directory through the read-only lower layer. */
  list_raw("/etc/apt", 4096, 1);
  /* Root directory names (types of mount points may differ, so names only). */
  d = opendir("/");
  int has_etc = 0, has_tmp = 0, has_usr = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, "etc")) has_etc = 1;
    if (!strcmp(e->d_name, "tmp")) has_tmp = 1;
    if (!strcmp(e->d_name, "usr")) has_usr = 1;
  }
  closedir(d);
  printf("/ has etc=%d tmp=%d usr=%d\n", has_etc, has_tmp, has_usr);

  leave_tmpdir();
  printf("done\n");
  return 0;
}
