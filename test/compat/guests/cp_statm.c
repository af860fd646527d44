/* /proc/self/statm (issue 15: accounting must be real): resident pages above zero and
 * within the size, text pages for the program, lib and dt 0, and touching 4 MiB of a
 * fresh allocation grows size, resident and data by at least that. Against Linux. */
#define _GNU_SOURCE
#include "common.h"
#include <sys/mman.h>

struct statm { unsigned long size, resident, shared, text, lib, data, dt; };

static int read_statm(struct statm *s) {
  FILE *f = fopen("/proc/self/statm", "r");
  if (!f) return -1;
  int n = fscanf(f, "%lu %lu %lu %lu %lu %lu %lu", &s->size, &s->resident, &s->shared, &s->text, &s->lib, &s->data, &s->dt);
  fclose(f);
  return n == 7 ? 0 : -1;
}

int main(void) {
  struct statm a, b;
  MUST(read_statm(&a));
  FACT("resident above zero", a.resident > 0);
  FACT("resident within the size", a.resident <= a.size);
  FACT("shared within resident", a.shared <= a.resident);
  FACT("text pages for the program", a.text > 0);
  FACT("lib and dt are 0", a.lib == 0 && a.dt == 0);
  const size_t len = 4 << 20;
  volatile char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  MUST(p == MAP_FAILED ? -1 : 0);
  for (size_t i = 0; i < len; i += 4096) p[i] = 1;
  MUST(read_statm(&b));
  unsigned long pages = len / 4096;
  FACT("size grew by the mapping", b.size >= a.size + pages);
  FACT("resident grew by the pages touched", b.resident >= a.resident + pages);
  FACT("data grew by the mapping", b.data >= a.data + pages);
  munmap((void *)p, len);
  return 0;
}
