// The kvm platform's memory and signals against Linux: malloc, anonymous mmap, munmap,
// mprotect (a write to a read-only page is SIGSEGV with the address), mremap, madvise,
// a file mapping, signal handlers (raise, a fault, sigreturn back), FP state kept.
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static sigjmp_buf jb;
static volatile void* faultAddr;
static volatile int got;

static void onSegv(int s, siginfo_t* si, void* u) {
  (void)u;
  got = s;
  faultAddr = si->si_addr;
  siglongjmp(jb, 1);
}

static void onUsr(int s) { got = s; }

int main(void) {
  struct sigaction sa = {0};
  sa.sa_sigaction = onSegv;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGSEGV, &sa, 0);
  signal(SIGUSR1, onUsr);

  char* p = malloc(3 << 20);
  memset(p, 'a', 3 << 20);
  printf("malloc: %c%c\n", p[0], p[(3 << 20) - 1]);
  free(p);

  long pg = sysconf(_SC_PAGESIZE);
  char* m = mmap(0, 16 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  for (int i = 0; i < 16; i++) m[i * pg] = (char)('A' + i);
  printf("mmap: %c%c\n", m[0], m[15 * pg]);

  mprotect(m + 4 * pg, pg, PROT_READ);
  printf("mprotect read: %c\n", m[4 * pg]);
  got = 0;
  if (!sigsetjmp(jb, 1)) m[4 * pg] = 'x';
  printf("write to read-only: signal %d at page %ld\n", got, ((char*)faultAddr - m) / pg);
  mprotect(m + 4 * pg, pg, PROT_READ | PROT_WRITE);
  m[4 * pg] = 'y';
  printf("after mprotect rw: %c\n", m[4 * pg]);

  munmap(m + 8 * pg, pg);
  got = 0;
  if (!sigsetjmp(jb, 1)) (void)*(volatile char*)(m + 8 * pg);
  printf("read of unmapped: signal %d at page %ld\n", got, ((char*)faultAddr - m) / pg);

  madvise(m, pg, MADV_DONTNEED);
  printf("after DONTNEED: %d\n", m[0]);

  char* r = mremap(m + 9 * pg, 7 * pg, 32 * pg, MREMAP_MAYMOVE);
  printf("mremap: %c %c %d\n", r[0], r[6 * pg], r[31 * pg]);

  int fd = open("/etc/passwd", O_RDONLY);
  char first[5] = {0};
  (void)!read(fd, first, 4);
  char* f = mmap(0, pg, PROT_READ, MAP_PRIVATE, fd, 0);
  printf("file mapping matches read: %s\n", memcmp(f, first, 4) == 0 ? "yes" : "no");
  char* fw = mmap(0, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  fw[0] = '#';
  printf("private write stays private: %s\n", f[0] == first[0] ? "yes" : "no");

  got = 0;
  raise(SIGUSR1);
  printf("raise: handler ran for %d\n", got);

  volatile double d = 1.5;
  got = 0;
  if (!sigsetjmp(jb, 1)) *(volatile int*)16 = 1;
  printf("null write: signal %d at %p, FP kept: %.2f\n", got, (void*)faultAddr, d * 2);
  return 0;
}
