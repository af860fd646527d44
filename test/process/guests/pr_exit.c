/* exit of one thread vs exit_group; main thread pthread_exit while others continue. */
#include "pr.h"
#include <pthread.h>
#include <stdatomic.h>

static atomic_int ticks;
static void *raw_exit(void *a) { (void)a; syscall(SYS_exit, 42); return NULL; }
static void *group_exit(void *a) { (void)a; msleep(50); exit(3); return NULL; }
static void *group_exit_raw(void *a) { (void)a; msleep(50); syscall(SYS_exit_group, 4); return NULL; }
static void *ticker(void *a) { (void)a; for (;;) { atomic_fetch_add(&ticks, 1); msleep(5); } return NULL; }
static pid_t main_pid;
static void *survivor(void *a) {
  (void)a;
  /* Waits for the leader's exit to show (bounded), not for a nap a loaded machine outlasts. */
  int z = await_state("/proc/self/stat", 'Z');
  printf("worker: still running after main pthread_exit, same pid: %s\n", getpid() == main_pid ? "yes" : "no");
  printf("worker: leader state is %s\n", z ? "Z (zombie leader)" : "not Z");
  return (void *)0;
}
static void *survivor_exit(void *a) { survivor(a); exit(6); return NULL; }

int main(void) {
  guest_init();
  /* SYS_exit in one thread: the process continues. */
  pthread_t t, tk;
  pthread_create(&tk, NULL, ticker, NULL);
  pthread_create(&t, NULL, raw_exit, NULL);
  pthread_join(t, NULL); /* the kernel clears its tid at SYS_exit too */
  int before = atomic_load(&ticks), runs = 0;
  for (int i = 0; i < 4000 && !runs; i++) { msleep(5); runs = atomic_load(&ticks) > before; }
  printf("after one thread's exit(42): process alive, ticker still runs: %s\n", runs ? "yes" : "no");

  /* exit()/exit_group from a secondary thread ends the whole process. */
  pid_t c = fork();
  if (c == 0) { pthread_create(&t, NULL, ticker, NULL); pthread_create(&t, NULL, group_exit, NULL); for (;;) pause(); }
  reap("exit(3) from a thread", c);
  c = fork();
  if (c == 0) { pthread_create(&t, NULL, ticker, NULL); pthread_create(&t, NULL, group_exit_raw, NULL); for (;;) pause(); }
  reap("exit_group(4) from a thread", c);

  /* Raw SYS_exit of the only thread: the process exits with that code. */
  c = fork();
  if (c == 0) syscall(SYS_exit, 9);
  reap("SYS_exit in a single-threaded child", c);

  /* main pthread_exit: others continue; the process ends when the last thread does. */
  c = fork();
  if (c == 0) { main_pid = getpid(); pthread_create(&t, NULL, survivor, NULL); pthread_exit(NULL); }
  reap("main pthread_exit, worker returns", c);
  c = fork();
  if (c == 0) { main_pid = getpid(); pthread_create(&t, NULL, survivor_exit, NULL); pthread_exit(NULL); }
  reap("main pthread_exit, worker exit(6)", c);

  /* Threads are killed when a fatal signal hits the process. */
  c = fork();
  if (c == 0) { pthread_create(&t, NULL, ticker, NULL); pthread_create(&t, NULL, ticker, NULL); msleep(20); raise(SIGTERM); for (;;) pause(); }
  reap("SIGTERM with threads", c);
  printf("done\n");
  return 0;
}
