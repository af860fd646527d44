/* Synchronous faults: SIGSEGV recovered with siglongjmp, SIGFPE, SIGILL (ud2), SIGBUS (mmap past EOF);
   fatal signals in a child's wait status (RLIMIT_CORE=0, so no core is written natively);
   mode "die SIG": die of that signal so the sandbox's own exit status can be checked. */
#include "pr.h"
#include <fcntl.h>
#include <setjmp.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/resource.h>

static sigjmp_buf jb;
static volatile int got_sig, got_code;
static volatile uintptr_t got_addr;
static void h(int s, siginfo_t *si, void *uc) { (void)uc; got_sig = s; got_code = si->si_code; got_addr = (uintptr_t)si->si_addr; siglongjmp(jb, 1); }
static void catch_all(void) {
  struct sigaction sa; memset(&sa, 0, sizeof sa); sa.sa_sigaction = h; sa.sa_flags = SA_SIGINFO;
  int sigs[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP };
  for (unsigned i = 0; i < sizeof sigs / sizeof *sigs; i++) sigaction(sigs[i], &sa, NULL);
}
static const char *cname(int sig, int c) {
  if (sig == SIGSEGV) return c == SEGV_MAPERR ? "SEGV_MAPERR" : c == SEGV_ACCERR ? "SEGV_ACCERR" : c == SI_KERNEL ? "SI_KERNEL" : "other";
  if (sig == SIGBUS) return c == BUS_ADRERR ? "BUS_ADRERR" : c == BUS_ADRALN ? "BUS_ADRALN" : "other";
  if (sig == SIGFPE) return c == FPE_INTDIV ? "FPE_INTDIV" : "other";
  if (sig == SIGILL) return c == ILL_ILLOPN ? "ILL_ILLOPN" : "other";
  return "other";
}
#define TRY(label, stmt, expect_addr) do {                                          \
    got_sig = 0;                                                                     \
    if (sigsetjmp(jb, 1) == 0) { stmt; printf("%s: no signal\n", label); }         \
    else printf("%s: %s %s addr ok=%d\n", label, sigabbrev_np(got_sig), cname(got_sig, got_code), \
                (expect_addr) == 0 || got_addr == (uintptr_t)(expect_addr));        \
  } while (0)

extern char ud2_site[];
static volatile int zero = 0;
static volatile int sink;
static int divide(int a, int b) { int q; __asm__ volatile("cltd; idivl %2" : "=a"(q) : "a"(a), "r"(b) : "edx"); return q; }

int main(int argc, char **argv) {
  guest_init();
  struct rlimit rl = { 0, 0 };
  setrlimit(RLIMIT_CORE, &rl);
  if (argc > 2 && !strcmp(argv[1], "die")) {
    int s = atoi(argv[2]);
    if (s == SIGSEGV) *(volatile int *)8 = 1;
    if (s == SIGABRT) abort();
    if (s == SIGFPE) sink = divide(1, zero);
    raise(s);
    return 0;
  }
  catch_all();
  char *page = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  char *ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  munmap(page + 4096, 4096);
  TRY("write to NULL+8", *(volatile int *)8 = 1, 8);
  TRY("read unmapped page", sink = *(volatile char *)(page + 4096), page + 4096);
  TRY("write read-only page", *(volatile char *)(ro + 100) = 1, ro + 100);
  TRY("again (mask restored by siglongjmp)", *(volatile char *)(ro + 8) = 1, ro + 8);
  TRY("non-canonical address", sink = *(volatile char *)0x8000000000000000ull, 0);
  TRY("integer divide by zero", sink = divide(1, zero), 0);
  TRY("ud2", __asm__ volatile("ud2_site: ud2"), ud2_site);
  sigset_t m; sigprocmask(SIG_BLOCK, NULL, &m);
  printf("nothing left blocked after longjmps: %s\n", sigismember(&m, SIGSEGV) || sigismember(&m, SIGILL) ? "no" : "yes");

  /* SIGBUS: a shared file mapping beyond EOF. */
  enter_tmpdir();
  int fd = open("f", O_RDWR | O_CREAT | O_TRUNC, 0644);
  write(fd, "hello", 5);
  char *fm = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (fm == MAP_FAILED) printf("mmap file: %s\n", ename(errno));
  else {
    printf("first page readable: %.5s\n", fm);
    TRY("read past EOF page", sink = fm[4096], fm + 4096);
    munmap(fm, 8192);
  }
  char *fp = mmap(NULL, 8192, PROT_READ, MAP_PRIVATE, fd, 0);
  if (fp != MAP_FAILED) { TRY("MAP_PRIVATE read past EOF page", sink = fp[4096 + 10], fp + 4096 + 10); munmap(fp, 8192); }
  close(fd);
  leave_tmpdir();

  /* A fault with the signal blocked, or its handler SIG_IGN, is still fatal. */
  pid_t c = fork();
  if (c == 0) { sigset_t b; sigemptyset(&b); sigaddset(&b, SIGSEGV); sigprocmask(SIG_BLOCK, &b, NULL); *(volatile int *)8 = 1; _exit(0); }
  reap("fault with SIGSEGV blocked", c);
  c = fork();
  if (c == 0) { signal(SIGFPE, SIG_IGN); sink = divide(1, zero); _exit(0); }
  reap("divide by zero with SIGFPE ignored", c);

  /* Fatal signals in the wait status. */
  struct { const char *name; int sig; } kills[] = {
    { "SEGV", SIGSEGV }, { "ABRT", SIGABRT }, { "FPE", SIGFPE }, { "ILL", SIGILL }, { "BUS", SIGBUS },
    { "QUIT", SIGQUIT }, { "TRAP", SIGTRAP }, { "SYS", SIGSYS }, { "XCPU", SIGXCPU }, { "TERM", SIGTERM },
    { "HUP", SIGHUP }, { "USR1", SIGUSR1 }, { "ALRM", SIGALRM }, { "PIPE", SIGPIPE },
  };
  for (unsigned i = 0; i < sizeof kills / sizeof *kills; i++) {
    c = fork();
    if (c == 0) {
      signal(kills[i].sig, SIG_DFL);
      if (kills[i].sig == SIGSEGV) *(volatile int *)8 = 1;
      else if (kills[i].sig == SIGABRT) abort();
      else if (kills[i].sig == SIGFPE) sink = divide(1, zero);
      else if (kills[i].sig == SIGILL) __asm__ volatile("ud2");
      else raise(kills[i].sig);
      _exit(0);
    }
    int st; waitpid(c, &st, 0);
    printf("child dies of %s: WIFSIGNALED=%d WTERMSIG=%s WCOREDUMP=%d\n", kills[i].name, WIFSIGNALED(st), WIFSIGNALED(st) ? sigabbrev_np(WTERMSIG(st)) : "-", WCOREDUMP(st) ? 1 : 0);
  }
  printf("done\n");
  return 0;
}
