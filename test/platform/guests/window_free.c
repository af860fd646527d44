// Built -nostdlib: every syscall from a site patching leaves alone (the 7 bytes start at
// 4 mod 8), so nothing claims systrap's patch window in this address space; after an
// exec from a process that had it, the guest may map that address as on Linux.
#define SITE(nr) ".p2align 3\n nop\n nop\n nop\n nop\n mov $" #nr ", %%eax\n syscall\n"

static long sys_mmap(long addr, long len, long prot, long flags) {
  long r;
  register long r10 __asm__("r10") = flags;
  register long r8 __asm__("r8") = -1;
  register long r9 __asm__("r9") = 0;
  __asm__ volatile(SITE(9) : "=a"(r) : "D"(addr), "S"(len), "d"(prot), "r"(r10), "r"(r8), "r"(r9) : "rcx", "r11", "memory");
  return r;
}
static long sys_write(long fd, const char* p, long n) {
  long r;
  __asm__ volatile(SITE(1) : "=a"(r) : "D"(fd), "S"(p), "d"(n) : "rcx", "r11", "memory");
  return r;
}
__attribute__((noreturn)) static void sys_exit(long code) {
  __asm__ volatile(SITE(231) : : "D"(code) : "rcx", "r11", "memory");
  __builtin_unreachable();
}

void _start(void) {
  long w = 0x050f0000;
  long r = sys_mmap(w, 0x10000, 3, 0x22 | 0x10 /* MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED */);
  if (r == w) {
    *(volatile char*)w = 1;
    sys_write(1, "MAP_FIXED at the window address: ok\n", 36);
  } else {
    sys_write(1, "MAP_FIXED at the window address: refused\n", 41);
  }
  sys_exit(0);
}
