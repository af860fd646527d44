/*
 * Guest memory the Sentry reads, rewritten by a second thread while it reads it:
 * robust lists walked at thread exit (cycles, garbage links, a racing writer), futex
 * words under FUTEX_WAIT / CMP_REQUEUE / LOCK_PI, the rseq area, a stack_t given to
 * sigaltstack. Every result must be one Linux can give; each section prints a fixed
 * line when so (compared with a native run), or the offending result.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

struct rlist { struct rlist *next; };
struct rhead { struct rlist list; long futex_offset; struct rlist *pending; };
struct lock { struct rlist link; uint32_t word; };

static long sys(long nr, long a, long b, long c, long d, long e, long f) {
  long r = syscall(nr, a, b, c, d, e, f);
  return r < 0 ? -errno : r;
}

/* ---- 1: a cycle that never returns to the head, with locks the thread holds ---- */
static struct lock locks[3];
static struct rhead head1;
static void *cycle_thread(void *arg) {
  (void)arg;
  pid_t tid = gettid();
  for (int i = 0; i < 3; i++) {
    locks[i].word = tid;
    locks[i].link.next = &locks[(i + 1) % 3].link;
  }
  head1.list.next = &locks[0].link;
  head1.futex_offset = offsetof(struct lock, word);
  head1.pending = 0;
  syscall(SYS_set_robust_list, &head1, sizeof head1);
  return 0;
}

/* ---- 2: garbage links and offsets ---- */
static struct rhead head2;
static void *garbage_thread(void *arg) {
  head2.list.next = (struct rlist *)arg;
  head2.futex_offset = (long)0x7fffffffffffffffL;
  head2.pending = (struct rlist *)0xffff800000000000UL;
  syscall(SYS_set_robust_list, &head2, sizeof head2);
  return 0;
}

/* ---- 3: a racer rewrites a shared head while threads using it exit ---- */
static struct rhead shared_head;
static struct lock shared_locks[4];
static atomic_int stop;
static void *head_racer(void *arg) {
  (void)arg;
  uint64_t x = 88172645463325252ULL;
  while (!atomic_load(&stop)) {
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    switch (x % 5) {
      case 0: shared_head.list.next = &shared_locks[x % 4].link; break;
      case 1: shared_head.list.next = (struct rlist *)(uintptr_t)x; break;
      case 2: shared_head.futex_offset = (long)x; break;
      case 3: shared_head.futex_offset = offsetof(struct lock, word); break;
      default: shared_locks[x % 4].link.next = x & 1 ? &shared_head.list : &shared_locks[(x >> 8) % 4].link; break;
    }
  }
  return 0;
}
static void *exiting_thread(void *arg) {
  (void)arg;
  syscall(SYS_set_robust_list, &shared_head, sizeof shared_head);
  return 0;
}

/* ---- 4: futex words flipped under the calls ---- */
static _Atomic uint32_t fword, fword2;
static void *word_racer(void *arg) {
  (void)arg;
  uint32_t v = 0;
  while (!atomic_load(&stop)) {
    v = v * 1103515245 + 12345;
    atomic_store(&fword, v & 3);
    atomic_store(&fword2, v >> 16);
  }
  return 0;
}

/* ---- 5/6: rseq area and a stack_t rewritten ---- */
static struct { uint32_t cpu_id_start, cpu_id; uint64_t rseq_cs; uint32_t flags, node_id, mm_cid, pad; } __attribute__((aligned(32))) rs;
static stack_t ss_buf;
static char alt[1 << 16];
static void *area_racer(void *arg) {
  (void)arg;
  uint64_t x = 2463534242ULL;
  while (!atomic_load(&stop)) {
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    rs.rseq_cs = x;
    rs.flags = (uint32_t)x;
    ss_buf.ss_size = x & 1 ? (size_t)x : sizeof alt;
    ss_buf.ss_flags = x & 2 ? (int)x : 0;
    ss_buf.ss_sp = x & 4 ? (void *)(uintptr_t)x : alt;
  }
  return 0;
}

static int bad;
static void check(const char *what, long r, const long *ok, int n) {
  for (int i = 0; i < n; i++) if (r == ok[i] || (ok[i] == 1 && r >= 0)) return;
  if (bad++ < 5) printf("%s: unexpected %ld\n", what, r);
}

int main(void) {
  pthread_t t, r;
  pthread_create(&t, 0, cycle_thread, 0);
  pthread_join(t, 0);
  printf("cycle: words %#x %#x %#x\n", locks[0].word, locks[1].word, locks[2].word);

  void *garbage[] = {(void *)0x10000, (void *)0xffff800000000000UL, (void *)-1L, &head2.list};
  for (int i = 0; i < 4; i++) {
    pthread_create(&t, 0, garbage_thread, garbage[i]);
    pthread_join(t, 0);
  }
  printf("garbage links: threads joined\n");

  pthread_create(&r, 0, head_racer, 0);
  for (int i = 0; i < 300; i++) {
    pthread_create(&t, 0, exiting_thread, 0);
    pthread_join(t, 0);
  }
  atomic_store(&stop, 1);
  pthread_join(r, 0);
  printf("racing head: 300 threads joined\n");

  atomic_store(&stop, 0);
  pthread_create(&r, 0, word_racer, 0);
  static const long wait_ok[] = {0, -EAGAIN, -ETIMEDOUT, -EINTR};
  static const long requeue_ok[] = {1, -EAGAIN, -EINVAL};
  static const long pi_ok[] = {0, -EDEADLK, -EPERM, -EAGAIN, -ESRCH, -EINVAL, -ETIMEDOUT, -EBUSY, -EOWNERDEAD};
  struct timespec ts = {0, 100000};
  for (int i = 0; i < 2000; i++) {
    check("FUTEX_WAIT", sys(SYS_futex, (long)&fword, FUTEX_WAIT_PRIVATE, 1, (long)&ts, 0, 0), wait_ok, 4);
    check("FUTEX_CMP_REQUEUE", sys(SYS_futex, (long)&fword, FUTEX_CMP_REQUEUE_PRIVATE, 1, 1, (long)&fword2, 2), requeue_ok, 3);
    check("FUTEX_WAKE_OP", sys(SYS_futex, (long)&fword, FUTEX_WAKE_OP_PRIVATE, 1, 1, (long)&fword2, FUTEX_OP(FUTEX_OP_ADD, 1, FUTEX_OP_CMP_GT, 0)), (const long[]){1}, 1);
    struct timespec abs;
    clock_gettime(CLOCK_REALTIME, &abs);
    abs.tv_nsec += 100000;
    if (abs.tv_nsec >= 1000000000) { abs.tv_sec++; abs.tv_nsec -= 1000000000; }
    long pr = sys(SYS_futex, (long)&fword2, FUTEX_LOCK_PI_PRIVATE, 0, (long)&abs, 0, 0);
    check("FUTEX_LOCK_PI", pr, pi_ok, 9);
    check("FUTEX_UNLOCK_PI", sys(SYS_futex, (long)&fword2, FUTEX_UNLOCK_PI_PRIVATE, 0, 0, 0, 0), pi_ok, 9);
    check("FUTEX_TRYLOCK_PI", sys(SYS_futex, (long)&fword2, FUTEX_TRYLOCK_PI_PRIVATE, 0, 0, 0, 0), pi_ok, 9);
  }
  atomic_store(&stop, 1);
  pthread_join(r, 0);
  printf("racing futex words: %s\n", bad ? "unexpected results" : "Linux's results only");

  atomic_store(&stop, 0);
  pthread_create(&r, 0, area_racer, 0);
  static const long ss_ok[] = {0, -EINVAL, -ENOMEM, -EPERM, -EFAULT};
  static const long rseq_ok[] = {0, -EINVAL, -EBUSY, -EPERM, -EFAULT};
  for (int i = 0; i < 3000; i++) {
    check("sigaltstack", sys(SYS_sigaltstack, (long)&ss_buf, 0, 0, 0, 0, 0), ss_ok, 5);
    /* glibc registered its own rseq area: a second registration is EBUSY/EINVAL. */
    check("rseq", sys(SYS_rseq, (long)&rs, sizeof rs, 0, 0x53053053, 0, 0), rseq_ok, 5);
    raise(SIGWINCH); /* default: ignored; delivery reads the altstack state */
    check("getpid", sys(SYS_getpid, 0, 0, 0, 0, 0, 0), (const long[]){1}, 1);
  }
  atomic_store(&stop, 1);
  pthread_join(r, 0);
  stack_t off = {.ss_flags = SS_DISABLE};
  sigaltstack(&off, 0);
  printf("racing rseq area and stack_t: %s\n", bad ? "unexpected results" : "Linux's results only");
  return 0;
}
