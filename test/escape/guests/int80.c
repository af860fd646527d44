/*
 * A 32-bit syscall (`int $0x80`) from a 64-bit program. eax=4 is write on the 32-bit
 * table and stat on the 64-bit one: neither may run. The sandbox refuses it as Linux
 * without IA32 emulation does: SIGSEGV (SI_KERNEL), rip at the instruction, registers
 * untouched. "nohandler": the default action kills the process.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

extern char int80_insn[];
static sigjmp_buf jb;
static volatile int code;
static volatile long rip, rax, rbx;

static void on_segv(int sig, siginfo_t *si, void *ctx) {
  ucontext_t *uc = ctx;
  code = si->si_code;
  rip = uc->uc_mcontext.gregs[REG_RIP];
  rax = uc->uc_mcontext.gregs[REG_RAX];
  rbx = uc->uc_mcontext.gregs[REG_RBX];
  siglongjmp(jb, 1);
}

static void int80_write(void) {
  static const char msg[] = "32-bit write ran\n";
  __asm__ volatile(
      "mov $4, %%eax\n\t"
      "mov $1, %%ebx\n\t"
      "mov %0, %%rcx\n\t"
      "mov %1, %%edx\n\t"
      ".globl int80_insn\n"
      "int80_insn:\n\t"
      "int $0x80\n\t"
      : : "r"(msg), "i"(sizeof msg - 1) : "rax", "rbx", "rcx", "rdx", "memory");
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "nohandler") == 0) {
    printf("int $0x80 without a handler\n");
    fflush(stdout);
    int80_write();
    printf("survived\n");
    return 0;
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_segv;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGSEGV, &sa, NULL);
  for (int i = 0; i < 2; i++) {
    if (sigsetjmp(jb, 1) == 0) {
      int80_write();
      printf("int $0x80: no signal\n");
    } else {
      printf("int $0x80: SIGSEGV si_code %d, rip %s, rax %ld, rbx %ld\n", code,
             rip == (long)int80_insn ? "at the instruction" : "elsewhere", rax, rbx);
    }
  }
  return 0;
}
