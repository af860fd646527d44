/*
 * MAP_SHARED file mappings are coherent with the file: stores through the mapping are
 * seen by read(), write() is seen through the mapping, two mappings of the same file
 * (also across fork, and across two opens) see each other, and a MAP_PRIVATE page that
 * was never written follows the file.
 */
#include "common.h"
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/wait.h>

int main(void) {
  guest_init();
  enter_tmpdir();
  long PG = sysconf(_SC_PAGESIZE);
  int fd = open("file", O_CREAT | O_RDWR | O_TRUNC, 0644);
  char content[8192];
  for (int i = 0; i < 8192; i++) content[i] = 'a' + i % 26;
  MUST(write(fd, content, sizeof content));
  char c;

  char *sw = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  char *m = mmap(NULL, 8192, PROT_READ, MAP_PRIVATE, fd, 0);
  FACT("maps ok", sw != MAP_FAILED && m != MAP_FAILED);

  sw[1] = '!';
  MUST(pread(fd, &c, 1, 1));
  FACT("store through shared map seen by read() (no msync)", c == '!');
  SHOW("msync", msync(sw, 8192, MS_SYNC));
  MUST(pread(fd, &c, 1, 1));
  FACT("store through shared map seen by read() after msync", c == '!');

  MUST(pwrite(fd, "Q", 1, 2));
  FACT("write() seen through shared map", sw[2] == 'Q');
  FACT("write() seen through untouched private map", m[2] == 'Q');

  char *sw2 = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  sw2[3] = '#';
  FACT("two shared maps of one fd agree", sw[3] == '#');
  int fd2 = open("file", O_RDWR);
  char *sw3 = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd2, 0);
  sw3[4] = '%';
  FACT("shared maps of two opens agree", sw[4] == '%');

  pid_t p = fork();
  if (p == 0) {
    sw[5] = '&';
    _exit(0);
  }
  int st;
  waitpid(p, &st, 0);
  FACT("child's store through shared map seen by parent", sw[5] == '&');

  /* Extending the file makes the next page readable through an existing mapping. */
  MUST(ftruncate(fd, PG));
  char *big = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  MUST(ftruncate(fd, 2 * PG));
  big[PG + 1] = 'X';
  MUST(pread(fd, &c, 1, PG + 1));
  FACT("store after file growth reaches the file", c == 'X');

  leave_tmpdir();
  printf("done\n");
  return 0;
}
