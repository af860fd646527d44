/* Dumpability after an identity change (issue 15): set*id from root to another user, a
 * set-user-ID or set-group-ID exec, an exec of an unreadable file make a process
 * non-dumpable (PR_GET_DUMPABLE 0, its /proc files owned by root but its fd directory still
 * its own to read, a same-user PTRACE_ATTACH refused) until PR_SET_DUMPABLE or a plain
 * exec; against Linux (fs.suid_dumpable 0). */
#include "common.h"
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <grp.h>
#include <sys/auxv.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/wait.h>

static char *self;

static void owner(const char *label, const char *path) {
  struct stat st;
  if (stat(path, &st) < 0) printf("%s: -1 %s\n", label, ename(errno));
  else printf("%s: uid %u gid %u\n", label, st.st_uid, st.st_gid);
}

static void dumpable(const char *label) { SHOW(label, prctl(PR_GET_DUMPABLE)); }

static void wait_child(const char *label, pid_t p) {
  int st;
  if (waitpid(p, &st, 0) < 0) { printf("%s: waitpid %s\n", label, ename(errno)); return; }
  printf("%s: %s %d\n", label, WIFEXITED(st) ? "exit" : "signal", WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
}

static void run(const char *label, void (*fn)(void)) {
  fflush(stdout);
  pid_t c = fork();
  if (c == 0) { fn(); fflush(stdout); _exit(0); }
  wait_child(label, c);
}

static void own_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  if (!d) { printf("opendir /proc/self/fd: %s\n", ename(errno)); return; }
  int n = 0;
  while (readdir(d)) n++;
  closedir(d);
  FACT("lists its own fds", n > 2);
  SHOW("readlink /proc/self/fd/1 works", readlink("/proc/self/fd/1", (char[64]){0}, 64) > 0);
}

static void dropped_by_setresuid(void) {
  MUST(prctl(PR_SET_PDEATHSIG, SIGUSR1));
  MUST(setresuid(1000, 1000, 1000));
  dumpable("dumpable after setresuid(1000)");
  int sig = -1;
  prctl(PR_GET_PDEATHSIG, &sig);
  printf("pdeath signal after setresuid: %d\n", sig);
  owner("/proc/self", "/proc/self");
  owner("/proc/self/status", "/proc/self/status");
  owner("/proc/self/fd", "/proc/self/fd");
  owner("/proc/self/task", "/proc/self/task");
  own_fds();
  int go[2], ready[2];
  MUST(pipe(go));
  MUST(pipe(ready));
  fflush(stdout);
  pid_t gc = fork();
  if (gc == 0) {
    char b;
    dumpable("forked child inherits");
    fflush(stdout);
    if (write(ready[1], "i", 1) != 1) _exit(4);
    if (read(go[0], &b, 1) != 1) _exit(3);
    SHOW("child PR_SET_DUMPABLE 1", prctl(PR_SET_DUMPABLE, 1));
    fflush(stdout);
    if (write(ready[1], "r", 1) != 1) _exit(4);
    for (;;) pause();
  }
  char p[32], b;
  snprintf(p, sizeof p, "/proc/%d/status", gc);
  MUST(read(ready[0], &b, 1));
  EXPECT_ERR("same-user PTRACE_ATTACH to the non-dumpable child", ptrace(PTRACE_ATTACH, gc, 0, 0), EPERM);
  owner("its /proc/PID/status", p);
  MUST(write(go[1], "g", 1));
  MUST(read(ready[0], &b, 1));
  owner("its /proc/PID/status once dumpable", p);
  SHOW("PTRACE_ATTACH once dumpable", ptrace(PTRACE_ATTACH, gc, 0, 0));
  int st;
  MUST(waitpid(gc, &st, 0));
  printf("tracee stopped: %d sig %d\n", WIFSTOPPED(st), WSTOPSIG(st));
  SHOW("PTRACE_DETACH", ptrace(PTRACE_DETACH, gc, 0, 0));
  kill(gc, SIGKILL);
  wait_child("child", gc);
}

static void euid_only(void) {
  MUST(setuid(0));
  dumpable("after setuid(0) as root (no change)");
  MUST(seteuid(1000));
  dumpable("after seteuid(1000)");
  MUST(seteuid(0));
  dumpable("after seteuid(0) again");
  SHOW("PR_SET_DUMPABLE 1", prctl(PR_SET_DUMPABLE, 1));
  dumpable("after PR_SET_DUMPABLE 1");
}

static void fsuid_only(void) {
  setfsuid(1000);
  dumpable("after setfsuid(1000)");
}

static void egid_only(void) {
  MUST(setgid(1000));
  dumpable("after setgid(1000)");
}

static void groups_and_caps(void) {
  gid_t g = 5;
  MUST(setgroups(1, &g));
  dumpable("after setgroups (no id change)");
  MUST(prctl(PR_CAPBSET_DROP, 1)); /* CAP_DAC_OVERRIDE */
  dumpable("after PR_CAPBSET_DROP");
}

static void exec_as(uid_t uid, const char *file, int nnp) {
  if (uid != 0) MUST(setresuid(uid, uid, uid));
  if (nnp) MUST(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
  fflush(stdout);
  execl(file, file, "report", (char *)NULL);
  printf("exec %s: %s\n", file, ename(errno));
  fflush(stdout);
  _exit(98);
}

static void after_drop(void) { exec_as(1000, self, 0); }
static void suid_user(void) { exec_as(0, "./suid1000", 0); }
static void sgid_group(void) { exec_as(0, "./sgid1000", 0); }
static void suid_root(void) { exec_as(1000, "./suidroot", 0); }
static void unreadable(void) { exec_as(1000, "./xonly", 0); }
static void suid_nnp(void) { exec_as(0, "./suid1000", 1); }

static void report(void) {
  uid_t r, e, s;
  gid_t rg, eg, sg;
  getresuid(&r, &e, &s);
  getresgid(&rg, &eg, &sg);
  printf("  exec'd: dumpable %d AT_SECURE %lu uids %u %u %u gids %u %u %u\n", prctl(PR_GET_DUMPABLE), getauxval(AT_SECURE),
         r, e, s, rg, eg, sg);
}

static void copy_self(const char *to, uid_t uid, gid_t gid, mode_t mode) {
  int in = open("/proc/self/exe", O_RDONLY), out = open(to, O_CREAT | O_WRONLY | O_TRUNC, 0700);
  MUST(in);
  MUST(out);
  char buf[65536];
  ssize_t n;
  while ((n = read(in, buf, sizeof buf)) > 0) MUST(write(out, buf, n));
  close(in);
  close(out);
  MUST(chown(to, uid, gid));
  MUST(chmod(to, mode));
}

int main(int argc, char **argv) {
  guest_init();
  if (argc > 1) { report(); return 0; }
  self = argv[0];
  dumpable("PR_GET_DUMPABLE at start");
  EXPECT_ERR("PR_SET_DUMPABLE 2", prctl(PR_SET_DUMPABLE, 2), EINVAL);
  EXPECT_ERR("PR_SET_DUMPABLE -1", prctl(PR_SET_DUMPABLE, -1), EINVAL);
  SHOW("PR_SET_DUMPABLE 0", prctl(PR_SET_DUMPABLE, 0));
  dumpable("after PR_SET_DUMPABLE 0");
  SHOW("PR_SET_DUMPABLE 1", prctl(PR_SET_DUMPABLE, 1));
  run("setresuid", dropped_by_setresuid);
  run("euid", euid_only);
  run("fsuid", fsuid_only);
  run("egid", egid_only);
  run("groups and caps", groups_and_caps);

  enter_tmpdir();
  MUST(chmod(".", 0755));
  copy_self("suid1000", 1000, 1000, 04755);
  copy_self("sgid1000", 0, 1000, 02755);
  copy_self("suidroot", 0, 0, 04755);
  copy_self("xonly", 0, 0, 0711);
  run("plain exec after dropping root", after_drop);
  run("set-user-ID file (owner 1000) run by root", suid_user);
  run("set-group-ID file (group 1000) run by root", sgid_group);
  run("set-user-ID root file run by uid 1000", suid_root);
  run("execute-only file run by uid 1000", unreadable);
  run("set-user-ID file under no_new_privs", suid_nnp);
  leave_tmpdir();
  return 0;
}
