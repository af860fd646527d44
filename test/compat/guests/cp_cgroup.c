/* The sandbox's cgroup v2 hierarchy: a child group (mkdir), the pids controller handed
 * down by subtree_control, a process moved in by cgroup.procs (and /proc/self/cgroup),
 * pids.max enforced at fork (EAGAIN), the "no internal processes" rule, rmdir EBUSY
 * while populated. Children wait on pipes, so the counts never depend on scheduling. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup_put.h"

static void show(const char *path) {
  char b[256] = "";
  int fd = open(path, O_RDONLY);
  ssize_t n = fd < 0 ? -1 : read(fd, b, sizeof b - 1);
  if (fd >= 0) close(fd);
  if (n > 0 && b[n - 1] == '\n') n--;
  printf("%s: %s\n", path, n < 0 ? strerror(errno) : (b[n > 0 ? n : 0] = 0, b));
}

static void said(const char *what, int r) { printf("%s: %s\n", what, r == 0 ? "ok" : strerror(-r)); }

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  said("mkdir t", mkdir(CG "/t", 0755) == 0 ? 0 : -errno);
  said("mkdir t again", mkdir(CG "/t", 0755) == 0 ? 0 : -errno);
  printf("pids.max before +pids: %s\n", access(CG "/t/pids.max", F_OK) == 0 ? "there" : "absent");
  said("+nosuch", put(CG "/cgroup.subtree_control", "+nosuch"));
  said("+pids", put(CG "/cgroup.subtree_control", "+pids"));
  show(CG "/cgroup.subtree_control");
  show(CG "/t/cgroup.controllers");
  show(CG "/t/pids.max");
  said("pids.max = abc", put(CG "/t/pids.max", "abc"));
  said("pids.max = 2", put(CG "/t/pids.max", "2\n"));
  show(CG "/t/pids.max");
  said("move pid 999999", put(CG "/t/cgroup.procs", "999999"));

  int go[2], done[2];
  if (pipe(go) || pipe(done)) return 1;
  pid_t in = fork();
  if (in == 0) {
    /* The process in t: one child may exist beside it, a second may not. */
    char me[32];
    snprintf(me, sizeof me, "%d\n", (int)getpid());
    said("move self into t", put(CG "/t/cgroup.procs", me));
    show("/proc/self/cgroup");
    show(CG "/t/pids.current");
    int hold[2];
    if (pipe(hold)) _exit(1);
    pid_t a = fork();
    if (a == 0) { char c; close(hold[1]); read(hold[0], &c, 1); _exit(0); }
    close(hold[0]);
    show(CG "/t/pids.current");
    pid_t b = fork();
    if (b == 0) _exit(0);
    printf("a third task in t: %s\n", b < 0 ? strerror(errno) : "made");
    if (b > 0) waitpid(b, NULL, 0);
    close(hold[1]);
    waitpid(a, NULL, 0);
    b = fork();
    if (b == 0) _exit(0);
    printf("after the first child ended: %s\n", b < 0 ? strerror(errno) : "made");
    if (b > 0) waitpid(b, NULL, 0);
    char c = 1;
    write(done[1], &c, 1);
    read(go[0], &c, 1);
    _exit(0);
  }
  char c;
  read(done[0], &c, 1);
  show(CG "/t/cgroup.procs");
  said("rmdir t while populated", rmdir(CG "/t") == 0 ? 0 : -errno);
  said("mkdir t/u", mkdir(CG "/t/u", 0755) == 0 ? 0 : -errno);
  said("+pids in t (it has a process)", put(CG "/t/cgroup.subtree_control", "+pids"));
  write(go[1], &c, 1);
  waitpid(in, NULL, 0);
  show(CG "/t/cgroup.events");
  said("+pids in t (empty now)", put(CG "/t/cgroup.subtree_control", "+pids"));
  char me[32];
  snprintf(me, sizeof me, "%d", (int)getpid());
  said("a process into t (it hands pids down)", put(CG "/t/cgroup.procs", me));
  said("-pids at the root while t uses it", put(CG "/cgroup.subtree_control", "-pids"));
  said("rmdir t (it has a child)", rmdir(CG "/t") == 0 ? 0 : -errno);
  said("rmdir t/u", rmdir(CG "/t/u") == 0 ? 0 : -errno);
  said("rmdir t", rmdir(CG "/t") == 0 ? 0 : -errno);
  show("/proc/self/cgroup");
  return 0;
}
