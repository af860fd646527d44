// A TLB shootdown across running threads: thread A spins on a page (reading, or
// writing) without a syscall; thread B unmaps or protects it. As on Linux, A's next
// touch must fault (SIGSEGV with the page and the code), not go on through a stale
// translation. Each case runs in a child of its own; the parent prints what happened.
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile char *page;
static volatile int started, done;
static int writing;

static void on_segv(int sig, siginfo_t *si, void *uc) {
  (void)sig, (void)uc;
  char m[96];
  int n = snprintf(m, sizeof m, "reader got SIGSEGV %s at the page: %s\n",
                   si->si_code == SEGV_MAPERR ? "MAPERR" : si->si_code == SEGV_ACCERR ? "ACCERR" : "other",
                   (char *)si->si_addr == page + 64 ? "yes" : "no");
  write(1, m, (size_t)n);
  _exit(0);
}

static void *spin(void *arg) {
  (void)arg;
  unsigned long sum = 0;
  for (;;) {
    if (done) {
      // The call has returned: this touch must fault (Linux's munmap/mprotect end with
      // every CPU's translation of the page gone).
      if (writing) page[64] = 2;
      else sum += page[64];
      static const char m[] = "reader went on through a stale translation\n";
      write(1, m, sizeof m - 1);
      _exit(2);
    }
    if (writing) page[64] = (char)sum;
    else sum += page[64];
    started = 1;
  }
  return NULL;
}

static void one(const char *what) {
  fflush(stdout);
  pid_t c = fork();
  if (c == 0) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &sa, NULL);
    page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    page[64] = 1;
    writing = strcmp(what, "mprotect read-only while writing") == 0;
    pthread_t t;
    pthread_create(&t, NULL, spin, NULL);
    while (!started) sched_yield();
    struct timespec ms = {0, 1000000};
    nanosleep(&ms, NULL);  // A has been through its loop many times: its translation is cached
    if (strcmp(what, "munmap") == 0) munmap((void *)page, 4096);
    else if (strcmp(what, "mprotect PROT_NONE") == 0) mprotect((void *)page, 4096, PROT_NONE);
    else mprotect((void *)page, 4096, PROT_READ);
    __atomic_store_n(&done, 1, __ATOMIC_SEQ_CST);
    // A watchdog, not a timing check: a reader that never faults would run forever.
    for (int i = 0; i < 600; i++) {
      struct timespec t100 = {0, 100000000};
      nanosleep(&t100, NULL);
    }
    printf("reader still running a minute after %s\n", what);
    _exit(1);
  }
  int st;
  waitpid(c, &st, 0);
  printf("%s: child exit %d\n", what, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  one("munmap");
  one("mprotect PROT_NONE");
  one("mprotect read-only while writing");
  return 0;
}
