/* reboot(2) and acct(2) as Linux answers them: EPERM without CAP_SYS_BOOT / CAP_SYS_PACCT (a
 * user, root of a child user namespace), the magic numbers checked next, and in a pid
 * namespace RESTART or HALT ending its init as if by SIGHUP or SIGINT while other commands
 * are EINVAL. Natively a valid command is only ever given inside a new pid namespace. */
#include "common.h"
#include <sched.h>
#include <signal.h>
#include <linux/reboot.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#define REBOOT(cmd) syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2, (cmd), NULL)
#define BAD ((void *)8)

static void report(const char *what, int st) {
  if (WIFEXITED(st)) printf("%s: exit %d\n", what, WEXITSTATUS(st));
  else printf("%s: signal %s\n", what, sigabbrev_np(WTERMSIG(st)));
}

static int in_child(void (*fn)(void)) {
  pid_t c = fork();
  if (c == 0) { fn(); _exit(0); }
  int st;
  waitpid(c, &st, 0);
  return st;
}

static void unprivileged(void) {
  MUST(setresuid(1000, 1000, 1000));
  OKERR("user reboot CAD_OFF", REBOOT(LINUX_REBOOT_CMD_CAD_OFF));
  OKERR("user reboot bad magic", syscall(SYS_reboot, 1, 2, LINUX_REBOOT_CMD_RESTART, NULL));
  OKERR("user acct(NULL)", syscall(SYS_acct, NULL));
  OKERR("user acct(f)", syscall(SYS_acct, "f"));
}

static void userns_root(void) {
  MUST(unshare(CLONE_NEWUSER));
  OKERR("userns root reboot CAD_OFF", REBOOT(LINUX_REBOOT_CMD_CAD_OFF));
  OKERR("userns root acct(NULL)", syscall(SYS_acct, NULL));
}

static int cmd_of_child;

/* The init of a new pid namespace: a child of it reboots (or itself does), then it waits. */
static int ns_init(void *arg) {
  (void)arg;
  printf("ns init pid %d\n", getpid());
  if (cmd_of_child == 0) { REBOOT(LINUX_REBOOT_CMD_POWER_OFF); printf("init's poweroff returned\n"); return 1; }
  pid_t c = fork();
  if (c == 0) {
    OKERR("ns reboot CAD_OFF", REBOOT(LINUX_REBOOT_CMD_CAD_OFF));
    OKERR("ns reboot KEXEC", REBOOT(LINUX_REBOOT_CMD_KEXEC));
    OKERR("ns reboot bad magic2", syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, 5, LINUX_REBOOT_CMD_RESTART, NULL));
    REBOOT(cmd_of_child);
    printf("reboot returned\n");
    _exit(3);
  }
  int st;
  waitpid(c, &st, 0);
  report("ns init saw its child", st);
  return 2;
}

static void in_pid_ns(const char *what, int cmd) {
  static char stack[65536];
  cmd_of_child = cmd;
  pid_t c = clone(ns_init, stack + sizeof stack, CLONE_NEWPID | SIGCHLD, NULL);
  MUST(c);
  int st;
  MUST(waitpid(c, &st, 0));
  report(what, st);
}

int main(int argc, char **argv) {
  guest_init();
  /* Sandbox only (natively this would be the host's own pid namespace): the sandbox's root
     namespace is a container's, so RESTART ends the run as a SIGHUP of its init. */
  if (argc > 1 && !strcmp(argv[1], "top")) {
    OKERR("top reboot CAD_ON", REBOOT(LINUX_REBOOT_CMD_CAD_ON));
    if (fork() == 0) { REBOOT(LINUX_REBOOT_CMD_RESTART); _exit(3); }
    for (;;) pause();
  }
  enter_tmpdir();
  OKERR("root reboot bad magic1", syscall(SYS_reboot, 1, LINUX_REBOOT_MAGIC2, LINUX_REBOOT_CMD_RESTART, NULL));
  OKERR("root reboot bad magic2", syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, 7, LINUX_REBOOT_CMD_RESTART, NULL));
  OKERR("root acct(bad pointer)", syscall(SYS_acct, BAD));
  report("unprivileged", in_child(unprivileged));
  report("userns root", in_child(userns_root));
  in_pid_ns("pid ns after RESTART", LINUX_REBOOT_CMD_RESTART);
  in_pid_ns("pid ns after RESTART2", LINUX_REBOOT_CMD_RESTART2);
  in_pid_ns("pid ns after HALT", LINUX_REBOOT_CMD_HALT);
  in_pid_ns("pid ns after init's POWER_OFF", 0);
  leave_tmpdir();
  return 0;
}
