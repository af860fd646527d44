/*
 * Escape attempts against the stub itself. Expected results are Sentry policy (the
 * stub image is not the guest's), so this guest prints them and the test compares
 * with fixed lines rather than a native run.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#define STUB ((void *)0x7ff000000000UL)
#define SCRATCH ((void *)0x7ff000010000UL)
static sigjmp_buf jb;
static volatile long trap_rax;

static void on_trap(int sig, siginfo_t *si, void *ctx) {
  trap_rax = ((ucontext_t *)ctx)->uc_mcontext.gregs[REG_RAX];
  siglongjmp(jb, sig);
}

int main(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_trap;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGTRAP, &sa, NULL);
  sigaction(SIGSEGV, &sa, NULL);

  /* Jumping to the stub's own `syscall` instruction is just another trapped syscall. */
  if (sigsetjmp(jb, 1) == 0) {
    __asm__ volatile("mov $39, %%eax\n\t call *%0" : : "r"(STUB) : "rax", "rcx", "r11", "memory");
  }
  printf("gadget getpid -> %ld (guest pid %d)\n", trap_rax, getpid());

  printf("munmap stub: %s\n", munmap(STUB, 4096) == 0 ? "ok" : strerrorname_np(errno));
  printf("mprotect stub: %s\n", mprotect(STUB, 4096, PROT_READ | PROT_WRITE) == 0 ? "ok" : strerrorname_np(errno));
  void *m = mmap(STUB, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  printf("mmap over stub: %s\n", m == MAP_FAILED ? strerrorname_np(errno) : "mapped");
  int sig = sigsetjmp(jb, 1);
  if (sig == 0) *(volatile char *)STUB = 0;
  printf("write to stub: %s\n", sig == SIGSEGV ? "SIGSEGV" : "no fault");
  /* The scratch page the Sentry uses for fd hand-over is not the guest's to write. */
  sig = sigsetjmp(jb, 1);
  if (sig == 0) *(volatile char *)SCRATCH = 0;
  printf("write to stub scratch: %s\n", sig == SIGSEGV ? "SIGSEGV" : "no fault");
  /* Nor, through the Sentry, any byte of the stub image: it is no guest memory. */
  int pfd[2];
  pipe(pfd);
  printf("write(pipe, stub): %s\n", write(pfd[1], STUB, 16) < 0 ? strerrorname_np(errno) : "copied");
  write(pfd[1], "0123456789abcdef", 16);
  printf("read(pipe, scratch): %s\n", read(pfd[0], SCRATCH, 16) < 0 ? strerrorname_np(errno) : "copied");

  /* The stub's fd-passing socket is fd 1000 on the host, never a guest fd. */
  printf("write(1000): %s\n", write(1000, "x", 1) < 0 ? strerrorname_np(errno) : "written");
  printf("close(1000): %s\n", close(1000) < 0 ? strerrorname_np(errno) : "closed");

  FILE *f = fopen("/proc/self/maps", "r");
  char line[512];
  int seen = 0;
  while (f && fgets(line, sizeof line, f)) if (strncmp(line, "7ff000", 6) == 0) seen = 1;
  printf("stub in /proc/self/maps: %s\n", seen ? "yes" : "no");
  return 0;
}
