/* Errno paths, fifth batch (issue 15): the three calls that never return (exit, exit_group,
 * rt_sigreturn: what the parent sees, and a handler's edited context taking effect), the
 * calls moved to supported this batch (sysfs; ioprio_get/set with Linux 6's class, level and
 * hint bits and permission rule; close_range's CLOSE_RANGE_UNSHARE; preadv2/pwritev2's RWF_*
 * flags and an AIO iocb's; setns with a pidfd; kcmp; mknod of device and socket nodes;
 * syslog; ustat; clone3's CLONE_CLEAR_SIGHAND and CLONE_INTO_CGROUP errors), and capability
 * checks once capset dropped them (raw and packet sockets, low ports, inotify's read permission).
 * Each call prints "ok" or its errno, compared with Linux (natively in fresh IPC and pid
 * namespaces). */
#define _GNU_SOURCE
#include "common.h"
#include "errno_run.h"
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <ucontext.h>
#include <linux/aio_abi.h>
#include <linux/capability.h>
#include <linux/sched.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>

#define BAD ((void *)8)
#define R(expr) OKERR(#expr, (expr))
#ifndef CLOSE_RANGE_UNSHARE
#define CLOSE_RANGE_UNSHARE 2
#endif

static char longname[300];

/* How a child ended, as its parent's wait sees it. */
static void ended(const char *what, pid_t p) {
  int st;
  if (waitpid(p, &st, __WALL) != p) { printf("%s: waitpid %s\n", what, ename(errno)); return; }
  if (WIFEXITED(st)) printf("%s: exit %d\n", what, WEXITSTATUS(st));
  else printf("%s: signal %d\n", what, WTERMSIG(st));
}

static void *thread_exit7(void *a) { (void)a; usleep(20000); syscall(SYS_exit, 7); return 0; }
static void *thread_group9(void *a) { (void)a; syscall(SYS_exit_group, 9); return 0; }
static void *thread_sleep(void *a) { (void)a; for (;;) pause(); return 0; }

static void exits(void) {
  pid_t p;
  if ((p = fork()) == 0) syscall(SYS_exit, 0x1234); /* only the low 8 bits */
  ended("exit(0x1234)", p);
  if ((p = fork()) == 0) syscall(SYS_exit_group, -1);
  ended("exit_group(-1)", p);
  /* exit of the leader while another thread runs: the process ends with the last thread,
   * its status the leader's. */
  if ((p = fork()) == 0) {
    pthread_t th;
    pthread_create(&th, 0, thread_exit7, 0);
    syscall(SYS_exit, 5);
  }
  ended("leader exit(5), thread exit(7)", p);
  /* exit_group from a thread ends every thread with its status. */
  if ((p = fork()) == 0) {
    pthread_t a, b;
    pthread_create(&a, 0, thread_sleep, 0);
    pthread_create(&b, 0, thread_group9, 0);
    for (;;) pause();
  }
  ended("exit_group(9) from a thread", p);
  /* A thread's exit leaves the process running. */
  if ((p = fork()) == 0) {
    pthread_t th;
    pthread_create(&th, 0, thread_exit7, 0);
    pthread_join(th, 0);
    _exit(3);
  }
  ended("thread exit(7), then _exit(3)", p);
}

static volatile int after;
/* SIGILL from ud2: the handler moves RIP past it and sets RAX, which the code after sees. */
static void on_ill(int sig, siginfo_t *si, void *ctx) {
  (void)sig; (void)si;
  ucontext_t *uc = ctx;
  uc->uc_mcontext.gregs[REG_RIP] += 2;
  uc->uc_mcontext.gregs[REG_RAX] = 42;
  sigaddset(&uc->uc_sigmask, SIGUSR2);
}

static void sigreturns(void) {
  struct sigaction sa = {0};
  sa.sa_sigaction = on_ill;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGILL, &sa, 0);
  long rax;
  __asm__ volatile("mov $1, %%rax\n\tud2\n\tmov %%rax, %0" : "=r"(rax) : : "rax", "memory");
  printf("after the handler: rax %ld\n", rax);
  sigset_t now;
  sigprocmask(SIG_BLOCK, 0, &now);
  printf("uc_sigmask's SIGUSR2 blocked after return: %s\n", sigismember(&now, SIGUSR2) ? "yes" : "no");
  printf("SIGILL blocked after return: %s\n", sigismember(&now, SIGILL) ? "yes" : "no");
  pid_t p;
  /* rt_sigreturn with no frame: the stack pointer at an unmapped page. */
  if ((p = fork()) == 0) {
    __asm__ volatile("mov $8, %%rsp\n\tmov $15, %%eax\n\tsyscall" : : : "memory");
    _exit(0);
  }
  ended("rt_sigreturn, rsp unmapped", p);
  /* A frame of zeros: RIP 0 (and null selectors): the return faults. */
  if ((p = fork()) == 0) {
    char *stk = mmap(0, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *top = stk + 65536 - 4096;
    __asm__ volatile("mov %0, %%rsp\n\tmov $15, %%eax\n\tsyscall" : : "r"(top) : "memory");
    _exit(0);
  }
  ended("rt_sigreturn, zeroed frame", p);
}

static void sysfs_calls(void) {
  char b[64];
  long n = syscall(SYS_sysfs, 3);
  printf("sysfs(3): %s\n", n > 0 ? "a count" : ename(errno));
  long i = syscall(SYS_sysfs, 1, "tmpfs");
  printf("sysfs(1, tmpfs): %s\n", i >= 0 && i < n ? "an index" : ename(errno));
  b[0] = 0;
  R(syscall(SYS_sysfs, 2, i, b));
  printf("sysfs(2, that index): %s\n", b);
  /* Every index names a type whose index is itself. */
  int same = 1;
  for (long k = 0; k < n; k++) {
    if (syscall(SYS_sysfs, 2, k, b) != 0 || syscall(SYS_sysfs, 1, b) != k) same = 0;
  }
  printf("sysfs: every index round-trips: %s\n", same ? "yes" : "no");
  R(syscall(SYS_sysfs, 1, "nope"));
  R(syscall(SYS_sysfs, 1, ""));
  R(syscall(SYS_sysfs, 1, BAD));
  R(syscall(SYS_sysfs, 2, n, b));
  R(syscall(SYS_sysfs, 2, -1, b));
  R(syscall(SYS_sysfs, 2, 0, BAD));
  R(syscall(SYS_sysfs, 0));
  R(syscall(SYS_sysfs, 4));
  R(syscall(SYS_sysfs, -1));
}

#define IOPRIO(c, l) (((c) << 13) | (l))
static void ioprios(void) {
  printf("ioprio_get self, none set: %ld\n", syscall(SYS_ioprio_get, 1, 0));
  R(syscall(SYS_ioprio_set, 1, 0, IOPRIO(2, 8)));  /* bit 3 is a hint, level 0 */
  printf("ioprio_get: %#lx\n", syscall(SYS_ioprio_get, 1, 0));
  R(syscall(SYS_ioprio_set, 1, 0, IOPRIO(2, 0x1fff)));
  printf("ioprio_get: %#lx\n", syscall(SYS_ioprio_get, 1, 0));
  R(syscall(SYS_ioprio_set, 1, 0, IOPRIO(0, 8)));  /* NONE with a hint */
  R(syscall(SYS_ioprio_set, 1, 0, IOPRIO(0, 1)));  /* NONE with a level */
  R(syscall(SYS_ioprio_set, 1, 0, 0x10000 | IOPRIO(3, 0)));  /* kept as an unsigned short */
  printf("ioprio_get: %#lx\n", syscall(SYS_ioprio_get, 1, 0));
  R(syscall(SYS_ioprio_set, 1, 0, IOPRIO(4, 0)));
  R(syscall(SYS_ioprio_set, 1, 0, IOPRIO(7, 0)));
  R(syscall(SYS_ioprio_set, 1, 0, -1));
  R(syscall(SYS_ioprio_set, 0, 0, IOPRIO(2, 4)));
  R(syscall(SYS_ioprio_set, 4, 0, IOPRIO(2, 4)));
  R(syscall(SYS_ioprio_get, 4, 0));
  R(syscall(SYS_ioprio_set, 1, 99999, IOPRIO(2, 4)));
  R(syscall(SYS_ioprio_set, 1, 0, IOPRIO(1, 2)));
  /* A child inherits a class; class NONE (hints only) is not inherited. */
  R(syscall(SYS_ioprio_set, 1, 0, IOPRIO(3, 0)));
  pid_t p = fork();
  if (p == 0) _exit(syscall(SYS_ioprio_get, 1, 0) == IOPRIO(3, 0) ? 0 : 1);
  ended("child's ioprio is the parent's IDLE", p);
  R(syscall(SYS_ioprio_set, 1, 0, IOPRIO(0, 8)));
  p = fork();
  if (p == 0) _exit(syscall(SYS_ioprio_get, 1, 0) == 0 ? 0 : 1);
  ended("child's ioprio after a NONE hint is 0", p);
  /* A process group of its own: one member reports its value, two the best (NONE as BE 4). */
  setpgid(0, 0);
  R(syscall(SYS_ioprio_set, 1, 0, IOPRIO(3, 0)));
  printf("ioprio_get pgrp, one member: %#lx\n", syscall(SYS_ioprio_get, 2, 0));
  int go[2];
  MUST(pipe(go));
  int set[2];
  MUST(pipe(set));
  p = fork();
  if (p == 0) { char c; syscall(SYS_ioprio_set, 1, 0, 0); MUST(write(set[1], "s", 1)); MUST(read(go[0], &c, 1)); _exit(0); }
  char c;
  MUST(read(set[0], &c, 1));
  printf("ioprio_get pgrp, IDLE and none: %#lx\n", syscall(SYS_ioprio_get, 2, 0));
  R(syscall(SYS_ioprio_set, 2, 0, IOPRIO(2, 6)));
  printf("ioprio_get child after the pgrp set: %#lx\n", syscall(SYS_ioprio_get, 1, p));
  /* Another user's process may not be changed without CAP_SYS_NICE; RT needs it too. */
  pid_t q = fork();
  if (q == 0) {
    if (setresuid(65534, 65534, 65534)) _exit(9);
    R(syscall(SYS_ioprio_set, 1, getppid(), IOPRIO(2, 3)));
    R(syscall(SYS_ioprio_set, 1, 0, IOPRIO(2, 3)));
    R(syscall(SYS_ioprio_set, 1, 0, IOPRIO(1, 3)));
    printf("nobody reads root's: %#lx\n", syscall(SYS_ioprio_get, 1, getppid()));
    fflush(stdout);
    _exit(0);
  }
  ended("as nobody", q);
  MUST(write(go[1], "x", 1));
  ended("pgrp member", p);
}

static int closed[2];
static void *share_fds(void *a) {
  int fd = *(int *)a;
  char c;
  MUST(read(closed[0], &c, 1));
  /* The caller's close_range(UNSHARE) left this thread's table (shared before) as it was. */
  printf("fd still open for the other thread: %s\n", fcntl(fd, F_GETFD) >= 0 ? "yes" : ename(errno));
  return 0;
}

static void close_ranges(void) {
  MUST(pipe(closed));
  int fd = open("f", O_RDONLY);
  pthread_t th;
  pthread_create(&th, 0, share_fds, &fd);
  R(syscall(SYS_close_range, fd, fd, CLOSE_RANGE_UNSHARE));
  printf("closed for the caller: %s\n", fcntl(fd, F_GETFD) < 0 ? ename(errno) : "no");
  MUST(write(closed[1], "c", 1));
  pthread_join(th, 0);
  /* Unshared, the new fds are the caller's alone; CLOEXEC with UNSHARE marks its copy. */
  int g = open("f", O_RDONLY);
  R(syscall(SYS_close_range, g, g, CLOSE_RANGE_UNSHARE | 4));
  printf("cloexec: %d\n", fcntl(g, F_GETFD));
  R(syscall(SYS_close_range, g, g - 1, CLOSE_RANGE_UNSHARE));
  R(syscall(SYS_close_range, 0, ~0U, 8));
  /* A record lock survives close_range(UNSHARE) of an unshared table's other fds. */
  int l = open("f", O_RDWR);
  struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
  R(fcntl(l, F_SETLK, &fl));
  R(syscall(SYS_close_range, l + 1, ~0U, CLOSE_RANGE_UNSHARE));
  pid_t p = fork();
  if (p == 0) {
    int m = open("f", O_RDWR);
    struct flock t = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    _exit(fcntl(m, F_SETLK, &t) < 0 && (errno == EAGAIN || errno == EACCES) ? 0 : 1);
  }
  ended("the lock still held", p);
}

/* capset away one capability, then what needed it is refused. */
static int drop(int cap) {
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct d[2];
  if (syscall(SYS_capget, &h, d)) return -1;
  d[cap / 32].effective &= ~(1u << (cap % 32));
  return syscall(SYS_capset, &h, d);
}

static void dropped(void) {
  R(drop(CAP_NET_RAW));
  R(socket(AF_INET, SOCK_RAW, IPPROTO_ICMP));
  R(socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6));
  R(socket(AF_PACKET, SOCK_RAW, 0));
  R(drop(CAP_NET_BIND_SERVICE));
  int s = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(80), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  R(bind(s, (struct sockaddr *)&a, sizeof a));
  a.sin_port = 0;
  R(bind(s, (struct sockaddr *)&a, sizeof a));
  close(s);
  MUST(open("secret", O_CREAT | O_WRONLY, 0600) >= 0 ? 0 : -1);
  MUST(chown("secret", 65534, 65534));
  int in = inotify_init1(0);
  R(inotify_add_watch(in, "secret", IN_MODIFY));
  R(drop(CAP_DAC_OVERRIDE));
  R(inotify_add_watch(in, "secret", IN_MODIFY));
  R(drop(CAP_DAC_READ_SEARCH));
  R(inotify_add_watch(in, "secret", IN_MODIFY));
  unlink("secret");
}


static volatile int sigpipes;
static void on_pipe(int s) { (void)s; sigpipes++; }
static long size_of(int fd) { struct stat st; return fstat(fd, &st) ? -1 : st.st_size; }

/* preadv2/pwritev2's RWF_* and the same flags per AIO iocb (aio_rw_flags), IOCB_FLAG_IOPRIO. */
static void rw_flags(void) {
  int f = open("rw", O_CREAT | O_RDWR | O_TRUNC, 0644);
  struct iovec w = {"abcd", 4};
  char b[16];
  struct iovec r = {b, 4};
  R(pwritev2(f, &w, 1, 0, 0));
  R(pwritev2(f, &w, 1, 0, RWF_APPEND));
  printf("size %ld, offset %ld\n", size_of(f), (long)lseek(f, 0, SEEK_CUR));
  R(pwritev2(f, &w, 1, -1, RWF_APPEND));
  printf("size %ld, offset %ld\n", size_of(f), (long)lseek(f, 0, SEEK_CUR));
  R(pwritev2(f, &w, 1, 0, RWF_APPEND | 0x20));
  R(pwritev2(f, &w, 1, 0, 0x40));
  R(preadv2(f, &r, 1, 0, 0x40));
  R(preadv2(f, &r, 1, 0, 0x200));
  R(preadv2(f, &r, 1, 0, 0x100));
  R(preadv2(f, &r, 1, 0, RWF_HIPRI | RWF_DSYNC | RWF_SYNC));
  R(preadv2(f, &r, 1, -2, 0));
  R(preadv2(f, BAD, 1, 0, 0x200));
  int a = open("rw", O_RDWR | O_APPEND);
  R(pwritev2(a, &w, 1, 0, 0x20));
  printf("size %ld after NOAPPEND at 0\n", size_of(f));
  R(pwrite(a, "zz", 2, 0));
  printf("size %ld, O_APPEND fd's offset %ld after pwrite\n", size_of(f), (long)lseek(a, 0, SEEK_CUR));
  R(pwritev(a, &w, 1, 0));
  printf("size %ld, offset %ld after pwritev\n", size_of(f), (long)lseek(a, 0, SEEK_CUR));
  int p[2];
  MUST(pipe(p));
  R(preadv2(p[0], &r, 1, -1, RWF_NOWAIT));
  R(pwritev2(p[1], &w, 1, -1, RWF_NOWAIT));
  R(preadv2(p[0], &r, 1, -1, RWF_NOWAIT));
  R(pwritev2(p[1], &w, 1, 0, 0));
  signal(SIGPIPE, on_pipe);
  close(p[0]);
  R(pwritev2(p[1], &w, 1, -1, 0x100));
  printf("SIGPIPEs: %d\n", sigpipes);
  R(pwritev2(p[1], &w, 1, -1, 0));
  printf("SIGPIPEs: %d\n", sigpipes);
  close(p[1]);
  aio_context_t ctx = 0;
  MUST(syscall(SYS_io_setup, 8, &ctx));
  struct iocb cb = {0}, *cbs[1] = {&cb};
  struct io_event ev;
  struct timespec ts = {5, 0};
  cb.aio_fildes = f;
  cb.aio_lio_opcode = IOCB_CMD_PWRITE;
  cb.aio_buf = (uintptr_t)"wxyz";
  cb.aio_nbytes = 4;
  cb.aio_offset = 0;
  cb.aio_rw_flags = RWF_APPEND;
  long before = size_of(f);
  R(syscall(SYS_io_submit, ctx, 1, cbs));
  R(syscall(SYS_io_getevents, ctx, 1, 1, &ev, &ts));
  printf("aio append: res %lld, grew by %ld\n", (long long)ev.res, size_of(f) - before);
  cb.aio_rw_flags = RWF_APPEND | 0x20;
  R(syscall(SYS_io_submit, ctx, 1, cbs));
  cb.aio_rw_flags = 0x400;
  R(syscall(SYS_io_submit, ctx, 1, cbs));
  cb.aio_rw_flags = 0;
  cb.aio_lio_opcode = IOCB_CMD_PREAD;
  cb.aio_buf = (uintptr_t)b;
  cb.aio_rw_flags = 0x40;
  R(syscall(SYS_io_submit, ctx, 1, cbs));
  cb.aio_rw_flags = 0;
  cb.aio_flags = IOCB_FLAG_IOPRIO;
  cb.aio_reqprio = 4 << 13;
  R(syscall(SYS_io_submit, ctx, 1, cbs));
  cb.aio_reqprio = 2 << 13 | 3;
  R(syscall(SYS_io_submit, ctx, 1, cbs));
  R(syscall(SYS_io_getevents, ctx, 1, 1, &ev, &ts));
  printf("aio read with an ioprio: res %lld\n", (long long)ev.res);
  cb.aio_flags = 0;
  /* A pipe: the data there now, the offset ignored; empty with RWF_NOWAIT: EAGAIN as its result. */
  MUST(pipe(p));
  MUST(write(p[1], "pq", 2));
  cb.aio_fildes = p[0];
  cb.aio_offset = 12345;
  R(syscall(SYS_io_submit, ctx, 1, cbs));
  R(syscall(SYS_io_getevents, ctx, 1, 1, &ev, &ts));
  printf("aio pipe read: res %lld\n", (long long)ev.res);
  cb.aio_rw_flags = RWF_NOWAIT;
  R(syscall(SYS_io_submit, ctx, 1, cbs));
  R(syscall(SYS_io_getevents, ctx, 1, 1, &ev, &ts));
  printf("aio empty pipe read, NOWAIT: res %s\n", ev.res < 0 ? ename(-ev.res) : "data");
  R(syscall(SYS_io_destroy, ctx));
  close(f);
  close(a);
  unlink("rw");
}

/* setns with a pidfd: the CLONE_NEW* flags of the namespaces to enter, all or none. */
static void setns_pidfd(void) {
  pid_t k = fork();
  if (k == 0) { pause(); _exit(0); }
  int pf = syscall(SYS_pidfd_open, k, 0);
  R(setns(pf, 0));
  R(setns(pf, CLONE_NEWUSER));
  R(setns(pf, CLONE_NEWNET));
  R(setns(pf, CLONE_NEWNET | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWCGROUP));
  R(setns(pf, CLONE_VM));
  R(setns(pf, CLONE_NEWUSER | CLONE_NEWNET));
  R(setns(-1, CLONE_NEWNET));
  kill(k, SIGKILL);
  waitpid(k, 0, 0);
  R(setns(pf, CLONE_NEWNET));
  close(pf);
  /* A child in a UTS namespace of its own, with its own host name: entered through its pidfd. */
  int ready[2];
  MUST(pipe(ready));
  pid_t u = fork();
  if (u == 0) {
    if (unshare(CLONE_NEWUTS) || sethostname("inner", 5)) _exit(1);
    MUST(write(ready[1], "r", 1));
    pause();
    _exit(0);
  }
  char c, h[64];
  MUST(read(ready[0], &c, 1));
  int p2 = syscall(SYS_pidfd_open, u, 0);
  gethostname(h, sizeof h);
  printf("host name before: %s\n", strcmp(h, "inner") ? "the outer one" : h);
  /* One kind refused (the caller's own user namespace): none entered. */
  R(setns(p2, CLONE_NEWUTS | CLONE_NEWUSER));
  gethostname(h, sizeof h);
  printf("host name after a refused setns: %s\n", strcmp(h, "inner") ? "the outer one" : h);
  R(setns(p2, CLONE_NEWUTS));
  gethostname(h, sizeof h);
  printf("host name after: %s\n", h);
  /* As nobody: may not ptrace-read root's process. */
  pid_t n = fork();
  if (n == 0) {
    if (setresuid(65534, 65534, 65534)) _exit(9);
    R(setns(p2, CLONE_NEWUTS));
    fflush(stdout);
    _exit(0);
  }
  ended("as nobody", n);
  kill(u, SIGKILL);
  waitpid(u, 0, 0);
}

/* kcmp: the same object (0) or not (1 or 2: an order, so only "different" is printed). */
static void kc(const char *what, pid_t a, pid_t b, int type, unsigned long i1, unsigned long i2) {
  long r = syscall(SYS_kcmp, a, b, type, i1, i2);
  printf("kcmp %s: %s\n", what, r == 0 ? "same" : r == 1 || r == 2 ? "different" : r < 0 ? ename(errno) : "?");
}
static pid_t thread_tid;
static int thread_up[2], thread_go[2];
static void *kcmp_thread(void *a) {
  (void)a;
  thread_tid = gettid();
  char c;
  MUST(write(thread_up[1], "t", 1));
  MUST(read(thread_go[0], &c, 1));
  return 0;
}

static void kcmps(void) {
  pid_t me = getpid();
  const char *names[] = {"FILE", "VM", "FILES", "FS", "SIGHAND", "IO", "SYSVSEM"};
  /* A thread shares everything. */
  MUST(pipe(thread_up));
  MUST(pipe(thread_go));
  pthread_t th;
  pthread_create(&th, 0, kcmp_thread, 0);
  char c;
  MUST(read(thread_up[0], &c, 1));
  char what[64];
  for (int k = 1; k <= 6; k++) { snprintf(what, sizeof what, "%s, a thread", names[k]); kc(what, me, thread_tid, k, 0, 0); }
  MUST(write(thread_go[1], "t", 1));
  pthread_join(th, 0);
  /* A forked child has copies (no SEM_UNDO, no I/O priority: both have none of those). */
  int go[2];
  MUST(pipe(go));
  pid_t k = fork();
  if (k == 0) { MUST(read(go[0], &c, 1)); _exit(0); }
  for (int i = 1; i <= 6; i++) { snprintf(what, sizeof what, "%s, a forked child", names[i]); kc(what, me, k, i, 0, 0); }
  kc("FILE, fd 0 inherited", me, k, 0, 0, 0);
  int f1 = open("f", O_RDONLY), f2 = open("f", O_RDONLY), d = dup(f1);
  kc("FILE, a dup", me, me, 0, f1, d);
  kc("FILE, two opens", me, me, 0, f1, f2);
  kc("FILE, the child's f1 (forked before it was opened)", me, k, 0, f1, f1);
  kc("FILE, fd 999", me, me, 0, 999, 0);
  kc("a missing pid", me, 999999, 1, 0, 0);
  kc("pid 0", 0, me, 1, 0, 0);
  kc("type 8", me, me, 8, 0, 0);
  kc("type -1", me, me, -1, 0, 0);
  /* EPOLL_TFD: a file registered in an epoll instance. */
  int ep = epoll_create1(0), pp[2];
  MUST(pipe(pp));
  struct epoll_event ev = {.events = EPOLLIN};
  MUST(epoll_ctl(ep, EPOLL_CTL_ADD, pp[0], &ev));
  struct { uint32_t efd, tfd, toff; } slot = {ep, pp[0], 0};
  kc("EPOLL_TFD, the registered file", me, me, 7, pp[0], (unsigned long)&slot);
  kc("EPOLL_TFD, another file", me, me, 7, f1, (unsigned long)&slot);
  slot.toff = 1;
  kc("EPOLL_TFD, toff 1", me, me, 7, pp[0], (unsigned long)&slot);
  slot.toff = 0;
  slot.tfd = pp[1];
  kc("EPOLL_TFD, fd not registered", me, me, 7, pp[0], (unsigned long)&slot);
  slot.efd = f1;
  kc("EPOLL_TFD, not an epoll fd", me, me, 7, pp[0], (unsigned long)&slot);
  slot.efd = 999;
  kc("EPOLL_TFD, no such epoll fd", me, me, 7, pp[0], (unsigned long)&slot);
  kc("EPOLL_TFD, slot unreadable", me, me, 7, pp[0], 8);
  /* As nobody: root's processes may not be compared. */
  pid_t n = fork();
  if (n == 0) {
    if (setresuid(65534, 65534, 65534)) _exit(9);
    kc("as nobody, root's", getppid(), getppid(), 1, 0, 0);
    kc("as nobody, its own", getpid(), getpid(), 1, 0, 0);
    fflush(stdout);
    _exit(0);
  }
  ended("as nobody", n);
  MUST(write(go[1], "x", 1));
  ended("child", k);
}

/* Device and socket nodes: made as asked; opening one with no driver (or a socket node) is ENXIO. */
static void nodes(void) {
  R(mknod("sock", S_IFSOCK | 0600, 0));
  R(open("sock", O_RDONLY));
  R(open("sock", O_WRONLY | O_NONBLOCK));
  int p = open("sock", O_PATH);
  printf("O_PATH of the socket node: %s\n", p >= 0 ? "ok" : ename(errno));
  close(p);
  R(mknod("blk", S_IFBLK | 0600, makedev(250, 77)));
  R(open("blk", O_RDONLY));
  R(open("blk", O_RDONLY | O_NONBLOCK));
  struct stat st;
  R(stat("blk", &st));
  printf("blk: %s %u:%u\n", S_ISBLK(st.st_mode) ? "block" : "?", major(st.st_rdev), minor(st.st_rdev));
  R(mknod("chr", S_IFCHR | 0600, makedev(250, 77)));
  R(open("chr", O_RDONLY));
  R(mknodat(AT_FDCWD, "null", S_IFCHR | 0666, makedev(1, 3)));
  int n = open("null", O_RDWR);
  printf("a node of 1:3 opens /dev/null: %s\n", n >= 0 && write(n, "x", 1) == 1 && read(n, &st, 1) == 0 ? "yes" : ename(errno));
  close(n);
  R(mknod("blk", S_IFBLK | 0600, makedev(250, 77)));
  R(mknod("bad", S_IFMT | 0600, 0));
  R(mknod("bad", 0170000 & 0150000, 0));
  R(mknod(BAD, S_IFCHR, 0));
  R(mknod(longname, S_IFCHR, 0));
  R(mknodat(-5, "x", S_IFIFO | 0600, 0));
  for (const char *f = "sock\0blk\0chr\0null\0"; *f; f += strlen(f) + 1) unlink(f);
}

/* syslog: the kernel log ring (its sizes and contents are the kernel's own: only their sign
 * is printed); ustat: a mounted filesystem's free counts by its device number. */
struct ustat_ { int f_tfree; unsigned long f_tinode; char f_fname[6], f_fpack[6]; };
static void syslogs(void) {
  char b[64];
  printf("SIZE_BUFFER: %s\n", syscall(SYS_syslog, 10, 0, 0) > 0 ? "positive" : ename(errno));
  printf("SIZE_UNREAD: %s\n", syscall(SYS_syslog, 9, 0, 0) >= 0 ? "not negative" : ename(errno));
  R(syscall(SYS_syslog, 3, b, 0));
  R(syscall(SYS_syslog, 3, 0, 10));
  R(syscall(SYS_syslog, 3, b, -1));
  R(syscall(SYS_syslog, 4, 0, 10));
  R(syscall(SYS_syslog, 2, b, 0));
  R(syscall(SYS_syslog, 2, 0, 4));
  R(syscall(SYS_syslog, 2, b, -4));
  R(syscall(SYS_syslog, 8, 0, 0));
  R(syscall(SYS_syslog, 8, 0, 9));
  R(syscall(SYS_syslog, 0, 0, 0));
  R(syscall(SYS_syslog, 1, 0, 0));
  R(syscall(SYS_syslog, 11, 0, 0));
  R(syscall(SYS_syslog, -1, 0, 0));
  char r[8] = "";
  int f = open("/proc/sys/kernel/dmesg_restrict", O_RDONLY);
  if (f >= 0) { if (read(f, r, sizeof r - 1) < 0) r[0] = 0; close(f); }
  printf("dmesg_restrict: %s", r);
  pid_t n = fork();
  if (n == 0) {
    if (setresuid(65534, 65534, 65534)) _exit(9);
    R(syscall(SYS_syslog, 10, 0, 0));
    R(syscall(SYS_syslog, 3, b, sizeof b));
    R(syscall(SYS_syslog, 11, 0, 0));
    fflush(stdout);
    _exit(0);
  }
  ended("as nobody", n);
  struct stat st;
  struct ustat_ u;
  MUST(stat(".", &st));
  R(syscall(SYS_ustat, (unsigned)st.st_dev, &u));
  R(syscall(SYS_ustat, (unsigned)st.st_dev, BAD));
  R(syscall(SYS_ustat, 0xfffff, &u));
  MUST(stat("/proc", &st));
  memset(&u, 0x55, sizeof u);
  R(syscall(SYS_ustat, (unsigned)st.st_dev, &u));
  struct statfs sf;
  MUST(statfs("/proc", &sf));
  printf("ustat of /proc as statfs: %s\n", u.f_tfree == (int)sf.f_bfree && u.f_tinode == sf.f_ffree && !u.f_fname[0] && !u.f_fpack[5] ? "yes" : "no");
}

static void on_usr1(int s) { (void)s; }
/* clone3's CLONE_CLEAR_SIGHAND: the child's handlers back to default, ignored signals kept. */
static void clone3_calls(void) {
  struct sigaction sa = {0};
  sa.sa_handler = on_usr1;
  sa.sa_flags = SA_RESTART;
  sigaddset(&sa.sa_mask, SIGINT);
  sigaction(SIGUSR1, &sa, 0);
  signal(SIGUSR2, SIG_IGN);
  struct clone_args ca = {0};
  ca.flags = CLONE_CLEAR_SIGHAND;
  ca.exit_signal = SIGCHLD;
  long p = syscall(SYS_clone3, &ca, sizeof ca);
  if (p == 0) {
    struct sigaction o1, o2;
    sigaction(SIGUSR1, 0, &o1);
    sigaction(SIGUSR2, 0, &o2);
    _exit((o1.sa_handler == SIG_DFL && o1.sa_flags == 0 && !sigismember(&o1.sa_mask, SIGINT) ? 0 : 1) |
          (o2.sa_handler == SIG_IGN ? 0 : 2));
  }
  ended("CLONE_CLEAR_SIGHAND child: USR1 default, USR2 still ignored", p);
  p = fork();
  if (p == 0) {
    struct sigaction o1;
    sigaction(SIGUSR1, 0, &o1);
    _exit(o1.sa_handler == on_usr1 ? 0 : 1);
  }
  ended("a fork child keeps the handler", p);
  ca.flags = CLONE_CLEAR_SIGHAND | CLONE_SIGHAND | CLONE_VM;
  R(syscall(SYS_clone3, &ca, sizeof ca));
  ca.flags = CLONE_INTO_CGROUP;
  ca.cgroup = 0x80000000ULL;
  R(syscall(SYS_clone3, &ca, sizeof ca));
  ca.cgroup = 3;
  R(syscall(SYS_clone3, &ca, 64));
  ca.flags = 1ULL << 34;
  R(syscall(SYS_clone3, &ca, sizeof ca));
  /* Not a cgroup directory: EBADF. */
  ca.flags = CLONE_INTO_CGROUP;
  ca.cgroup = open(".", O_RDONLY | O_DIRECTORY);
  R(syscall(SYS_clone3, &ca, sizeof ca));
  ca.cgroup = 999;
  R(syscall(SYS_clone3, &ca, sizeof ca));
}

int main(void) {
  sweep_start(longname, sizeof longname);
  run("exit and exit_group", exits);
  run("rt_sigreturn", sigreturns);
  run("sysfs", sysfs_calls);
  run("ioprio", ioprios);
  run("close_range", close_ranges);
  run("RWF flags", rw_flags);
  run("setns with a pidfd", setns_pidfd);
  run("kcmp", kcmps);
  run("device and socket nodes", nodes);
  run("syslog and ustat", syslogs);
  run("clone3", clone3_calls);
  run("capabilities dropped", dropped);
  leave_tmpdir();
  return 0;
}
