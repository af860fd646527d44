// Prints how the kernel laid out this program's and its interpreter's ELF segments
// (permissions, file offset, address relative to the file's first mapping: not the
// addresses themselves, which ASLR moves natively), and checks their bytes: initialized
// data and .bss (which starts mid-page, in the zeroed rest of the last file page).
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int data[2048] = {1, 2, 3, [2047] = 7};
static char bss[3 * 4096 + 123];
extern char __data_start, _edata;

static void layout(const char* want, const char* tag) {
  FILE* f = fopen("/proc/self/maps", "r");
  char line[512];
  unsigned long first = 0;
  while (f && fgets(line, sizeof line, f)) {
    unsigned long lo, hi, off;
    char perms[8], path[256] = "";
    if (sscanf(line, "%lx-%lx %7s %lx %*s %*s %255s", &lo, &hi, perms, &off, path) < 4) continue;
    if (strcmp(want, "interp") == 0 ? !strstr(path, "ld-linux") : strcmp(path, want) != 0) continue;
    if (!first) first = lo;
    printf("%s %s off=%lx at=+%lx len=%lx\n", tag, perms, off, lo - first, hi - lo);
  }
  if (f) fclose(f);
}

int main(void) {
  char exe[256];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n < 0) return 1;
  exe[n] = 0;
  layout(exe, "exe");
  layout("interp", "interp");
  long sum = 0;
  for (int i = 0; i < 2048; i++) sum += data[i];
  int zero = 1;
  for (size_t i = 0; i < sizeof bss; i++) zero &= bss[i] == 0;
  bss[sizeof bss - 1] = 1; // writable to its end
  printf("data sum %ld, bss zero %d, data %ld bytes\n", sum, zero, (long)(&_edata - &__data_start));
  return 0;
}
