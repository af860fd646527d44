/* clone3's CLONE_INTO_CGROUP in the sandbox's cgroup v2 hierarchy: the child is born in the
 * group the fd names (its /proc/self/cgroup, the group's cgroup.procs) while the parent
 * stays; the group's pids.max is the one checked (EAGAIN when full); a group that hands
 * controllers down takes no process (EBUSY); an fd of another directory is EBADF. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/sched.h>

#include "cgroup_put.h"

static void said(const char *what, long r) { printf("%s: %s\n", what, r >= 0 ? "ok" : strerror(-r)); }

static void show(const char *label, const char *path) {
  char b[256] = "";
  ssize_t n = read_text(path, b, sizeof b);
  if (n > 0 && b[n - 1] == '\n') b[n - 1] = 0;
  printf("%s: %s\n", label, n < 0 ? strerror(errno) : b);
}

/* clone3 into the group open at fd: the child waits on go, then exits. */
static long into(int fd, int go) {
  struct clone_args ca = {0};
  ca.flags = CLONE_INTO_CGROUP;
  ca.exit_signal = SIGCHLD;
  ca.cgroup = fd;
  long p = syscall(SYS_clone3, &ca, sizeof ca);
  if (p == 0) {
    char c;
    if (read(go, &c, 1) < 0) _exit(2);
    _exit(0);
  }
  return p < 0 ? -errno : p;
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  said("mkdir c", mkdir(CG "/c", 0755) == 0 ? 0 : -errno);
  said("+pids", put(CG "/cgroup.subtree_control", "+pids"));
  said("c/pids.max = 1", put(CG "/c/pids.max", "1"));
  int go[2];
  if (pipe(go)) return 1;
  int fd = open(CG "/c", O_RDONLY | O_DIRECTORY);
  long a = into(fd, go[0]);
  said("clone3 into c", a);
  char path[64];
  snprintf(path, sizeof path, "/proc/%ld/cgroup", a);
  show("the child's /proc/PID/cgroup", path);
  show("its parent's", "/proc/self/cgroup");
  /* The child is in c before clone3 returns: c's cgroup.procs lists it. */
  char b[64] = "", want[32];
  read_text(CG "/c/cgroup.procs", b, sizeof b);
  snprintf(want, sizeof want, "%ld\n", a);
  printf("c/cgroup.procs is the child: %s\n", strcmp(b, want) == 0 ? "yes" : b);
  said("a second child into c (pids.max 1)", into(fd, go[0]));
  said("mkdir c/d", mkdir(CG "/c/d", 0755) == 0 ? 0 : -errno);
  close(fd);
  if (write(go[1], "xx", 2) != 2) return 1;
  int st;
  waitpid(a, &st, 0);
  printf("child: exit %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
  said("c: +pids for its children", put(CG "/c/cgroup.subtree_control", "+pids"));
  fd = open(CG "/c", O_RDONLY | O_DIRECTORY);
  said("clone3 into c, which hands pids down", into(fd, go[0]));
  close(fd);
  fd = open("/tmp", O_RDONLY | O_DIRECTORY);
  said("clone3 into /tmp", into(fd, go[0]));
  close(fd);
  said("rmdir c/d", rmdir(CG "/c/d") == 0 ? 0 : -errno);
  said("rmdir c", rmdir(CG "/c") == 0 ? 0 : -errno);
  return 0;
}
