/* sigaltstack keeps 64-bit sp and size exactly (set directly and through a handler rewriting uc_stack before rt_sigreturn): trinity made the Sentry throw writing back a value rounded to 2^64. */
#include <signal.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <ucontext.h>
static void h(int s, siginfo_t *i, void *uc) { ucontext_t *u = uc; u->uc_stack.ss_sp = (void *)0xfffffffffffff000ull; u->uc_stack.ss_size = 0xffffffffffffff00ull; u->uc_stack.ss_flags = 0; }
int main(void) {
  struct { uint64_t sp; int flags; int pad; uint64_t size; } ss = {0xfffffffffffffff0ull, 0, 0, 0xfffffffffffffff8ull}, old;
  long r = syscall(SYS_sigaltstack, &ss, 0);
  printf("set huge: %ld\n", r);
  memset(&old, 0, sizeof old);
  r = syscall(SYS_sigaltstack, 0, &old);
  printf("get: %ld sp=%#llx size=%#llx flags=%d\n", r, (unsigned long long)old.sp, (unsigned long long)old.size, old.flags);
  ss.flags = 2; syscall(SYS_sigaltstack, &ss, 0);
  struct sigaction sa = {0}; sa.sa_sigaction = h; sa.sa_flags = SA_SIGINFO; sigaction(SIGUSR1, &sa, 0);
  raise(SIGUSR1);
  memset(&old, 0, sizeof old);
  r = syscall(SYS_sigaltstack, 0, &old);
  printf("after sigreturn: %ld sp=%#llx size=%#llx flags=%d\n", r, (unsigned long long)old.sp, (unsigned long long)old.size, old.flags);
  return 0;
}
