/* A small program for `strace -f` to watch: files opened by a parent, its child, and an exec. */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/wait.h>

int main(int argc, char **argv) {
  if (argc > 1) {
    close(open("/etc/passwd", O_RDONLY));
    return 0;
  }
  close(open("/etc/passwd", O_RDONLY));
  close(open("/nonexistent-tss-file", O_RDONLY));
  pid_t c = fork();
  if (c == 0) {
    close(open("/etc/group", O_RDONLY | O_CLOEXEC));
    execl(argv[0], argv[0], "again", (char *)NULL);
    _exit(1);
  }
  int st;
  waitpid(c, &st, 0);
  printf("child status %d\n", WEXITSTATUS(st));
  return 0;
}
