// Threads on the kvm platform (one vCPU each): syscalls from every thread, a mutex, a
// page written by each thread seen by main, FP state inherited, joins, and a second round
// of threads after the first ended.
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static long total;
static char* shared;

static void* work(void* arg) {
  long id = (long)arg, mine = 0;
  for (int i = 0; i < 200; i++) {
    if (syscall(SYS_getpid) > 0) mine++;
    pthread_mutex_lock(&mu);
    total++;
    pthread_mutex_unlock(&mu);
  }
  shared[id * 4096] = (char)('a' + id);
  return (void*)mine;
}

int main(void) {
  shared = mmap(0, 4 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  long calls = 0;
  for (int round = 0; round < 2; round++) {  // the second round's threads follow ended ones
    pthread_t t[4];
    for (long i = 0; i < 4; i++) pthread_create(&t[i], 0, work, (void*)i);
    for (int i = 0; i < 4; i++) {
      void* r;
      pthread_join(t[i], &r);
      calls += (long)r;
    }
  }
  printf("threads joined: total %ld, getpid calls %ld, pages %c%c%c%c\n", total, calls, shared[0], shared[4096], shared[8192], shared[12288]);
  volatile double x = 2.0;
  printf("FP in main after threads: %.3f\n", x / 3.0);
  return 0;
}
