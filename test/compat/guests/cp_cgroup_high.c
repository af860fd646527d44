/* memory.high of a child group in the sandbox's cgroup v2 hierarchy, as
 * Documentation/admin-guide/cgroup-v2.rst says of a group with no swap: going over it never
 * invokes the OOM killer (the process runs on, its usage above the limit), and memory.events'
 * "high" counts it, hierarchically (the parent counts its child's). The process charging over
 * it is throttled instead (mm/memcontrol.c's penalty sleep, a memory stall): memory.pressure
 * (PSI) of its group and every group above counts the stalled time. Under the limit nothing
 * is counted. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup_put.h"


static void said(const char *what, int r) { printf("%s: %s\n", what, r == 0 ? "ok" : strerror(-r)); }

static long long field(const char *group, const char *file, const char *key) {
  char path[128], b[512] = "";
  snprintf(path, sizeof path, CG "/%s/%s", group, file);
  if (read_text(path, b, sizeof b) < 0) return -1;
  if (key == NULL) return atoll(b);
  size_t k = strlen(key);
  for (char *l = strtok(b, "\n"); l; l = strtok(NULL, "\n"))
    if (!strncmp(l, key, k) && l[k] == ' ') return atoll(l + k + 1);
  return -1;
}

static void events(const char *group) {
  printf("%s/memory.events: high %s, max %lld, oom %lld, oom_kill %lld\n", group,
         field(group, "memory.events", "high") > 0 ? ">0" : "0", field(group, "memory.events", "max"),
         field(group, "memory.events", "oom"), field(group, "memory.events", "oom_kill"));
}

/* memory.pressure: "some avg10=… avg60=… avg300=… total=µs" then "full …". */
static void pressure(const char *group) {
  char path[128], b[512] = "";
  snprintf(path, sizeof path, CG "/%s/memory.pressure", group);
  ssize_t n = read_text(path, b, sizeof b);
  char *some = strstr(b, "some avg10="), *full = strstr(b, "\nfull avg10=");
  char *ts = some ? strstr(some, "total=") : NULL;
  if (n <= 0 || !some || !full || !ts) { printf("%s/memory.pressure: unreadable (%s)\n", group, n < 0 ? strerror(errno) : b); return; }
  printf("%s/memory.pressure: some total %s\n", group, atoll(ts + 6) > 0 ? ">0" : "0");
}

static void ended(const char *what, pid_t p) {
  int st;
  if (waitpid(p, &st, 0) < 0) { printf("%s: waitpid %s\n", what, strerror(errno)); return; }
  if (WIFEXITED(st)) printf("%s: exit %d\n", what, WEXITSTATUS(st));
  else printf("%s: killed by %s\n", what, strsignal(WTERMSIG(st)));
}

static void run(const char *what, const char *g, int mib, long long high) {
  int done[2], go[2];
  char c;
  if (pipe(done) || pipe(go)) exit(1);
  pid_t a = hog(g, mib, done[1], go[0]);
  if (read(done[0], &c, 1) != 1) exit(1);
  long long cur = field(g, "memory.current", NULL);
  printf("%s: usage %s memory.high\n", what, cur > high ? "above" : "within");
  events(g);
  if (strchr(g, '/')) events("g");
  if (write(go[1], "x", 1) != 1) exit(1);
  ended(what, a);
  pressure(g);
  if (strchr(g, '/')) pressure("g");
  close(done[0]); close(done[1]); close(go[0]); close(go[1]);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  said("mkdir h", mkdir(CG "/h", 0755) == 0 ? 0 : -errno);
  said("+memory", put(CG "/cgroup.subtree_control", "+memory"));
  said("h/memory.high = 16M", put(CG "/h/memory.high", "16M"));
  run("4 MiB in a group with memory.high 16 MiB", "h", 4, 16 * MiB);
  run("48 MiB in a group with memory.high 16 MiB", "h", 48, 16 * MiB);
  said("mkdir g", mkdir(CG "/g", 0755) == 0 ? 0 : -errno);
  said("mkdir g/q", mkdir(CG "/g/q", 0755) == 0 ? 0 : -errno);
  said("g: +memory", put(CG "/g/cgroup.subtree_control", "+memory"));
  said("g/q/memory.high = 8M", put(CG "/g/q/memory.high", "8M"));
  events("g");
  pressure("g");
  run("32 MiB in g/q with memory.high 8 MiB", "g/q", 32, 8 * MiB);
  said("rmdir g/q", rmdir(CG "/g/q") == 0 ? 0 : -errno);
  said("rmdir g", rmdir(CG "/g") == 0 ? 0 : -errno);
  said("rmdir h", rmdir(CG "/h") == 0 ? 0 : -errno);
  return 0;
}
