// What an engine's shim is to a container: a subreaper. Runs `sh -c SCRIPT` and prints
// "PID exit N" or "PID signal N" for every process it reaps (the container's pid is
// reparented to it once `create` exits), until it has reaped the pid named in the file
// argv[2] (or has no child left).
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  pid_t c = fork();
  if (c == 0) {
    execl("/bin/sh", "sh", "-c", argv[1], (char *)0);
    _exit(127);
  }
  for (;;) {
    int st;
    pid_t p = wait(&st);
    if (p < 0 && errno == EINTR) continue;
    if (p < 0) break;
    if (WIFEXITED(st)) printf("%d exit %d\n", (int)p, WEXITSTATUS(st));
    else printf("%d signal %d\n", (int)p, WTERMSIG(st));
    fflush(stdout);
    FILE *f = argc > 2 ? fopen(argv[2], "r") : NULL;
    int want = 0;
    if (f && fscanf(f, "%d", &want) != 1) want = 0;
    if (f) fclose(f);
    if (want > 0 && p == want) break;
  }
  return 0;
}
