/* Two threads spinning on the CPU (no syscalls) while the main thread waits for stdin
   to close: what the multi-core test looks at. Prints "spinning" once both run. With
   "wait", each thread first sleeps eight times 2 ms (a thread that keeps waiting moves
   beside the Sentry on systrap: it must not stay there once it computes). */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile int running, stop;
static int waitFirst;

static void* spin(void* a) {
  for (int i = 0; waitFirst && i < 8; i++) nanosleep(&(struct timespec){0, 2000000}, NULL);
  __atomic_add_fetch(&running, 1, __ATOMIC_SEQ_CST);
  while (!stop) __asm__ volatile("pause");
  return a;
}

int main(int argc, char** argv) {
  waitFirst = argc > 1 && strcmp(argv[1], "wait") == 0;
  pthread_t t[2];
  for (int i = 0; i < 2; i++) pthread_create(&t[i], NULL, spin, NULL);
  while (__atomic_load_n(&running, __ATOMIC_SEQ_CST) < 2) sched_yield();
  printf("spinning\n");
  fflush(stdout);
  char c;
  while (read(0, &c, 1) > 0) {}
  stop = 1;
  for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
  return 0;
}
