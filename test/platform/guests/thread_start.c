/*
 * Threads in their first moments (a new systrap thread is resumed at its first trap,
 * not waited for): many short threads; a signal sent before the new thread can have
 * run; a process that exits while its new threads start; FP state (rounding mode)
 * inherited by a new thread and by a fork child. Prints the same lines on Linux.
 */
#define MXCSR_RC 0x6000u
#define MXCSR_UP 0x4000u /* round toward +inf (SSE) */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t got;
static void on_usr1(int s) { (void)s; got = 1; }

static void* nothing(void* a) { return a; }

static void* wait_signal(void* a) {
  while (!got) __asm__ volatile("pause"); /* no syscall: the Sentry must kick it */
  return a;
}

static void* spin(void* a) {
  for (;;) __asm__ volatile("pause"); /* no syscall: only a kick stops it */
  return a;
}

static void* rounding(void* a) {
  (void)a;
  return (void*)(long)(__builtin_ia32_stmxcsr() & MXCSR_RC);
}

int main(void) {
  long sum = 0;
  for (long i = 0; i < 64; i++) {
    pthread_t t;
    void* r;
    if (pthread_create(&t, NULL, nothing, (void*)i) || pthread_join(t, &r)) return 1;
    sum += (long)r;
  }
  printf("64 threads joined, sum %ld\n", sum);

  signal(SIGUSR1, on_usr1);
  for (int i = 0; i < 16; i++) {
    pthread_t t;
    got = 0;
    if (pthread_create(&t, NULL, wait_signal, NULL)) return 1;
    pthread_kill(t, SIGUSR1);
    pthread_join(t, NULL);
  }
  printf("16 signals to new threads taken\n");

  int ok = 0;
  for (int i = 0; i < 8; i++) {
    pid_t c = fork();
    if (c == 0) {
      pthread_t t;
      for (int k = 0; k < 4; k++) pthread_create(&t, NULL, spin, NULL);
      _exit(7);
    }
    int st;
    if (waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 7) ok++;
  }
  printf("exits while threads start: %d of 8\n", ok);

  __builtin_ia32_ldmxcsr((__builtin_ia32_stmxcsr() & ~MXCSR_RC) | MXCSR_UP);
  pthread_t t;
  void* r;
  pthread_create(&t, NULL, rounding, NULL);
  pthread_join(t, &r);
  printf("new thread rounds upward: %s\n", (long)r == MXCSR_UP ? "yes" : "no");
  pid_t c = fork();
  if (c == 0) _exit((__builtin_ia32_stmxcsr() & MXCSR_RC) == MXCSR_UP ? 0 : 1);
  int st;
  waitpid(c, &st, 0);
  printf("fork child rounds upward: %s\n", WIFEXITED(st) && WEXITSTATUS(st) == 0 ? "yes" : "no");
  return 0;
}
