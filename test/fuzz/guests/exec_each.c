/*
 * exec_each LISTFILE: for each path in LISTFILE (one a line), forks and execs it with its
 * output thrown away, and prints one line: "NAME: execve -1 ENAME", "NAME: exit N" or
 * "NAME: signal N". A program that does not end within 5 s is killed ("NAME: signal 9").
 * Prints "all done" at the end. Used by the ELF fuzzer (mutated executables) and the
 * malformed-ELF cases (compared with a native run).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  FILE *list = fopen(argv[1], "r");
  if (!list) { perror("list"); return 2; }
  char line[4096];
  while (fgets(line, sizeof line, list)) {
    line[strcspn(line, "\n")] = 0;
    if (!line[0]) continue;
    const char *name = strrchr(line, '/') ? strrchr(line, '/') + 1 : line;
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) != 0) return 3;
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) {
      int null = open("/dev/null", O_RDWR);
      dup2(null, 0); dup2(null, 1); dup2(null, 2);
      alarm(5); /* survives the exec */
      char *av[] = {(char *)name, NULL};
      char *ev[] = {"PATH=/usr/bin:/bin", NULL};
      execve(line, av, ev);
      int e = errno;
      (void)!write(pfd[1], &e, sizeof e);
      _exit(127);
    }
    close(pfd[1]);
    int e = 0;
    ssize_t got = read(pfd[0], &e, sizeof e); /* EOF once the exec succeeded */
    close(pfd[0]);
    int st = 0;
    for (int waited = 0;; waited += 10) {
      pid_t r = waitpid(c, &st, WNOHANG);
      if (r == c) break;
      if (waited >= 8000) { kill(c, SIGKILL); waitpid(c, &st, 0); break; }
      struct timespec ts = {0, 10 * 1000 * 1000};
      nanosleep(&ts, NULL);
    }
    if (got == (ssize_t)sizeof e) printf("%s: execve -1 %s\n", name, strerrorname_np(e) ? strerrorname_np(e) : "E?");
    else if (WIFSIGNALED(st)) printf("%s: signal %d\n", name, WTERMSIG(st));
    else printf("%s: exit %d\n", name, WEXITSTATUS(st));
  }
  printf("all done\n");
  return 0;
}
