// What a guest can do with systrap's syscall-site patching: find its patched site, the
// window and the trampoline from its own code, jump into them with registers of its
// choice, move its gs base, scribble over the patched bytes, and go at the window with
// mmap/munmap/mprotect/mremap and syscall buffers from another thread while its main
// thread keeps making patched syscalls. Everything stays a syscall the Sentry serves.
// argv[1]: a host directory (the sandbox must create nothing there).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

// getpid from a site patching takes (16-aligned).
__asm__(".text\n .p2align 4\n .globl pj_getpid\npj_getpid:\n mov $39, %eax\n syscall\n ret\n");
long pj_getpid(void);

// Into the trampoline at `to` as a patched site's entry would come: rcx = return | hi,
// where hi is nr << 48 for st_tramp; 0 for st_tramp_rax (a syscall(3) site's way in,
// ST_PATCH_COMMON_RAX: the number in rax, and the 2 bytes before the return are the
// `syscall` a number past 16 bits goes back to).
static long enter_tramp(uint64_t to, uint64_t hi, long nr, long a, long b, long c, long d) {
  register long r10 __asm__("r10") = d;
  __asm__ volatile(
      "lea 1f(%%rip), %%rcx\n"
      "or %[hi], %%rcx\n"
      "jmp *%[to]\n"
      "syscall\n"
      "1:\n"
      : "+a"(nr), "+D"(a), "+S"(b), "+d"(c), "+r"(r10)
      : [to] "r"(to), [hi] "r"(hi)
      : "rcx", "r11", "r8", "r9", "memory");
  return nr;
}
#define via_tramp(to, nr, a, b, c, d) enter_tramp(to, (uint64_t)(nr) << 48, nr, a, b, c, d)
#define via_tramp_rax(to, nr, a, b, c, d) enter_tramp(to, 0, nr, a, b, c, d)

static sigjmp_buf jb;
static void on_segv(int sig) { siglongjmp(jb, sig); }
static const char* faults(void (*fn)(void*), void* arg) {
  int s = sigsetjmp(jb, 1);
  if (s == 0) {
    fn(arg);
    return "no fault";
  }
  return s == SIGSEGV ? "SIGSEGV" : "other signal";
}
static void poke(void* p) { *(volatile char*)p = 1; }
static void call_site(void* p) { (void)p; pj_getpid(); }

static const char* err(long r) {
  if (r >= 0) return "ok";
  return errno == ENOMEM ? "ENOMEM" : errno == EINVAL ? "EINVAL" : errno == EFAULT ? "EFAULT" : errno == EEXIST ? "EEXIST" : "other";
}

static uint64_t window;
static volatile int attacking = 1;
static long main_bad;

static void* attacker(void* arg) {
  (void)arg;
  void* w = (void*)window;
  printf("write window: %s\n", faults(poke, w));
  printf("mprotect window rw: %s\n", err(mprotect(w, 4096, PROT_READ | PROT_WRITE)));
  printf("mmap MAP_FIXED over window: %s\n", err((long)mmap(w, 4096, PROT_READ | PROT_WRITE, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == -1 ? -1 : 0));
  void* h = mmap(w, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  printf("mmap hint at window: %s\n", h == MAP_FAILED ? "failed" : h == w ? "given the window" : "moved elsewhere");
  void* m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  printf("mremap onto window: %s\n", err((long)mremap(m, 4096, 4096, MREMAP_MAYMOVE | MREMAP_FIXED, w) == -1 ? -1 : 0));
  int p[2];
  pipe(p);
  printf("write(pipe, window): %s\n", err(write(p[1], w, 16)));
  write(p[1], "0123456789abcdef", 16);
  printf("read(pipe, window): %s\n", err(read(p[0], w, 16)));
  printf("munmap window: %s\n", err(munmap(w, 0x10000)));
  printf("patched site after munmap: getpid -> %ld\n", pj_getpid());
  attacking = 0;
  return NULL;
}

int main(int argc, char** argv) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_segv;
  sa.sa_flags = SA_NODEFER;
  sigaction(SIGSEGV, &sa, NULL);
  pj_getpid();
  pj_getpid();
  const uint8_t* site = (const uint8_t*)pj_getpid;
  int patched = site[0] == 0xff && site[1] == 0x24 && site[2] == 0x25 && site[5] == 0x0f && site[6] == 0x05;
  printf("site patched: %s\n", patched ? "yes" : "no");
  if (!patched) return 1;
  // Reads the Sentry makes for the guest show the program's own bytes.
  uint8_t seen[7] = {0};
  int mfd = open("/proc/self/mem", O_RDONLY);
  pread(mfd, seen, 7, (off_t)(uintptr_t)site);
  close(mfd);
  printf("/proc/self/mem shows the original bytes: %s\n", memcmp(seen, "\xb8\x27\x00\x00\x00\x0f\x05", 7) == 0 ? "yes" : "no");
  uint32_t ptr;
  memcpy(&ptr, site + 3, 4);
  window = ptr & ~0xffffUL;
  const uint8_t* entry = (const uint8_t*)*(const uint64_t*)(uintptr_t)ptr;
  uint64_t rcx;
  memcpy(&rcx, entry + 2, 8);
  printf("entry holds the site's return and number: %s\n",
         entry[0] == 0x48 && entry[1] == 0xb9 && (rcx & 0xffffffffffffUL) == (uint64_t)site + 7 && rcx >> 48 == 39 ? "yes" : "no");
  uint32_t common;
  memcpy(&common, entry + 13, 4);
  uint64_t tramp = *(const uint64_t*)(uintptr_t)common;

  printf("trampoline getpid -> %ld\n", via_tramp(tramp, 39, 0, 0, 0, 0));
  char path[4096];
  snprintf(path, sizeof path, "%s/made-by-trampoline", argc > 1 ? argv[1] : "/tmp");
  long fd = via_tramp(tramp, 257 /* openat */, AT_FDCWD, (long)path, O_CREAT | O_WRONLY, 0644);
  printf("trampoline openat(O_CREAT) -> %s, visible in the sandbox: %s\n", fd >= 0 ? "fd" : "error", access(path, F_OK) == 0 ? "yes" : "no");
  printf("trampoline with number 0xffff -> %ld\n", via_tramp(tramp, 0xffff, 0, 0, 0, 0));
  uint64_t trampRax = *(const uint64_t*)(uintptr_t)(common - 8);
  printf("rax trampoline getpid -> %ld\n", via_tramp_rax(trampRax, 39, 0, 0, 0, 0));
  snprintf(path, sizeof path, "%s/made-by-rax-trampoline", argc > 1 ? argv[1] : "/tmp");
  fd = via_tramp_rax(trampRax, 257 /* openat */, AT_FDCWD, (long)path, O_CREAT | O_WRONLY, 0644);
  printf("rax trampoline openat(O_CREAT) -> %s, visible in the sandbox: %s\n", fd >= 0 ? "fd" : "error", access(path, F_OK) == 0 ? "yes" : "no");
  printf("rax trampoline with number 0x12345678 -> %ld\n", via_tramp_rax(trampRax, 0x12345678, 0, 0, 0, 0));
  long (*ent)(void) = (long (*)(void))(uintptr_t)entry;
  printf("window entry getpid -> %ld\n", ent());

  // Its own gs base elsewhere: the trampoline does not use it, the syscall still happens.
  uint64_t gs, mine[64];
  memset(mine, 0x5a, sizeof mine);
  __asm__ volatile("rdgsbase %0" : "=r"(gs));
  __asm__ volatile("wrgsbase %0" ::"r"((uint64_t)mine));
  long r = pj_getpid();
  __asm__ volatile("wrgsbase %0" ::"r"(gs));
  int untouched = 1;
  for (int i = 0; i < 64; i++) untouched &= mine[i] == 0x5a5a5a5a5a5a5a5aUL;
  printf("getpid with gs moved -> %ld, memory at gs untouched: %s\n", r, untouched ? "yes" : "no");

  // Another thread goes at the window while this one keeps making patched syscalls.
  pthread_t t;
  pthread_create(&t, NULL, attacker, NULL);
  long calls = 0;
  while (attacking || calls < 1000) {
    if (pj_getpid() != 1) main_bad++;
    calls++;
  }
  pthread_join(t, NULL);
  printf("patched syscalls meanwhile wrong: %ld\n", main_bad);

  // The patched bytes are the guest's own code: it may write them back, or aim them
  // through a pointer the window does not use.
  uint8_t* page = (uint8_t*)((uintptr_t)site & ~4095UL);
  mprotect(page, 8192, PROT_READ | PROT_WRITE | PROT_EXEC);
  uint8_t patchedBytes[5];
  memcpy(patchedBytes, site, 5);
  memcpy((void*)site, "\xb8\x27\x00\x00\x00", 5);
  printf("original bytes back: getpid -> %ld\n", pj_getpid());
  uint32_t freePtr = (uint32_t)window + 8 * 1500;
  memcpy((uint8_t*)site + 3, &freePtr, 2);
  memcpy((void*)site, "\xff\x24\x25", 3);
  printf("aimed through an unused pointer: %s\n", faults(call_site, NULL));
  memcpy((void*)site, patchedBytes, 5);
  printf("patched bytes back: getpid -> %ld\n", pj_getpid());

  // Code the guest makes itself is patched too; unmapped and replaced by other code at
  // the same address, it reads (and runs) as the new code, not the old patch.
  uint8_t* jit = mmap((void*)0x600000000000UL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  memcpy(jit + 16, "\xb8\x27\x00\x00\x00\x0f\x05\xc3", 8); /* getpid; ret */
  long (*fn)(void) = (long (*)(void))(jit + 16);
  fn();
  fn();
  printf("own code patched: %s\n", jit[16] == 0xff ? "yes" : "no");
  munmap(jit, 4096);
  jit = mmap((void*)0x600000000000UL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  memcpy(jit + 16, "\xb8\x6e\x00\x00\x00\x0f\x05\xc3", 8); /* getppid; ret */
  mfd = open("/proc/self/mem", O_RDONLY);
  pread(mfd, seen, 7, (off_t)(uintptr_t)(jit + 16));
  close(mfd);
  printf("new code at that address reads as written: %s, runs: getppid -> %ld\n",
         memcmp(seen, "\xb8\x6e\x00\x00\x00\x0f\x05", 7) == 0 ? "yes" : "no", fn());
  printf("done\n");
  return 0;
}
