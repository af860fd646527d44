/*
 * What an execve leaves of the old image: nothing. The parent maps memory at a fixed
 * address and a named memfd, makes syscalls from glibc's wrappers (patched sites on
 * systrap), fills xmm/ymm registers, MXCSR and the x87 control word and stack, then
 * execs itself straight from those registers. The new image records its FP state at
 * its very first instruction (before glibc's start-up touches a register) and reports
 * what it finds: its maps, the old addresses, its FP state. Prints the same on Linux.
 * Run with no argument: the lone-thread exec; with "threaded": the exec is made by a
 * second thread while the first waits (the old image has two threads).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define OLD_ADDR 0x5a5a00000000UL

unsigned char tss_fx[512] __attribute__((aligned(64)));
unsigned char tss_yhi[16 * 16];
unsigned char tss_avx;

/* The entry point (-Wl,-e,tss_entry): FP state first, then glibc's own _start with the
   registers the kernel gave (rdx included). */
__asm__(
    ".globl tss_entry\n"
    "tss_entry:\n"
    "  fxsave64 tss_fx(%rip)\n"
    "  push %rax\n push %rbx\n push %rcx\n push %rdx\n"
    "  mov $1, %eax\n cpuid\n"
    "  bt $28, %ecx\n jnc 1f\n"  /* AVX */
    "  bt $27, %ecx\n jnc 1f\n"  /* OSXSAVE */
    "  xor %ecx, %ecx\n xgetbv\n and $6, %eax\n cmp $6, %eax\n jne 1f\n"
    "  movb $1, tss_avx(%rip)\n"
    "  lea tss_yhi(%rip), %rax\n"
    "  vextractf128 $1, %ymm0, 0(%rax)\n vextractf128 $1, %ymm1, 16(%rax)\n"
    "  vextractf128 $1, %ymm2, 32(%rax)\n vextractf128 $1, %ymm3, 48(%rax)\n"
    "  vextractf128 $1, %ymm4, 64(%rax)\n vextractf128 $1, %ymm5, 80(%rax)\n"
    "  vextractf128 $1, %ymm6, 96(%rax)\n vextractf128 $1, %ymm7, 112(%rax)\n"
    "  vextractf128 $1, %ymm8, 128(%rax)\n vextractf128 $1, %ymm9, 144(%rax)\n"
    "  vextractf128 $1, %ymm10, 160(%rax)\n vextractf128 $1, %ymm11, 176(%rax)\n"
    "  vextractf128 $1, %ymm12, 192(%rax)\n vextractf128 $1, %ymm13, 208(%rax)\n"
    "  vextractf128 $1, %ymm14, 224(%rax)\n vextractf128 $1, %ymm15, 240(%rax)\n"
    "1:\n"
    "  pop %rdx\n pop %rcx\n pop %rbx\n pop %rax\n"
    "  jmp _start\n");

static sigjmp_buf jb;
static void on_segv(int s) {
  (void)s;
  siglongjmp(jb, 1);
}

static int nonzero(const unsigned char* p, size_t n) {
  int k = 0;
  for (size_t i = 0; i < n; i++) k += p[i] != 0;
  return k;
}

static int child(void) {
  unsigned short fcw, fsw;
  unsigned int mxcsr;
  memcpy(&fcw, tss_fx, 2);
  memcpy(&fsw, tss_fx + 2, 2);
  memcpy(&mxcsr, tss_fx + 24, 4);
  printf("fcw %#x fsw %#x ftw %#x mxcsr %#x\n", fcw, fsw, tss_fx[4], mxcsr);
  printf("nonzero bytes: st %d xmm %d ymm upper %d\n", nonzero(tss_fx + 32, 128), nonzero(tss_fx + 160, 256),
         tss_avx ? nonzero(tss_yhi, sizeof tss_yhi) : 0);
  FILE* f = fopen("/proc/self/maps", "r");
  char line[512];
  int old = 0, lines = 0;
  while (f && fgets(line, sizeof line, f)) {
    lines++;
    if (strstr(line, "5a5a00000") || strstr(line, "tss-old-image")) old++;
  }
  if (f) fclose(f);
  printf("maps: %s, old mappings %d\n", lines > 3 ? "read" : "empty", old);
  signal(SIGSEGV, on_segv);
  volatile unsigned char* p = (volatile unsigned char*)OLD_ADDR;
  if (sigsetjmp(jb, 1) == 0) printf("old address reads %d\n", p[0]);
  else printf("old address: SIGSEGV\n");
  /* Syscalls from glibc's wrappers again (on systrap: patched anew in this image). */
  pid_t me = getpid();
  int same = 0;
  for (int i = 0; i < 2000; i++) same += getpid() == me;
  printf("getpid loop: %d of 2000\n", same);
  return 0;
}

static char* g_self;

/* execve from registers set just before it: nothing of the compiler's runs between. */
static void exec_with_state(void) {
  static const unsigned char pat[16 * 16] = {
      1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, [16 ... 255] = 0x5a};
  static unsigned int mx = 0x9fc0; /* FTZ, DAZ, round toward zero */
  static unsigned short cw = 0x27f;
  char* argv[] = {g_self, (char*)"child", NULL};
  char* envp[] = {NULL};
  long avx = 0;
  {
    unsigned a, b, c, d;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
    if ((c >> 28 & 1) && (c >> 27 & 1)) {
      unsigned lo, hi;
      __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
      avx = (lo & 6) == 6;
    }
  }
  register long r8 __asm__("r8") = (long)pat;
  register long r9 __asm__("r9") = avx;
  register long r10 __asm__("r10") = (long)&mx;
  register long r11 __asm__("r11") = (long)&cw;
  long ret;
  __asm__ volatile(
      "movdqu 0(%%r8), %%xmm0\n movdqu 16(%%r8), %%xmm1\n movdqu 32(%%r8), %%xmm2\n movdqu 48(%%r8), %%xmm3\n"
      "movdqu 64(%%r8), %%xmm4\n movdqu 80(%%r8), %%xmm5\n movdqu 96(%%r8), %%xmm6\n movdqu 112(%%r8), %%xmm7\n"
      "movdqu 128(%%r8), %%xmm8\n movdqu 144(%%r8), %%xmm9\n movdqu 160(%%r8), %%xmm10\n movdqu 176(%%r8), %%xmm11\n"
      "movdqu 192(%%r8), %%xmm12\n movdqu 208(%%r8), %%xmm13\n movdqu 224(%%r8), %%xmm14\n movdqu 240(%%r8), %%xmm15\n"
      "test %%r9, %%r9\n jz 1f\n"
      "vinsertf128 $1, 0(%%r8), %%ymm0, %%ymm0\n vinsertf128 $1, 16(%%r8), %%ymm1, %%ymm1\n"
      "vinsertf128 $1, 32(%%r8), %%ymm8, %%ymm8\n vinsertf128 $1, 48(%%r8), %%ymm15, %%ymm15\n"
      "1:\n"
      "ldmxcsr (%%r10)\n fldcw (%%r11)\n fld1\n fldpi\n"
      "mov $59, %%eax\n syscall\n"
      : "=a"(ret)
      : "D"(g_self), "S"(argv), "d"(envp), "r"(r8), "r"(r9), "r"(r10), "r"(r11)
      : "rcx", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
        "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "st", "st(1)");
  printf("execve failed: %ld\n", ret);
  exit(1);
}

static void* exec_thread(void* a) {
  (void)a;
  exec_with_state();
  return NULL;
}

int main(int argc, char** argv) {
  if (argc > 1 && strcmp(argv[1], "child") == 0) return child();
  g_self = argv[0];
  unsigned char* p = mmap((void*)OLD_ADDR, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (p != (unsigned char*)OLD_ADDR) {
    printf("cannot map the old image's memory\n");
    return 1;
  }
  memset(p, 7, 1 << 20);
  int fd = memfd_create("tss-old-image", 0);
  if (fd < 0 || ftruncate(fd, 65536) != 0 || mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) == MAP_FAILED) {
    printf("cannot map the memfd\n");
    return 1;
  }
  close(fd);
  /* Patched sites in the old image (systrap): glibc's getppid wrapper, many times. */
  int same = 0;
  pid_t pp = getppid();
  for (int i = 0; i < 2000; i++) same += getppid() == pp;
  if (same != 2000) printf("getppid loop: %d\n", same);
  fflush(stdout);
  if (argc > 1 && strcmp(argv[1], "threaded") == 0) {
    pthread_t t;
    pthread_create(&t, NULL, exec_thread, NULL);
    for (;;) pause();
  }
  exec_with_state();
  return 1;
}
