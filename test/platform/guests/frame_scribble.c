/*
 * A guest that scribbles over the systrap platform's shared frames (the registers its
 * threads hand to the Sentry) from a second thread while its first thread makes
 * syscalls, in a child process, with the forms most likely to steer a careless Sentry:
 * posts for threads that are running guest code, made-up signal numbers (SIGKILL,
 * SIGSTOP, 0, 1000), huge FP sizes, random registers, cleared tid words. Only the
 * child itself may suffer (a last round forges the Sentry's exit command: a host thread
 * ends behind the Sentry's back); the parent (another address space, other frames) must go on
 * and see its child end like any process. On ptrace the region is not mapped: the
 * scribbler faults at once, which the child survives in the same way.
 */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define SLOTS 0x7ff000110000UL
#define SLOT 0x8000UL

static volatile int stop;

static void* scribble(void* arg) {
  (void)arg;
  uint64_t x = 0x9e3779b97f4a7c15ull;
  static const uint32_t sigs[] = {9, 19, 0, 1000, 31, 11, 23, 0xffffffffu};
  for (unsigned long n = 0; !stop; n++) {
    unsigned i = (unsigned)(n % 8);
    volatile uint32_t* f = (volatile uint32_t*)(SLOTS + i * SLOT);
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    f[2] = sigs[n % 8];          /* signo */
    f[3] = (uint32_t)x;          /* cmd */
    f[4] = (uint32_t)(x >> 32);  /* fpsize */
    f[5] = 0;                    /* tidword */
    for (int r = 0; r < 54; r++) f[14 + r] = (uint32_t)(x * (r + 1)); /* registers */
    f[0] = 1;                    /* state: posted */
  }
  return NULL;
}

/* Only the command word of every frame, set to the Sentry's "exit" (2): a thread that
   reads it with its reply ends its host thread, unknown to the Sentry, while this one
   spins on and never posts. The Sentry must notice and end the process (else the
   child never ends: its first thread is gone, this one loops forever). */
static void* forge_exit(void* arg) {
  (void)arg;
  while (!stop)
    for (unsigned i = 0; i < 8; i++) ((volatile uint32_t*)(SLOTS + i * SLOT))[3] = 2;
  return NULL;
}

static void child(int round) {
  signal(SIGSEGV, SIG_DFL);
  pthread_t t;
  pthread_create(&t, NULL, round < 3 ? scribble : forge_exit, NULL);
  for (int i = 0; i < 20000; i++) syscall(SYS_getppid);
  stop = 1;
  pthread_join(t, NULL);
  _exit(0);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  for (int round = 0; round < 4; round++) {
    pid_t p = fork();
    if (p == 0) child(round);
    int st = 0;
    pid_t w = waitpid(p, &st, 0);
    /* Any end is the child's own business; the parent must see one. */
    printf("round %d: child reaped: %s\n", round, w == p && (WIFEXITED(st) || WIFSIGNALED(st)) ? "yes" : "no");
    fprintf(stderr, "round %d: child %s %d\n", round, WIFEXITED(st) ? "exited" : "killed by", WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
  }
  /* The parent's own syscalls still work as before. */
  printf("parent pid %d, ppid %d\n", getpid(), getppid());
  return 0;
}
