#define _GNU_SOURCE
// Big reads of a host file (the Sentry maps read windows of it: native/host_file_read.cc),
// then what argv[2] does to the file in directory argv[1]: keep (nothing), unlink (after
// close), unlink-open (while open, then read it again through the fd), truncate
// (ftruncate through an O_RDWR fd, then read), trunc-open (open O_TRUNC), replace
// (rename another file over it). Prints what Linux answers (sizes, sums, link counts),
// the same natively and in the sandbox; the test counts the windows left at exit.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SIZE (4 << 20)
#define CHUNK (1 << 20)

static char buf[CHUNK];

static void die(const char* what) {
  printf("%s: %s\n", what, strerrorname_np(errno));
  exit(1);
}

// Reads fd from 0 to EOF in 1 MiB reads: the byte count and a sum of the bytes.
static void readAll(const char* what, int fd) {
  long total = 0;
  unsigned long sum = 0;
  for (;;) {
    ssize_t n = pread(fd, buf, CHUNK, total);
    if (n < 0) die(what);
    if (n == 0) break;
    for (ssize_t i = 0; i < n; i++) sum = sum * 31 + (unsigned char)buf[i];
    total += n;
  }
  printf("%s: %ld bytes, sum %lx\n", what, total, sum);
}

static void nlink(int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0) die("fstat");
  printf("fstat: size %ld nlink %ld\n", (long)st.st_size, (long)st.st_nlink);
}

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: read_windows DIR keep|unlink|unlink-open|truncate|trunc-open|replace\n");
    return 2;
  }
  const char* mode = argv[2];
  char p[4096], q[4096];
  snprintf(p, sizeof p, "%s/big", argv[1]);
  snprintf(q, sizeof q, "%s/other", argv[1]);
  int fd = open(p, O_CREAT | O_EXCL | O_RDWR, 0644);
  if (fd < 0) die("create");
  for (int i = 0; i < CHUNK; i++) buf[i] = (char)(i * 7 + i / 4096);
  for (long off = 0; off < SIZE; off += CHUNK) {
    if (pwrite(fd, buf, CHUNK, off) != CHUNK) die("write");
  }
  close(fd);
  fd = open(p, strcmp(mode, "truncate") == 0 ? O_RDWR : O_RDONLY);
  if (fd < 0) die("open");
  readAll("first read", fd);
  if (strcmp(mode, "unlink") == 0) {
    close(fd);
    if (unlink(p) != 0) die("unlink");
    printf("unlinked\n");
  } else if (strcmp(mode, "unlink-open") == 0) {
    if (unlink(p) != 0) die("unlink");
    nlink(fd);
    readAll("read after unlink", fd);
    close(fd);
  } else if (strcmp(mode, "truncate") == 0) {
    if (ftruncate(fd, 0) != 0) die("ftruncate");
    nlink(fd);
    readAll("read after truncate", fd);
    close(fd);
    unlink(p);
  } else if (strcmp(mode, "trunc-open") == 0) {
    int w = open(p, O_WRONLY | O_TRUNC);
    if (w < 0) die("open O_TRUNC");
    nlink(fd);
    readAll("read after O_TRUNC", fd);
    close(w);
    close(fd);
    unlink(p);
  } else if (strcmp(mode, "replace") == 0) {
    int o = open(q, O_CREAT | O_EXCL | O_WRONLY, 0644);
    if (o < 0 || write(o, "x", 1) != 1) die("other");
    close(o);
    if (rename(q, p) != 0) die("rename");
    nlink(fd);
    close(fd);
    fd = open(p, O_RDONLY);
    if (fd < 0) die("open again");
    readAll("read of the new file", fd);
    close(fd);
    unlink(p);
  } else {
    close(fd);  // (the test removes the file from the host afterwards)
  }
  return 0;
}
