/*
 * Finding: the Sentry's fd hand-over (recvmsg/mmap/close injected into the stub) ran
 * through the stub's scratch page, which guest code could write. A second thread
 * keeps writing 1000 (the stub socket's host fd number) where the received fd number
 * lands, while the first maps a host-backed file (a memfd) over and over. Nothing the
 * Sentry injects may follow those writes: every mapping must hold the file's bytes,
 * the stub must keep no host fd, and the Sentry must not hang. Then it waits on stdin
 * so the test can inspect the stub from outside.
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define SCRATCH 0x7ff000010000UL
#define ROUNDS 400

static atomic_int done;
static __thread sigjmp_buf jb;
static long faults, landed;

static void on_segv(int sig) { siglongjmp(jb, 1); }

static void *hammer(void *arg) {
  volatile int *slots = (volatile int *)SCRATCH;
  while (!atomic_load(&done)) {
    if (sigsetjmp(jb, 0) == 0) {
      /* The cmsg fd slot of the old layout, and every int around it. */
      for (int i = 16; i < 40; i++) slots[i] = 1000;
      landed++;
    } else {
      faults++;
    }
  }
  return NULL;
}

int main(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_segv;
  sa.sa_flags = SA_NODEFER;
  sigaction(SIGSEGV, &sa, NULL);

  int fd = memfd_create("race", 0);
  char page[4096];
  for (int i = 0; i < 4096; i++) page[i] = (char)('a' + i % 26);
  write(fd, page, sizeof page);

  pthread_t th;
  pthread_create(&th, NULL, hammer, NULL);
  int good = 0;
  for (int i = 0; i < ROUNDS; i++) {
    char *p = mmap(NULL, 4096, PROT_READ, i % 2 ? MAP_PRIVATE : MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) continue;
    if (memcmp(p, page, sizeof page) == 0) good++;
    munmap(p, 4096);
  }
  atomic_store(&done, 1);
  pthread_join(th, NULL);
  printf("mapped %d/%d with the file's bytes\n", good, ROUNDS);
  fflush(stdout);
  char c;
  read(0, &c, 1);
  return 0;
}
