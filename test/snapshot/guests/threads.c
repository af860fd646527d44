/* Two worker threads take turns under a mutex and condvar, printing each turn: threads
 * parked in futex waits and running at the checkpoint. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static long turn = 0, limit = 100;
static void *worker(void *arg) {
  long me = (long)arg;
  for (;;) {
    pthread_mutex_lock(&mu);
    while (turn < limit && turn % 2 != me) pthread_cond_wait(&cv, &mu);
    if (turn >= limit) { pthread_mutex_unlock(&mu); return NULL; }
    volatile unsigned long x = 0;
    for (long j = 0; j < 2000000; j++) x += j;
    printf("turn %ld by %ld (%lu)\n", turn, me, x);
    turn++;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
  }
}
int main(int argc, char **argv) {
  if (argc > 1) limit = atol(argv[1]);
  setvbuf(stdout, NULL, _IONBF, 0);
  pthread_t a, b;
  pthread_create(&a, NULL, worker, (void *)0);
  pthread_create(&b, NULL, worker, (void *)1);
  pthread_join(a, NULL);
  pthread_join(b, NULL);
  printf("joined at %ld\n", turn);
  return 3;
}
