// FP/SSE/AVX state through the kernel: a signal handler's change to xmm0 is undone by
// sigreturn, a fork child starts with its parent's ymm and MXCSR, a new thread with its
// creator's MXCSR, as on Linux. (ymm's upper halves after a handler are not compared: the
// Sentry's signal frame restores only the legacy area on every platform.)
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void set_xmm0(double v) { __asm__ volatile("movsd %0, %%xmm0" ::"m"(v) : "xmm0"); }
static double get_xmm0(void) {
  double v;
  __asm__ volatile("movsd %%xmm0, %0" : "=m"(v));
  return v;
}
static void set_ymm1(unsigned v) {
  unsigned a[8];
  for (int i = 0; i < 8; i++) a[i] = v + i;
  __asm__ volatile("vmovdqu %0, %%ymm1" ::"m"(a) : "xmm1");
}
static unsigned get_ymm1_hi(void) {
  unsigned a[8];
  __asm__ volatile("vmovdqu %%ymm1, %0" : "=m"(a));
  return a[7];
}

static void handler(int sig) {
  (void)sig;
  set_xmm0(-1.0);
  set_ymm1(900);
}

static void *thread(void *arg) {
  (void)arg;
  // A new thread's registers: glibc's clone path has run, so only the MXCSR-like control
  // state is asked (x87 control word and MXCSR as the creator had them).
  unsigned mxcsr;
  __asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
  printf("thread mxcsr %#x\n", mxcsr);
  return NULL;
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  signal(SIGUSR1, handler);
  unsigned mxcsr = 0x1f80 | 0x6000;  // round toward zero: a non-default MXCSR to inherit
  __asm__ volatile("ldmxcsr %0" ::"m"(mxcsr));
  set_ymm1(100);
  set_xmm0(42.5);
  raise(SIGUSR1);
  double x = get_xmm0();
  printf("after the handler: xmm0 %.1f\n", x);
  set_xmm0(7.25);
  set_ymm1(300);
  pid_t c = fork();
  if (c == 0) {
    // Straight after fork, before any call that may use the registers.
    double cx = get_xmm0();
    unsigned cy = get_ymm1_hi();
    unsigned cm;
    __asm__ volatile("stmxcsr %0" : "=m"(cm));
    printf("child: xmm0 %.1f ymm1[7] %u mxcsr %#x\n", cx, cy, cm);
    _exit(0);
  }
  waitpid(c, NULL, 0);
  pthread_t t;
  pthread_create(&t, NULL, thread, NULL);
  pthread_join(t, NULL);
  return 0;
}
