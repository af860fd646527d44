// fork on the kvm platform: the child's private memory is a copy (its writes stay its
// own, and the parent's after the fork stay the parent's), MAP_SHARED memory is shared,
// a grandchild forks from a forked address space, the vDSO clock works in children.
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(void) {
  int* priv = malloc(sizeof *priv);
  int* shared = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  char* big = malloc(8 << 20);
  big[0] = 'p', big[(8 << 20) - 1] = 'q';
  *priv = 1, *shared = 1;
  pid_t c = fork();
  if (c == 0) {
    printf("child sees priv %d shared %d big %c%c\n", *priv, *shared, big[0], big[(8 << 20) - 1]);
    *priv = 2, *shared = 2;
    struct timespec ts;
    printf("child clock ok: %s\n", clock_gettime(CLOCK_MONOTONIC, &ts) == 0 && ts.tv_sec >= 0 ? "yes" : "no");
    fflush(stdout);
    pid_t g = fork();
    if (g == 0) {
      printf("grandchild sees priv %d shared %d\n", *priv, *shared);
      *shared = 3;
      fflush(stdout);
      _exit(4);
    }
    int st;
    waitpid(g, &st, 0);
    printf("grandchild status %d, shared %d\n", WEXITSTATUS(st), *shared);
    fflush(stdout);
    _exit(3);
  }
  int st;
  waitpid(c, &st, 0);
  printf("child status %d; parent sees priv %d shared %d\n", WEXITSTATUS(st), *priv, *shared);
  return 0;
}
