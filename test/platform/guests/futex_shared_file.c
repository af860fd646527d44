// A futex word in a shared file mapping, waited on by one process and woken by another
// that maps the same page at a different address (and at another file offset of its
// mapping), as podman's shm locks (process-shared pthread mutexes in /dev/shm) are:
// Linux keys such a word by file and offset, so the wake finds the waiter. Keyed by
// address, the wake found nobody and the waiter slept on (podman-in-the-sandbox's hang).
// Then the same through a process-shared robust mutex whose owner dies holding it.
// The results do not depend on timing: the waker retries until its wake finds the waiter.
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long futex(uint32_t *w, int op, uint32_t v, const struct timespec *ts) {
  return syscall(SYS_futex, w, op, v, ts, NULL, 0);
}

static void sleep_ms(int ms) {
  struct timespec ts = {0, ms * 1000000L};
  nanosleep(&ts, NULL);
}

int main(void) {
  char path[64];
  snprintf(path, sizeof path, "/dev/shm/tss-futex-%d", (int)getpid());
  int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
  if (fd < 0 || ftruncate(fd, 3 * 4096) != 0) { perror("shm file"); return 1; }
  unlink(path);
  char *a = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (a == MAP_FAILED) { perror("mmap"); return 1; }
  setvbuf(stdout, NULL, _IONBF, 0);

  // 1. FUTEX_WAIT/FUTEX_WAKE (not private) across two mappings of the file.
  pid_t child = fork();
  if (child == 0) {
    // A second mapping, from offset 4096 and elsewhere in the address space.
    char *b = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 4096);
    if (b == MAP_FAILED || b == a + 4096) _exit(3);
    struct timespec ts = {20, 0};
    long r = futex((uint32_t *)(b + 64), FUTEX_WAIT, 0, &ts);
    printf("child: wait %s\n", r == 0 ? "woken" : strerror(errno));
    _exit(0);
  }
  int woke = 0, status = 0;
  for (int i = 0; i < 40000 && !woke; i++) {
    if (futex((uint32_t *)(a + 4096 + 64), FUTEX_WAKE, 1, NULL) == 1) woke = 1;
    else if (waitpid(child, &status, WNOHANG) == child) break;
    else sleep_ms(1);
  }
  if (woke) waitpid(child, &status, 0);
  printf("parent: wake found the waiter: %s; child status %d\n", woke ? "yes" : "no", WEXITSTATUS(status));

  // 2. A process-shared robust mutex; its owner, a process mapping it elsewhere, exits
  // holding it while the parent waits for it: the parent gets EOWNERDEAD.
  pthread_mutex_t *m = (pthread_mutex_t *)(a + 2 * 4096 + 128);
  pthread_mutexattr_t at;
  pthread_mutexattr_init(&at);
  pthread_mutexattr_setpshared(&at, PTHREAD_PROCESS_SHARED);
  pthread_mutexattr_setrobust(&at, PTHREAD_MUTEX_ROBUST);
  pthread_mutex_init(m, &at);
  volatile uint32_t *go = (volatile uint32_t *)(a + 2 * 4096);
  *go = 0;
  child = fork();
  if (child == 0) {
    munmap(a, 3 * 4096);
    char *pad = mmap(NULL, 5 * 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *b = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 2 * 4096);
    if (pad == MAP_FAILED || b == MAP_FAILED) _exit(3);
    pthread_mutex_lock((pthread_mutex_t *)(b + 128));
    *(volatile uint32_t *)b = 1;
    // Exit once the parent is about to wait in the kernel (it set FUTEX_WAITERS) and a
    // little after, so that it most likely sleeps there and the exit's robust-list walk
    // is what must wake it (if it came later, it finds the word changed: same result).
    uint32_t *word = (uint32_t *)(b + 128);
    for (int i = 0; i < 40000 && !(__atomic_load_n(word, __ATOMIC_SEQ_CST) & FUTEX_WAITERS); i++) sleep_ms(1);
    sleep_ms(50);
    _exit(0);
  }
  while (*go == 0) sleep_ms(1);
  struct timespec dl;
  clock_gettime(CLOCK_REALTIME, &dl);
  dl.tv_sec += 20;
  int r = pthread_mutex_timedlock(m, &dl);
  printf("parent: robust lock after its owner died: %s\n", r == EOWNERDEAD ? "EOWNERDEAD" : strerror(r));
  if (r == EOWNERDEAD) pthread_mutex_consistent(m);
  pthread_mutex_unlock(m);
  waitpid(child, &status, 0);
  printf("done\n");
  return 0;
}
