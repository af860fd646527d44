/* /proc/PID/{mem,maps,smaps,environ,auxv} opened before an exec keep the old address space
 * (Linux's proc_mem_open holds the mm): after the exec, mem, maps and environ read and write
 * 0 bytes (the old mm has no user), never the new program's memory; auxv still shows the
 * saved vector. A parent's fd on its child's mem, and a vfork parent's mm still in use,
 * as Linux. Opened after the exec, the files show the new program. */
#define _GNU_SOURCE
#include "common.h"
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>

static char marker[16] = "cp_mem_exec";

static void show(const char *label, long r) {
  if (r < 0) printf("%s: -1 %s\n", label, ename(errno));
  else printf("%s: %s\n", label, r == 0 ? "0" : "bytes");
}

static void after(char **argv) {
  int mem = atoi(argv[2]), maps = atoi(argv[3]), smaps = atoi(argv[4]), env = atoi(argv[5]), aux = atoi(argv[6]);
  unsigned long addr = strtoul(argv[7], 0, 16);
  char b[64];
  errno = 0;
  show("after exec: mem read", pread(mem, b, sizeof b, (off_t)addr));
  show("after exec: mem read of this program's marker", pread(mem, b, sizeof b, (off_t)(unsigned long)marker));
  show("after exec: mem write", pwrite(mem, "x", 1, (off_t)(unsigned long)marker));
  ssize_t n = read(maps, b, sizeof b);
  show("after exec: maps read (rest of the line read from)", n);
  printf("after exec: that rest ends its line: %s\n", n > 0 && b[n - 1] == '\n' ? "yes" : "no");
  show("after exec: maps read again", read(maps, b, sizeof b));
  show("after exec: smaps read", read(smaps, b, sizeof b));
  show("after exec: environ read", read(env, b, sizeof b));
  show("after exec: auxv read", read(aux, b, sizeof b));
  int m2 = open("/proc/self/mem", O_RDWR);
  show("reopened mem: read marker", pread(m2, b, sizeof marker, (off_t)(unsigned long)marker));
  printf("reopened mem: same bytes: %s\n", memcmp(b, marker, sizeof marker) == 0 ? "yes" : "no");
  int mp = open("/proc/self/maps", O_RDONLY);
  show("reopened maps", read(mp, b, sizeof b));
}

static int vchild(void *arg) {
  *(int *)arg = open("/proc/self/mem", O_RDONLY);
  execl("/proc/self/exe", "cp_mem_exec", "idle", (char *)0);
  _exit(1);
}

int main(int argc, char **argv) {
  if (argc > 7 && strcmp(argv[1], "after") == 0) { after(argv); return 0; }
  if (argc > 1 && strcmp(argv[1], "idle") == 0) { pause(); return 0; }
  setvbuf(stdout, 0, _IONBF, 0);
  char b[64], fds[6][16], addr[32];

  /* 1. The process's own files, across its exec. */
  pid_t c = fork();
  if (c == 0) {
    int mem = open("/proc/self/mem", O_RDWR), maps = open("/proc/self/maps", O_RDONLY);
    int smaps = open("/proc/self/smaps", O_RDONLY), env = open("/proc/self/environ", O_RDONLY);
    int aux = open("/proc/self/auxv", O_RDONLY);
    show("before exec: mem read", pread(mem, b, sizeof marker, (off_t)(unsigned long)marker));
    show("before exec: maps read (start)", read(maps, b, 8));
    int v[5] = {mem, maps, smaps, env, aux};
    for (int i = 0; i < 5; i++) snprintf(fds[i], sizeof fds[i], "%d", v[i]);
    snprintf(addr, sizeof addr, "%lx", (unsigned long)marker);
    execl("/proc/self/exe", "cp_mem_exec", "after", fds[0], fds[1], fds[2], fds[3], fds[4], addr, (char *)0);
    _exit(1);
  }
  int st;
  waitpid(c, &st, 0);
  printf("child exit %d\n", WEXITSTATUS(st));

  /* 2. A parent's fd on its (forked, same layout) child's mem: the child execs, the fd reads 0. */
  int go[2];
  pipe(go);
  c = fork();
  if (c == 0) {
    char g;
    close(go[1]);
    read(go[0], &g, 1);
    execl("/proc/self/exe", "cp_mem_exec", "idle", (char *)0);
    _exit(1);
  }
  close(go[0]);
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/mem", (int)c);
  int cm = open(path, O_RDONLY);
  show("parent: child's mem before its exec", pread(cm, b, sizeof marker, (off_t)(unsigned long)marker));
  printf("parent: child's marker: %s\n", memcmp(b, marker, sizeof marker) == 0 ? "yes" : "no");
  write(go[1], "g", 1);
  for (int i = 0; i < 2000; i++) {
    snprintf(path, sizeof path, "/proc/%d/cmdline", (int)c);
    int f = open(path, O_RDONLY);
    ssize_t n = read(f, b, sizeof b - 1);
    close(f);
    if (n > 12 && memcmp(b + 12, "idle", 4) == 0) break;
    usleep(1000);
  }
  show("parent: child's mem after its exec", pread(cm, b, sizeof marker, (off_t)(unsigned long)marker));
  kill(c, SIGKILL);
  waitpid(c, &st, 0);
  show("parent: child's mem after its death", pread(cm, b, sizeof marker, (off_t)(unsigned long)marker));

  /* 3. vfork sharing the fd table: the child's /proc/self/mem is the parent's mm, still in
   * use after the child's exec. */
  static char stack[65536];
  static int vm = -1;
  c = clone(vchild, stack + sizeof stack, CLONE_VM | CLONE_VFORK | CLONE_FILES | SIGCHLD, &vm);
  show("vfork child's mem fd, after its exec: read the parent's marker", pread(vm, b, sizeof marker, (off_t)(unsigned long)marker));
  printf("vfork: marker: %s\n", memcmp(b, marker, sizeof marker) == 0 ? "yes" : "no");
  kill(c, SIGKILL);
  waitpid(c, &st, 0);
  return 0;
}
