// glibc's syscall(3) as a patched site (`mov 0x8(%rsp),%r9; syscall`, the number in
// rax): its sixth argument (the replayed mov) arrives, any number works (one beyond 16
// bits goes back to the site's own syscall), a second thread signalled in its loop
// keeps its results, a forked child still has the site, and /proc/self/mem shows the
// original bytes. Prints "site patched: yes" where the code now differs (systrap with
// patching), "no" elsewhere; everything else is the same on Linux.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define SIGNALS 100
#define CALLS 20000

static atomic_int handled, ready, stop;
static atomic_long bad;
static pid_t looper_tid;

static void on_usr1(int sig) {
  (void)sig;
  if (syscall(SYS_gettid) != gettid()) bad++;
  handled++;
}

static void* looper(void* arg) {
  (void)arg;
  looper_tid = gettid();
  long want = getppid();
  ready = 1;
  for (long n = 0; !stop || n < CALLS; n++)
    if (syscall(SYS_getppid) != want) bad++;
  return NULL;
}

// The offset of the site in syscall(3): found in the bytes /proc/self/mem shows.
static long find_site(const unsigned char* fn, unsigned char* orig) {
  int fd = open("/proc/self/mem", O_RDONLY);
  if (fd < 0 || pread(fd, orig, 64, (off_t)(uintptr_t)fn) != 64) return -1;
  close(fd);
  static const unsigned char seq[] = {0x4d, 0x89, 0xc8, 0x4c, 0x8b, 0x4c, 0x24, 0x08, 0x0f, 0x05};
  for (long i = 0; i + (long)sizeof seq <= 64; i++)
    if (memcmp(orig + i, seq, sizeof seq) == 0) return i + 3;
  return -1;
}

int main(void) {
  long want = getppid();
  for (int i = 0; i < 3; i++)
    if (syscall(SYS_getppid) != want) bad++;  // the site traps, then is patched

  // The sixth argument (r9, from the stack): mmap's offset picks the file's second page.
  int mfd = memfd_create("p", 0);
  char page[4096];
  memset(page, 'a', sizeof page);
  write(mfd, page, sizeof page);
  memset(page, 'b', sizeof page);
  write(mfd, page, sizeof page);
  char* m = (char*)syscall(SYS_mmap, NULL, 4096L, (long)PROT_READ, (long)MAP_PRIVATE, (long)mfd, 4096L);
  printf("mmap offset 4096 through syscall(3): %c\n", m == MAP_FAILED ? '-' : m[0]);

  // Numbers: within 16 bits, and beyond (the site's own syscall, trapped).
  errno = 0;
  long r1 = syscall(1000);
  int e1 = errno;
  errno = 0;
  long r2 = syscall(0x12345678L);
  int e2 = errno;
  printf("syscall(1000): %ld %s, syscall(0x12345678): %ld %s\n", r1, e1 == ENOSYS ? "ENOSYS" : "?", r2,
         e2 == ENOSYS ? "ENOSYS" : "?");

  // A second thread in a syscall(3) loop, signalled SIGNALS times, one at a time.
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_usr1;
  sigaction(SIGUSR1, &sa, NULL);
  pthread_t t;
  pthread_create(&t, NULL, looper, NULL);
  while (!ready) sched_yield();
  for (int k = 0; k < SIGNALS; k++) {
    syscall(SYS_tgkill, getpid(), looper_tid, SIGUSR1);
    while (handled < k + 1) sched_yield();
  }
  stop = 1;
  pthread_join(t, NULL);
  printf("signals handled: %d\n", (int)handled);

  // A forked child's code holds the site too.
  pid_t p = fork();
  if (p == 0) {
    long pp = getppid();
    for (int i = 0; i < 1000; i++)
      if (syscall(SYS_getppid) != pp) _exit(3);
    _exit(syscall(SYS_getpid) == getpid() ? 7 : 4);
  }
  int st = 0;
  waitpid(p, &st, 0);
  printf("child: %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);

  unsigned char orig[64];
  const unsigned char* fn = (const unsigned char*)(uintptr_t)&syscall;
  long at = find_site(fn, orig);
  printf("/proc/self/mem shows the original site: %s\n", at >= 0 ? "yes" : "no");
  printf("site patched: %s\n", at >= 0 && memcmp(fn + at, orig + at, 5) != 0 ? "yes" : "no");
  printf("result mismatches: %ld\n", (long)bad);
  return 0;
}
