// Memory a restore maps lazily from its image (src/snapshot/memory.ts): after the restore,
// pages the guest drops (MADV_DONTNEED, MADV_FREE then written, mremap's growth) read zero,
// pages it writes keep what it wrote, the rest keep their bytes, pages never touched
// before the checkpoint read zero, a read-only mapping too, and a fork's writes stay its own.
// Each line says whether all of it held; natively and checkpointed + restored the output
// is the same. Usage: lazy_memory N [wait] (iterations, ~3 ms each; wait: read a line from
// stdin half way, so a test can act while the restored guest still maps its image).
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096
#define NPAGES 1024 /* 4 MiB read-write */
#define NRO 256     /* 1 MiB read-only */

static unsigned char *rw, *ro;
static unsigned char zero_rw[NPAGES], zero_ro[NRO];

static unsigned char byte(size_t page, size_t off, int which) { return (unsigned char)((page * 31 + off * 7 + which * 3) | 1); }

static void fill(unsigned char *m, size_t page, int which) {
  for (size_t o = 0; o < PAGE; o++) m[page * PAGE + o] = byte(page, o, which);
}

/** The first page that is not what the guest expects, or -1. */
static long check(const unsigned char *m, size_t n, const unsigned char *zero, int which) {
  for (size_t p = 0; p < n; p++)
    for (size_t o = 0; o < PAGE; o++)
      if (m[p * PAGE + o] != (zero[p] ? 0 : byte(p, o, which))) return (long)p;
  return -1;
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 300;
  int wait = argc > 2 && strcmp(argv[2], "wait") == 0;
  rw = mmap(NULL, NPAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ro = mmap(NULL, NRO * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (rw == MAP_FAILED || ro == MAP_FAILED) return 1;
  // The first half one run of pages (mapped from the image), the second with every eighth
  // page never touched: holes between short runs (written), which must read zero.
  for (size_t p = 0; p < NPAGES; p++) {
    if (p >= NPAGES / 2 && p % 8 == 5) zero_rw[p] = 1;
    else fill(rw, p, 0);
  }
  for (size_t p = 0; p < NRO; p++) fill(ro, p, 1);
  mprotect(ro, NRO * PAGE, PROT_READ);
  for (int i = 0; i < n; i++) {
    long bad = check(rw, NPAGES, zero_rw, 0), bad_ro = check(ro, NRO, zero_ro, 1);
    if (bad < 0 && bad_ro < 0) printf("%d ok\n", i);
    else printf("%d bad: page %ld of rw, %ld of ro\n", i, bad, bad_ro);
    fflush(stdout);
    size_t p = (size_t)(i * 37) % (NPAGES - 1);
    switch (i % 4) {
      case 0: // two pages dropped
        madvise(rw + p * PAGE, 2 * PAGE, MADV_DONTNEED);
        zero_rw[p] = zero_rw[p + 1] = 1;
        madvise(ro + (i % NRO) * PAGE, PAGE, MADV_DONTNEED);
        zero_ro[i % NRO] = 1;
        break;
      case 1: // a page written again
        fill(rw, p, 0);
        zero_rw[p] = 0;
        break;
      case 2: // freed, then written: it holds what was written
        madvise(rw + p * PAGE, PAGE, MADV_FREE);
        fill(rw, p, 0);
        zero_rw[p] = 0;
        break;
      case 3:
        if (i % 40 == 3) { // grown (maybe moved): the new half reads zero; shrunk back
          unsigned char *g = mremap(rw, NPAGES * PAGE, 2 * NPAGES * PAGE, MREMAP_MAYMOVE);
          if (g == MAP_FAILED) { printf("%d mremap failed\n", i); return 1; }
          for (size_t o = NPAGES * PAGE; o < 2 * NPAGES * PAGE; o += 512)
            if (g[o]) { printf("%d grown part not zero\n", i); break; }
          rw = mremap(g, 2 * NPAGES * PAGE, NPAGES * PAGE, 0);
        } else if (i % 40 == 7) { // a fork's writes are its own
          pid_t c = fork();
          if (c == 0) {
            memset(rw, 0x5a, 16 * PAGE);
            _exit(0);
          }
          waitpid(c, NULL, 0);
        }
        break;
    }
    if (wait && i == n / 2) {
      char line[64];
      if (!fgets(line, sizeof line, stdin)) return 2;
    }
    usleep(3000);
  }
  return 0;
}
