/* Threads: pthread_create/join, mutex counters, TLS, condvars, futex-based blocking, tids. */
#include "common.h"
#include <pthread.h>
#include <stdatomic.h>
#include <sys/syscall.h>

#define NT 4
#define ITERS 5000

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static long counter;
static atomic_long acounter;
static __thread int tls = 5;
static pid_t tids[NT];

static void *worker(void *arg) {
  long id = (long)arg;
  tids[id] = gettid();
  tls += (int)id;
  for (int i = 0; i < ITERS; i++) {
    pthread_mutex_lock(&mu);
    counter++;
    pthread_mutex_unlock(&mu);
    atomic_fetch_add(&acounter, 1);
  }
  if (tls != 5 + id) return (void *)-1L;
  return (void *)(id * 100);
}

static pthread_mutex_t cm = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int stage;

static void *pingpong(void *arg) {
  (void)arg;
  for (int i = 0; i < 200; i++) {
    pthread_mutex_lock(&cm);
    while (stage % 2 == 0) pthread_cond_wait(&cv, &cm);
    stage++;
    pthread_cond_signal(&cv);
    pthread_mutex_unlock(&cm);
  }
  return NULL;
}

static int pipefd[2];
static void *blocked_reader(void *arg) {
  (void)arg;
  char buf[16] = {0};
  long n = read(pipefd[0], buf, sizeof buf - 1);
  return n == 5 && !memcmp(buf, "hello", 5) ? (void *)1 : (void *)0;
}

static void *exiter(void *arg) {
  (void)arg;
  pthread_exit((void *)7L);
  return NULL;
}

int main(void) {
  guest_init();
  pthread_t t[NT];
  for (long i = 0; i < NT; i++) MUST(-pthread_create(&t[i], NULL, worker, (void *)i));
  int rets_ok = 1;
  for (long i = 0; i < NT; i++) {
    void *ret;
    pthread_join(t[i], &ret);
    if ((long)ret != i * 100) rets_ok = 0;
  }
  printf("mutex counter=%ld atomic counter=%ld\n", counter, (long)acounter);
  FACT("join return values", rets_ok);
  FACT("main tls untouched", tls == 5);
  int distinct = 1;
  for (int i = 0; i < NT; i++) {
    if (tids[i] == getpid()) distinct = 0;
    for (int j = 0; j < i; j++) if (tids[i] == tids[j]) distinct = 0;
  }
  FACT("thread tids distinct and != pid", distinct);

  /* Condition variable ping-pong (futex wait/wake both ways). */
  pthread_t pp;
  pthread_create(&pp, NULL, pingpong, NULL);
  for (int i = 0; i < 200; i++) {
    pthread_mutex_lock(&cm);
    while (stage % 2 == 1) pthread_cond_wait(&cv, &cm);
    stage++;
    pthread_cond_signal(&cv);
    pthread_mutex_unlock(&cm);
  }
  pthread_mutex_lock(&cm);
  while (stage < 400) pthread_cond_wait(&cv, &cm);
  pthread_mutex_unlock(&cm);
  pthread_join(pp, NULL);
  printf("condvar stages=%d\n", stage);

  /* A thread blocked in read() must not stop this thread's syscalls. */
  MUST(pipe(pipefd));
  pthread_t rd;
  pthread_create(&rd, NULL, blocked_reader, NULL);
  usleep(100 * 1000);
  long work = 0;
  for (int i = 0; i < 100; i++) work += getppid() >= 0; /* syscalls while the reader is parked */
  write(pipefd[1], "hello", 5);
  void *rr;
  pthread_join(rd, &rr);
  printf("main did %ld syscalls while reader blocked; reader ok=%ld\n", work, (long)rr);

  /* pthread_exit value, detached thread, many short-lived threads. */
  pthread_t ex;
  pthread_create(&ex, NULL, exiter, NULL);
  void *ev;
  pthread_join(ex, &ev);
  printf("pthread_exit value=%ld\n", (long)ev);
  int created = 0;
  for (int i = 0; i < 100; i++) {
    pthread_t s;
    if (pthread_create(&s, NULL, exiter, NULL) == 0) { pthread_join(s, NULL); created++; }
  }
  printf("short-lived threads=%d\n", created);
  FACT("EDEADLK joining self", pthread_join(pthread_self(), NULL) == EDEADLK);
  printf("done\n");
  return 0;
}
