/* The memory, cpu, cpuset and io controllers in a child group of the sandbox's cgroup v2
 * hierarchy: enabled by the root's subtree_control, their files with the formats and
 * checks of Documentation/admin-guide/cgroup-v2.rst (memory.max rounded down to pages,
 * "max", EINVAL for bad input; cpu.max's quota and period bounds; cpu.weight's range;
 * cpuset.cpus within the CPUs there are), and memory.current counting the resident
 * memory of a process moved in. */
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

static long long num(const char *path) {
  char b[64] = "";
  int fd = open(path, O_RDONLY);
  ssize_t n = fd < 0 ? -1 : read(fd, b, sizeof b - 1);
  if (fd >= 0) close(fd);
  return n > 0 ? atoll(b) : -1;
}

static void show(const char *path) {
  char b[512] = "";
  int fd = open(path, O_RDONLY);
  ssize_t n = fd < 0 ? -1 : read(fd, b, sizeof b - 1);
  if (fd >= 0) close(fd);
  if (n > 0 && b[n - 1] == '\n') n--;
  printf("%s: %s\n", path + strlen(CG) + 1, n < 0 ? strerror(errno) : (b[n > 0 ? n : 0] = 0, b));
}

static void said(const char *what, int r) { printf("%s: %s\n", what, r == 0 ? "ok" : strerror(-r)); }

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  said("mkdir m", mkdir(CG "/m", 0755) == 0 ? 0 : -errno);
  printf("memory.max before +memory: %s\n", access(CG "/m/memory.max", F_OK) == 0 ? "there" : "absent");
  said("+memory +cpu +cpuset +io", put(CG "/cgroup.subtree_control", "+memory +cpu +cpuset +io"));
  show(CG "/cgroup.subtree_control");
  show(CG "/m/cgroup.controllers");

  show(CG "/m/memory.max");
  said("memory.max = 1M", put(CG "/m/memory.max", "1M"));
  show(CG "/m/memory.max");
  said("memory.max = 10000 (not a page multiple)", put(CG "/m/memory.max", "10000\n"));
  show(CG "/m/memory.max");
  said("memory.max = abc", put(CG "/m/memory.max", "abc"));
  said("memory.max = 1X", put(CG "/m/memory.max", "1X"));
  said("memory.max = max", put(CG "/m/memory.max", "max"));
  show(CG "/m/memory.max");
  said("memory.high = 64k", put(CG "/m/memory.high", "64k"));
  show(CG "/m/memory.high");
  show(CG "/m/memory.low");
  show(CG "/m/memory.min");
  show(CG "/m/memory.swap.max");
  show(CG "/m/memory.events");
  printf("memory.current, nothing in m: %lld\n", num(CG "/m/memory.current"));

  show(CG "/m/cpu.max");
  said("cpu.max = 50000", put(CG "/m/cpu.max", "50000"));
  show(CG "/m/cpu.max");
  said("cpu.max = 50000 200000", put(CG "/m/cpu.max", "50000 200000"));
  show(CG "/m/cpu.max");
  said("cpu.max = 500 (under 1 ms)", put(CG "/m/cpu.max", "500"));
  said("cpu.max = max 2000000 (period over 1 s)", put(CG "/m/cpu.max", "max 2000000"));
  said("cpu.max = max", put(CG "/m/cpu.max", "max"));
  show(CG "/m/cpu.max");
  show(CG "/m/cpu.weight");
  said("cpu.weight = 0", put(CG "/m/cpu.weight", "0"));
  said("cpu.weight = 10001", put(CG "/m/cpu.weight", "10001"));
  said("cpu.weight = 50", put(CG "/m/cpu.weight", "50"));
  show(CG "/m/cpu.weight");

  show(CG "/m/cpuset.cpus");
  said("cpuset.cpus = 0", put(CG "/m/cpuset.cpus", "0"));
  show(CG "/m/cpuset.cpus");
  show(CG "/m/cpuset.cpus.effective");
  said("cpuset.cpus = 64 (no such CPU)", put(CG "/m/cpuset.cpus", "64"));
  show(CG "/m/cpuset.mems.effective");
  show(CG "/m/io.weight");

  int go[2], done[2];
  if (pipe(go) || pipe(done)) return 1;
  pid_t in = fork();
  if (in == 0) {
    char me[32];
    snprintf(me, sizeof me, "%d\n", (int)getpid());
    said("move a process into m", put(CG "/m/cgroup.procs", me));
    /* Touch 8 MiB so that its resident memory is well above nothing. */
    volatile char *p = malloc(8 << 20);
    for (int i = 0; i < 8 << 20; i += 4096) p[i] = 1;
    if (write(done[1], "x", 1) != 1) _exit(1);
    char c;
    if (read(go[0], &c, 1) != 1) _exit(1);
    _exit(p[100] == 1 ? 0 : 1);
  }
  char c;
  if (read(done[0], &c, 1) != 1) return 1;
  long long cur = num(CG "/m/memory.current"), root = num(CG "/memory.current");
  printf("memory.current with it: at least 8 MiB: %s, at most the root's: %s\n", cur >= (8 << 20) ? "yes" : "no",
    cur <= root ? "yes" : "no");
  if (write(go[1], "x", 1) != 1) return 1;
  int st;
  waitpid(in, &st, 0);
  printf("memory.current once it ended: %lld\n", num(CG "/m/memory.current"));
  said("rmdir m", rmdir(CG "/m") == 0 ? 0 : -errno);
  said("-memory -cpu -cpuset -io", put(CG "/cgroup.subtree_control", "-memory -cpu -cpuset -io"));
  show(CG "/cgroup.subtree_control");
  return 0;
}
