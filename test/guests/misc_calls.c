/* Calls the other guests leave out: pidfd_getfd, mincore, mlock, get_robust_list,
 * rt_tgsigqueueinfo, PI mutexes. */
#include "common.h"
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>

static volatile int got_val;
static void on_usr1(int s, siginfo_t *si, void *u) {
  (void)s;
  (void)u;
  got_val = si->si_code == SI_QUEUE ? si->si_value.sival_int : -1;
}

int main(void) {
  /* pidfd_getfd: take our own stdout through a pidfd. */
  int pfd = syscall(SYS_pidfd_open, getpid(), 0);
  int out = syscall(SYS_pidfd_getfd, pfd, 1, 0);
  printf("pidfd_getfd: %s\n", out > 2 ? "got a new fd" : strerrorname_np(errno));
  fflush(stdout);
  if (out > 2) write(out, "written through the copy\n", 25);
  printf("pidfd_getfd bad target: %s\n", syscall(SYS_pidfd_getfd, pfd, 999, 0) < 0 ? strerrorname_np(errno) : "ok");
  printf("pidfd_getfd bad flags: %s\n", syscall(SYS_pidfd_getfd, pfd, 1, 1) < 0 ? strerrorname_np(errno) : "ok");

  /* mincore / mlock on a mapping, and on an unmapped range. */
  char *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  p[0] = 1;
  unsigned char vec[2] = {0, 0};
  printf("mincore touched page resident: %s\n", mincore(p, 4096, vec) == 0 && (vec[0] & 1) ? "yes" : "no");
  munmap(p + 4096, 4096);
  printf("mincore unmapped: %s\n", mincore(p + 4096, 4096, vec) < 0 ? strerrorname_np(errno) : "ok");
  printf("mincore unaligned: %s\n", mincore(p + 1, 4096, vec) < 0 ? strerrorname_np(errno) : "ok");
  printf("mlock: %d, munlock: %d\n", mlock(p, 4096), munlock(p, 4096));

  /* get_robust_list: glibc registered one for the main thread. */
  void *head = NULL;
  size_t len = 0;
  printf("get_robust_list: %ld, head set: %s, len %zu\n", syscall(SYS_get_robust_list, 0, &head, &len),
         head ? "yes" : "no", len);
  printf("get_robust_list bad pid: %s\n", syscall(SYS_get_robust_list, 999999, &head, &len) < 0 ? strerrorname_np(errno) : "ok");

  /* rt_tgsigqueueinfo to ourselves with a value. */
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_usr1;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGUSR1, &sa, NULL);
  siginfo_t si;
  memset(&si, 0, sizeof si);
  si.si_signo = SIGUSR1;
  si.si_code = SI_QUEUE;
  si.si_pid = getpid();
  si.si_value.sival_int = 77;
  printf("rt_tgsigqueueinfo: %ld, value seen: %d\n",
         syscall(SYS_rt_tgsigqueueinfo, getpid(), syscall(SYS_gettid), SIGUSR1, &si), got_val);
  si.si_code = SI_USER;
  printf("forged SI_USER: %s\n",
         syscall(SYS_rt_tgsigqueueinfo, getpid(), syscall(SYS_gettid), SIGUSR1, &si) < 0 ? strerrorname_np(errno) : "ok");

  /* A priority-inheritance mutex: trylock from another thread sees EBUSY. */
  pthread_mutexattr_t a;
  pthread_mutexattr_init(&a);
  pthread_mutexattr_setprotocol(&a, PTHREAD_PRIO_INHERIT);
  static pthread_mutex_t m;
  pthread_mutex_init(&m, &a);
  printf("PI lock: %d\n", pthread_mutex_lock(&m));
  printf("PI unlock: %d, relock: %d, unlock: %d\n", pthread_mutex_unlock(&m), pthread_mutex_lock(&m),
         pthread_mutex_unlock(&m));
  printf("done\n");
  return 0;
}
