/* Guest seccomp: seccomp(2) and prctl filters, every action, checks of bad programs,
 * inheritance over fork and exec, TSYNC, strict mode, against Linux. */
#include "common.h"
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <ucontext.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#define NR offsetof(struct seccomp_data, nr)
#define ARCH offsetof(struct seccomp_data, arch)
#define ARG0 offsetof(struct seccomp_data, args[0])

static long sc(unsigned op, unsigned flags, void *args) { return syscall(SYS_seccomp, op, flags, args); }

static long install(struct sock_filter *f, unsigned short n, unsigned flags) {
  struct sock_fprog p = { .len = n, .filter = f };
  return sc(SECCOMP_SET_MODE_FILTER, flags, &p);
}

/* A filter: syscall `nr` gets `action`, everything else is allowed (and a foreign arch killed). */
static long deny(int nr, unsigned action, unsigned flags) {
  struct sock_filter f[] = {
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARCH),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, NR),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 1),
    BPF_STMT(BPF_RET | BPF_K, action),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  return install(f, 7, flags);
}

static void status_of(const char *label, int st) {
  if (WIFEXITED(st)) printf("%s: exit %d\n", label, WEXITSTATUS(st));
  else printf("%s: killed by %d%s\n", label, WTERMSIG(st), WCOREDUMP(st) ? " (core)" : "");
}

/* Runs fn in a child (no core files, so the status does not depend on ulimit -c). */
static void in_child(const char *label, void (*fn)(void)) {
  fflush(stdout);
  pid_t p = fork();
  if (p == 0) {
    struct rlimit r = { 0, 0 };
    setrlimit(RLIMIT_CORE, &r);
    fn();
    fflush(stdout);
    _exit(0);
  }
  int st;
  waitpid(p, &st, 0);
  status_of(label, st);
}

static void nnp(void) { MUST(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)); }

static void bad_programs(void) {
  EXPECT_ERR("unknown op", sc(9, 0, NULL), EINVAL);
  EXPECT_ERR("strict with flags", sc(SECCOMP_SET_MODE_STRICT, 1, NULL), EINVAL);
  EXPECT_ERR("strict with args", sc(SECCOMP_SET_MODE_STRICT, 0, (void *)8), EINVAL);
  struct sock_filter ok[] = { BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW) };
  EXPECT_ERR("unknown flag", install(ok, 1, 1u << 12), EINVAL);
  EXPECT_ERR("len 0", install(ok, 0, 0), EINVAL);
  EXPECT_ERR("len 4097", install(ok, 4097, 0), EINVAL);
  EXPECT_ERR("bad fprog pointer", sc(SECCOMP_SET_MODE_FILTER, 0, (void *)8), EFAULT);
  struct sock_fprog bad = { .len = 1, .filter = (void *)8 };
  EXPECT_ERR("bad filter pointer", sc(SECCOMP_SET_MODE_FILTER, 0, &bad), EFAULT);
  struct sock_filter byte[] = { BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 0), BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW) };
  EXPECT_ERR("byte load", install(byte, 2, 0), EINVAL);
  struct sock_filter unal[] = { BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 2), BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW) };
  EXPECT_ERR("unaligned load", install(unal, 2, 0), EINVAL);
  struct sock_filter past[] = { BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 64), BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW) };
  EXPECT_ERR("load past seccomp_data", install(past, 2, 0), EINVAL);
  struct sock_filter jmp[] = { BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 5, 0), BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW) };
  EXPECT_ERR("jump out of range", install(jmp, 2, 0), EINVAL);
  struct sock_filter noret[] = { BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0) };
  EXPECT_ERR("no final ret", install(noret, 1, 0), EINVAL);
  struct sock_filter div0[] = { BPF_STMT(BPF_ALU | BPF_DIV | BPF_K, 0), BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW) };
  EXPECT_ERR("divide by constant 0", install(div0, 2, 0), EINVAL);
  struct sock_filter mem[] = { BPF_STMT(BPF_LD | BPF_MEM, 3), BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW) };
  EXPECT_ERR("scratch read before write", install(mem, 2, 0), EINVAL);
  struct sock_filter memok[] = { BPF_STMT(BPF_ST, 3), BPF_STMT(BPF_LD | BPF_MEM, 3), BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW) };
  SHOW("scratch read after write", install(memok, 3, 0));
  SHOW("PR_GET_SECCOMP after", prctl(PR_GET_SECCOMP));
  EXPECT_ERR("strict after filter", sc(SECCOMP_SET_MODE_STRICT, 0, NULL), EINVAL);
}

static void need_nnp(void) {
  MUST(setuid(65534));
  EXPECT_ERR("filter as nobody without no_new_privs", deny(SYS_getppid, SECCOMP_RET_ALLOW, 0), EACCES);
  nnp();
  SHOW("filter as nobody with no_new_privs", deny(SYS_getppid, SECCOMP_RET_ERRNO | EPERM, 0));
  EXPECT_ERR("getppid", syscall(SYS_getppid), EPERM);
}

static void errno_action(void) {
  nnp();
  MUST(deny(SYS_getppid, SECCOMP_RET_ERRNO | EPERM, 0));
  EXPECT_ERR("getppid", syscall(SYS_getppid), EPERM);
  SHOW("getpid allowed", syscall(SYS_getpid) > 0);
  MUST(deny(SYS_getuid, SECCOMP_RET_ERRNO | 0xffff, 0));
  errno = 0;
  long r = syscall(SYS_getuid);
  printf("errno data clamped: %ld errno %d\n", r, errno);
  MUST(deny(SYS_getgid, SECCOMP_RET_ERRNO | 0, 0));
  SHOW("errno 0 is success", syscall(SYS_getgid));
  /* Newest filter first among equal actions; ERRNO beats ALLOW and LOG. */
  MUST(deny(SYS_getppid, SECCOMP_RET_ERRNO | EACCES, 0));
  EXPECT_ERR("newest of two ERRNO", syscall(SYS_getppid), EACCES);
  MUST(deny(SYS_getppid, SECCOMP_RET_LOG, 0));
  EXPECT_ERR("ERRNO beats LOG", syscall(SYS_getppid), EACCES);
  /* Arguments: write to fd 99 only. */
  struct sock_filter f[] = {
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, NR),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_write, 0, 3),
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG0),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 99, 0, 1),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOTTY),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  MUST(install(f, 6, 0));
  EXPECT_ERR("write to fd 99", write(99, "x", 1), ENOTTY);
  EXPECT_ERR("write to fd 98", write(98, "x", 1), EBADF);
  SHOW("PR_GET_SECCOMP", prctl(PR_GET_SECCOMP));
  char buf[4096];
  FILE *st = fopen("/proc/self/status", "r");
  size_t n = st ? fread(buf, 1, sizeof buf - 1, st) : 0;
  buf[n] = 0;
  if (st) fclose(st);
  for (char *l = strtok(buf, "\n"); l; l = strtok(NULL, "\n"))
    if (!strncmp(l, "Seccomp", 7) || !strncmp(l, "NoNewPrivs", 10)) printf("%s\n", l);
}

static void other_actions(void) {
  nnp();
  MUST(deny(SYS_getppid, SECCOMP_RET_TRACE, 0));
  EXPECT_ERR("TRACE without tracer", syscall(SYS_getppid), ENOSYS);
  MUST(deny(SYS_getuid, SECCOMP_RET_USER_NOTIF, 0));
  EXPECT_ERR("USER_NOTIF without listener", syscall(SYS_getuid), ENOSYS);
  MUST(deny(SYS_getgid, SECCOMP_RET_LOG, SECCOMP_FILTER_FLAG_LOG));
  SHOW("LOG runs the call", syscall(SYS_getgid));
}

static volatile int trap_count;
static void on_sigsys(int sig, siginfo_t *si, void *uc_) {
  ucontext_t *uc = uc_;
  trap_count++;
  printf("SIGSYS: signo %d code %d errno %d syscall %d arch %s call_addr %s rax %s\n", si->si_signo, si->si_code,
         si->si_errno, si->si_syscall, si->si_arch == AUDIT_ARCH_X86_64 ? "x86_64" : "?",
         (uintptr_t)si->si_call_addr == (uintptr_t)uc->uc_mcontext.gregs[REG_RIP] ? "= rip" : "!= rip",
         uc->uc_mcontext.gregs[REG_RAX] == si->si_syscall ? "= nr" : "!= nr");
  uc->uc_mcontext.gregs[REG_RAX] = 4242; /* the emulated result */
  (void)sig;
}

static void trap_action(void) {
  struct sigaction sa = { 0 };
  sa.sa_sigaction = on_sigsys;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGSYS, &sa, NULL);
  nnp();
  MUST(deny(SYS_getppid, SECCOMP_RET_TRAP | 77, 0));
  long r = syscall(SYS_getppid);
  printf("trapped call returned %ld after %d signal(s)\n", r, trap_count);
  /* A blocked SIGSYS is forced: the process dies of it. */
  sigset_t m;
  sigemptyset(&m);
  sigaddset(&m, SIGSYS);
  sigprocmask(SIG_BLOCK, &m, NULL);
  syscall(SYS_getppid);
  printf("not reached\n");
}

static void kill_process(void) {
  nnp();
  MUST(deny(SYS_getppid, SECCOMP_RET_KILL_PROCESS, 0));
  syscall(SYS_getppid);
  printf("not reached\n");
}

static void kill_thread_last(void) {
  nnp();
  MUST(deny(SYS_getppid, SECCOMP_RET_KILL_THREAD, 0));
  syscall(SYS_getppid);
  printf("not reached\n");
}

static void *thread_getppid(void *a) {
  (void)a;
  syscall(SYS_getppid);
  printf("thread not reached\n");
  return NULL;
}

static void kill_thread_other(void) {
  nnp();
  MUST(deny(SYS_getppid, SECCOMP_RET_KILL_THREAD, 0));
  pthread_t th;
  pthread_create(&th, NULL, thread_getppid, NULL);
  pthread_join(th, NULL);
  printf("main thread lives on after its thread was killed\n");
}

static void unknown_action(void) {
  nnp();
  MUST(deny(SYS_getppid, 0x7ff80000, 0)); /* no such action: as KILL_PROCESS */
  syscall(SYS_getppid);
  printf("not reached\n");
}

static void div_zero(void) {
  nnp();
  struct sock_filter f[] = {
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, NR),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 3),
    BPF_STMT(BPF_LDX | BPF_IMM, 0),
    BPF_STMT(BPF_ALU | BPF_DIV | BPF_X, 0),
    BPF_STMT(BPF_RET | BPF_A, 0),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  MUST(install(f, 6, 0));
  syscall(SYS_getppid);
  printf("not reached\n");
}

static void alu(void) {
  nnp();
  /* ERRNO | ((nr * 3 + 7) ^ 1) & 0xff, computed in the filter, for getppid only. */
  struct sock_filter f[] = {
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, NR),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 1, 0),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    BPF_STMT(BPF_ALU | BPF_MUL | BPF_K, 3),
    BPF_STMT(BPF_ALU | BPF_ADD | BPF_K, 7),
    BPF_STMT(BPF_ALU | BPF_XOR | BPF_K, 1),
    BPF_STMT(BPF_ST, 0),
    BPF_STMT(BPF_LDX | BPF_MEM, 0),
    BPF_STMT(BPF_MISC | BPF_TXA, 0),
    BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0xff),
    BPF_STMT(BPF_ALU | BPF_OR | BPF_K, SECCOMP_RET_ERRNO),
    BPF_STMT(BPF_RET | BPF_A, 0),
  };
  MUST(install(f, 12, 0));
  errno = 0;
  syscall(SYS_getppid);
  printf("computed errno %d (want %d)\n", errno, ((SYS_getppid * 3 + 7) ^ 1) & 0xff);
}

static void strict_mode(void) {
  SHOW("enter strict", prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT, 0, 0, 0));
  const char m[] = "write works in strict mode\n";
  syscall(SYS_write, 1, m, sizeof m - 1);
  syscall(SYS_getpid);
  syscall(SYS_write, 1, "not reached\n", 12);
  syscall(SYS_exit, 0);
}

static void strict_exit(void) {
  MUST(sc(SECCOMP_SET_MODE_STRICT, 0, NULL));
  syscall(SYS_exit, 7);
}

static char *self;
static void inherit(void) {
  nnp();
  MUST(deny(SYS_getppid, SECCOMP_RET_ERRNO | EPERM, 0));
  fflush(stdout);
  pid_t p = fork();
  if (p == 0) {
    EXPECT_ERR("forked child getppid", syscall(SYS_getppid), EPERM);
    execl(self, self, "after-exec", (char *)NULL);
    _exit(98);
  }
  int st;
  waitpid(p, &st, 0);
  status_of("exec'd child", st);
}

static pthread_barrier_t bar;
static long sync_result;
static void *tsync_thread(void *a) {
  (void)a;
  pthread_barrier_wait(&bar); /* main installs with TSYNC */
  pthread_barrier_wait(&bar);
  sync_result = syscall(SYS_getppid) < 0 ? errno : 0;
  return NULL;
}

static void tsync(void) {
  nnp();
  pthread_t th;
  pthread_barrier_init(&bar, NULL, 2);
  pthread_create(&th, NULL, tsync_thread, NULL);
  pthread_barrier_wait(&bar);
  SHOW("install with TSYNC", deny(SYS_getppid, SECCOMP_RET_ERRNO | EPERM, SECCOMP_FILTER_FLAG_TSYNC));
  pthread_barrier_wait(&bar);
  pthread_join(th, NULL);
  printf("other thread's getppid: %s\n", sync_result ? ename(sync_result) : "ok");
}

static pid_t own_tid;
static void *own_filter_thread(void *a) {
  (void)a;
  own_tid = gettid();
  deny(SYS_getuid, SECCOMP_RET_ERRNO | EPERM, 0);
  pthread_barrier_wait(&bar);
  pthread_barrier_wait(&bar);
  return NULL;
}

static void tsync_conflict(void) {
  nnp();
  pthread_t th;
  pthread_barrier_init(&bar, NULL, 2);
  pthread_create(&th, NULL, own_filter_thread, NULL);
  pthread_barrier_wait(&bar);
  long r = deny(SYS_getppid, SECCOMP_RET_ERRNO | EPERM, SECCOMP_FILTER_FLAG_TSYNC);
  printf("TSYNC with a diverged thread returns its tid: %s\n", r == own_tid ? "yes" : "no");
  EXPECT_ERR("TSYNC_ESRCH", deny(SYS_getppid, SECCOMP_RET_ERRNO | EPERM, SECCOMP_FILTER_FLAG_TSYNC | SECCOMP_FILTER_FLAG_TSYNC_ESRCH), ESRCH);
  SHOW("not installed: getppid", syscall(SYS_getppid) > 0);
  pthread_barrier_wait(&bar);
  pthread_join(th, NULL);
}

int main(int argc, char **argv) {
  guest_init();
  if (argc > 1) {
    EXPECT_ERR("after exec getppid", syscall(SYS_getppid), EPERM);
    return 3;
  }
  self = argv[0];
  SHOW("PR_GET_SECCOMP", prctl(PR_GET_SECCOMP));
  unsigned acts[] = { SECCOMP_RET_KILL_PROCESS, SECCOMP_RET_KILL_THREAD, SECCOMP_RET_TRAP, SECCOMP_RET_ERRNO,
                      SECCOMP_RET_USER_NOTIF, SECCOMP_RET_TRACE, SECCOMP_RET_LOG, SECCOMP_RET_ALLOW, 0x7ff80000 };
  for (unsigned i = 0; i < sizeof acts / sizeof acts[0]; i++) {
    char l[64];
    snprintf(l, sizeof l, "action 0x%x available", acts[i]);
    SHOW(l, sc(SECCOMP_GET_ACTION_AVAIL, 0, &acts[i]));
  }
  EXPECT_ERR("action avail, flags", sc(SECCOMP_GET_ACTION_AVAIL, 1, &acts[0]), EINVAL);
  EXPECT_ERR("action avail, bad pointer", sc(SECCOMP_GET_ACTION_AVAIL, 0, (void *)8), EFAULT);
  struct seccomp_notif_sizes sz;
  SHOW("notif sizes", sc(SECCOMP_GET_NOTIF_SIZES, 0, &sz));
  printf("sizes %u %u %u\n", sz.seccomp_notif, sz.seccomp_notif_resp, sz.seccomp_data);
  in_child("bad programs", bad_programs);
  in_child("no_new_privs rule", need_nnp);
  in_child("ERRNO", errno_action);
  in_child("TRACE, USER_NOTIF, LOG", other_actions);
  in_child("TRAP", trap_action);
  in_child("KILL_PROCESS", kill_process);
  in_child("KILL_THREAD, last thread", kill_thread_last);
  in_child("KILL_THREAD, another thread", kill_thread_other);
  in_child("unknown action", unknown_action);
  in_child("division by zero", div_zero);
  in_child("ALU", alu);
  in_child("strict mode", strict_mode);
  in_child("strict mode exit", strict_exit);
  in_child("inherited", inherit);
  in_child("TSYNC", tsync);
  in_child("TSYNC conflict", tsync_conflict);
  printf("done\n");
  return 0;
}
