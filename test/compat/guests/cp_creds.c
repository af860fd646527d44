/* Credentials once privileges are dropped: capabilities cleared with capset or lost with
 * uid 0 are enforced (files, ownership, signals, chroot, mount), PR_SET_KEEPCAPS,
 * PR_CAP_AMBIENT and execve's capability rules, against Linux. */
#include "common.h"
#include <fcntl.h>
#include <signal.h>
#include <linux/capability.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
static struct __user_cap_data_struct data[2];

static void get(void) { MUST(syscall(SYS_capget, &hdr, data)); }
static int has(int which, int cap) {
  get();
  unsigned v = which == 0 ? data[cap / 32].effective : which == 1 ? data[cap / 32].permitted : data[cap / 32].inheritable;
  return (v >> (cap % 32)) & 1;
}
static long set_eff(int cap, int on) {
  get();
  if (on) data[cap / 32].effective |= 1u << (cap % 32);
  else data[cap / 32].effective &= ~(1u << (cap % 32));
  return syscall(SYS_capset, &hdr, data);
}
static void status_of(const char *label, pid_t p) {
  int st;
  waitpid(p, &st, 0);
  printf("%s: %s %d\n", label, WIFEXITED(st) ? "exit" : "signal", WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
}

static pid_t victim;

static void dropped_caps(void) {
  SHOW("drop CAP_CHOWN", set_eff(CAP_CHOWN, 0));
  EXPECT_ERR("chown without CAP_CHOWN", chown("mine", 1234, 1234), EPERM);
  SHOW("raise it again from permitted", set_eff(CAP_CHOWN, 1));
  SHOW("chown to 1234", chown("theirs", 1234, 1234));
  set_eff(CAP_DAC_OVERRIDE, 0);
  set_eff(CAP_DAC_READ_SEARCH, 0);
  EXPECT_ERR("open another user's 0600 file", open("theirs", O_RDONLY), EACCES);
  SHOW("own 0600 file still opens", close(open("mine", O_RDONLY)));
  set_eff(CAP_FOWNER, 0);
  EXPECT_ERR("chmod another user's file", chmod("theirs", 0644), EPERM);
  set_eff(CAP_KILL, 0);
  EXPECT_ERR("kill another user's process", kill(victim, SIGTERM), EPERM);
  SHOW("signal 0 to oneself", kill(getpid(), 0));
  set_eff(CAP_SYS_CHROOT, 0);
  EXPECT_ERR("chroot", chroot("."), EPERM);
  set_eff(CAP_SYS_ADMIN, 0);
  EXPECT_ERR("mount", mount("none", ".", "tmpfs", 0, NULL), EPERM);
  EXPECT_ERR("sethostname", sethostname("x", 1), EPERM);
}

static void keepcaps(void) {
  SHOW("PR_GET_KEEPCAPS", prctl(PR_GET_KEEPCAPS));
  SHOW("PR_SET_KEEPCAPS", prctl(PR_SET_KEEPCAPS, 1));
  SHOW("PR_GET_KEEPCAPS", prctl(PR_GET_KEEPCAPS));
  EXPECT_ERR("PR_SET_KEEPCAPS 2", prctl(PR_SET_KEEPCAPS, 2), EINVAL);
  MUST(setresuid(1000, 1000, 1000));
  printf("after setresuid: effective CHOWN %d permitted CHOWN %d\n", has(0, CAP_CHOWN), has(1, CAP_CHOWN));
  SHOW("raise CAP_CHOWN as uid 1000", set_eff(CAP_CHOWN, 1));
  SHOW("chown as uid 1000 with CAP_CHOWN", chown("theirs", 0, 0));
  EXPECT_ERR("chmod root's file (no CAP_FOWNER)", chmod("theirs", 0600), EPERM);
}

static void no_keepcaps(void) {
  MUST(setuid(1000));
  printf("after setuid: effective CHOWN %d permitted CHOWN %d\n", has(0, CAP_CHOWN), has(1, CAP_CHOWN));
  EXPECT_ERR("raise CAP_CHOWN", set_eff(CAP_CHOWN, 1), EPERM);
  EXPECT_ERR("kill root's process", kill(victim, 0), EPERM);
  EXPECT_ERR("setuid(0)", setuid(0), EPERM);
}

static void ambient(void) {
  get();
  data[0].inheritable |= 1u << CAP_NET_BIND_SERVICE;
  MUST(syscall(SYS_capset, &hdr, data));
  SHOW("ambient raise NET_BIND_SERVICE", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_BIND_SERVICE, 0, 0));
  SHOW("ambient is set", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_NET_BIND_SERVICE, 0, 0));
  EXPECT_ERR("ambient raise, not inheritable", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_SYS_TIME, 0, 0), EPERM);
  EXPECT_ERR("ambient bad cap", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, 99, 0, 0), EINVAL);
  EXPECT_ERR("ambient bad op", prctl(PR_CAP_AMBIENT, 9, 0, 0, 0), EINVAL);
  SHOW("ambient lower", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_LOWER, CAP_NET_BIND_SERVICE, 0, 0));
  SHOW("ambient is set", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_NET_BIND_SERVICE, 0, 0));
  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_BIND_SERVICE, 0, 0);
  SHOW("ambient clear all", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0));
  SHOW("ambient is set", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_NET_BIND_SERVICE, 0, 0));
}

static char *self;
static void exec_restores(void) {
  set_eff(CAP_CHOWN, 0);
  fflush(stdout);
  execl(self, self, "after-exec", (char *)NULL);
  _exit(98);
}

static void run(const char *label, void (*fn)(void)) {
  fflush(stdout);
  pid_t c = fork();
  if (c == 0) { fn(); fflush(stdout); _exit(0); }
  status_of(label, c);
}

int main(int argc, char **argv) {
  guest_init();
  if (argc > 1) {
    printf("root after exec: effective CHOWN %d\n", has(0, CAP_CHOWN));
    return 0;
  }
  self = argv[0];
  enter_tmpdir();
  close(open("mine", O_CREAT | O_WRONLY, 0600));
  close(open("theirs", O_CREAT | O_WRONLY, 0600));
  MUST(chmod(".", 0777));
  fflush(stdout);
  int ready[2];
  MUST(pipe(ready));
  victim = fork();
  if (victim == 0) {
    MUST(setuid(1234));
    close(ready[0]);
    close(ready[1]); /* the parent's kill tests wait for this: the victim is another user by then */
    for (;;) pause();
  }
  close(ready[1]);
  char c;
  while (read(ready[0], &c, 1) > 0) {}
  close(ready[0]);
  run("dropped capabilities", dropped_caps);
  MUST(chown("theirs", 1234, 1234));
  run("PR_SET_KEEPCAPS", keepcaps);
  run("setuid without keepcaps", no_keepcaps);
  run("PR_CAP_AMBIENT", ambient);
  run("execve restores root's capabilities", exec_restores);
  kill(victim, SIGKILL);
  waitpid(victim, NULL, 0);
  unlink("mine");
  unlink("theirs");
  leave_tmpdir();
  printf("done\n");
  return 0;
}
