/*
 * Spins on a cheap syscall forever, in three threads, so that some thread is always
 * stopped in a syscall when the Sentry waits: the Sentry must still hear host signals.
 */
#include <pthread.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

static void *spin(void *arg) {
  for (;;) syscall(SYS_getppid);
  return NULL;
}

int main(void) {
  pthread_t t;
  pthread_create(&t, NULL, spin, NULL);
  pthread_create(&t, NULL, spin, NULL);
  printf("spinning\n");
  fflush(stdout);
  spin(NULL);
}
