// Copy-on-write fork as Linux gives it: after fork each side's writes to private memory
// are its own, whether made by the guest, by the kernel for it (read(2) into the
// buffer) or undone (MADV_DONTNEED gives zeros); a second fork and a grandchild see the
// memory as it was at their fork; mremap grows a forked region.
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGES 64
#define PG 4096

static char *mem;
static char heap_word[64] = "heap-before";

static unsigned sum(const char *p, size_t n) {
  unsigned s = 0;
  for (size_t i = 0; i < n; i++) s = s * 31 + (unsigned char)p[i];
  return s;
}

static void fill(char c) {
  for (int i = 0; i < PAGES; i++) memset(mem + i * PG, c + i % 7, PG);
}

static void report(const char *who) {
  printf("%s: page0 %c page5 %c page9 %02x page20 %c sum %08x heap %s\n", who, mem[0], mem[5 * PG], (unsigned char)mem[9 * PG],
         mem[20 * PG + 100], sum(mem, PAGES * PG), heap_word);
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  mem = mmap(NULL, PAGES * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  fill('a');
  int go[2], back[2];
  pipe(go);
  pipe(back);
  pid_t c = fork();
  if (c == 0) {
    mem[0] = 'C';                         // a guest write
    memset(mem + 9 * PG, 0, PG);          // a whole page
    madvise(mem + 9 * PG, PG, MADV_DONTNEED);
    int fd[2];
    pipe(fd);
    write(fd[1], "KERNEL", 6);
    read(fd[0], mem + 20 * PG + 100, 6);  // the kernel writes for the child
    strcpy(heap_word, "heap-child");
    char x;
    read(go[0], &x, 1);                   // the parent has written meanwhile
    report("child");
    pid_t g = fork();
    if (g == 0) {
      mem[5 * PG] = 'G';
      report("grandchild");
      _exit(0);
    }
    waitpid(g, NULL, 0);
    report("child after grandchild");
    char *big = mremap(mem, PAGES * PG, 2 * PAGES * PG, MREMAP_MAYMOVE);
    printf("child mremap: %s, old bytes %c, new bytes zero %s\n", big == MAP_FAILED ? "failed" : "ok",
           big == MAP_FAILED ? '?' : big[0], big != MAP_FAILED && big[PAGES * PG + 7] == 0 ? "yes" : "no");
    write(back[1], "y", 1);
    _exit(3);
  }
  mem[5 * PG] = 'P';
  mem[0] = 'p';
  strcpy(heap_word, "heap-parent");
  write(go[1], "x", 1);
  char y;
  read(back[0], &y, 1);
  int st;
  waitpid(c, &st, 0);
  report("parent");
  // A second fork of the same (now copy-on-write) memory.
  pid_t d = fork();
  if (d == 0) {
    report("second child");
    mem[1] = 'Q';
    _exit(mem[1] == 'Q' ? 4 : 5);
  }
  waitpid(d, &st, 0);
  printf("second child status %d; parent page0 byte1 %c\n", WEXITSTATUS(st), mem[1]);
  return 0;
}
