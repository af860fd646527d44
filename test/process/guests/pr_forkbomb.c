/* A bounded fork bomb under RLIMIT_NPROC: every process forks up to ATTEMPTS times and every
   child does the same; all hold until the root releases them, so the limit must bite. */
#include "pr.h"
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#define LIMIT 30
#define ATTEMPTS 7
struct shared { atomic_int created, eagain, other, finished; };

int main(void) {
  guest_init();
  struct shared *sh = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  int p[2]; MUST(pipe(p));
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  struct rlimit rl = { LIMIT, LIMIT };
  MUST(setrlimit(RLIMIT_NPROC, &rl));
  /* Root ignores RLIMIT_NPROC: become an ordinary user. */
  MUST(setresgid(1000, 1000, 1000));
  MUST(setresuid(1000, 1000, 1000));
  int is_root = 1;
  long t0 = now_ms();
  for (int i = 0; i < ATTEMPTS; i++) {
    pid_t c = fork();
    if (c == 0) { is_root = 0; close(p[1]); p[1] = -1; continue; }
    if (c > 0) atomic_fetch_add(&sh->created, 1);
    else if (errno == EAGAIN) atomic_fetch_add(&sh->eagain, 1);
    else atomic_fetch_add(&sh->other, 1);
  }
  if (!is_root) {
    atomic_fetch_add(&sh->finished, 1);
    char b; read(p[0], &b, 1);
    while (wait(NULL) > 0) {}
    _exit(0);
  }
  close(p[0]);
  while (atomic_load(&sh->finished) < atomic_load(&sh->created) && now_ms() - t0 < 20000) msleep(5);
  int created = atomic_load(&sh->created);
  close(p[1]);
  int reaped = 0;
  while (wait(NULL) > 0) reaped++;
  printf("processes created <= limit: %s\n", created + 1 <= LIMIT ? "yes" : "no");
  printf("fork failed with EAGAIN: %s\n", atomic_load(&sh->eagain) > 0 ? "yes" : "no");
  printf("other errors: %d\n", atomic_load(&sh->other));
  printf("wait ended with ECHILD: %s\n", errno == ECHILD ? "yes" : "no");
  fprintf(stderr, "created=%d eagain=%d reaped=%d ms=%ld\n", created, atomic_load(&sh->eagain), reaped, now_ms() - t0);
  printf("done\n");
  return 0;
}
