/* Two threads spinning on the CPU (no syscalls) while the main thread waits for stdin
   to close: what the multi-core test looks at. Prints "spinning" once both run. */
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

static volatile int running, stop;

static void* spin(void* a) {
  __atomic_add_fetch(&running, 1, __ATOMIC_SEQ_CST);
  while (!stop) __asm__ volatile("pause");
  return a;
}

int main(void) {
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
