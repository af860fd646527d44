/*
 * cpu_threads T [N]: N units of CPU-bound work (no syscalls) split over T threads,
 * timed with clock_gettime(CLOCK_MONOTONIC) around the whole run. Prints
 * "<ns per unit> ns/iter": on 2 free cores, T=2 should take about half of T=1.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static long units;
static int nthreads;

static void* work(void* arg) {
  volatile unsigned long x = (unsigned long)arg + 1;
  long mine = units / nthreads;
  for (long u = 0; u < mine; u++)
    for (int i = 0; i < 100000; i++) x = x * 6364136223846793005ul + 1442695040888963407ul;
  return NULL;
}

int main(int argc, char** argv) {
  nthreads = argc > 1 ? atoi(argv[1]) : 2;
  units = argc > 2 ? atol(argv[2]) : 200;
  if (nthreads < 1 || nthreads > 64) nthreads = 1;
  pthread_t t[64];
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (int i = 0; i < nthreads; i++) pthread_create(&t[i], NULL, work, (void*)(long)i);
  for (int i = 0; i < nthreads; i++) pthread_join(t[i], NULL);
  clock_gettime(CLOCK_MONOTONIC, &b);
  double ns = (double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec);
  printf("%.1f ns/iter\n", ns / (double)units);
  return 0;
}
