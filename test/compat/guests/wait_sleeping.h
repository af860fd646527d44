/* Waits until process p sleeps (S in /proc/p/stat): in the call a test wants it blocked in. */
#ifndef TSS_WAIT_SLEEPING_H
#define TSS_WAIT_SLEEPING_H
#include <stdio.h>
#include <string.h>
#include <unistd.h>
static void wait_sleeping(pid_t p) {
  char path[64], buf[256];
  snprintf(path, sizeof path, "/proc/%d/stat", p);
  for (;;) {
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f) fclose(f);
    buf[n] = 0;
    char *e = strrchr(buf, ')');
    if (e && e[2] == 'S') return;
    usleep(1000);
  }
}
#endif
