/* crash MODE: dies the way MODE says (segv, abort, exit N, kill N, div0); no argument: prints done. */
#include "common.h"
#include <signal.h>

int main(int argc, char **argv) {
  guest_init();
  if (argc < 2) { printf("done\n"); return 0; }
  const char *m = argv[1];
  printf("crashing: %s\n", m);
  if (!strcmp(m, "segv")) *(volatile int *)8 = 1;
  if (!strcmp(m, "abort")) abort();
  if (!strcmp(m, "div0")) { volatile int z = 0; printf("%d\n", 10 / z); }
  if (!strcmp(m, "exit")) exit(atoi(argv[2]));
  if (!strcmp(m, "kill")) kill(getpid(), atoi(argv[2]));
  printf("still alive\n");
  return 0;
}
