/* Maps a host file, then waits on stdin so the test can inspect the stub from outside. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

int main(void) {
  int fd = open("/etc/os-release", O_RDONLY);
  char *p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
  printf("mapped %c\n", p != MAP_FAILED ? p[0] : '?');
  fflush(stdout);
  char c;
  read(0, &c, 1);
  return 0;
}
