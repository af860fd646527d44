/* Forks children that wait on a pipe, until fork fails or argv[1] of them run; says how
 * many and why it stopped, then lets them go and reaps them all (the sandbox must still
 * work after the bomb). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char** argv) {
  int max = argc > 1 ? atoi(argv[1]) : 100000;
  int p[2];
  if (pipe(p) != 0) return 1;
  int n = 0, err = 0;
  while (n < max) {
    pid_t c = fork();
    if (c < 0) {
      err = errno;
      break;
    }
    if (c == 0) {
      char b;
      close(p[1]);
      if (read(p[0], &b, 1) < 0) _exit(1);
      _exit(0);
    }
    n++;
  }
  printf("forked %d, then %s\n", n, err ? strerror(err) : "none");
  fflush(stdout);
  close(p[1]);
  int reaped = 0;
  while (wait(NULL) > 0) reaped++;
  printf("reaped %d\n", reaped);
  return 0;
}
