/*
 * cpu_threads T [N]: N units of CPU-bound work (no syscalls) split over T threads.
 * Prints "<ns per unit> ns/iter": on 2 free cores, T=2 should take about half of T=1.
 * Scaling, not start-up, is what it times: every thread is started and waiting first,
 * the clock starts when they are all released at once, and stops when the last of them
 * finishes its share (each notes its own end; joins and thread exits are not timed).
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static long units;
static int nthreads;
static atomic_int ready, go;
static struct timespec ends[64];

static void* work(void* arg) {
  long me = (long)arg;
  volatile unsigned long x = (unsigned long)me + 1;
  long mine = units / nthreads;
  ready++;
  while (!go) sched_yield();
  for (long u = 0; u < mine; u++)
    for (int i = 0; i < 100000; i++) x = x * 6364136223846793005ul + 1442695040888963407ul;
  clock_gettime(CLOCK_MONOTONIC, &ends[me]);
  return NULL;
}

int main(int argc, char** argv) {
  nthreads = argc > 1 ? atoi(argv[1]) : 2;
  units = argc > 2 ? atol(argv[2]) : 200;
  if (nthreads < 1 || nthreads > 64) nthreads = 1;
  pthread_t t[64];
  struct timespec a;
  for (int i = 0; i < nthreads; i++) pthread_create(&t[i], NULL, work, (void*)(long)i);
  while (ready < nthreads) sched_yield();
  clock_gettime(CLOCK_MONOTONIC, &a);
  go = 1;
  for (int i = 0; i < nthreads; i++) pthread_join(t[i], NULL);
  double ns = 0;
  for (int i = 0; i < nthreads; i++) {
    double d = (double)(ends[i].tv_sec - a.tv_sec) * 1e9 + (double)(ends[i].tv_nsec - a.tv_nsec);
    if (d > ns) ns = d;
  }
  printf("%.1f ns/iter\n", ns / (double)(units - units % nthreads));
  return 0;
}
