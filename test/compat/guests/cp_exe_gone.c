/* /proc/self/exe of a program run from a file whose name is gone (runc execs a copy of
 * itself that way): readlink says "(deleted)", open still reaches the file. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
extern char **environ;

int main(int argc, char **argv) {
  if (argc > 1) {
    char b[512];
    ssize_t n = readlink("/proc/self/exe", b, sizeof b - 1);
    b[n > 0 ? n : 0] = 0;
    size_t l = strlen(b);
    printf("exe link ends in (deleted): %s\n", l > 10 && strcmp(b + l - 10, " (deleted)") == 0 ? "yes" : b);
    int fd = open("/proc/self/exe", O_RDONLY);
    struct stat st;
    printf("open /proc/self/exe: %s\n", fd < 0 ? strerror(errno) : (fstat(fd, &st) == 0 && st.st_size > 0 ? "ok, the program" : "empty"));
    return 0;
  }
  char path[64];
  snprintf(path, sizeof path, "/tmp/cp_exe_gone.%d", (int)getpid());
  int in = open("/proc/self/exe", O_RDONLY), out = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0755);
  char buf[65536];
  ssize_t n;
  while ((n = read(in, buf, sizeof buf)) > 0) write(out, buf, n);
  close(in);
  close(out);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  unlink(path);
  char *av[] = { argv[0], "child", NULL };
  fflush(stdout);
  syscall(SYS_execveat, fd, "", av, environ, AT_EMPTY_PATH);
  printf("execveat: %s\n", strerror(errno));
  return 1;
}
