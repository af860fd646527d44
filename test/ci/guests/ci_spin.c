// Issue 12, deterministic mode: a thread that spins without a syscall until another
// thread, asleep meanwhile, sets a flag. With one thread run at a time, only a
// preemption lets the sleeper's time come; the run must finish (and say that a
// wall-clock preemption happened).
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

static volatile int flag;

static void *spinner(void *arg) {
  (void)arg;
  while (!flag) {
  }
  return NULL;
}

int main(void) {
  pthread_t t;
  pthread_create(&t, NULL, spinner, NULL);
  usleep(1000);  // the spinner runs meanwhile, and holds the only turn
  flag = 1;
  pthread_join(t, NULL);
  printf("joined\n");
  return 0;
}
