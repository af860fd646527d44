/*
 * sysfuzz SEED CHILDREN CALLS: a seeded syscall-argument fuzzer, run as the sandbox's
 * init. A sweep calls every syscall number 0..470 with each of a few fixed argument
 * patterns (NULL/0, unmapped and kernel pointers with huge and negative sizes, a valid
 * buffer with a huge size, -1 everywhere...), then CHILDREN forked children each make
 * CALLS calls with random numbers and arguments drawn from the seed. A 20 ms interval
 * timer interrupts blocked calls; a child that outlives 3 s (30 s: the sweep) is
 * SIGKILLed by init (a Sentry that cannot end it hangs the test instead). Calls that would multiply or end the fuzzer itself
 * (fork, exit, exec, unmapping its own memory) are not made.
 *
 * The check made here: every raw result is >= 0 or a real errno (-1..-133); an internal
 * code (ERESTARTSYS 512, ..., or any other value) reaching the guest is reported as BAD.
 * Prints "sysfuzz: N calls, M children, bad B" and exits 0; the host side checks the
 * rest (no Sentry crash or internal error, nothing changed outside, nothing left).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_NR 470

struct shared {
  volatile long calls, bad;
  volatile long first_bad_nr, first_bad_ret;
};

static struct shared *sh;
static uint64_t rng;
static uint8_t *buf;     /* one valid page, contents random */
static uint8_t *buf2;    /* 64 KiB, valid */
static int fds[8];

static uint64_t next(void) {
  /* xorshift64*: deterministic per seed */
  rng ^= rng >> 12;
  rng ^= rng << 25;
  rng ^= rng >> 27;
  return rng * 2685821657736338717ULL;
}

static long raw6(long nr, long a, long b, long c, long d, long e, long f) {
  long ret;
  register long r10 __asm__("r10") = d;
  register long r8 __asm__("r8") = e;
  register long r9 __asm__("r9") = f;
  __asm__ volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                   : "rcx", "r11", "memory");
  return ret;
}

static int skipped(long nr) {
  switch (nr) {
    case SYS_fork: case SYS_vfork: case SYS_clone: case SYS_clone3:  /* no new processes */
    case SYS_exit: case SYS_exit_group: case SYS_execve: case SYS_execveat:
    case SYS_rt_sigreturn:                                           /* would jump anywhere */
    case SYS_munmap: case SYS_mremap: case SYS_mprotect: case SYS_brk: case SYS_madvise:
    case SYS_pkey_mprotect: case SYS_shmdt: case SYS_process_madvise: /* our own memory */
    case 462: /* mseal */
    case SYS_set_tid_address: case SYS_set_robust_list: case SYS_rseq: /* written at our exit */
    case SYS_arch_prctl:                                              /* our TLS */
    case SYS_vhangup:
      return 1;
  }
  return 0;
}

static int verbose;
static void record(long nr, long ret) {
  sh->calls++;
  if (verbose) dprintf(2, "[%d] %ld = %ld (%ld)\n", getpid(), nr, ret, sh->calls);
  if (ret >= 0 || ret >= -133) return;
  if (ret < -4095) return; /* a pointer-sized success (mmap) */
  sh->bad++;
  if (sh->bad == 1) {
    sh->first_bad_nr = nr;
    sh->first_bad_ret = ret;
  }
}

/* An argument: small numbers, limits, fds, valid and invalid pointers, sizes. */
static long arg(void) {
  switch (next() % 16) {
    case 0: return 0;
    case 1: return 1;
    case 2: return -1;
    case 3: return (long)(next() % 4096);
    case 4: return (long)buf;
    case 5: return (long)(buf + 4096 - (next() % 16));  /* straddles the end of the page */
    case 6: return (long)buf2;
    case 7: return 0x10000;                               /* unmapped */
    case 8: return (long)0xffff800000000000UL;            /* kernel half */
    case 9: return (long)0x7fffffffffffffffL;
    case 10: return (long)0x8000000000000000UL;
    case 11: return fds[next() % 8];
    case 12: return -(long)(next() % 8192);
    case 13: return (long)(1UL << (next() % 64));
    case 14: return (long)(next() & 0xffffffff);
    default: return (long)next();
  }
}

/* A blocked call is interrupted every 20 ms (EINTR) rather than ending the child.
   Re-armed after every call (the fuzzed calls include alarm(0), setitimer, sigaction,
   sigprocmask); if one still stays blocked, init's SIGKILL ends the child after 3 s. */
static void tick(int sig) { (void)sig; }
static void arm(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = tick;
  sigaction(SIGALRM, &sa, 0);
  struct itimerval it = {{0, 20000}, {0, 20000}};
  setitimer(ITIMER_REAL, &it, 0);
  sigset_t m;
  sigemptyset(&m);
  sigaddset(&m, SIGALRM);
  sigprocmask(SIG_UNBLOCK, &m, 0);
}

static void child(long calls) {
  arm();
  for (long i = 0; i < calls; i++) {
    long nr;
    do nr = (long)(next() % MAX_NR); while (skipped(nr));
    for (int k = 0; k < 4096; k += 8) *(uint64_t *)(buf + k) = next() % 3 == 0 ? 0 : next();
    long a = arg(), b = arg(), c = arg(), d = arg(), e = arg(), f = arg();
    if (verbose) dprintf(2, "call %ld(%lx, %lx, %lx, %lx, %lx, %lx)\n", nr, a, b, c, d, e, f);
    long r = raw6(nr, a, b, c, d, e, f);
    record(nr, r);
    arm();
  }
  _exit(0);
}

int main(int argc, char **argv) {
  if (argc < 4) return 2;
  rng = strtoull(argv[1], 0, 10) * 0x9e3779b97f4a7c15ULL + 1;
  long nchildren = atol(argv[2]), calls = atol(argv[3]);
  verbose = argc > 4;
  /* Each buffer between PROT_NONE guard pages: a write past buf (a fuzzed call given
     buf + 4090) must fault, not land in the counters. */
  uint8_t *area = mmap(0, 80 * 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (area == MAP_FAILED) return 3;
  buf = area + 4096;
  buf2 = area + 3 * 4096;
  sh = mmap(area + 40 * 4096, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  if (sh == MAP_FAILED || mprotect(buf, 4096, PROT_READ | PROT_WRITE) || mprotect(buf2, 65536, PROT_READ | PROT_WRITE)) return 3;
  int p[2] = {-1, -1}, sv[2] = {-1, -1};
  pipe(p);
  socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
  fds[0] = 0;
  fds[1] = open("f", O_RDWR | O_CREAT, 0644);
  fds[2] = p[0];
  fds[3] = p[1];
  fds[4] = sv[0];
  fds[5] = epoll_create1(0);
  fds[6] = eventfd(0, 0);
  fds[7] = open(".", O_RDONLY | O_DIRECTORY);

  /* The sweep, in a child too (a call may end it); no randomness in the arguments. */
  static const long pat[][6] = {
      {0, 0, 0, 0, 0, 0},
      {-1, -1, -1, -1, -1, -1},
      {0x10000, 0x7fffffffffffffffL, 0x10000, 0x7fffffffffffffffL, 0, 0},
      {(long)0xffff800000000000UL, -4096, (long)0xffff800000000000UL, -1, 0, 0},
  };
  pid_t sweep = fork();
  if (sweep == 0) {
    arm();
    for (long nr = 0; nr < MAX_NR; nr++) {
      if (skipped(nr)) continue;
      for (unsigned i = 0; i < sizeof pat / sizeof pat[0]; i++) {
        long r = raw6(nr, pat[i][0], pat[i][1], pat[i][2], pat[i][3], pat[i][4], pat[i][5]);
        record(nr, r);
        arm();
      }
      /* a valid buffer with huge and negative sizes in every size position */
      long r = raw6(nr, fds[1], (long)buf, -1, (long)buf, 0x7fffffffffffffffL, -1);
      record(nr, r);
      arm();
      r = raw6(nr, (long)buf, 0x7fffffffffffffffL, (long)buf, -4096, (long)buf, 0x7fffffff);
      record(nr, r);
      arm();
    }
    _exit(0);
  }
  long reaped = 0;
  for (long n = -1; n < nchildren; n++) {
    pid_t pid = n < 0 ? sweep : fork();
    if (pid == 0) child(calls);
    if (pid < 0) continue;
    next(); /* children draw from the seed; init moves on so each child differs */
    for (int waited = 0;; waited++) {
      int st;
      pid_t w = waitpid(pid, &st, WNOHANG);
      if (w == pid) break;
      if (waited == (n < 0 ? 3000 : 300)) kill(pid, SIGKILL); /* 30 s for the sweep, 3 s a child */
      struct timespec ts = {0, 10 * 1000 * 1000};
      nanosleep(&ts, 0);
    }
    reaped++;
    /* Reap anything else (a child whose calls made it a parent: none expected). */
    while (waitpid(-1, 0, WNOHANG) > 0) {
    }
  }
  printf("sysfuzz: %ld calls, %ld children, bad %ld", sh->calls, reaped, sh->bad);
  if (sh->bad) printf(" (first: syscall %ld returned %ld)", sh->first_bad_nr, sh->first_bad_ret);
  printf("\n");
  return 0;
}
