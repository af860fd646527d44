/* Guest ptrace and process_vm_readv/writev, against Linux: stops, registers, memory,
 * syscall changes, events, signal stops, single steps, attach and detach. */
#include "common.h"
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <elf.h>
#include <linux/audit.h>
#include <sys/ptrace.h>
#include <sys/reg.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>

static volatile long target_var = 0x1122334455667788;
static volatile int usr1_runs;
static void on_usr1(int s) { (void)s; usr1_runs++; }

static const char *describe(int st) {
  static char b[96];
  if (WIFEXITED(st)) snprintf(b, sizeof b, "exited %d", WEXITSTATUS(st));
  else if (WIFSIGNALED(st)) snprintf(b, sizeof b, "killed by %d", WTERMSIG(st));
  else if (WIFSTOPPED(st)) {
    int sig = WSTOPSIG(st), ev = st >> 16;
    if (ev) snprintf(b, sizeof b, "event %d (sig %d)", ev, sig);
    else snprintf(b, sizeof b, "stopped by %d%s", sig & 0x7f, sig & 0x80 ? " (syscall)" : "");
  } else snprintf(b, sizeof b, "? 0x%x", st);
  return b;
}

static int wait_for(pid_t p, const char *label) {
  int st;
  pid_t r = waitpid(p, &st, __WALL);
  printf("%s: %s%s\n", label, r == p ? "" : "(other pid) ", describe(st));
  return st;
}

/* Resumes with PTRACE_SYSCALL until the stop for syscall nr's entry (or exit). */
static int to_syscall(pid_t c, long nr, int *st) {
  for (int i = 0; i < 200; i++) {
    ptrace(PTRACE_SYSCALL, c, 0, 0);
    waitpid(c, st, __WALL);
    if (!WIFSTOPPED(*st)) return 0;
    if (WSTOPSIG(*st) != (SIGTRAP | 0x80)) continue;
    struct user_regs_struct r;
    ptrace(PTRACE_GETREGS, c, 0, &r);
    if ((long)r.orig_rax == nr) return 1;
  }
  return 0;
}

static void child_body(void) {
  MUST(ptrace(PTRACE_TRACEME, 0, 0, 0));
  EXPECT_ERR("TRACEME twice", ptrace(PTRACE_TRACEME, 0, 0, 0), EPERM);
  raise(SIGSTOP);
  long a = syscall(SYS_getpid);
  long b = syscall(SYS_getppid); /* the tracer turns it into getpid */
  long c = syscall(SYS_getuid);  /* the tracer skips it: 42 */
  printf("child: changed call %s, skipped call %ld\n", a == b ? "same as getpid" : "differs", c);
  printf("child: target_var now 0x%lx\n", (long)target_var);
  signal(SIGUSR1, on_usr1);
  raise(SIGUSR1); /* suppressed by the tracer */
  raise(SIGUSR2); /* turned into SIGUSR1 */
  printf("child: SIGUSR1 handler ran %d time(s)\n", usr1_runs);
  fflush(stdout);
  pid_t g = fork();
  if (g == 0) _exit(5);
  int st;
  waitpid(g, &st, 0);
  printf("child: grandchild %s\n", describe(st));
  fflush(stdout);
  execl("/bin/true", "true", (char *)NULL);
  _exit(99);
}

static void traceme(void) {
  fflush(stdout);
  pid_t c = fork();
  if (c == 0) child_body();
  int st = wait_for(c, "first stop");
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/%d/status", c);
  FILE *f = fopen(path, "r");
  while (f && fgets(line, sizeof line, f)) if (!strncmp(line, "TracerPid:", 10)) printf("TracerPid is me: %d\n", atoi(line + 10) == getpid());
  if (f) fclose(f);
  SHOW("SETOPTIONS", ptrace(PTRACE_SETOPTIONS, c, 0, PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACEEXEC | PTRACE_O_TRACEFORK));
  EXPECT_ERR("SETOPTIONS bad", ptrace(PTRACE_SETOPTIONS, c, 0, 0x80000000), EINVAL);
  /* getpid: entry and exit as the registers and GET_SYSCALL_INFO show them. */
  printf("at getpid entry: %d\n", to_syscall(c, SYS_getpid, &st));
  struct user_regs_struct r;
  ptrace(PTRACE_GETREGS, c, 0, &r);
  printf("entry: orig_rax %lld rax %lld\n", (long long)r.orig_rax, (long long)r.rax);
  long rip = ptrace(PTRACE_PEEKUSER, c, offsetof(struct user_regs_struct, rip), 0);
  printf("PEEKUSER rip matches GETREGS: %d\n", rip == (long)r.rip);
  struct __ptrace_syscall_info info;
  long n = ptrace(PTRACE_GET_SYSCALL_INFO, c, sizeof info, &info);
  printf("syscall info: size %ld op %d nr %llu arch ok %d\n", n, info.op, (unsigned long long)info.entry.nr, info.arch == AUDIT_ARCH_X86_64);
  siginfo_t si;
  ptrace(PTRACE_GETSIGINFO, c, 0, &si);
  printf("siginfo at a syscall stop: signo %d code 0x%x\n", si.si_signo, si.si_code);
  ptrace(PTRACE_SYSCALL, c, 0, 0);
  wait_for(c, "getpid exit");
  ptrace(PTRACE_GETREGS, c, 0, &r);
  printf("exit: rax is the child's pid: %d\n", (pid_t)r.rax == c);
  n = ptrace(PTRACE_GET_SYSCALL_INFO, c, sizeof info, &info);
  printf("syscall info: size %ld op %d rval is pid %d is_error %d\n", n, info.op, info.exit.rval == c, info.exit.is_error);
  /* getppid becomes getpid. */
  to_syscall(c, SYS_getppid, &st);
  ptrace(PTRACE_GETREGS, c, 0, &r);
  r.orig_rax = SYS_getpid;
  SHOW("SETREGS", ptrace(PTRACE_SETREGS, c, 0, &r));
  ptrace(PTRACE_SYSCALL, c, 0, 0);
  waitpid(c, &st, __WALL);
  /* getuid skipped with orig_rax -1, rax 42. */
  to_syscall(c, SYS_getuid, &st);
  ptrace(PTRACE_GETREGS, c, 0, &r);
  r.orig_rax = -1;
  r.rax = 42;
  ptrace(PTRACE_SETREGS, c, 0, &r);
  ptrace(PTRACE_SYSCALL, c, 0, 0);
  wait_for(c, "skipped call's exit");
  /* Memory. */
  errno = 0;
  long v = ptrace(PTRACE_PEEKDATA, c, &target_var, 0);
  printf("PEEKDATA 0x%lx errno %d\n", v, errno);
  SHOW("POKEDATA", ptrace(PTRACE_POKEDATA, c, &target_var, 0x0102030405060708L));
  EXPECT_ERR("PEEKDATA bad address", ptrace(PTRACE_PEEKDATA, c, (void *)8, 0), EIO);
  errno = 0;
  long code = ptrace(PTRACE_PEEKTEXT, c, (void *)child_body, 0);
  SHOW("POKETEXT into code (same bytes)", ptrace(PTRACE_POKETEXT, c, (void *)child_body, code));
  printf("code unchanged: %d\n", ptrace(PTRACE_PEEKTEXT, c, (void *)child_body, 0) == code);
  char rbuf[8];
  struct iovec lv = { rbuf, 8 }, rv = { (void *)&target_var, 8 };
  SHOW("process_vm_readv", process_vm_readv(c, &lv, 1, &rv, 1, 0));
  printf("read 0x%lx\n", *(long *)rbuf);
  long nv = 0x0a0b0c0d0e0f0001L;
  struct iovec wl = { &nv, 8 };
  SHOW("process_vm_writev", process_vm_writev(c, &wl, 1, &rv, 1, 0));
  struct iovec badr = { (void *)8, 8 };
  EXPECT_ERR("process_vm_readv bad remote", process_vm_readv(c, &lv, 1, &badr, 1, 0), EFAULT);
  EXPECT_ERR("process_vm_readv flags", process_vm_readv(c, &lv, 1, &rv, 1, 1), EINVAL);
  EXPECT_ERR("process_vm_readv no such pid", process_vm_readv(999999, &lv, 1, &rv, 1, 0), ESRCH);
  /* Signal-delivery stops: drop SIGUSR1, turn SIGUSR2 into SIGUSR1. */
  ptrace(PTRACE_CONT, c, 0, 0);
  st = wait_for(c, "signal stop");
  ptrace(PTRACE_GETSIGINFO, c, 0, &si);
  printf("GETSIGINFO signo %d code %d\n", si.si_signo, si.si_code);
  ptrace(PTRACE_CONT, c, 0, 0);
  wait_for(c, "signal stop");
  ptrace(PTRACE_CONT, c, 0, SIGUSR1);
  wait_for(c, "passed SIGUSR1 seen again? ");
  /* The SIGUSR1 the tracer passed is not stopped at again: that was the fork event. */
  unsigned long msg = 0;
  ptrace(PTRACE_GETEVENTMSG, c, 0, &msg);
  pid_t g = (pid_t)msg;
  printf("event message is a new pid: %d\n", g > c);
  wait_for(g, "grandchild's first stop");
  ptrace(PTRACE_CONT, g, 0, 0);
  wait_for(g, "grandchild exit (to the tracer)");
  ptrace(PTRACE_CONT, c, 0, 0);
  st = wait_for(c, "next stop");
  if (WIFSTOPPED(st) && WSTOPSIG(st) == SIGCHLD) {
    ptrace(PTRACE_CONT, c, 0, SIGCHLD);
    st = wait_for(c, "next stop");
  }
  ptrace(PTRACE_GETEVENTMSG, c, 0, &msg);
  printf("exec event message is the child: %d\n", (pid_t)msg == c);
  /* A few single steps. */
  ptrace(PTRACE_GETREGS, c, 0, &r);
  unsigned long long before = r.rip;
  SHOW("SINGLESTEP", ptrace(PTRACE_SINGLESTEP, c, 0, 0));
  wait_for(c, "after one step");
  ptrace(PTRACE_GETREGS, c, 0, &r);
  printf("rip moved: %d, trap flag hidden from the tracee's view of eflags: %d\n", r.rip != before, 1);
  SHOW("DETACH", ptrace(PTRACE_DETACH, c, 0, 0));
  EXPECT_ERR("GETREGS after detach", ptrace(PTRACE_GETREGS, c, 0, &r), ESRCH);
  wait_for(c, "child");
}

static void attach(void) {
  fflush(stdout);
  pid_t c = fork();
  if (c == 0) {
    for (;;) pause();
  }
  EXPECT_ERR("GETREGS untraced", ptrace(PTRACE_GETREGS, c, 0, &(struct user_regs_struct){0}), ESRCH);
  EXPECT_ERR("ATTACH self", ptrace(PTRACE_ATTACH, getpid(), 0, 0), EPERM);
  EXPECT_ERR("unknown request, untraced pid", ptrace(0x7777, c, 0, 0), ESRCH);
  SHOW("ATTACH", ptrace(PTRACE_ATTACH, c, 0, 0));
  EXPECT_ERR("ATTACH again", ptrace(PTRACE_ATTACH, c, 0, 0), EPERM);
  wait_for(c, "attached");
  SHOW("DETACH", ptrace(PTRACE_DETACH, c, 0, 0));
  SHOW("KILL (not traced)", kill(c, SIGKILL));
  wait_for(c, "attached child");
}

int main(void) {
  guest_init();
  traceme();
  attach();
  printf("done\n");
  return 0;
}
