/* memory.max enforced in child groups of the sandbox's cgroup v2 hierarchy, as
 * Documentation/admin-guide/cgroup-v2.rst says (no swap here): a process under the limit
 * runs; one whose group goes over it is OOM-killed (SIGKILL) and memory.events counts it
 * (oom, oom_kill; hierarchical: a parent counts its children's); writing a limit below the
 * group's usage kills at once. pids.max's EAGAIN at fork is cp_cgroup's. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cgroup_put.h"


static void said(const char *what, int r) { printf("%s: %s\n", what, r == 0 ? "ok" : strerror(-r)); }

/* memory.events' field as "0", "1", or ">1" (how many times the limit was hit is the kernel's business). */
static void events(const char *group) {
  char path[128], b[512] = "";
  snprintf(path, sizeof path, CG "/%s/memory.events", group);
  if (read_text(path, b, sizeof b) < 0) { printf("%s: %s\n", path, strerror(errno)); return; }
  long long max = -1, oom = -1, kill = -1;
  for (char *l = strtok(b, "\n"); l; l = strtok(NULL, "\n")) {
    sscanf(l, "max %lld", &max);
    sscanf(l, "oom %lld", &oom);
    sscanf(l, "oom_kill %lld", &kill);
  }
  printf("%s/memory.events: max hit: %s, oom %lld, oom_kill %lld\n", group, max > 0 ? "yes" : "no", oom, kill);
}

static void ended(const char *what, pid_t p) {
  int st;
  if (waitpid(p, &st, 0) < 0) { printf("%s: waitpid %s\n", what, strerror(errno)); return; }
  if (WIFEXITED(st)) printf("%s: exit %d\n", what, WEXITSTATUS(st));
  else printf("%s: killed by %s\n", what, strsignal(WTERMSIG(st)));
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  int done[2], go[2];
  if (pipe(done) || pipe(go)) return 1;
  char c;
  said("mkdir o", mkdir(CG "/o", 0755) == 0 ? 0 : -errno);
  said("+memory", put(CG "/cgroup.subtree_control", "+memory"));
  said("o/memory.max = 32M", put(CG "/o/memory.max", "32M"));

  pid_t a = hog("o", 12, done[1], go[0]);
  if (read(done[0], &c, 1) != 1) return 1;
  if (write(go[1], "x", 1) != 1) return 1;
  ended("12 MiB in a 32 MiB group", a);
  events("o");

  pid_t b = hog("o", 64, done[1], -1);
  ended("64 MiB in a 32 MiB group", b);
  events("o");

  said("mkdir o/p", mkdir(CG "/o/p", 0755) == 0 ? 0 : -errno);
  said("o: +memory", put(CG "/o/cgroup.subtree_control", "+memory"));
  said("o/p/memory.max = 16M", put(CG "/o/p/memory.max", "16M"));
  pid_t n = hog("o/p", 24, done[1], -1);
  ended("24 MiB in a 16 MiB group inside the 32 MiB one", n);
  events("o/p");
  events("o");

  said("o/p/memory.max = max", put(CG "/o/p/memory.max", "max"));
  pid_t d = hog("o/p", 12, done[1], go[0]);
  if (read(done[0], &c, 1) != 1) return 1;
  said("o/p/memory.max = 4M, below its usage", put(CG "/o/p/memory.max", "4M"));
  ended("12 MiB in a group whose limit fell to 4 MiB", d);
  events("o/p");

  said("rmdir o/p", rmdir(CG "/o/p") == 0 ? 0 : -errno);
  said("rmdir o", rmdir(CG "/o") == 0 ? 0 : -errno);
  return 0;
}
