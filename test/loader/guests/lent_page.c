// Maps a host file again and again (the program's own: /proc/self/exe) while its stack's
// lowest page and a private writable mapping hold a pattern: the Sentry lends such a page
// to the fd hand-over of a single-threaded address space and must put every byte back.
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static unsigned long stack_lo(void) {
  FILE* f = fopen("/proc/self/maps", "r");
  char line[512];
  unsigned long lo = 0, hi;
  while (f && fgets(line, sizeof line, f))
    if (strstr(line, "[stack]")) sscanf(line, "%lx-%lx", &lo, &hi);
  if (f) fclose(f);
  return lo;
}

static void fill(unsigned char* p, int seed) {
  for (int i = 0; i < 4096; i++) p[i] = (unsigned char)(i * 7 + seed);
}

static int same(const unsigned char* p, int seed) {
  for (int i = 0; i < 4096; i++)
    if (p[i] != (unsigned char)(i * 7 + seed)) return 0;
  return 1;
}

int main(void) {
  unsigned char* st = (unsigned char*)stack_lo();
  unsigned char* anon = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (!st || anon == MAP_FAILED) return 1;
  fill(st, 3);
  fill(anon, 5);
  int fd = open("/proc/self/exe", O_RDONLY);
  int mapped = 0;
  for (int i = 0; i < 50; i++) {
    unsigned char* p = mmap(0, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) break;
    mapped += memcmp(p, "\177ELF", 4) == 0;
    munmap(p, 4096);
  }
  printf("mapped %d, stack page kept %d, anonymous page kept %d\n", mapped, same(st, 3), same(anon, 5));
  return 0;
}
