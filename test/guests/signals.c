/* Signals: handlers, SA_SIGINFO, masks, pending, SIGSEGV/SIGFPE recovery, sigaltstack, SIGCHLD, errors. */
#include "common.h"
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>

static volatile sig_atomic_t hits, last_sig;
static volatile int last_code;
static volatile pid_t last_pid;
static void *volatile last_addr;
static sigjmp_buf jb;
static char *altstack;
static volatile int on_alt;

static void h(int s) { hits++; last_sig = s; }
static void hinfo(int s, siginfo_t *si, void *uc) {
  (void)uc;
  hits++;
  last_sig = s;
  last_code = si->si_code;
  last_pid = si->si_pid;
  last_addr = si->si_addr;
}
static void fault(int s, siginfo_t *si, void *uc) {
  (void)uc;
  last_sig = s;
  last_code = si->si_code;
  last_addr = si->si_addr;
  siglongjmp(jb, 1);
}
static void alt(int s) {
  char local;
  (void)s;
  on_alt = &local >= altstack && &local < altstack + SIGSTKSZ * 4;
}
static int chld_hits;
/* waitpid and describe the status. A SIGCHLD handler (without SA_RESTART) is installed
 * by then: Linux still returns the exited child rather than EINTR, because the child is
 * already reapable when the signal arrives. */
static void reap(const char *label, pid_t c) {
  int st = 0;
  pid_t w = waitpid(c, &st, 0);
  if (w < 0) { printf("%s: waitpid %s\n", label, ename(errno)); return; }
  if (WIFSIGNALED(st)) printf("%s: killed by %s%s\n", label, sigabbrev_np(WTERMSIG(st)), WCOREDUMP(st) ? " (core dumped)" : "");
  else if (WIFEXITED(st)) printf("%s: exited %d\n", label, WEXITSTATUS(st));
  else printf("%s: status %#x\n", label, st);
}
static void chld(int s) { (void)s; chld_hits++; }

int main(void) {
  guest_init();
  struct sigaction sa;

  /* Plain handler via raise and kill. */
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = h;
  SHOW("sigaction USR1", sigaction(SIGUSR1, &sa, NULL));
  raise(SIGUSR1);
  printf("after raise: hits=%d sig=%s\n", hits, sigabbrev_np(last_sig));
  kill(getpid(), SIGUSR1);
  printf("after kill: hits=%d\n", hits);

  /* SA_SIGINFO: code and sender pid. */
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = hinfo;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGUSR2, &sa, NULL);
  kill(getpid(), SIGUSR2);
  printf("siginfo: sig=%s code=%s pid_is_me=%d\n", sigabbrev_np(last_sig),
         last_code == SI_USER ? "SI_USER" : last_code == SI_TKILL ? "SI_TKILL" : "?", last_pid == getpid());
  union sigval v = {.sival_int = 77};
  sigqueue(getpid(), SIGUSR2, v);
  printf("sigqueue: code=%s\n", last_code == SI_QUEUE ? "SI_QUEUE" : "?");

  /* Blocking: stays pending until unblocked, then delivered once. */
  hits = 0;
  sigset_t m, old, pend;
  sigemptyset(&m);
  sigaddset(&m, SIGUSR1);
  SHOW("block USR1", sigprocmask(SIG_BLOCK, &m, &old));
  FACT("old mask lacked USR1", !sigismember(&old, SIGUSR1));
  raise(SIGUSR1);
  raise(SIGUSR1); /* standard signals do not queue */
  printf("while blocked: hits=%d\n", hits);
  sigpending(&pend);
  FACT("USR1 pending", sigismember(&pend, SIGUSR1));
  SHOW("unblock USR1", sigprocmask(SIG_UNBLOCK, &m, NULL));
  printf("after unblock: hits=%d\n", hits);
  sigpending(&pend);
  FACT("nothing pending", !sigismember(&pend, SIGUSR1));
  sigset_t cur;
  sigprocmask(SIG_SETMASK, NULL, &cur);
  FACT("SIGKILL cannot be blocked", (sigaddset(&cur, SIGKILL), sigprocmask(SIG_SETMASK, &cur, NULL), sigprocmask(SIG_SETMASK, NULL, &cur), !sigismember(&cur, SIGKILL)));
  sigemptyset(&cur);
  sigprocmask(SIG_SETMASK, &cur, NULL);

  /* Real-time signals queue. */
  hits = 0;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = h;
  sigaction(SIGRTMIN, &sa, NULL);
  sigemptyset(&m);
  sigaddset(&m, SIGRTMIN);
  sigprocmask(SIG_BLOCK, &m, NULL);
  raise(SIGRTMIN);
  raise(SIGRTMIN);
  raise(SIGRTMIN);
  sigprocmask(SIG_UNBLOCK, &m, NULL);
  printf("rt signal delivered %d times\n", hits);


  /* Ignored signal. */
  signal(SIGTERM, SIG_IGN);
  SHOW("kill self SIGTERM (ignored)", kill(getpid(), SIGTERM));
  printf("survived SIGTERM\n");
  signal(SIGTERM, SIG_DFL);

  /* SIGSEGV recovery with siglongjmp: unmapped address, then write to read-only page. */
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = fault;
  sa.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigaction(SIGSEGV, &sa, NULL);
  sigaction(SIGFPE, &sa, NULL);
  sigaction(SIGBUS, &sa, NULL);
  if (sigsetjmp(jb, 1) == 0) {
    *(volatile int *)8 = 1;
    printf("no fault?\n");
  } else {
    printf("SEGV: sig=%s code=%s addr=%#lx\n", sigabbrev_np(last_sig),
           last_code == SEGV_MAPERR ? "SEGV_MAPERR" : "?", (unsigned long)(uintptr_t)last_addr);
  }
  char *ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (sigsetjmp(jb, 1) == 0) {
    ro[16] = 1;
    printf("no fault?\n");
  } else {
    printf("SEGV on RO page: code=%s addr_ok=%d\n", last_code == SEGV_ACCERR ? "SEGV_ACCERR" : "?", last_addr == ro + 16);
  }
  /* Again, to show the handler is still installed and the mask restored by siglongjmp. */
  if (sigsetjmp(jb, 1) == 0) {
    *(volatile char *)(ro + 100) = 1;
  } else {
    printf("second SEGV on RO page handled\n");
  }
  mprotect(ro, 4096, PROT_READ | PROT_WRITE);
  ro[16] = 5;
  printf("after mprotect write ok: %d\n", ro[16]);
  volatile int zero = 0;
  if (sigsetjmp(jb, 1) == 0) {
    volatile int x = 10 / zero;
    (void)x;
    printf("no fault?\n");
  } else {
    printf("FPE: sig=%s code=%s\n", sigabbrev_np(last_sig), last_code == FPE_INTDIV ? "FPE_INTDIV" : "?");
  }

  /* sigaltstack */
  stack_t ss = {0};
  altstack = malloc(SIGSTKSZ * 4);
  ss.ss_sp = altstack;
  ss.ss_size = SIGSTKSZ * 4;
  SHOW("sigaltstack", sigaltstack(&ss, NULL));
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = alt;
  sa.sa_flags = SA_ONSTACK;
  sigaction(SIGWINCH, &sa, NULL);
  raise(SIGWINCH);
  FACT("handler ran on alternate stack", on_alt);
  stack_t q;
  sigaltstack(NULL, &q);
  FACT("sigaltstack query", q.ss_sp == altstack && q.ss_size == SIGSTKSZ * 4 && !(q.ss_flags & SS_ONSTACK));

  /* SIGCHLD on child exit, and sigsuspend. */
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = chld;
  sigaction(SIGCHLD, &sa, NULL);
  sigemptyset(&m);
  sigaddset(&m, SIGCHLD);
  sigprocmask(SIG_BLOCK, &m, &old);
  pid_t c = fork();
  if (c == 0) _exit(0);
  sigset_t waitmask;
  sigemptyset(&waitmask);
  while (!chld_hits) sigsuspend(&waitmask);
  sigprocmask(SIG_SETMASK, &old, NULL);
  printf("SIGCHLD handled=%d\n", chld_hits);
  reap("SIGCHLD child", c);

  /* A signal interrupts a blocking read: EINTR without SA_RESTART. */
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = h;
  sigaction(SIGALRM, &sa, NULL);
  int p[2];
  pipe(p);
  c = fork();
  if (c == 0) {
    /* Once the parent sleeps in read(): sent earlier, the handler ran first and the read never ended. */
    await_pid_state(getppid(), 'S');
    kill(getppid(), SIGALRM);
    _exit(0);
  }
  char b;
  EXPECT_ERR("read interrupted", read(p[0], &b, 1), EINTR);
  reap("SIGALRM sender", c);

  /* Default action kills a child; the parent sees the signal. */
  c = fork();
  if (c == 0) {
    signal(SIGSEGV, SIG_DFL);
    *(volatile int *)8 = 1;
    _exit(0);
  }
  reap("child with SIGSEGV", c);
  c = fork();
  if (c == 0) { abort(); }
  reap("child abort()", c);

  /* Errors */
  SHOW("kill(self, 0)", kill(getpid(), 0));
  EXPECT_ERR("kill bad pid", kill(99999, 0), ESRCH);
  EXPECT_ERR("kill bad signal", kill(getpid(), 999), EINVAL);
  EXPECT_ERR("sigaction SIGKILL", sigaction(SIGKILL, &sa, NULL), EINVAL);
  EXPECT_ERR("sigaction signal 0", sigaction(0, &sa, NULL), EINVAL);
  EXPECT_ERR("sigprocmask bad how", sigprocmask(99, &m, NULL), EINVAL);
  printf("done\n");
  return 0;
}
