/* futex: WAIT/WAKE/REQUEUE/CMP_REQUEUE/WAKE_OP/WAIT_BITSET, timeouts; 64 threads on a mutex and
   condvar (exact counts); robust mutex owner death; PI mutex. Argument: thread count (default 64). */
#include "pr.h"
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>

static long fx(uint32_t *u, int op, uint32_t val, const struct timespec *to, uint32_t *u2, uint32_t v3) {
  return syscall(SYS_futex, u, op, val, to, u2, v3);
}
static uint32_t f1, f2;
static atomic_int woke, waiting;
static void *waiter1(void *a) {
  (void)a;
  atomic_fetch_add(&waiting, 1);
  /* One wait only: a spurious or requeue-less wake-up is visible as an early return. */
  fx(&f1, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
  atomic_fetch_add(&woke, 1);
  return NULL;
}
static uint32_t bits_word;
static volatile int woke_bit;
static void *bit_waiter(void *a) {
  uint32_t bits = (uint32_t)(uintptr_t)a;
  atomic_fetch_add(&waiting, 1);
  fx(&bits_word, FUTEX_WAIT_BITSET_PRIVATE, 0, NULL, NULL, bits);
  woke_bit |= bits;
  atomic_fetch_add(&woke, 1);
  return NULL;
}
/* How many threads wait on *u (shared: a process-shared futex), counted without waking
   any: all are requeued to a spare word and back (order kept: same priority, FIFO). */
static long waiters_on(uint32_t *u, int shared) {
  static uint32_t spare_word;
  uint32_t *spare = shared ? u + 1 : &spare_word;
  int op = shared ? FUTEX_CMP_REQUEUE : FUTEX_CMP_REQUEUE_PRIVATE;
  long n = fx(u, op, 0, (void *)(uintptr_t)INT_MAX, spare, *u);
  if (n > 0) fx(spare, op, 0, (void *)(uintptr_t)INT_MAX, u, *spare);
  return n;
}
/* Waits (bounded, 20 s) until n threads sleep in FUTEX_WAIT on *u: a fixed nap is not
   enough on a loaded machine, and a wake-up sent before they wait is lost. */
static void await_waiters(uint32_t *u, int shared, long n) {
  for (int i = 0; i < 20000 && waiters_on(u, shared) < n; i++) msleep(1);
}
/* Waits (bounded) until the woken threads have counted themselves. */
static void await_woke(int n) {
  for (int i = 0; i < 20000 && atomic_load(&woke) < n; i++) msleep(1);
}
static void start(pthread_t *t, int n, void *(*fn)(void *), void **args, uint32_t *u) {
  atomic_store(&waiting, 0); atomic_store(&woke, 0);
  for (int i = 0; i < n; i++) pthread_create(&t[i], NULL, fn, args ? args[i] : NULL);
  await_waiters(u, 0, n);
}

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static long counter;
static int turn, nthreads, rounds = 4;
static void *contend(void *a) {
  int id = (int)(intptr_t)a;
  for (int i = 0; i < 2000; i++) { pthread_mutex_lock(&mu); counter++; pthread_mutex_unlock(&mu); }
  for (int r = 0; r < rounds; r++) {
    pthread_mutex_lock(&mu);
    while (turn % nthreads != id) pthread_cond_wait(&cv, &mu);
    turn++;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
  }
  return NULL;
}
static pthread_mutex_t rmu;
static void *die_holding(void *a) { pthread_mutex_lock(a); return NULL; }
static pthread_mutex_t pimu;
static long pi_count;
static void *pi_worker(void *a) { (void)a; for (int i = 0; i < 3000; i++) { pthread_mutex_lock(&pimu); pi_count++; pthread_mutex_unlock(&pimu); } return NULL; }

int main(int argc, char **argv) {
  guest_init();
  nthreads = argc > 1 ? atoi(argv[1]) : 64;
  struct timespec t50 = { 0, 50000000 };
  uint32_t w = 1;
  EXPECT_ERR("WAIT value mismatch", fx(&w, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0), EAGAIN);
  long t0 = now_ms();
  EXPECT_ERR("WAIT 50 ms timeout", fx(&w, FUTEX_WAIT_PRIVATE, 1, &t50, NULL, 0), ETIMEDOUT);
  FACT("  waited >= 45 ms", now_ms() - t0 >= 45);
  struct timespec abs; clock_gettime(CLOCK_MONOTONIC, &abs); abs.tv_nsec += 50000000; if (abs.tv_nsec >= 1000000000) { abs.tv_sec++; abs.tv_nsec -= 1000000000; }
  t0 = now_ms();
  EXPECT_ERR("WAIT_BITSET absolute timeout", fx(&w, FUTEX_WAIT_BITSET_PRIVATE, 1, &abs, NULL, FUTEX_BITSET_MATCH_ANY), ETIMEDOUT);
  FACT("  waited >= 45 ms", now_ms() - t0 >= 45);
  struct timespec bad = { 0, 2000000000 };
  EXPECT_ERR("WAIT bad timeout", fx(&w, FUTEX_WAIT_PRIVATE, 1, &bad, NULL, 0), EINVAL);
  EXPECT_ERR("WAIT_BITSET bitset 0", fx(&w, FUTEX_WAIT_BITSET_PRIVATE, 1, NULL, NULL, 0), EINVAL);
  EXPECT_ERR("unaligned address", fx((uint32_t *)((char *)&w + 1), FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0), EINVAL);
  EXPECT_ERR("unknown op", fx(&w, 99, 1, NULL, NULL, 0), ENOSYS);
  SHOW("WAKE with no waiters", fx(&w, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0));

  pthread_t t[8];
  start(t, 3, waiter1, NULL, &f1);
  SHOW("WAKE 1 of 3", fx(&f1, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0));
  await_woke(1); printf("  woke=%d, still waiting=%ld\n", atomic_load(&woke), waiters_on(&f1, 0));
  SHOW("WAKE all", fx(&f1, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0));
  for (int i = 0; i < 3; i++) pthread_join(t[i], NULL);

  start(t, 3, waiter1, NULL, &f1);
  SHOW("REQUEUE wake 1, move rest to f2", fx(&f1, FUTEX_REQUEUE_PRIVATE, 1, (void *)(uintptr_t)INT_MAX, &f2, 0));
  await_woke(1); printf("  woke after REQUEUE=%d, waiting on f2=%ld\n", atomic_load(&woke), waiters_on(&f2, 0));
  SHOW("  WAKE f1 (should be empty)", fx(&f1, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0));
  SHOW("  WAKE f2 (the requeued)", fx(&f2, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0));
  for (int i = 0; i < 3; i++) pthread_join(t[i], NULL);

  start(t, 3, waiter1, NULL, &f1);
  EXPECT_ERR("CMP_REQUEUE value mismatch", fx(&f1, FUTEX_CMP_REQUEUE_PRIVATE, 1, (void *)(uintptr_t)1, &f2, 5), EAGAIN);
  SHOW("CMP_REQUEUE wake 0, move 2", fx(&f1, FUTEX_CMP_REQUEUE_PRIVATE, 0, (void *)(uintptr_t)2, &f2, 0));
  printf("  woke after CMP_REQUEUE=%d, waiting on f2=%ld, on f1=%ld\n", atomic_load(&woke), waiters_on(&f2, 0), waiters_on(&f1, 0));
  SHOW("  WAKE f2 (2 requeued)", fx(&f2, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0));
  SHOW("  WAKE f1 (1 left)", fx(&f1, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0));
  for (int i = 0; i < 3; i++) pthread_join(t[i], NULL);

  /* WAKE_OP: *f2 = 1 (old 0); wake 1 on f1; old == 0 so also wake 1 on f2. */
  f2 = 0;
  static uint32_t fa, fb;
  atomic_store(&waiting, 0); atomic_store(&woke, 0);
  {
    /* waiters on fa and fb */
    void *args[2] = { 0, 0 };
    (void)args;
  }
  pthread_t wa, wb;
  struct wk { uint32_t *u; } ka = { &fa }, kb = { &fb };
  void *wfn(void *a);
  pthread_create(&wa, NULL, wfn, &ka); pthread_create(&wb, NULL, wfn, &kb);
  await_waiters(&fa, 0, 1); await_waiters(&fb, 0, 1);
  SHOW("WAKE_OP set fb=1, wake fa and (old fb == 0) fb", fx(&fa, FUTEX_WAKE_OP_PRIVATE, 1, (void *)(uintptr_t)1, &fb, FUTEX_OP(FUTEX_OP_SET, 1, FUTEX_OP_CMP_EQ, 0)));
  printf("  fb now %u\n", fb);
  pthread_join(wa, NULL); pthread_join(wb, NULL);
  SHOW("WAKE_OP add, condition false", fx(&fa, FUTEX_WAKE_OP_PRIVATE, 1, (void *)(uintptr_t)1, &fb, FUTEX_OP(FUTEX_OP_ADD, 5, FUTEX_OP_CMP_GT, 10)));
  printf("  fb now %u\n", fb);

  /* WAIT_BITSET / WAKE_BITSET: only matching waiters wake. */
  void *bargs[2] = { (void *)1, (void *)2 };
  start(t, 2, bit_waiter, bargs, &bits_word);
  SHOW("WAKE_BITSET 0x2", fx(&bits_word, FUTEX_WAKE_BITSET_PRIVATE, INT_MAX, NULL, NULL, 2));
  await_woke(1); printf("  woken bits=%d, still waiting=%ld\n", woke_bit, waiters_on(&bits_word, 0));
  SHOW("WAKE_BITSET 0x1", fx(&bits_word, FUTEX_WAKE_BITSET_PRIVATE, INT_MAX, NULL, NULL, 1));
  for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);

  /* Shared futex across fork. */
  uint32_t *sh = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  pid_t c = fork();
  if (c == 0) { long r = fx(sh, FUTEX_WAIT, 0, NULL, NULL, 0); _exit(r == 0 ? 0 : 1); }
  await_waiters(sh, 1, 1);
  SHOW("shared WAKE across fork", fx(sh, FUTEX_WAKE, 1, NULL, NULL, 0));
  reap("  waiter child", c);

  /* 64 threads on one mutex, then round-robin through a condition variable. */
  pthread_t *th = calloc(nthreads, sizeof *th);
  for (int i = 0; i < nthreads; i++) if (pthread_create(&th[i], NULL, contend, (void *)(intptr_t)i)) { printf("pthread_create %d failed\n", i); return 1; }
  for (int i = 0; i < nthreads; i++) pthread_join(th[i], NULL);
  printf("%d threads: counter=%ld (want %d) turns=%d (want %d)\n", nthreads, counter, nthreads * 2000, turn, nthreads * rounds);

  /* Robust mutex: the owner dies holding it. */
  pthread_mutexattr_t ma; pthread_mutexattr_init(&ma); pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
  pthread_mutex_init(&rmu, &ma);
  pthread_t d; pthread_create(&d, NULL, die_holding, &rmu); pthread_join(d, NULL);
  int e = pthread_mutex_lock(&rmu); printf("robust lock after owner thread died: %s\n", e ? ename(e) : "0");
  if (e == EOWNERDEAD) { printf("  consistent: %d\n", pthread_mutex_consistent(&rmu)); }
  pthread_mutex_unlock(&rmu);
  e = pthread_mutex_lock(&rmu); printf("  relock: %s\n", e ? ename(e) : "0"); pthread_mutex_unlock(&rmu);
  pthread_mutex_t *smu = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
  pthread_mutex_init(smu, &ma);
  c = fork();
  if (c == 0) { pthread_mutex_lock(smu); _exit(0); }
  reap("  process holding the shared robust mutex", c);
  e = pthread_mutex_lock(smu); printf("robust lock after owner process died: %s\n", e ? ename(e) : "0");
  if (e == EOWNERDEAD) pthread_mutex_consistent(smu);
  pthread_mutex_unlock(smu);

  /* PI mutex */
  pthread_mutexattr_t pa; pthread_mutexattr_init(&pa); pthread_mutexattr_setprotocol(&pa, PTHREAD_PRIO_INHERIT);
  pthread_mutex_init(&pimu, &pa);
  pthread_mutex_lock(&pimu);
  pthread_t pt[4]; for (int i = 0; i < 4; i++) pthread_create(&pt[i], NULL, pi_worker, NULL);
  msleep(50);
  pthread_mutex_unlock(&pimu);
  for (int i = 0; i < 4; i++) pthread_join(pt[i], NULL);
  printf("PI mutex: count=%ld (want 12000)\n", pi_count);
  pthread_mutex_lock(&pimu);
  pthread_t tt; int te = 0;
  void *trylock_fn(void *);
  pthread_create(&tt, NULL, trylock_fn, &te); pthread_join(tt, NULL);
  printf("PI trylock while held elsewhere: %s\n", te ? ename(te) : "0");
  pthread_mutex_unlock(&pimu);
  printf("done\n");
  return 0;
}
void *wfn(void *a) { uint32_t *u = *(uint32_t **)a; atomic_fetch_add(&waiting, 1); fx(u, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0); return NULL; }
void *trylock_fn(void *a) { *(int *)a = pthread_mutex_trylock(&pimu); return NULL; }
