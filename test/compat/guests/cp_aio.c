/* Linux AIO through the raw syscalls (as libaio issues them), against Linux. */
#include "common.h"
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <time.h>
#include <linux/aio_abi.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>

static long setup(unsigned n, aio_context_t *c) { return syscall(SYS_io_setup, n, c); }
static long submit(aio_context_t c, long n, struct iocb **v) { return syscall(SYS_io_submit, c, n, v); }
static long getev(aio_context_t c, long min, long n, struct io_event *e, struct timespec *ts) { return syscall(SYS_io_getevents, c, min, n, e, ts); }

static struct iocb cb(int op, int fd, void *buf, long n, long off, uint64_t data) {
  struct iocb x;
  memset(&x, 0, sizeof x);
  x.aio_lio_opcode = op;
  x.aio_fildes = fd;
  x.aio_buf = (uintptr_t)buf;
  x.aio_nbytes = n;
  x.aio_offset = off;
  x.aio_data = data;
  return x;
}

static void show_events(const char *label, long n, struct io_event *e) {
  printf("%s: %ld event(s)\n", label, n);
  for (long i = 0; i < n; i++) printf("  data %llu res %lld res2 %lld\n", (unsigned long long)e[i].data, (long long)e[i].res, (long long)e[i].res2);
}

int main(void) {
  guest_init();
  enter_tmpdir();
  aio_context_t ctx = 0;
  EXPECT_ERR("io_setup 0 events", setup(0, &ctx), EINVAL);
  SHOW("io_setup", setup(16, &ctx));
  printf("context is nonzero: %d\n", ctx != 0);
  aio_context_t again = ctx;
  EXPECT_ERR("io_setup into a nonzero id", setup(4, &again), EINVAL);
  EXPECT_ERR("io_setup bad pointer", setup(4, (void *)8), EFAULT);
  int fd = open("data", O_CREAT | O_RDWR, 0644);
  char w[] = "hello asynchronous world";
  struct iocb a = cb(IOCB_CMD_PWRITE, fd, w, sizeof w - 1, 0, 1);
  struct iocb b = cb(IOCB_CMD_FSYNC, fd, NULL, 0, 0, 2);
  struct iocb *list[] = { &a, &b };
  SHOW("io_submit write+fsync", submit(ctx, 2, list));
  struct io_event ev[8];
  show_events("getevents", getev(ctx, 2, 8, ev, NULL), ev);
  printf("obj points at the iocb: %d\n", ev[0].obj == (uintptr_t)&a);
  char r1[6] = "", r2[32] = "";
  struct iovec iov[2] = { { r1, 5 }, { r2, 13 } };
  struct iocb c = cb(IOCB_CMD_PREADV, fd, iov, 2, 6, 3);
  struct iocb d = cb(IOCB_CMD_PREAD, fd, r2 + 16, 100, 100, 4); /* past EOF: 0 */
  struct iocb *l2[] = { &c, &d };
  SHOW("io_submit preadv+pread", submit(ctx, 2, l2));
  show_events("getevents", getev(ctx, 1, 8, ev, NULL), ev);
  printf("read '%s' '%s'\n", r1, r2);
  struct timespec zero = { 0, 0 }, short_ts = { 0, 20 * 1000 * 1000 };
  show_events("nothing left, no wait", getev(ctx, 0, 8, ev, &zero), ev);
  show_events("nothing left, timeout", getev(ctx, 1, 8, ev, &short_ts), ev);
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGUSR1);
  struct { const sigset_t *m; size_t sz; } as = { &mask, 8 }, badsz = { &mask, 4 };
  show_events("io_pgetevents with a mask", syscall(SYS_io_pgetevents, ctx, 1, 8, ev, &short_ts, &as), ev);
  EXPECT_ERR("io_pgetevents bad sigset size", syscall(SYS_io_pgetevents, ctx, 1, 8, ev, &short_ts, &badsz), EINVAL);
  /* eventfd notification */
  int efd = eventfd(0, 0);
  struct iocb e = cb(IOCB_CMD_PREAD, fd, r2, 5, 0, 5);
  e.aio_flags = IOCB_FLAG_RESFD;
  e.aio_resfd = efd;
  struct iocb *l3[] = { &e };
  SHOW("io_submit with RESFD", submit(ctx, 1, l3));
  uint64_t cnt = 0;
  SHOW("eventfd read", read(efd, &cnt, 8));
  printf("eventfd count %llu\n", (unsigned long long)cnt);
  show_events("getevents", getev(ctx, 1, 8, ev, NULL), ev);
  /* POLL: completes when the pipe becomes readable. */
  int p[2];
  pipe(p);
  struct iocb pl = cb(IOCB_CMD_POLL, p[0], NULL, 0, 0, 6);
  pl.aio_buf = POLLIN;
  struct iocb *l4[] = { &pl };
  SHOW("io_submit poll", submit(ctx, 1, l4));
  show_events("before the write", getev(ctx, 0, 8, ev, &zero), ev);
  fflush(stdout);
  pid_t ch = fork();
  if (ch == 0) { usleep(20000); write(p[1], "x", 1); _exit(0); }
  show_events("after the write", getev(ctx, 1, 8, ev, NULL), ev);
  waitpid(ch, NULL, 0);
  /* cancel a pending poll */
  int q[2];
  pipe(q);
  struct iocb pc = cb(IOCB_CMD_POLL, q[0], NULL, 0, 0, 7);
  pc.aio_buf = POLLIN;
  struct iocb *l5[] = { &pc };
  submit(ctx, 1, l5);
  struct io_event cev;
  EXPECT_ERR("io_cancel a pending poll", syscall(SYS_io_cancel, ctx, &pc, &cev), EINPROGRESS);
  show_events("cancelled", getev(ctx, 1, 8, ev, NULL), ev);
  EXPECT_ERR("io_cancel a finished one", syscall(SYS_io_cancel, ctx, &pc, &cev), EINVAL);
  /* errors */
  struct iocb bad = cb(IOCB_CMD_PREAD, 999, r2, 4, 0, 8);
  struct iocb *l6[] = { &bad };
  EXPECT_ERR("bad fd", submit(ctx, 1, l6), EBADF);
  bad = cb(99, fd, r2, 4, 0, 8);
  EXPECT_ERR("bad opcode", submit(ctx, 1, l6), EINVAL);
  bad = cb(IOCB_CMD_PREAD, fd, r2, 4, 0, 8);
  bad.aio_reserved2 = 1;
  EXPECT_ERR("reserved field set", submit(ctx, 1, l6), EINVAL);
  struct iocb ok = cb(IOCB_CMD_PREAD, fd, r2, 4, 0, 9);
  struct iocb *l7[] = { &ok, &bad };
  SHOW("first good, second bad", submit(ctx, 2, l7));
  show_events("the good one", getev(ctx, 1, 8, ev, NULL), ev);
  int ro = open("data", O_RDONLY);
  bad = cb(IOCB_CMD_PWRITE, ro, w, 4, 0, 10);
  EXPECT_ERR("write to a read-only fd", submit(ctx, 1, l6), EBADF);
  EXPECT_ERR("io_submit bad context", submit(12345, 1, l6), EINVAL);
  EXPECT_ERR("io_submit negative count", submit(ctx, -1, l6), EINVAL);
  EXPECT_ERR("getevents min > nr", getev(ctx, 3, 2, ev, NULL), EINVAL);
  SHOW("io_destroy", syscall(SYS_io_destroy, ctx));
  EXPECT_ERR("io_destroy again", syscall(SYS_io_destroy, ctx), EINVAL);
  EXPECT_ERR("getevents after destroy", getev(ctx, 0, 1, ev, &zero), EINVAL);
  close(fd);
  unlink("data");
  leave_tmpdir();
  printf("done\n");
  return 0;
}
