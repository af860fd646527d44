// Touches N MiB of anonymous memory (argv[1]), one page at a time, then prints "done".
// Under a host memory cgroup smaller than that it is OOM-killed before "done".
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

int main(int argc, char** argv) {
  long mib = argc > 1 ? atol(argv[1]) : 512;
  for (long i = 0; i < mib; i++) {
    char* p = mmap(0, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
      printf("mmap failed at %ld MiB\n", i);
      return 1;
    }
    for (long j = 0; j < (1 << 20); j += 4096) p[j] = 1;
  }
  printf("done\n");
  return 0;
}
