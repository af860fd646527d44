// Every way a guest can write a file (issue 12: the report hashes them all). argv[1] is a
// directory (a rw bind); DIR/src is an input file made by the test. Each path below
// writes DIR/<name>; the test compares the report's sha256 with the host file's.
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

static char dir[256];
static char buf[200000];
static long srcLen;

static const char *at(const char *name) {
  static char p[512];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  return p;
}

static int create(const char *name) {
  int fd = open(at(name), O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) { perror(name); exit(1); }
  return fd;
}

#define CHECK(c, what) do { if (!(c)) { perror(what); exit(1); } } while (0)

/* Moves n bytes from pipe end p into fd with splice. */
static void drain(int p, int fd, long n) {
  while (n > 0) {
    ssize_t k = splice(p, NULL, fd, NULL, n, 0);
    CHECK(k > 0, "splice out");
    n -= k;
  }
}

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  snprintf(dir, sizeof dir, "%s", argv[1]);
  for (size_t i = 0; i < sizeof buf; i++) buf[i] = (char)(i * 7 + i / 251);
  int src = open(at("src"), O_RDONLY);
  CHECK(src >= 0, "src");
  struct stat st;
  fstat(src, &st);
  srcLen = st.st_size;

  { // sendfile from a host file
    int fd = create("sendfile");
    off_t off = 0;
    while (off < srcLen) CHECK(sendfile(fd, src, &off, srcLen - off) > 0, "sendfile");
    close(fd);
  }
  { // sendfile from a tmpfs file
    int t = open("/tmp/ci-writes-tmp", O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK(write(t, buf, 70000) == 70000, "tmp write");
    lseek(t, 0, SEEK_SET);
    int fd = create("sendfile-tmpfs");
    CHECK(sendfile(fd, t, NULL, 70000) == 70000, "sendfile tmpfs");
    close(fd);
    // copy_file_range from tmpfs to the host file (not host to host: the Sentry copies)
    fd = create("cfr-tmpfs");
    loff_t in = 0;
    long left = 70000;
    while (left > 0) { ssize_t k = copy_file_range(t, &in, fd, NULL, left, 0); CHECK(k > 0, "cfr tmpfs"); left -= k; }
    close(fd);
    close(t);
  }
  { // copy_file_range host to host (the host kernel copies)
    int fd = create("cfr");
    loff_t in = 0;
    long left = srcLen;
    while (left > 0) { ssize_t k = copy_file_range(src, &in, fd, NULL, left, 0); CHECK(k > 0, "cfr"); left -= k; }
    close(fd);
  }
  { // splice from a pipe
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    int fd = create("splice");
    for (int i = 0; i < 4; i++) {
      CHECK(write(p[1], buf + i * 16384, 16384) == 16384, "pipe write");
      drain(p[0], fd, 16384);
    }
    close(fd);
    close(p[0]);
    close(p[1]);
  }
  { // tee from one pipe to another, spliced into the file
    int a[2], b[2];
    CHECK(pipe(a) == 0 && pipe(b) == 0, "pipe");
    int fd = create("tee");
    CHECK(write(a[1], buf + 5, 30000) == 30000, "pipe write");
    long left = 30000;
    while (left > 0) {
      ssize_t k = tee(a[0], b[1], left, 0);
      CHECK(k > 0, "tee");
      drain(b[0], fd, k);
      char skip[65536];
      CHECK(read(a[0], skip, k) == k, "consume");
      left -= k;
    }
    close(fd);
  }
  { // vmsplice of guest memory into a pipe, spliced into the file
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    int fd = create("vmsplice");
    for (int i = 0; i < 3; i++) {
      struct iovec v = { buf + 1000 + i * 20000, 20000 };
      long left = 20000;
      while (left > 0) {
        ssize_t k = vmsplice(p[1], &v, 1, 0);
        CHECK(k > 0, "vmsplice");
        drain(p[0], fd, k);
        v.iov_base = (char *)v.iov_base + k;
        v.iov_len -= k;
        left -= k;
      }
    }
    close(fd);
  }
  { // a shared mapping, written and unmapped with the fd open
    int fd = create("mmap");
    CHECK(ftruncate(fd, 100000) == 0, "ftruncate");
    char *m = mmap(NULL, 100000, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK(m != MAP_FAILED, "mmap");
    memcpy(m, buf + 3, 100000);
    CHECK(msync(m, 100000, MS_SYNC) == 0, "msync");
    munmap(m, 100000);
    close(fd);
  }
  { // a shared mapping written after its fd was closed, left for exit to unmap
    int fd = create("mmap-closed");
    CHECK(ftruncate(fd, 50000) == 0, "ftruncate");
    char *m = mmap(NULL, 50000, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK(m != MAP_FAILED, "mmap");
    close(fd);
    memcpy(m, buf + 11, 50000);
  }
  { // pwritev2 at offsets out of order (the content, not the order of writes, is hashed)
    int fd = create("pwritev2");
    struct iovec v[2] = { { buf + 40000, 3000 }, { buf + 50000, 5000 } };
    CHECK(pwritev2(fd, v, 2, 8000, 0) == 8000, "pwritev2 hi");
    struct iovec w = { buf, 8000 };
    CHECK(pwritev2(fd, &w, 1, 0, 0) == 8000, "pwritev2 lo");
    close(fd);
  }
  { // Linux AIO: IOCB_CMD_PWRITE
    int fd = create("aio");
    aio_context_t ctx = 0;
    CHECK(syscall(SYS_io_setup, 8, &ctx) == 0, "io_setup");
    struct iocb cb;
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = fd;
    cb.aio_lio_opcode = IOCB_CMD_PWRITE;
    cb.aio_buf = (unsigned long)(buf + 77);
    cb.aio_nbytes = 40000;
    cb.aio_offset = 0;
    struct iocb *list[1] = { &cb };
    CHECK(syscall(SYS_io_submit, ctx, 1, list) == 1, "io_submit");
    struct io_event ev;
    CHECK(syscall(SYS_io_getevents, ctx, 1, 1, &ev, NULL) == 1 && ev.res == 40000, "io_getevents");
    syscall(SYS_io_destroy, ctx);
    close(fd);
  }
  { // written, then removed: hashed as it was when it went
    int fd = create("gone");
    CHECK(write(fd, "written then removed\n", 21) == 21, "write");
    close(fd);
    CHECK(unlink(at("gone")) == 0, "unlink");
  }
  printf("ok\n");
  return 0;
}
