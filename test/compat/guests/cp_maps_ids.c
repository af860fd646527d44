/* /proc/PID/maps names each file mapping's device and inode (issue 15): the program's
 * own ELF segments (mapped by the loader), its interpreter's and libc's (dynamic), and a
 * file the program maps itself all show stat(2)'s st_dev as MAJOR:MINOR in hex and its
 * st_ino; anonymous memory shows 00:00 0. Against Linux. */
#define _GNU_SOURCE
#include "common.h"
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/sysmacros.h>

struct tally { int maps, match; };

/* Every mapping of a file whose path contains `part` (NULL: every file mapping). */
static struct tally check(const char *part) {
  struct tally t = {0, 0};
  FILE *f = fopen("/proc/self/maps", "r");
  if (!f) return t;
  char line[4096];
  while (fgets(line, sizeof line, f)) {
    unsigned long lo, hi, off, ino;
    unsigned maj, min;
    char perms[8], path[4000] = "";
    if (sscanf(line, "%lx-%lx %7s %lx %x:%x %lu %3999[^\n]", &lo, &hi, perms, &off, &maj, &min, &ino, path) < 7) continue;
    char *p = path;
    while (*p == ' ') p++;
    if (*p != '/') continue;
    if (part && !strstr(p, part)) continue;
    struct stat st;
    if (stat(p, &st) != 0) continue;
    t.maps++;
    if (maj == major(st.st_dev) && min == minor(st.st_dev) && ino == st.st_ino) t.match++;
  }
  fclose(f);
  return t;
}

/* Anonymous mappings (no path, or a [name]) all show device 00:00 and inode 0. */
static int anon_zero(void) {
  FILE *f = fopen("/proc/self/maps", "r");
  if (!f) return 0;
  char line[4096];
  int ok = 1, seen = 0;
  while (fgets(line, sizeof line, f)) {
    unsigned long lo, hi, off, ino;
    char perms[8], dev[16], path[4000] = "";
    if (sscanf(line, "%lx-%lx %7s %lx %15s %lu %3999[^\n]", &lo, &hi, perms, &off, dev, &ino, path) < 6) continue;
    char *p = path;
    while (*p == ' ') p++;
    if (*p == '/') continue;
    /* The vdso/vvar/vsyscall pages are the kernel's own: still 00:00 0. */
    seen++;
    if (strcmp(dev, "00:00") != 0 || ino != 0) ok = 0;
  }
  fclose(f);
  return ok && seen > 0;
}

int main(int argc, char **argv) {
  (void)argc;
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  MUST(n);
  exe[n] = 0;
  struct tally t = check(exe);
  FACT("the program's segments are in maps", t.maps > 0);
  FACT("each shows the program's dev and inode", t.maps > 0 && t.match == t.maps);

  /* A file the program maps itself: the same rule. */
  char tmp[] = "/tmp/cp_maps_ids.XXXXXX";
  int fd = mkstemp(tmp);
  MUST(fd);
  MUST(ftruncate(fd, 4096));
  void *m = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
  MUST(m == MAP_FAILED ? -1 : 0);
  t = check(tmp);
  FACT("a mapped file shows its dev and inode", t.maps == 1 && t.match == 1);
  munmap(m, 4096);
  close(fd);
  unlink(tmp);

  t = check(NULL);
  FACT("every file mapping shows its file's dev and inode", t.maps > 0 && t.match == t.maps);
  FACT("anonymous mappings show 00:00 0", anon_zero());
  (void)argv;
  return 0;
}
