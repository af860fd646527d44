/* fork + execve("/bin/true") + wait4, timed inside the guest: prints "<ns> ns/iter". */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 100;
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (long i = 0; i < n; i++) {
    pid_t c = fork();
    if (c == 0) { execl("/bin/true", "true", (char *)NULL); _exit(127); }
    int st; if (c < 0 || waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st)) { fprintf(stderr, "iteration %ld failed\n", i); return 1; }
  }
  clock_gettime(CLOCK_MONOTONIC, &b);
  printf("%.1f ns/iter\n", ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / n);
  return 0;
}
