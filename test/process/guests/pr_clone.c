/* fork, vfork, clone with sharing flags, clone3, copy-on-write, shared memory in threads. */
#include "pr.h"
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>
#include <asm/prctl.h>
#include <linux/futex.h>

struct clone_args_v0 {
  uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
};

static int global_var = 1;
static volatile int shared_flag;
static char stack1[65536] __attribute__((aligned(16)));

static int child_writes(void *arg) { (void)arg; global_var = 42; return 0; }
static int child_chdir(void *arg) { (void)arg; if (chdir("/") < 0) return 1; umask(077); return 0; }
static int child_open(void *arg) { return open("/dev/null", O_RDONLY) >= 0 ? 0 : 1; (void)arg; }
static void h_usr1(int s) { (void)s; }
static int child_sigaction(void *arg) { (void)arg; signal(SIGUSR1, h_usr1); return 0; }

/* CLONE_THREAD child with its own TLS: only raw syscalls and globals. */
static pid_t thr_ptid, thr_ctid, thr_seen_ctid, thr_tid, thr_pid;
static uintptr_t thr_fs0;
static volatile int thr_done;
static int thread_fn(void *arg) {
  (void)arg;
  uintptr_t fs0;
  __asm__ volatile("mov %%fs:0, %0" : "=r"(fs0));
  thr_fs0 = fs0;
  thr_tid = syscall(SYS_gettid);
  thr_pid = syscall(SYS_getpid);
  thr_seen_ctid = thr_ctid;
  thr_done = 1;
  return 0;
}

static void run_clone(const char *label, int (*fn)(void *), int flags) {
  pid_t p = clone(fn, stack1 + sizeof stack1, flags | SIGCHLD, NULL);
  if (p < 0) { printf("%s: clone %s\n", label, ename(errno)); return; }
  reap(label, p);
}

static atomic_int counter;
static int thread_written;
static void *incr(void *a) {
  for (int i = 0; i < 10000; i++) atomic_fetch_add(&counter, 1);
  if (a) thread_written = 77;
  return NULL;
}

int main(void) {
  guest_init();
  int st;

  /* fork + copy-on-write: stack, global, heap, private and shared mmaps. */
  int local = 5;
  int *heap = malloc(sizeof *heap); *heap = 9;
  int *priv = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  int *shr = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  *priv = 3; *shr = 4;
  pid_t c = fork();
  if (c == 0) {
    local = 50; global_var = 10; *heap = 90; *priv = 30; *shr = 40;
    printf("fork child sees writes: %d %d %d %d %d\n", local, global_var, *heap, *priv, *shr);
    _exit(7);
  }
  reap("fork child", c);
  printf("parent after fork child wrote: local=%d global=%d heap=%d private=%d shared=%d\n", local, global_var, *heap, *priv, *shr);
  /* Parent writes after fork are not seen by the child either. */
  int pfd[2]; MUST(pipe(pfd));
  c = fork();
  if (c == 0) { char b; close(pfd[1]); read(pfd[0], &b, 1); printf("child sees parent's later write: %s\n", global_var == 1 ? "no" : "yes"); _exit(0); }
  global_var = 1234; close(pfd[1]); close(pfd[0]);
  reap("cow child 2", c);
  global_var = 1;

  /* vfork: shares memory, parent suspended until the child exits or execs. */
  volatile int vflag = 0;
  c = vfork();
  if (c == 0) { vflag = 1; _exit(3); }
  printf("vfork: parent sees child's write: %s\n", vflag ? "yes" : "no");
  reap("vfork child", c);
  c = vfork();
  if (c == 0) { execl("/bin/true", "true", (char *)NULL); _exit(127); }
  reap("vfork+exec /bin/true", c);

  /* clone with and without CLONE_VM. */
  global_var = 1;
  run_clone("clone no VM", child_writes, 0);
  printf("no CLONE_VM: parent global=%d\n", global_var);
  run_clone("clone VM", child_writes, CLONE_VM);
  printf("CLONE_VM: parent global=%d\n", global_var);

  /* CLONE_FS: cwd and umask shared. */
  char cwd[256];
  enter_tmpdir();
  run_clone("clone no FS", child_chdir, CLONE_VM);
  printf("no CLONE_FS: cwd is / : %s\n", strcmp(getcwd(cwd, sizeof cwd), "/") == 0 ? "yes" : "no");
  mode_t um = umask(022); printf("no CLONE_FS: umask %03o\n", um);
  run_clone("clone FS", child_chdir, CLONE_VM | CLONE_FS);
  printf("CLONE_FS: cwd is / : %s\n", strcmp(getcwd(cwd, sizeof cwd), "/") == 0 ? "yes" : "no");
  um = umask(022); printf("CLONE_FS: umask %03o\n", um);
  leave_tmpdir();

  /* CLONE_FILES: fd table shared. */
  int probe = dup(0); close(probe); /* lowest free fd */
  run_clone("clone no FILES", child_open, CLONE_VM);
  EXPECT_ERR("no CLONE_FILES: fd visible", fcntl(probe, F_GETFD), EBADF);
  run_clone("clone FILES", child_open, CLONE_VM | CLONE_FILES);
  OKERR("CLONE_FILES: fd visible", fcntl(probe, F_GETFD));
  close(probe);

  /* CLONE_SIGHAND: dispositions shared (requires CLONE_VM). */
  run_clone("clone no SIGHAND", child_sigaction, CLONE_VM);
  struct sigaction sa; sigaction(SIGUSR1, NULL, &sa);
  printf("no CLONE_SIGHAND: SIGUSR1 handler set: %s\n", sa.sa_handler == h_usr1 ? "yes" : "no");
  run_clone("clone SIGHAND", child_sigaction, CLONE_VM | CLONE_SIGHAND);
  sigaction(SIGUSR1, NULL, &sa);
  printf("CLONE_SIGHAND: SIGUSR1 handler set: %s\n", sa.sa_handler == h_usr1 ? "yes" : "no");
  signal(SIGUSR1, SIG_DFL);
  EXPECT_ERR("CLONE_SIGHAND without CLONE_VM", clone(child_writes, stack1 + sizeof stack1, CLONE_SIGHAND | SIGCHLD, NULL), EINVAL);
  EXPECT_ERR("CLONE_THREAD without CLONE_SIGHAND", clone(child_writes, stack1 + sizeof stack1, CLONE_THREAD | CLONE_VM, NULL), EINVAL);

  /* A raw thread: CLONE_THREAD|SETTLS|PARENT_SETTID|CHILD_SETTID|CHILD_CLEARTID. */
  uintptr_t fsbase; syscall(SYS_arch_prctl, ARCH_GET_FS, &fsbase);
  static uint64_t tls[64] __attribute__((aligned(64)));
  memcpy(tls, (void *)fsbase, sizeof tls);
  tls[0] = (uintptr_t)tls; tls[2] = (uintptr_t)tls;
  int fl = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM |
           CLONE_SETTLS | CLONE_PARENT_SETTID | CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID;
  thr_ctid = -1;
  pid_t t = clone(thread_fn, stack1 + sizeof stack1, fl, NULL, &thr_ptid, tls, &thr_ctid);
  if (t < 0) printf("thread clone: %s\n", ename(errno));
  else {
    /* CHILD_CLEARTID: the kernel zeroes ctid and futex-wakes it when the thread exits. */
    long spins = 0;
    while (*(volatile pid_t *)&thr_ctid != 0 && spins < 1000) {
      pid_t v = *(volatile pid_t *)&thr_ctid;
      if (v != 0) { struct timespec to = {0, 10000000}; syscall(SYS_futex, &thr_ctid, FUTEX_WAIT, v, &to, NULL, 0); }
      spins++;
    }
    FACT("thread ran", thr_done);
    FACT("PARENT_SETTID wrote the tid", thr_ptid == t);
    FACT("CHILD_SETTID: thread saw its tid in ctid", thr_seen_ctid == t);
    FACT("CHILD_CLEARTID: ctid cleared at exit", thr_ctid == 0);
    FACT("SETTLS: %fs:0 is the new TLS block", thr_fs0 == (uintptr_t)tls);
    FACT("thread tid != pid", thr_tid != getpid());
    FACT("thread getpid == parent getpid", thr_pid == getpid());
    EXPECT_ERR("waitpid on a thread", waitpid(t, &st, __WALL | WNOHANG), ECHILD);
  }

  /* clone3 */
  struct clone_args_v0 ca; memset(&ca, 0, sizeof ca);
  ca.exit_signal = SIGCHLD;
  pid_t ptid = 0;
  ca.flags = CLONE_PARENT_SETTID; ca.parent_tid = (uintptr_t)&ptid;
  long r = syscall(SYS_clone3, &ca, sizeof ca);
  if (r == 0) { global_var = 99; _exit(global_var == 99 ? 5 : 6); }
  if (r < 0) printf("clone3: %s\n", ename(errno));
  else { reap("clone3 child", r); FACT("clone3 PARENT_SETTID", ptid == r); printf("clone3: parent global=%d\n", global_var); }
  int pidfd = -1;
  memset(&ca, 0, sizeof ca); ca.exit_signal = SIGCHLD; ca.flags = CLONE_PIDFD; ca.pidfd = (uintptr_t)&pidfd;
  r = syscall(SYS_clone3, &ca, sizeof ca);
  if (r == 0) _exit(8);
  if (r < 0) printf("clone3 CLONE_PIDFD: %s\n", ename(errno));
  else { FACT("clone3 CLONE_PIDFD gave an fd", pidfd > 2); reap("clone3 pidfd child", r); close(pidfd); }
  memset(&ca, 0, sizeof ca); ca.exit_signal = SIGCHLD;
  EXPECT_ERR("clone3 size too small", syscall(SYS_clone3, &ca, 8), EINVAL);
  ca.flags = CLONE_SIGHAND;
  EXPECT_ERR("clone3 SIGHAND without VM", syscall(SYS_clone3, &ca, sizeof ca), EINVAL);

  /* pthreads share memory. */
  pthread_t th[4];
  for (int i = 0; i < 4; i++) pthread_create(&th[i], NULL, incr, i == 0 ? (void *)1 : NULL);
  for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
  printf("threads: counter=%d written=%d\n", atomic_load(&counter), thread_written);
  printf("done\n");
  return 0;
}
