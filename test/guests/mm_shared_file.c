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

  /* msync walks the range as Linux does: a hole is ENOMEM after the mapped parts are
     synced; a zero length is 0 even unmapped; bad flags are EINVAL before anything. */
  char *three = mmap(NULL, 3 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  MUST(munmap(three + PG, PG));
  three[0] = 'Y';
  SHOW("msync over a hole", msync(three, 3 * PG, MS_SYNC));
  MUST(pread(fd, &c, 1, 0));
  FACT("the part before the hole reached the file", c == 'Y');
  SHOW("msync of the hole", msync(three + PG, PG, MS_ASYNC));
  SHOW("msync length 0 in the hole", msync(three + PG, 0, MS_SYNC));
  SHOW("msync MS_ASYNC|MS_SYNC", msync(three, PG, MS_ASYNC | MS_SYNC));
  SHOW("msync unaligned", msync(three + 1, PG, MS_SYNC));
  SHOW("msync wrapping length", msync(three, (size_t)-PG, MS_SYNC));
  SHOW("msync MS_INVALIDATE", msync(three + 2 * PG, PG, MS_INVALIDATE));
  SHOW("msync of a part", msync(three + 2 * PG, 1, MS_SYNC));

  /* MAP_SHARED_VALIDATE refuses what the file cannot honour (MAP_SYNC without DAX). */
  SHOW("MAP_SHARED_VALIDATE|MAP_SYNC", (long)mmap(NULL, PG, PROT_READ, MAP_SHARED_VALIDATE | 0x80000, fd, 0));
  char *v = mmap(NULL, PG, PROT_READ, MAP_SHARED_VALIDATE, fd, 0);
  FACT("MAP_SHARED_VALIDATE alone maps", v != MAP_FAILED);

  /* proc files have no mmap method on Linux: ENODEV, shared or private. */
  int pf = open("/proc/self/status", O_RDONLY), mf = open("/proc/self/mem", O_RDONLY);
  SHOW("mmap /proc/self/status shared", (long)mmap(NULL, PG, PROT_READ, MAP_SHARED, pf, 0));
  SHOW("mmap /proc/self/status private", (long)mmap(NULL, PG, PROT_READ, MAP_PRIVATE, pf, 0));
  SHOW("mmap /proc/self/mem", (long)mmap(NULL, PG, PROT_READ, MAP_PRIVATE, mf, 0));
  close(pf); close(mf);

  leave_tmpdir();
  printf("done\n");
  return 0;
}
