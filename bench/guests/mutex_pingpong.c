/* Two threads ping-pong through a pthread mutex + condition variable; "<ns> ns/iter" per round trip. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static long turn, n;
static void *pong(void *a) {
  (void)a;
  pthread_mutex_lock(&mu);
  for (long i = 0; i < n; i++) { while (turn % 2 == 0) pthread_cond_wait(&cv, &mu); turn++; pthread_cond_signal(&cv); }
  pthread_mutex_unlock(&mu);
  return NULL;
}
int main(int argc, char **argv) {
  n = argc > 1 ? atol(argv[1]) : 10000;
  pthread_t t; pthread_create(&t, NULL, pong, NULL);
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  pthread_mutex_lock(&mu);
  for (long i = 0; i < n; i++) { while (turn % 2 == 1) pthread_cond_wait(&cv, &mu); turn++; pthread_cond_signal(&cv); }
  while (turn < 2 * n) pthread_cond_wait(&cv, &mu);
  pthread_mutex_unlock(&mu);
  clock_gettime(CLOCK_MONOTONIC, &b);
  pthread_join(t, NULL);
  printf("%.1f ns/iter\n", ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / n);
  return 0;
}
