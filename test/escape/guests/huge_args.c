/*
 * 64-bit syscall arguments at the edges (issue 7): counts, lengths, offsets and int
 * arguments whose high bits are set. Linux truncates int-typed arguments to their low
 * 32 bits and rejects sizes/offsets past its limits; the Sentry, which gets registers as
 * JS numbers, must do the same (a double is exact only below 2^53). Each line is one
 * call and what it returned, compared with a native run.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static char buf[64]; // not on the stack: access_ok of buf+count must not depend on ASLR
#define HI(x) (0x100000000UL * (x))

static void show(const char *label, long r) {
  if (r < 0 && r > -4096) printf("%s = -1 %s\n", label, strerrorname_np((int)-r));
  else printf("%s = %ld\n", label, r);
}

static long sc(long nr, long a, long b, long c, long d, long e, long f) {
  long r = syscall(nr, a, b, c, d, e, f);
  return r == -1 ? -errno : r;
}
#define S(label, nr, ...) show(label, sc(nr, __VA_ARGS__))

static const unsigned long BIG[] = {
  0x7fffffffffffffffUL, 0x8000000000000000UL, 0x8000000000000001UL,
  0xfffffffffffffff0UL, 0x0020000000000001UL, 0x0010000000000000UL,
};
#define NBIG (sizeof BIG / sizeof BIG[0])

int main(void) {
  char label[128];
  int p[2];
  if (pipe2(p, O_NONBLOCK) != 0) return 1; // nothing here may block
  if (write(p[1], "ab", 2) != 2) return 1;
  signal(SIGXFSZ, SIG_IGN);
  signal(SIGPIPE, SIG_IGN);
  struct rlimit fs = {1 << 20, 1 << 20};
  setrlimit(RLIMIT_FSIZE, &fs); // sizes past 1 MiB: EFBIG whatever the file system
  char path[] = "/tmp/huge_args_XXXXXX";
  int f = mkstemp(path);
  if (f < 0) return 1;
  if (write(f, "0123456789", 10) != 10) return 1;
  char path2[] = "/tmp/huge_args_XXXXXX";
  int g = mkstemp(path2); // copy_file_range within one file system
  unlink(path2);

  // poll, ppoll: nfds is unsigned int; select, pselect6: int, clamped to the fd table
  struct pollfd pf[2] = {{p[1], POLLOUT, 0}, {p[0], POLLIN, 0}};
  struct timespec zero = {0, 0};
  for (unsigned i = 0; i < NBIG; i++) {
    snprintf(label, sizeof label, "poll nfds %#lx", BIG[i]);
    S(label, SYS_poll, (long)pf, BIG[i], 0, 0, 0, 0);
    snprintf(label, sizeof label, "ppoll nfds %#lx", BIG[i]);
    S(label, SYS_ppoll, (long)pf, BIG[i], (long)&zero, 0, 8, 0);
  }
  S("poll nfds 2^32+1", SYS_poll, (long)pf, HI(1) + 1, 0, 0, 0, 0);
  S("poll nfds 2^62+2", SYS_poll, (long)pf, HI(0x40000000) + 2, 0, 0, 0, 0);
  S("poll timeout 2^32 (0: no wait)", SYS_poll, (long)pf + 8, 1, HI(1), 0, 0, 0);
  fd_set w;
  struct timeval tv = {0, 0};
  FD_ZERO(&w); FD_SET(p[1], &w);
  S("select nfds 2^62+fd+1", SYS_select, HI(0x40000000) + p[1] + 1, 0, (long)&w, 0, (long)&tv, 0);
  FD_ZERO(&w); FD_SET(p[1], &w);
  S("select nfds 2^20+1 (clamped)", SYS_select, (1 << 20) + 1, 0, (long)&w, 0, (long)&tv, 0);
  S("select nfds 0x7fff... (int -1)", SYS_select, 0x7fffffffffffffffL, 0, 0, 0, (long)&tv, 0);
  FD_ZERO(&w); FD_SET(p[1], &w);
  S("pselect6 nfds 2^40+fd+1", SYS_pselect6, HI(0x100) + p[1] + 1, 0, (long)&w, 0, (long)&zero, 0);

  // read, write, pread64, pwrite64: size_t counts, loff_t offsets
  for (unsigned i = 0; i < NBIG; i++) {
    snprintf(label, sizeof label, "write count %#lx", BIG[i]);
    S(label, SYS_write, p[1], (long)buf, BIG[i], 0, 0, 0);
    snprintf(label, sizeof label, "pread offset %#lx", BIG[i]);
    S(label, SYS_pread64, f, (long)buf, 1, BIG[i], 0, 0);
    snprintf(label, sizeof label, "pwrite offset %#lx", BIG[i]);
    S(label, SYS_pwrite64, f, (long)buf, 1, BIG[i], 0, 0);
    snprintf(label, sizeof label, "pread count %#lx at 2^62", BIG[i]);
    S(label, SYS_pread64, f, (long)buf, BIG[i], 1L << 62, 0, 0);
    snprintf(label, sizeof label, "lseek SEEK_SET %#lx", BIG[i]);
    S(label, SYS_lseek, f, BIG[i] | 0x8000000000000000UL, SEEK_SET, 0, 0, 0);
    snprintf(label, sizeof label, "lseek SEEK_CUR %#lx from 5", BIG[i]);
    lseek(f, 5, SEEK_SET);
    S(label, SYS_lseek, f, BIG[i] & 0x7fffffffffffffffUL, SEEK_CUR, 0, 0, 0);
  }
  S("read fd 2^32+p0 count 1", SYS_read, HI(1) + p[0], (long)buf, 1, 0, 0, 0);
  S("read fd 2^60+p0 count 1", SYS_read, HI(0x10000000) + p[0], (long)buf, 1, 0, 0, 0);
  S("lseek whence 2^32+SEEK_END", SYS_lseek, f, 0, HI(1) + SEEK_END, 0, 0, 0);
  S("dup 2^62+f", SYS_dup, HI(0x40000000) + f, 0, 0, 0, 0, 0);

  // readv/writev: vlen is unsigned long, past UIO_MAXIOV is EINVAL
  struct iovec iov[2] = {{buf, 1}, {buf + 1, 1}};
  for (unsigned i = 0; i < NBIG; i++) {
    snprintf(label, sizeof label, "readv iovcnt %#lx", BIG[i]);
    S(label, SYS_readv, p[0], (long)iov, BIG[i], 0, 0, 0);
  }
  S("readv iovcnt 2^32+1", SYS_readv, p[0], (long)iov, HI(1) + 1, 0, 0, 0);
  struct iovec bigiov = {buf, 0x8000000000000000UL};
  S("writev iov_len 2^63", SYS_writev, p[1], (long)&bigiov, 1, 0, 0, 0);

  // fallocate, ftruncate, truncate: loff_t offsets and lengths (RLIMIT_FSIZE is 1 MiB)
  for (unsigned i = 0; i < NBIG; i++) {
    snprintf(label, sizeof label, "fallocate offset %#lx", BIG[i]);
    S(label, SYS_fallocate, f, 0, BIG[i], 16, 0, 0);
    snprintf(label, sizeof label, "fallocate len %#lx", BIG[i]);
    S(label, SYS_fallocate, f, 0, 0, BIG[i], 0, 0);
    snprintf(label, sizeof label, "ftruncate %#lx", BIG[i]);
    S(label, SYS_ftruncate, f, BIG[i], 0, 0, 0, 0);
  }
  S("fallocate mode 2^32", SYS_fallocate, f, HI(1), 0, 20, 0, 0);
  S("truncate 2^62", SYS_truncate, (long)path, 1L << 62, 0, 0, 0, 0);
  S("truncate 0x7fff...", SYS_truncate, (long)path, 0x7fffffffffffffffL, 0, 0, 0, 0);
  S("truncate -2^63", SYS_truncate, (long)path, 0x8000000000000000L, 0, 0, 0, 0);
  unlink(path);

  // copy_file_range: loff_t offsets (pointers), size_t len, unsigned int flags
  for (unsigned i = 0; i < NBIG; i++) {
    long long off = (long long)BIG[i];
    snprintf(label, sizeof label, "copy_file_range off_in %#lx", BIG[i]);
    S(label, SYS_copy_file_range, f, (long)&off, g, 0, 4, 0);
    snprintf(label, sizeof label, "copy_file_range len %#lx", BIG[i]);
    long long z = 0;
    S(label, SYS_copy_file_range, f, (long)&z, g, 0, BIG[i], 0);
  }
  S("copy_file_range flags 2^32", SYS_copy_file_range, f, 0, g, 0, 1, HI(1));

  // mmap, munmap, mremap, mprotect: lengths
  long r;
  char *m = mmap(0, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  m[0] = 'x';
  for (unsigned i = 0; i < NBIG; i++) {
    snprintf(label, sizeof label, "mmap len %#lx", BIG[i]);
    r = sc(SYS_mmap, 0, BIG[i], PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    show(label, r < 0 ? r : 0);
    snprintf(label, sizeof label, "munmap len %#lx", BIG[i]);
    S(label, SYS_munmap, (long)m, BIG[i], 0, 0, 0, 0);
    snprintf(label, sizeof label, "mremap new_len %#lx", BIG[i]);
    r = sc(SYS_mremap, (long)m, 4096, BIG[i], MREMAP_MAYMOVE, 0, 0);
    show(label, r < 0 ? r : 0);
    snprintf(label, sizeof label, "madvise len %#lx", BIG[i]);
    S(label, SYS_madvise, (long)m, BIG[i], MADV_NORMAL, 0, 0, 0);
  }
  r = sc(SYS_mmap, 0, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, 0xffffffffL, 0);
  show("mmap fd 2^32-1 (int -1) anonymous", r < 0 ? r : 0);
  printf("mapping still there: %c\n", m[0]);

  // sendmsg msg_iovlen, setsockopt optlen (int)
  int sv[2];
  socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
  struct msghdr mh;
  memset(&mh, 0, sizeof mh);
  mh.msg_iov = iov;
  for (unsigned i = 0; i < NBIG; i++) {
    mh.msg_iovlen = BIG[i];
    snprintf(label, sizeof label, "sendmsg msg_iovlen %#lx", BIG[i]);
    S(label, SYS_sendmsg, sv[0], (long)&mh, MSG_DONTWAIT, 0, 0, 0);
    snprintf(label, sizeof label, "sendto len %#lx", BIG[i]);
    S(label, SYS_sendto, sv[0], (long)buf, BIG[i], MSG_DONTWAIT, 0, 0);
  }
  mh.msg_iovlen = 1;
  S("sendmsg flags 2^32+DONTWAIT", SYS_sendmsg, sv[0], (long)&mh, HI(1) + MSG_DONTWAIT, 0, 0, 0);
  int v = 65536;
  S("setsockopt optlen 2^32+4", SYS_setsockopt, sv[0], SOL_SOCKET, SO_SNDBUF, (long)&v, HI(1) + 4, 0);
  S("setsockopt optlen 2^63+2", SYS_setsockopt, sv[0], SOL_SOCKET, SO_SNDBUF, (long)&v, 0x8000000000000002L, 0);
  S("setsockopt optlen 0x7fff... (int -1)", SYS_setsockopt, sv[0], SOL_SOCKET, SO_SNDBUF, (long)&v, 0x7fffffffffffffffL, 0);
  S("setsockopt level 2^32+SOL_SOCKET", SYS_setsockopt, sv[0], HI(1) + SOL_SOCKET, SO_SNDBUF, (long)&v, 4, 0);

  // futex: val is u32, the op int
  unsigned fw = 5;
  S("futex WAIT val 2^32*k+6", SYS_futex, (long)&fw, FUTEX_WAIT_PRIVATE, 0xffffffff00000006L, (long)&zero, 0, 0);
  S("futex WAIT val 2^32*k+5 (timeout 0)", SYS_futex, (long)&fw, FUTEX_WAIT_PRIVATE, 0x7fffffff00000005L, (long)&zero, 0, 0);
  S("futex WAKE val 0x7fff...", SYS_futex, (long)&fw, FUTEX_WAKE_PRIVATE, 0x7fffffffffffffffL, 0, 0, 0);
  S("futex op 2^32+WAKE", SYS_futex, (long)&fw, HI(1) + FUTEX_WAKE_PRIVATE, 1, 0, 0, 0);

  // clock_nanosleep: times in memory, clock and flags int
  struct timespec bad = {0, 0x7fffffffffffffffL}, neg = {0x8000000000000000L, 0};
  S("clock_nanosleep nsec 0x7fff...", SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, (long)&bad, 0, 0, 0);
  S("clock_nanosleep sec -2^63", SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, (long)&neg, 0, 0, 0);
  S("clock_nanosleep abstime sec -2^63", SYS_clock_nanosleep, CLOCK_MONOTONIC, TIMER_ABSTIME, (long)&neg, 0, 0, 0);
  S("clock_nanosleep clock 2^32+MONOTONIC", SYS_clock_nanosleep, HI(1) + CLOCK_MONOTONIC, HI(1), (long)&zero, 0, 0, 0);
  S("nanosleep nsec 0x7fff...", SYS_nanosleep, (long)&bad, 0, 0, 0, 0, 0);
  struct timespec ts;
  S("clock_gettime clock 2^40+REALTIME", SYS_clock_gettime, HI(0x100) + CLOCK_REALTIME, (long)&ts, 0, 0, 0, 0);
  S("kill sig 2^32+0 to self", SYS_kill, getpid(), HI(1), 0, 0, 0, 0);
  printf("done\n");
  return 0;
}
