// Syscalls from patchable sites (`mov $nr,%eax; syscall`, aligned so systrap patches
// them) in two threads while a third signals them and a fourth forks and execs. Each
// call checks every register the syscall ABI keeps (and an FP value kept across the
// loop); the output is the same on Linux, with patching on and off.
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define SIGNALS 200
#define FORKS 8
#define MIN_CALLS 20000

static atomic_int handled, stop;
static atomic_long bad;
static pid_t loopers[2];
static atomic_int ready;

// getppid (110) from a site patching can take: its 7 bytes start 8-aligned.
static long site_getppid(long i) {
  long r, a = i + 1, b = i + 2, c = i + 3;
  register long d __asm__("r10") = i + 4;
  register long e __asm__("r8") = i + 5;
  register long f __asm__("r9") = i + 6;
  __asm__ volatile(".p2align 3\n mov $110, %%eax\n syscall"
                   : "=a"(r), "+D"(a), "+S"(b), "+d"(c), "+r"(d), "+r"(e), "+r"(f)
                   :
                   : "rcx", "r11", "memory");
  if (a != i + 1 || b != i + 2 || c != i + 3 || d != i + 4 || e != i + 5 || f != i + 6) bad++;
  return r;
}

// gettid (186), another site, for the signal handler.
static long site_gettid(void) {
  long r;
  __asm__ volatile(".p2align 3\n mov $186, %%eax\n syscall" : "=a"(r) : : "rcx", "r11", "memory");
  return r;
}

static void on_usr1(int sig) {
  (void)sig;
  if (site_gettid() != syscall(SYS_gettid)) bad++;
  handled++;
}

static void* looper(void* arg) {
  int me = (int)(long)arg;
  loopers[me] = (pid_t)syscall(SYS_gettid);
  long want = getppid();
  double acc = 0.5;
  ready++;
  long n = 0;
  while (!stop || n < MIN_CALLS) {
    if (site_getppid(n) != want) bad++;
    acc = acc * 1.0000001 + 1.0;
    n++;
  }
  // The FP value kept across the loop, computed again without syscalls.
  double ref = 0.5;
  for (long i = 0; i < n; i++) ref = ref * 1.0000001 + 1.0;
  if (acc != ref) bad++;
  return NULL;
}

static void* signaler(void* arg) {
  (void)arg;
  while (ready < 2) sched_yield();
  for (int k = 0; k < SIGNALS; k++) {
    syscall(SYS_tgkill, getpid(), loopers[k % 2], SIGUSR1);
    while (handled < k + 1) sched_yield();  // the next one only once this one is taken
  }
  return NULL;
}

static int forks_ok;
static void* forker(void* arg) {
  const char* self = arg;
  for (int k = 0; k < FORKS; k++) {
    pid_t p = fork();
    if (p == 0) {
      // The child's code holds the patched sites too.
      long want = getppid();
      for (long i = 0; i < 1000; i++)
        if (site_getppid(i) != want) _exit(3);
      execl(self, self, "child", (char*)NULL);
      _exit(4);
    }
    int st;
    if (waitpid(p, &st, 0) == p && WIFEXITED(st) && WEXITSTATUS(st) == 7) forks_ok++;
  }
  return NULL;
}

int main(int argc, char** argv) {
  if (argc > 1 && strcmp(argv[1], "child") == 0) {
    long want = getppid();
    for (long i = 0; i < 1000; i++)
      if (site_getppid(i) != want) return 5;
    return 7;
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_usr1;
  sigaction(SIGUSR1, &sa, NULL);
  pthread_t t[4];
  pthread_create(&t[0], NULL, looper, (void*)0L);
  pthread_create(&t[1], NULL, looper, (void*)1L);
  pthread_create(&t[2], NULL, signaler, NULL);
  pthread_create(&t[3], NULL, forker, argv[0]);
  pthread_join(t[2], NULL);
  pthread_join(t[3], NULL);
  stop = 1;
  pthread_join(t[0], NULL);
  pthread_join(t[1], NULL);
  printf("signals handled: %d\nforks+execs ok: %d of %d\nregister or result mismatches: %ld\n", (int)handled, forks_ok, FORKS,
         (long)bad);
  return 0;
}
