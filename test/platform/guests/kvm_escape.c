// What a guest on the kvm platform can do to the machinery around it: write the shim's
// pages (code, IDT, its vCPU's state page, GDT/TSS, stack), find and write the GDT
// (sgdt), run privileged instructions (out, hlt, cli, mov to cr3, wrmsr), int $0x80,
// map over the shim (and the direct-syscall page), use the direct-syscall port, and jump
// into the shim's syscall entry with registers of its own.
// Each must be refused (SIGSEGV) or be a syscall of its own; and the guest still runs.
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <sys/mman.h>

static sigjmp_buf jb;
static volatile int got;

static void on(int s) {
  got = s;
  siglongjmp(jb, 1);
}

static const char* name(int s) { return s == SIGSEGV ? "SIGSEGV" : s == SIGILL ? "SIGILL" : s == SIGBUS ? "SIGBUS" : s ? "other" : "none"; }

static int tryWrite(uintptr_t a) {
  got = 0;
  if (!sigsetjmp(jb, 1)) *(volatile uint64_t*)a = 0x9090909090909090ull;
  return got;
}

static int tryRead(uintptr_t a) {
  got = 0;
  if (!sigsetjmp(jb, 1)) (void)*(volatile uint64_t*)a;
  return got;
}

static int tryInsn(int which) {
  got = 0;
  if (!sigsetjmp(jb, 1)) {
    switch (which) {
      case 0: __asm__ volatile("mov $1, %%al; outb %%al, $0x10" ::: "rax"); break;
      case 1: __asm__ volatile("hlt"); break;
      case 2: __asm__ volatile("cli"); break;
      case 3: __asm__ volatile("xor %%eax, %%eax; mov %%rax, %%cr3" ::: "rax"); break;
      case 4: __asm__ volatile("mov $0xc0000082, %%ecx; xor %%eax, %%eax; xor %%edx, %%edx; wrmsr" ::: "rax", "rcx", "rdx"); break;
      case 5: __asm__ volatile("mov $20, %%eax; int $0x80" ::: "rax", "memory"); break;
      // The direct-syscall port (native/kvm/kvm_abi.h KVM_SYSCALL_PORT), outside its page.
      case 6: __asm__ volatile("mov $39, %%eax; outb %%al, $0x11" ::: "rax"); break;
      case 7: __asm__ volatile("inb $0x11, %%al" ::: "rax"); break;
      case 8: __asm__ volatile("mov $0x11, %%edx; mov $39, %%eax; outb %%al, %%dx" ::: "rax", "rdx"); break;
    }
  }
  return got;
}

int main(void) {
  signal(SIGSEGV, on);
  signal(SIGILL, on);
  signal(SIGBUS, on);
  const uintptr_t base = 0xffffffff80000000ull;
  const struct { const char* what; uintptr_t at; } pages[] = {
      {"shim code", base}, {"IDT", base + 0x1000}, {"state page", base + 0x10000},
      {"GDT/TSS", base + 0x11000}, {"PTE queue", base + 0x12000}, {"ring-0 stack", base + 0x13ff8},
      {"page tables (shim window)", 0xffffff8000200000ull},
  };
  for (unsigned i = 0; i < sizeof pages / sizeof pages[0]; i++)
    printf("%s: write %s, read %s\n", pages[i].what, name(tryWrite(pages[i].at)), name(tryRead(pages[i].at)));
  struct __attribute__((packed)) { uint16_t limit; uint64_t base; } gdtr;
  __asm__ volatile("sgdt %0" : "=m"(gdtr));
  printf("GDT found by sgdt: write %s\n", name(tryWrite(gdtr.base)));
  const char* insns[] = {"out", "hlt", "cli", "mov to cr3", "wrmsr LSTAR", "int $0x80", "out to the syscall port",
                         "in from the syscall port", "out %dx to the syscall port"};
  for (int i = 0; i < 9; i++) printf("%s: %s\n", insns[i], name(tryInsn(i)));
  void* over = mmap((void*)base, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  printf("mmap over the shim: %s\n", over == MAP_FAILED ? "refused" : "MAPPED");
  // The last user page (the direct-syscall page where the host has them) is no guest's.
  void* top = mmap((void*)0x7ffffffff000ull, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  printf("mmap over the last user page: %s\n", top == MAP_FAILED ? "refused" : "MAPPED");
  // Page tables are not in the guest's view at all; low guest-physical addresses are
  // just addresses of its own.
  char* low = mmap((void*)0x200000, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  if (low != MAP_FAILED) memset(low, 0xff, 4096);
  long pid;
  __asm__ volatile("lea 1f(%%rip), %%rcx; mov $39, %%eax; jmp *%1; 1:" : "=a"(pid) : "r"(base) : "rcx", "r11", "memory");
  printf("jump into the syscall entry with getpid: %ld\n", pid);
  printf("still running: yes\n");
  return 0;
}
