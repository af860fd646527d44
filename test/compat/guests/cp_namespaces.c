/* Guest namespaces (issue 15): user (uid/gid maps, setgroups, capabilities inside,
 * unmapped ids), uts, ipc, mount and pid namespaces, /proc/PID/ns links and setns,
 * each flag through unshare and clone, against Linux. Run as root (as the sandbox's
 * guest is by default). Prints no inode numbers: only whether two links are equal. */
#define _GNU_SOURCE
#include "common.h"
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>

static int put(const char *path, const char *s) {
  int fd = open(path, O_WRONLY);
  if (fd < 0) return -1;
  ssize_t n = write(fd, s, strlen(s));
  int e = errno;
  close(fd);
  errno = e;
  return n < 0 ? -1 : 0;
}

static void link_of(const char *path, char *out, size_t n) {
  ssize_t r = readlink(path, out, n - 1);
  out[r < 0 ? 0 : r] = 0;
}

static void kind_of(const char *path) {
  char b[64];
  link_of(path, b, sizeof b);
  char *c = strchr(b, ':');
  if (c) *c = 0;
  printf("%s kind: %s\n", path, b);
}

static void wait_child(const char *label, pid_t p) {
  int st;
  if (waitpid(p, &st, 0) < 0) { printf("%s: waitpid %s\n", label, ename(errno)); return; }
  printf("%s: %s %d\n", label, WIFEXITED(st) ? "exit" : "signal", WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
}

static void user_ns(void) {
  char before[64], after[64], buf[256];
  link_of("/proc/self/ns/user", before, sizeof before);
  MUST(close(open("owned-by-1", O_CREAT | O_WRONLY, 0644)));
  MUST(chown("owned-by-1", 1, 1));
  uid_t ou = geteuid();
  gid_t og = getegid();
  MUST(unshare(CLONE_NEWUSER));
  link_of("/proc/self/ns/user", after, sizeof after);
  FACT("user ns link changed", strcmp(before, after) != 0);
  printf("unmapped: uid %d gid %d\n", (int)getuid(), (int)getgid());
  int fd = open("/proc/self/uid_map", O_RDONLY);
  SHOW("empty uid_map read", read(fd, buf, sizeof buf));
  close(fd);
  EXPECT_ERR("gid_map before setgroups deny", put("/proc/self/gid_map", "0 0 1\n"), EPERM);
  EXPECT_ERR("bad uid_map", put("/proc/self/uid_map", "0 0\n"), EINVAL);
  snprintf(buf, sizeof buf, "0 %d 1\n", (int)ou);
  SHOW("write uid_map", put("/proc/self/uid_map", buf));
  EXPECT_ERR("write uid_map again", put("/proc/self/uid_map", buf), EPERM);
  SHOW("setgroups deny", put("/proc/self/setgroups", "deny"));
  EXPECT_ERR("setgroups allow again", put("/proc/self/setgroups", "allow"), EPERM);
  snprintf(buf, sizeof buf, "0 %d 1\n", (int)og);
  SHOW("write gid_map", put("/proc/self/gid_map", buf));
  EXPECT_ERR("setgroups after deny", setgroups(0, NULL), EPERM);
  printf("mapped: uid %d euid %d gid %d\n", (int)getuid(), (int)geteuid(), (int)getgid());
  fd = open("/proc/self/uid_map", O_RDONLY);
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  buf[n < 0 ? 0 : n] = 0;
  printf("uid_map: %s", buf);
  fd = open("/proc/self/setgroups", O_RDONLY);
  n = read(fd, buf, sizeof buf - 1);
  close(fd);
  buf[n < 0 ? 0 : n] = 0;
  printf("setgroups: %s", buf);
  struct stat st;
  MUST(stat("owned-by-1", &st));
  printf("unmapped owner seen as %d:%d\n", (int)st.st_uid, (int)st.st_gid);
  EXPECT_ERR("chown to an unmapped uid", chown("owned-by-1", 5, -1), EINVAL);
  EXPECT_ERR("chmod a file of an unmapped owner", chmod("owned-by-1", 0600), EPERM);
  EXPECT_ERR("setuid to an unmapped uid", setuid(7), EINVAL);
  SHOW("setuid(0) inside", setuid(0));
  EXPECT_ERR("sethostname without an own uts ns", sethostname("x", 1), EPERM);
  EXPECT_ERR("mount without an own mount ns", mount("none", "/mnt", "tmpfs", 0, NULL), EPERM);
  /* Capabilities count inside: a new uts and mount namespace may now be made. */
  SHOW("unshare uts+mnt inside the user ns", unshare(CLONE_NEWUTS | CLONE_NEWNS));
  SHOW("sethostname inside", sethostname("inner", 5));
  struct utsname u;
  uname(&u);
  printf("hostname inside: %s\n", u.nodename);
  MUST(mkdir("mnt", 0755));
  SHOW("mount tmpfs inside", mount("none", "mnt", "tmpfs", 0, NULL));
  SHOW("umount inside", umount("mnt"));
}

static void uts_ns(void) {
  struct utsname u0, u;
  uname(&u0);
  int parent_uts = open("/proc/self/ns/uts", O_RDONLY);
  pid_t p = fork();
  if (p == 0) {
    MUST(unshare(CLONE_NEWUTS));
    MUST(sethostname("nsbox", 5));
    uname(&u);
    printf("child hostname: %s\n", u.nodename);
    SHOW("setns back to the parent's uts", setns(parent_uts, CLONE_NEWUTS));
    uname(&u);
    FACT("hostname back to the parent's", strcmp(u.nodename, u0.nodename) == 0);
    EXPECT_ERR("setns with the wrong type", setns(parent_uts, CLONE_NEWIPC), EINVAL);
    int reg = open("/proc/self/comm", O_RDONLY);
    EXPECT_ERR("setns on a regular file", setns(reg, 0), EINVAL);
    EXPECT_ERR("setns on a bad fd", setns(999, 0), EBADF);
    _exit(0);
  }
  wait_child("uts child", p);
  uname(&u);
  FACT("parent hostname unchanged", strcmp(u.nodename, u0.nodename) == 0);
  close(parent_uts);
}

static void ipc_ns(void) {
  int q = msgget(0x7a5e, IPC_CREAT | 0600);
  MUST(q);
  pid_t p = fork();
  if (p == 0) {
    SHOW("queue seen before unshare", msgget(0x7a5e, 0) == q);
    MUST(unshare(CLONE_NEWIPC));
    EXPECT_ERR("queue in a new ipc ns", msgget(0x7a5e, 0), ENOENT);
    int q2 = msgget(0x7a5e, IPC_CREAT | 0600);
    FACT("own queue made", q2 >= 0);
    _exit(0);
  }
  wait_child("ipc child", p);
  SHOW("parent's queue still the same", msgget(0x7a5e, 0) == q);
  msgctl(q, IPC_RMID, NULL);
}

static void mnt_ns(void) {
  MUST(mkdir("m", 0755));
  char before[64], after[64];
  link_of("/proc/self/ns/mnt", before, sizeof before);
  pid_t p = fork();
  if (p == 0) {
    MUST(unshare(CLONE_NEWNS));
    link_of("/proc/self/ns/mnt", after, sizeof after);
    FACT("mnt ns link changed", strcmp(before, after) != 0);
    mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL);
    SHOW("mount tmpfs in the new mnt ns", mount("x", "m", "tmpfs", 0, NULL));
    MUST(close(open("m/inside", O_CREAT | O_WRONLY, 0644)));
    FACT("file on the tmpfs", access("m/inside", F_OK) == 0);
    _exit(0);
  }
  wait_child("mnt child", p);
  FACT("parent sees no tmpfs file", access("m/inside", F_OK) != 0);
  /* And a mount made in the parent after the copy stays out of the child's view. */
  int sync[2];
  MUST(pipe(sync));
  p = fork();
  if (p == 0) {
    MUST(unshare(CLONE_NEWNS));
    char c;
    close(sync[1]);
    read(sync[0], &c, 1);
    FACT("child sees the parent's later mount", access("m/later", F_OK) == 0);
    _exit(0);
  }
  close(sync[0]);
  usleep(100000);
  MUST(mount("y", "m", "tmpfs", 0, NULL));
  MUST(close(open("m/later", O_CREAT | O_WRONLY, 0644)));
  write(sync[1], "x", 1);
  close(sync[1]);
  wait_child("mnt child 2", p);
  MUST(umount("m"));
}

static int clone_child(void *arg) {
  (void)arg;
  printf("clone child: pid %d ppid %d uid %d\n", (int)getpid(), (int)getppid(), (int)getuid());
  fflush(stdout);
  return 3;
}

static void clone_flags(void) {
  static char stack[65536];
  pid_t p = clone(clone_child, stack + sizeof stack, CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWUTS | SIGCHLD, NULL);
  MUST(p);
  wait_child("clone child", p);
  FACT("parent sees a pid of its own", p > 1);
  EXPECT_ERR("clone NEWUSER|FS", syscall(SYS_clone, CLONE_NEWUSER | CLONE_FS | SIGCHLD, 0, 0, 0, 0), EINVAL);
  EXPECT_ERR("unshare with a bad flag", unshare(0x1), EINVAL);
}

static volatile pid_t chld_pid = -1;
static void on_chld(int sig, siginfo_t *si, void *uc) {
  (void)sig; (void)uc;
  chld_pid = si->si_pid;
}

static void pid_ns(void) {
  MUST(unshare(CLONE_NEWPID));
  char a[64], b[64];
  link_of("/proc/self/ns/pid", a, sizeof a);
  link_of("/proc/self/ns/pid_for_children", b, sizeof b);
  FACT("pid_for_children differs after unshare", strcmp(a, b) != 0);
  printf("own pid unchanged: %s\n", getpid() > 1 ? "yes" : "no");
  pid_t p = fork();
  if (p == 0) {
    struct sigaction sa = { .sa_sigaction = on_chld, .sa_flags = SA_SIGINFO };
    sigaction(SIGCHLD, &sa, NULL);
    printf("first child: pid %d ppid %d\n", (int)getpid(), (int)getppid());
    pid_t g = fork();
    if (g == 0) {
      printf("grandchild: pid %d ppid %d\n", (int)getpid(), (int)getppid());
      _exit(0);
    }
    wait_child("grandchild", g);
    printf("SIGCHLD si_pid: %d\n", (int)chld_pid);
    EXPECT_ERR("kill of a pid outside the ns", kill(999999, 0), ESRCH);
    _exit(5);
  }
  wait_child("ns init", p);
  /* Init has died: the namespace takes no more processes. */
  p = fork();
  if (p == 0) _exit(0);
  if (p < 0) printf("fork after init died: %s\n", ename(errno));
  else wait_child("fork after init died", p);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  enter_tmpdir();
  kind_of("/proc/self/ns/user");
  kind_of("/proc/self/ns/pid_for_children");
  uts_ns();
  ipc_ns();
  mnt_ns();
  clone_flags();
  pid_t p = fork();
  if (p == 0) { pid_ns(); _exit(0); }
  wait_child("pid ns test", p);
  p = fork();
  if (p == 0) { user_ns(); _exit(0); }
  wait_child("user ns test", p);
  leave_tmpdir();
  return 0;
}
