/*
 * Guest code jumping to every syscall instruction of the stub with registers of its
 * own choosing: the injection gadget, the systrap handler's instruction, the signal
 * restorer's and a new thread's entry's two (sigaltstack, seccomp), and the injector's
 * batch run from the top with a table of the guest's own. None may reach the host: getpid must be the guest's pid (1),
 * and a file created through them must land in the sandbox, not on the host.
 * argv[1]: a host directory the sandbox sees read-only.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static sigjmp_buf jb;
static volatile long got;

static void on_sig(int sig, siginfo_t* si, void* uc) {
  (void)si;
  (void)uc;
  siglongjmp(jb, sig);
}

/* Runs `syscall` at address `at` with rax=nr, rdi/rsi/rdx = a/b/c, then whatever the
   code after it does (int3, ret into our own frame, ud2): the result comes back in rax
   through the signal that follows, or through the `ret`. */
static long jump(unsigned long at, long nr, long a, long b, long c) {
  long r;
  register long rdx __asm__("rdx") = c;
  if (sigsetjmp(jb, 1) != 0) return got;
  __asm__ volatile(
      "lea 1f(%%rip), %%rcx\n\t"
      "push %%rcx\n\t" /* a `ret` after the syscall comes back here */
      "jmp *%[at]\n\t"
      "1:\n\t"
      : "=a"(r)
      : [at] "r"(at), "a"(nr), "D"(a), "S"(b), "r"(rdx)
      : "rcx", "r11", "memory");
  return r;
}

/* The injector's batch (systrap's st_batch, at 0x7ff000000330) run from its top with
   a table of our own (rbx) of one call (rbp = 1): its syscall, then its int3. */
static long jump_batch6(long nr, long a, long b, long c, long d, long e, long f) {
  static long table[7];
  table[0] = nr, table[1] = a, table[2] = b, table[3] = c, table[4] = d, table[5] = e, table[6] = f;
  if (sigsetjmp(jb, 1) != 0) return got;
  __asm__ volatile("mov %0, %%rbx\n\t"
                   "mov $1, %%ebp\n\t"
                   "jmp *%1\n\t" ::"r"(table), "r"(0x7ff000000330UL)
                   : "rbx", "memory");
  __builtin_unreachable();
}
static long jump_batch(long nr, long a, long b, long c) { return jump_batch6(nr, a, b, c, 0, 0, 0); }

static void on_trap(int sig, siginfo_t* si, void* ucv) {
  ucontext_t* uc = ucv;
  (void)si;
  got = uc->uc_mcontext.gregs[REG_RAX];
  siglongjmp(jb, sig);
}

int main(int argc, char** argv) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_trap;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGTRAP, &sa, NULL);
  sigaction(SIGILL, &sa, NULL);
  sigaction(SIGSEGV, &sa, NULL);
  const struct { const char* name; unsigned long at; } sites[] = {
      {"gadget", 0x7ff000000000UL},
      {"handler", 0x7ff000000020UL},
      {"restorer", 0x7ff000000038UL},
      /* A new thread's entry: its sigaltstack and seccomp instructions (allowed only
         before the thread's own guest-thread filter is in, which traps them). */
      {"entry-sigaltstack", 0x7ff0000002e0UL},
      {"entry-seccomp", 0x7ff000000310UL},
  };
  const char* dir = argc > 1 ? argv[1] : "/tmp";
  const unsigned n = sizeof sites / sizeof sites[0];
  for (unsigned i = 0; i <= n; i++) {
    const char* name = i < n ? sites[i].name : "batch";
    long pid = i < n ? jump(sites[i].at, SYS_getpid, 0, 0, 0) : jump_batch(SYS_getpid, 0, 0, 0);
    printf("%s getpid -> %ld\n", name, pid);
    char path[4096];
    snprintf(path, sizeof path, "%s/stub-jump-%s", dir, name);
    long fd = i < n ? jump(sites[i].at, SYS_open, (long)path, O_CREAT | O_WRONLY, 0644)
                    : jump_batch(SYS_open, (long)path, O_CREAT | O_WRONLY, 0644);
    struct stat st;
    printf("%s open(O_CREAT) -> %s, visible in the sandbox: %s\n", name, fd >= 0 ? "fd" : strerror((int)-fd),
           stat(path, &st) == 0 ? "yes" : "no");
  }
  /* The shared frames above the stub image are the platform's, not guest memory. */
  void* frames = (void*)0x7ff000110000UL;
  /* A call the injector may make at the batch's instruction, made by guest code there:
     the Sentry's mm answers it (it refuses the frames), the host never runs it. */
  long bm = jump_batch6(SYS_mmap, (long)frames, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  printf("batch mmap over frames: %s\n", bm < 0 && bm > -4096 ? strerrorname_np((int)-bm) : "mapped");
  void* m = mmap(frames, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  printf("mmap over frames: %s\n", m == MAP_FAILED ? strerrorname_np(errno) : "mapped");
  printf("munmap frames: %s\n", munmap(frames, 4096) == 0 ? "ok" : strerrorname_np(errno));
  printf("mprotect frames: %s\n", mprotect(frames, 4096, PROT_READ) == 0 ? "ok" : strerrorname_np(errno));
  void* a = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  void* r = mremap(a, 8192, 8192, MREMAP_MAYMOVE | MREMAP_FIXED, frames);
  printf("mremap onto frames: %s\n", r == MAP_FAILED ? strerrorname_np(errno) : "moved");
  int pfd[2];
  pipe(pfd);
  printf("write(pipe, frames): %s\n", write(pfd[1], frames, 16) < 0 ? strerrorname_np(errno) : "copied");
  printf("done\n");
  return 0;
}
