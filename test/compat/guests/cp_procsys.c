/* What tools read to size themselves agrees with itself: CPUs, /proc/vmstat, /proc/diskstats, /sys/block. */
#include "common.h"
#include <dirent.h>
#include <sched.h>

static int count_lines(const char *path, const char *prefix) {
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  char l[4096];
  int n = 0;
  while (fgets(l, sizeof l, f)) if (!strncmp(l, prefix, strlen(prefix))) n++;
  fclose(f);
  return n;
}

static int range_count(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  int n = 0, a, b;
  char sep;
  while (fscanf(f, "%d", &a) == 1) {
    b = a;
    if (fscanf(f, "%c", &sep) == 1 && sep == '-') { if (fscanf(f, "%d", &b) != 1) break; if (fscanf(f, "%c", &sep) != 1) sep = 0; }
    n += b - a + 1;
    if (sep != ',') break;
  }
  fclose(f);
  return n;
}

static int dir_entries(const char *path, const char *prefix) {
  DIR *d = opendir(path);
  if (!d) return -1;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d))) if (e->d_name[0] != '.' && !strncmp(e->d_name, prefix, strlen(prefix))) {
    const char *r = e->d_name + strlen(prefix);
    if (*r >= '0' && *r <= '9') n++;
  }
  closedir(d);
  return n;
}

int main(void) {
  cpu_set_t set;
  sched_getaffinity(0, sizeof set, &set);
  int aff = CPU_COUNT(&set);
  long onln = sysconf(_SC_NPROCESSORS_ONLN), conf = sysconf(_SC_NPROCESSORS_CONF);
  FACT("affinity == online", aff == onln);
  FACT("online == configured", onln == conf);
  FACT("/proc/cpuinfo processors == online", count_lines("/proc/cpuinfo", "processor") == onln);
  FACT("/sys/devices/system/cpu/online == online", range_count("/sys/devices/system/cpu/online") == onln);
  FACT("cpuN directories == configured", dir_entries("/sys/devices/system/cpu", "cpu") == conf);
  FACT("/proc/stat cpuN lines == online", count_lines("/proc/stat", "cpu") - 1 == onln);
  FACT("/proc/vmstat has pgfault", count_lines("/proc/vmstat", "pgfault ") == 1);
  FACT("/proc/vmstat has nr_free_pages", count_lines("/proc/vmstat", "nr_free_pages ") == 1);
  FACT("/proc/diskstats readable", count_lines("/proc/diskstats", "") >= 0);
  FACT("/sys/block listable", dir_entries("/sys/block", "") >= 0);
  FACT("/proc/self/io has rchar", count_lines("/proc/self/io", "rchar:") == 1);
  printf("done\n");
  return 0;
}
