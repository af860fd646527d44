/*
 * Calls into the legacy vsyscall page (0xffffffffff600000 gettimeofday, ...400 time,
 * ...800 getcpu), as old static binaries do. Linux emulates them; so must the sandbox,
 * with the same answers as the real syscalls. "bad" jumps to an offset that is not an
 * entry, "fault" passes a bad pointer: SIGSEGV, as in Linux. Prints no times, only
 * whether they are in order.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <ucontext.h>
#include <unistd.h>

typedef long (*gtod_fn)(struct timeval *, struct timezone *);
typedef long (*time_fn)(long *);
typedef long (*getcpu_fn)(unsigned *, unsigned *, void *);

static long us(const struct timeval *tv) { return tv->tv_sec * 1000000L + tv->tv_usec; }

static void on_segv(int sig, siginfo_t *si, void *ctx) {
  ucontext_t *uc = ctx;
  printf("SIGSEGV si_code %d, si_addr %p, rip %s\n", si->si_code, si->si_addr,
         uc->uc_mcontext.gregs[REG_RIP] == (long)0xffffffffff600400UL ? "at the time entry" : "elsewhere");
  fflush(stdout);
  _exit(0);
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "fault") == 0) {
    /* A bad output pointer: Linux raises SIGSEGV at the entry instead of returning. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &sa, NULL);
    long r = ((time_fn)0xffffffffff600400UL)((long *)0x1000);
    printf("returned %ld\n", r);
    return 0;
  }
  if (argc > 1 && strcmp(argv[1], "bad") == 0) {
    printf("calling 0xffffffffff600100\n");
    fflush(stdout);
    ((time_fn)0xffffffffff600100UL)(0);
    printf("returned\n");
    return 0;
  }
  struct timeval a, v, b;
  syscall(SYS_gettimeofday, &a, NULL);
  long r = ((gtod_fn)0xffffffffff600000UL)(&v, NULL);
  syscall(SYS_gettimeofday, &b, NULL);
  printf("vsyscall gettimeofday: %ld, %s\n", r, us(&a) <= us(&v) && us(&v) <= us(&b) ? "in order" : "OUT OF ORDER");

  long t0 = syscall(SYS_time, NULL), tv = -1;
  long t = ((time_fn)0xffffffffff600400UL)(&tv);
  long t1 = syscall(SYS_time, NULL);
  printf("vsyscall time: %s, %s\n", t == tv ? "result == *arg" : "result != *arg", t0 <= t && t <= t1 ? "in order" : "OUT OF ORDER");
  printf("vsyscall time(NULL): %s\n", ((time_fn)0xffffffffff600400UL)(NULL) >= t ? "ok" : "went back");

  unsigned cpu = 99999, node = 99999, scpu = 88888, snode = 88888;
  r = ((getcpu_fn)0xffffffffff600800UL)(&cpu, &node, NULL);
  syscall(SYS_getcpu, &scpu, &snode, NULL);
  printf("vsyscall getcpu: %ld, cpu %s, node %s\n", r, cpu == scpu ? "same" : "differs", node == snode ? "same" : "differs");
  return 0;
}
