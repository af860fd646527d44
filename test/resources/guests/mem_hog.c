/* Memory beyond the sandbox's limit. argv[1]:
 *   big      one malloc of 2 GiB: ENOMEM (Linux's overcommit heuristic, limit = RAM)
 *   touch    64 MiB chunks, each touched, up to 2 GiB: killed (OOM) or ENOMEM
 *   noreserve  a 64 GiB MAP_NORESERVE reservation succeeds (only reserved), 1 MiB touched
 *   fits     128 MiB touched: fine
 * Prints what it got; the touch case should never print "touched 2048 MiB". */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int main(int argc, char **argv) {
  const char *m = argc > 1 ? argv[1] : "touch";
  if (!strcmp(m, "big")) {
    void *p = mmap(NULL, 2UL << 30, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    printf("mmap 2 GiB: %s\n", p == MAP_FAILED ? strerror(errno) : "ok");
    void *b = sbrk(0);
    printf("brk +2 GiB: %s\n", brk((char *)b + (2UL << 30)) != 0 ? strerror(errno) : "ok");
    return 0;
  }
  if (!strcmp(m, "noreserve")) {
    char *p = mmap(NULL, 64UL << 30, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) { printf("noreserve 64 GiB: %s\n", strerror(errno)); return 1; }
    memset(p, 1, 1 << 20);
    memset(p + (32UL << 30), 1, 1 << 20);
    printf("noreserve 64 GiB: ok, touched 2 MiB\n");
    return 0;
  }
  size_t limit = !strcmp(m, "fits") ? 128 : 2048;
  size_t done = 0;
  while (done < limit) {
    char *p = mmap(NULL, 64 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) { printf("mmap after %zu MiB: %s\n", done, strerror(errno)); return 0; }
    for (size_t i = 0; i < (64 << 20); i += 4096) p[i] = 1;
    done += 64;
  }
  printf("touched %zu MiB\n", done);
  return 0;
}
