/*
 * Vector and FP registers across signals, as Linux keeps them (arch/x86/kernel/fpu/signal.c):
 *  (a) ymm0-15 (zmm0-31 and k0-7 with AVX-512), MXCSR, the x87 control word and st(0) loaded
 *      with known values survive signals taken while spinning in user code (a timer and
 *      another thread's tgkill), in a blocking syscall (nanosleep, EINTR) and at a syscall's
 *      return (tgkill of itself), each handler clobbering every one of them; nested frames
 *      too; a second thread's registers are its own;
 *  (b) the handler's ucontext holds the whole XSAVE image: UC_FP_XSTATE, sw_reserved
 *      (magic1, extended_size, xfeatures, xstate_size), magic2 after it, the header in the
 *      standard format, and every component's values where CPUID leaf 0xd says they are;
 *  (c) a handler's changes to that image are what sigreturn loads;
 *  (d) a frame whose magic1 or magic2 is broken restores the legacy area only and puts the
 *      rest in its init state;
 *  (e) AT_MINSIGSTKSZ is enough for a frame on the alternate stack; a 2048-byte stack is not
 *      (the frame would overflow it: SIGSEGV).
 * The values registers held are compared in C after the asm that loaded them stored them
 * back, so a lost register prints which one.
 */
#include "pr.h"
#include <cpuid.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/auxv.h>
#include <sys/time.h>
#include <ucontext.h>

#ifndef AT_MINSIGSTKSZ
#define AT_MINSIGSTKSZ 51
#endif

/* What the asm loads and stores: zmm (or ymm: the low 32 bytes of each 64) 0-31, k0-7,
   MXCSR, the x87 control word and one x87 stack value. Offsets are fixed for the asm. */
struct vstate {
  uint8_t z[32][64];    /* 0 */
  uint64_t k[8];        /* 2048 */
  uint32_t mxcsr;       /* 2112 */
  uint16_t fcw;         /* 2116 */
  uint8_t pad[10];
  uint8_t st0[16];      /* 2128: 80-bit value */
} __attribute__((aligned(64)));
_Static_assert(__builtin_offsetof(struct vstate, k) == 2048 && __builtin_offsetof(struct vstate, mxcsr) == 2112 &&
               __builtin_offsetof(struct vstate, fcw) == 2116 && __builtin_offsetof(struct vstate, st0) == 2128, "asm offsets");

/* Set before any asm runs: 0 xmm0-15 (SSE), 1 ymm0-15 (AVX), 2 zmm0-31 and k0-7 (AVX-512). */
int g_level;
int g_pid, g_main_tid, g_self_sig;
volatile int g_counter, g_stop;

/* vec_run(in, out, mode, target): loads `in` into the registers, waits as `mode` says, and
   stores the registers into `out`. Modes: 0 spin until g_counter >= target; 1 nanosleep
   (20 ms) in a loop until then; 2 tgkill(self, g_self_sig) once, then as 0; 3 (the second
   thread) tgkill(main, SIGUSR1) and nanosleep 1 ms until g_stop. Everything between the load
   and the store is in this asm: nothing the compiler emits can touch the registers. */
void vec_run(const struct vstate *in, struct vstate *out, int mode, int target);
/* vec_clobber(v): loads v, MXCSR 0x9fc0 and a reset x87 unit (what a handler does to them). */
void vec_clobber(const struct vstate *v);
__asm__(
    ".text\n"
    ".macro LOAD r\n"
    "  cmpl $1, g_level(%rip)\n"
    "  jb 3f\n"
    "  je 1f\n"
    "  .irp i,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31\n"
    "  vmovdqu64 \\i*64(\\r), %zmm\\i\n"
    "  .endr\n"
    "  .irp i,0,1,2,3,4,5,6,7\n"
    "  kmovq 2048+\\i*8(\\r), %k\\i\n"
    "  .endr\n"
    "  jmp 2f\n"
    "1:\n"
    "  .irp i,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n"
    "  vmovdqu \\i*64(\\r), %ymm\\i\n"
    "  .endr\n"
    "  jmp 2f\n"
    "3:\n"
    "  .irp i,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n"
    "  movdqu \\i*64(\\r), %xmm\\i\n"
    "  .endr\n"
    "2:\n"
    "  ldmxcsr 2112(\\r)\n"
    "  fninit\n"
    "  fldcw 2116(\\r)\n"
    "  fldt 2128(\\r)\n"
    ".endm\n"
    ".macro STORE r\n"
    "  cmpl $1, g_level(%rip)\n"
    "  jb 3f\n"
    "  je 1f\n"
    "  .irp i,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31\n"
    "  vmovdqu64 %zmm\\i, \\i*64(\\r)\n"
    "  .endr\n"
    "  .irp i,0,1,2,3,4,5,6,7\n"
    "  kmovq %k\\i, 2048+\\i*8(\\r)\n"
    "  .endr\n"
    "  jmp 2f\n"
    "1:\n"
    "  .irp i,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n"
    "  vmovdqu %ymm\\i, \\i*64(\\r)\n"
    "  .endr\n"
    "  jmp 2f\n"
    "3:\n"
    "  .irp i,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n"
    "  movdqu %xmm\\i, \\i*64(\\r)\n"
    "  .endr\n"
    "2:\n"
    "  stmxcsr 2112(\\r)\n"
    "  fnstcw 2116(\\r)\n"
    "  fstpt 2128(\\r)\n"
    "  fninit\n"
    "  cmpl $0, g_level(%rip)\n"
    "  je 4f\n"
    "  vzeroupper\n"
    "4:\n"
    ".endm\n"
    ".globl vec_run\n"
    "vec_run:\n"
    "  push %rbx\n push %r12\n push %r13\n push %r14\n push %r15\n"
    "  sub $16, %rsp\n"
    "  mov %rsi, %rbx\n mov %edx, %r12d\n mov %ecx, %r13d\n"
    "  LOAD %rdi\n"
    "  cmp $1, %r12d\n je 11f\n"
    "  cmp $2, %r12d\n je 12f\n"
    "  cmp $3, %r12d\n je 13f\n"
    "10:\n" /* spin */
    "  pause\n"
    "  cmp g_counter(%rip), %r13d\n"
    "  jg 10b\n"
    "  jmp 19f\n"
    "11:\n" /* nanosleep until the count is reached */
    "  cmp g_counter(%rip), %r13d\n"
    "  jle 19f\n"
    "  movq $0, (%rsp)\n movq $20000000, 8(%rsp)\n"
    "  mov $35, %eax\n mov %rsp, %rdi\n xor %esi, %esi\n syscall\n"
    "  jmp 11b\n"
    "12:\n" /* raise once, then spin */
    "  mov $186, %eax\n syscall\n mov %eax, %esi\n" /* gettid */
    "  mov $234, %eax\n mov g_pid(%rip), %edi\n mov g_self_sig(%rip), %edx\n syscall\n"
    "  jmp 10b\n"
    "13:\n" /* second thread: signal main, sleep 1 ms, until told to stop */
    "  cmpl $0, g_stop(%rip)\n"
    "  jne 19f\n"
    "  mov $234, %eax\n mov g_pid(%rip), %edi\n mov g_main_tid(%rip), %esi\n mov $10, %edx\n syscall\n"
    "  movq $0, (%rsp)\n movq $1000000, 8(%rsp)\n"
    "  mov $35, %eax\n mov %rsp, %rdi\n xor %esi, %esi\n syscall\n"
    "  jmp 13b\n"
    "19:\n"
    "  STORE %rbx\n"
    "  add $16, %rsp\n"
    "  pop %r15\n pop %r14\n pop %r13\n pop %r12\n pop %rbx\n"
    "  ret\n"
    ".globl vec_clobber\n"
    "vec_clobber:\n"
    "  sub $8, %rsp\n"
    "  LOAD %rdi\n"
    "  fninit\n"
    "  movl $0x9fc0, (%rsp)\n ldmxcsr (%rsp)\n"
    "  add $8, %rsp\n"
    "  ret\n");

static void fill(struct vstate *v, uint32_t seed) {
  memset(v, 0, sizeof *v);
  for (int r = 0; r < 32; r++)
    for (int b = 0; b < 64; b++) v->z[r][b] = (uint8_t)(seed * 131 + r * 67 + b * 7 + 1);
  for (int i = 0; i < 8; i++) v->k[i] = 0x0101010101010101ULL * (uint64_t)(seed + i + 1) ^ ((uint64_t)seed << 40);
  v->mxcsr = 0x1f80 | ((seed & 3) << 13);  /* a rounding mode of the seed's */
  v->fcw = 0x037f ^ ((seed & 3) << 10);      /* x87 rounding too */
  long double x = 1.0L + seed / 1024.0L;
  memcpy(v->st0, &x, 10);
}

/* Which registers the mode has: ymm0-15 only, or zmm0-31 and k0-7. */
static int nregs(void) { return g_level == 2 ? 32 : 16; }
static int rbytes(void) { return 16 << g_level; }

/* Appends to line the registers that differ (at most 6); returns how many differ. */
static int differ(const struct vstate *want, const struct vstate *got, char *line, size_t cap) {
  int bad = 0;
  size_t n = strlen(line);
#define ADD(...) (n += snprintf(line + n, n < cap ? cap - n : 0, __VA_ARGS__))
  for (int r = 0; r < nregs(); r++)
    for (int b = 0; b < rbytes(); b++)
      if (want->z[r][b] != got->z[r][b]) {
        if (bad++ < 6) ADD(" %cmm%d[%d] %#x!=%#x", "xyz"[g_level], r, b, want->z[r][b], got->z[r][b]);
        break;
      }
  if (g_level == 2)
    for (int i = 0; i < 8; i++)
      if (want->k[i] != got->k[i] && bad++ < 6) ADD(" k%d", i);
  if (want->mxcsr != got->mxcsr && bad++ < 6) ADD(" mxcsr %#x!=%#x", want->mxcsr, got->mxcsr);
  if (want->fcw != got->fcw && bad++ < 6) ADD(" fcw %#x!=%#x", want->fcw, got->fcw);
  if (memcmp(want->st0, got->st0, 10) && bad++ < 6) ADD(" st0");
#undef ADD
  return bad;
}

/* Prints "label: ok" or the registers that differ. */
static void compare(const char *label, const struct vstate *want, const struct vstate *got) {
  char line[1024];
  snprintf(line, sizeof line, "%s:", label);
  if (!differ(want, got, line, sizeof line)) strcat(line, " ok");
  puts(line);
}

static struct vstate garbage;  /* what handlers load */

static void clobber_handler(int sig) {
  (void)sig;
  g_counter++;
  vec_clobber(&garbage);
}

/* ---- (b), (c), (d): the handler that reads and changes the frame's XSAVE image ---- */

enum { EDIT_NONE, EDIT_VALUES, EDIT_MAGIC1, EDIT_MAGIC2, EDIT_NULL, EDIT_BAD_MXCSR, EDIT_BAD_BV };
static int g_edit;
static struct vstate g_loaded;  /* what main loaded before raising */
static char g_report[2048];
static int g_rn;
static uint32_t g_off[8], g_size[8];  /* CPUID 0xd: component offsets and sizes */
static uintptr_t g_alt_lo, g_alt_hi;  /* the alternate stack, when the handler runs on it */

#define REPORT(...) (g_rn += snprintf(g_report + g_rn, sizeof g_report - g_rn, __VA_ARGS__))

/* 1 if len bytes at p equal want, or when the component is in its init state (XSTATE_BV
   bit clear) if want is all zero. */
static int same(const uint8_t *p, const uint8_t *want, int len, int present) {
  if (present) return memcmp(p, want, len) == 0;
  for (int i = 0; i < len; i++)
    if (want[i]) return 0;
  return 1;
}

static void nested_handler(int sig) { clobber_handler(sig); }

static void frame_handler(int sig, siginfo_t *si, void *ucv) {
  (void)si;
  ucontext_t *uc = ucv;
  uint8_t *fx = (uint8_t *)uc->uc_mcontext.fpregs;
  g_counter++;
  if (!fx) {
    REPORT("no fpstate\n");
    return;
  }
  uint32_t magic1, ext, xsz, magic2 = 0;
  uint64_t xfeat, bv, xcomp;
  memcpy(&magic1, fx + 464, 4);
  memcpy(&ext, fx + 468, 4);
  memcpy(&xfeat, fx + 472, 8);
  memcpy(&xsz, fx + 480, 4);
  if (xsz >= 576 && xsz <= 16384) memcpy(&magic2, fx + xsz, 4);
  memcpy(&bv, fx + 512, 8);
  memcpy(&xcomp, fx + 520, 8);
  unsigned a, b, c, d;
  __cpuid_count(1, 0, a, b, c, d);
  int osxsave = (c >> 27) & 1;
  uint64_t xcr0 = 0;
  if (osxsave) {
    unsigned xlo, xhi;
    __asm__ volatile("xgetbv" : "=a"(xlo), "=d"(xhi) : "c"(0));
    xcr0 = ((uint64_t)xhi << 32) | xlo;
  }
  __cpuid_count(0xd, 0, a, b, c, d);
  if (g_edit == EDIT_NONE) {
    /* With XSAVE enabled: UC_FP_XSTATE, sw_reserved as Linux writes it (magic1, extended_size
       = xstate_size + 4, xstate_size = CPUID 0xd's size for XCR0, xfeatures = XCR0, magic2
       after the image), the header in the standard format; without it, a 512-byte FXSAVE
       frame. Said as one line: the figures differ between CPUs (and the kvm platform's). */
    int fmt = osxsave ? (uc->uc_flags & 1) && magic1 == 0x46505853 && ext == xsz + 4 && xsz == b && xfeat == xcr0 &&
                            magic2 == 0x46505845 && xcomp == 0
                      : !(uc->uc_flags & 1);
    REPORT("frame's FP image as Linux writes it for this CPU %d, 64-byte aligned %d", fmt, ((uintptr_t)fx & 63) == 0);
    if (!fmt)
      REPORT(" (uc_flags %#lx magic1 %#x extended_size %u xstate_size %u (CPUID %u) xfeatures %#llx (XCR0 %#llx) magic2 %#x xcomp_bv %#llx)",
             (unsigned long)uc->uc_flags, magic1, ext, xsz, b, (unsigned long long)xfeat, (unsigned long long)xcr0, magic2,
             (unsigned long long)xcomp);
    REPORT("\n");
    if (!osxsave) ext = 512;
    uintptr_t rsp = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
    if (g_alt_hi)  /* the frame (pretcode 8 bytes below the ucontext) in its top AT_MINSIGSTKSZ bytes */
      REPORT("frame inside the alternate stack's top AT_MINSIGSTKSZ bytes %d\n",
             (uintptr_t)uc - 8 >= g_alt_lo && (uintptr_t)fx + ext <= g_alt_hi);
    else
      REPORT("fpstate above the ucontext %d, below the red zone %d\n", (uint8_t *)uc < fx, (uintptr_t)fx + ext <= rsp - 128);
    /* Every value main loaded, where the image keeps it. */
    const struct vstate *w = &g_loaded;
    int leg = 0, ymm = 0, k = 0, zhi = 0, z16 = 0;
    for (int r = 0; r < 16; r++) {
      if (!same(fx + 160 + 16 * r, w->z[r], 16, 1)) leg++;
      if (!same(fx + g_off[2] + 16 * r, w->z[r] + 16, 16, bv & 4)) ymm++;
    }
    int fcw = 0, mx = 0, st = 0;
    uint16_t f16;
    uint32_t m32;
    memcpy(&f16, fx, 2);
    memcpy(&m32, fx + 24, 4);
    fcw = f16 != w->fcw;
    mx = m32 != w->mxcsr;
    st = memcmp(fx + 32, w->st0, 10) != 0;
    REPORT("image vs loaded: xmm %d mxcsr %d fcw %d st0 %d", leg, mx, fcw, st);
    if (g_level >= 1) REPORT(" ymm_hi %d", ymm);
    if (g_level == 2) {
      for (int i = 0; i < 8; i++)
        if (!same(fx + g_off[5] + 8 * i, (const uint8_t *)&w->k[i], 8, bv & 0x20)) k++;
      for (int r = 0; r < 16; r++)
        if (!same(fx + g_off[6] + 32 * r, w->z[r] + 32, 32, bv & 0x40)) zhi++;
      for (int r = 16; r < 32; r++)
        if (!same(fx + g_off[7] + 64 * (r - 16), w->z[r], 64, bv & 0x80)) z16++;
      REPORT(" k %d zmm_hi256 %d hi16_zmm %d", k, zhi, z16);
    }
    REPORT(" (differing)\n");
    /* Linux sets FP and SSE in the frame's XSTATE_BV always; the others are in use here. */
    if (g_level >= 1)
      REPORT("xstate_bv has x87 %d sse %d avx %d%s\n", (int)(bv & 1), (int)(bv >> 1 & 1), (int)(bv >> 2 & 1),
             g_level == 2 ? ((bv & 0xe0) == 0xe0 ? ", avx-512 all" : ", avx-512 not all") : "");
    /* A signal while this handler runs: its frame nests on this one. */
    static struct vstate in, out;
    fill(&in, 77);
    int save = g_self_sig;
    g_self_sig = SIGURG;
    vec_run(&in, &out, 2, g_counter + 1);
    g_self_sig = save;
    /* compare() prints: keep it for main to print (this is a handler). */
    char line[512] = "";
    int bad = differ(&in, &out, line, sizeof line);
    REPORT("nested frame inside the handler:%s\n", bad ? line : " ok");
  } else if (g_edit == EDIT_VALUES) {
    /* (c): new values for xmm5, ymm5's upper half, k3, zmm5's upper 256 bits, zmm20, MXCSR, FCW. */
    memset(fx + 160 + 16 * 5, 0x11, 8);
    if (g_level >= 1) memset(fx + g_off[2] + 16 * 5, 0x22, 8);
    uint32_t m = 0x1f80 | 0x4000;
    memcpy(fx + 24, &m, 4);
    uint16_t f = 0x0f7f;
    memcpy(fx, &f, 2);
    if (g_level == 2) {
      memset(fx + g_off[5] + 8 * 3, 0x55, 8);
      memset(fx + g_off[6] + 32 * 5, 0x33, 8);
      memset(fx + g_off[7] + 64 * 4, 0x44, 8);
    }
  } else if (g_edit == EDIT_MAGIC1) {
    memset(fx + 464, 0, 4);
  } else if (g_edit == EDIT_MAGIC2) {
    if (xsz >= 576 && xsz <= 16384) memset(fx + xsz, 0, 4); /* an FXSAVE-only frame has none */
  } else if (g_edit == EDIT_NULL) {
    uc->uc_mcontext.fpregs = NULL; /* sigreturn then resets every component */
  } else if (g_edit == EDIT_BAD_MXCSR) {
    fx[27] = 0x80; /* MXCSR bit 31: reserved, XRSTOR faults */
  } else if (g_edit == EDIT_BAD_BV) {
    fx[513] |= 1; /* XSTATE_BV bit 8 (a supervisor component, never in XCR0): XRSTOR faults */
  }
  vec_clobber(&garbage);
}

/* Loads, raises SIGUSR2 (frame_handler) at a syscall's return, and compares with `want`. */
static void frame_round(const char *label, int edit, uint32_t seed) {
  struct vstate out, want;
  fill(&g_loaded, seed);
  g_edit = edit;
  g_rn = 0;
  g_report[0] = 0;
  want = g_loaded;
  if (edit == EDIT_VALUES) {
    memset(want.z[5], 0x11, 8);
    if (g_level >= 1) memset(want.z[5] + 16, 0x22, 8);
    want.mxcsr = 0x1f80 | 0x4000;
    want.fcw = 0x0f7f;
    if (g_level == 2) {
      memset(&want.k[3], 0x55, 8);
      memset(want.z[5] + 32, 0x33, 8);
      memset(want.z[20], 0x44, 8);
    }
  } else if (edit == EDIT_MAGIC1 || edit == EDIT_MAGIC2) {
    /* Legacy area only: xmm0-15, MXCSR, x87 as loaded; every other component at init. */
    for (int r = 0; r < 32; r++) memset(want.z[r] + (r < 16 ? 16 : 0), 0, r < 16 ? 48 : 64);
    memset(want.k, 0, sizeof want.k);
  } else if (edit == EDIT_NULL) {
    /* The init state: registers zero, MXCSR 0x1f80, FCW 0x37f, an empty x87 stack (so the
       store pops the "indefinite" NaN). */
    memset(&want, 0, sizeof want);
    want.mxcsr = 0x1f80;
    want.fcw = 0x037f;
    static const uint8_t indefinite[10] = {0, 0, 0, 0, 0, 0, 0, 0xc0, 0xff, 0xff};
    memcpy(want.st0, indefinite, 10);
  }
  g_self_sig = SIGUSR2;
  vec_run(&g_loaded, &out, 2, g_counter + 1);
  fputs(g_report, stdout);
  compare(label, &want, &out);
}

static void *second_thread(void *arg) {
  (void)arg;
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, NULL);
  struct vstate in, out;
  fill(&in, 99);
  vec_run(&in, &out, 3, 0);
  compare("second thread's own registers", &in, &out);
  return NULL;
}

static void install(int sig, void (*h)(int), int flags) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = h;
  sa.sa_flags = flags;
  sigaction(sig, &sa, NULL);
}

static void install_frame_handler(int onstack) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = frame_handler;
  sa.sa_flags = SA_SIGINFO | (onstack ? SA_ONSTACK : 0);
  sigaction(SIGUSR2, &sa, NULL);
}

static const char *const LEVELS[] = {"sse", "avx", "avx-512"};

/* No argument: every register the CPU has. `level`: prints that level and exits. A level's
   name: at most those registers (the kvm platform's guest CPU may have fewer than the host:
   the test then runs both sides at its level). */
int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  unsigned c, d;
  __builtin_cpu_init();
  g_level = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") ? 2 : __builtin_cpu_supports("avx") ? 1 : 0;
  if (argc > 1 && !strcmp(argv[1], "level")) {
    printf("%s\n", LEVELS[g_level]);
    return 0;
  }
  int capped = argc > 1;
  for (int i = 0; capped && i < 3; i++)
    if (!strcmp(argv[1], LEVELS[i]) && i < g_level) g_level = i;
  for (int i = 2; i < 8; i++) __cpuid_count(0xd, i, g_size[i], g_off[i], c, d);
  printf("registers: %s\n", LEVELS[g_level]);
  g_pid = getpid();
  g_main_tid = gettid();
  fill(&garbage, 1000);

  /* (e) sizes the kernel tells: AT_MINSIGSTKSZ, and glibc's sysconf from it. */
  printf("AT_MINSIGSTKSZ %lu, _SC_MINSIGSTKSZ %ld, _SC_SIGSTKSZ %ld\n", getauxval(AT_MINSIGSTKSZ), sysconf(_SC_MINSIGSTKSZ),
         sysconf(_SC_SIGSTKSZ));

  /* (a) signals while spinning: a timer and the second thread's tgkill, each handler clobbering. */
  install(SIGUSR1, clobber_handler, SA_RESTART);
  install(SIGALRM, clobber_handler, SA_RESTART);
  install(SIGURG, nested_handler, SA_RESTART);
  pthread_t th;
  pthread_create(&th, NULL, second_thread, NULL);
  struct itimerval it = {{0, 3000}, {0, 3000}};
  setitimer(ITIMER_REAL, &it, NULL);
  for (int round = 0; round < 6; round++) {
    struct vstate in, out;
    char label[64];
    fill(&in, round);
    vec_run(&in, &out, 0, g_counter + 6);
    snprintf(label, sizeof label, "spinning, round %d", round);
    compare(label, &in, &out);
  }
  struct itimerval off = {{0, 0}, {0, 0}};
  setitimer(ITIMER_REAL, &off, NULL);
  /* ... and in a blocking syscall (the second thread's SIGUSR1 ends each nanosleep early). */
  for (int round = 0; round < 3; round++) {
    struct vstate in, out;
    char label[64];
    fill(&in, 10 + round);
    vec_run(&in, &out, 1, g_counter + 3);
    snprintf(label, sizeof label, "in nanosleep, round %d", round);
    compare(label, &in, &out);
  }
  g_stop = 1;
  pthread_join(th, NULL);

  /* (b) the image in the frame, (c) edits to it, (d) broken magic words. */
  install_frame_handler(0);
  frame_round("raised at a syscall's return", EDIT_NONE, 20);
  frame_round("handler's edits to the image", EDIT_VALUES, 21);
  frame_round("magic1 broken: legacy area only", EDIT_MAGIC1, 22);
  frame_round("magic2 broken: legacy area only", EDIT_MAGIC2, 23);
  frame_round("no fpstate: the init state", EDIT_NULL, 25);
  /* Frames XRSTOR would fault on: sigreturn fails, SIGSEGV. (XSTATE_BV: not when capped,
     the frame's format is the CPU's.) */
  for (int e = EDIT_BAD_MXCSR; e <= (capped ? EDIT_BAD_MXCSR : EDIT_BAD_BV); e++) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
      g_pid = getpid();
      g_main_tid = gettid();
      frame_round("", e, 26);
      _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    show_status(e == EDIT_BAD_MXCSR ? "reserved MXCSR bit in the frame" : "XSTATE_BV bit outside XCR0 in the frame", st);
  }

  /* (e) on an alternate stack the frame fits in its top AT_MINSIGSTKSZ bytes (the rest is
     the handler's own stack, a nested frame included). */
  size_t min = getauxval(AT_MINSIGSTKSZ);
  if (min < 2048) min = 2048;
  size_t altsize = (min + 63) / 64 * 64 + 65536;
  char *alt = aligned_alloc(64, altsize);
  stack_t ss = {.ss_sp = alt, .ss_size = altsize, .ss_flags = 0};
  printf("sigaltstack = %d\n", sigaltstack(&ss, NULL));
  g_alt_lo = (uintptr_t)alt + altsize - min;
  g_alt_hi = (uintptr_t)alt + altsize;
  install_frame_handler(1);
  frame_round("on the alternate stack", EDIT_NONE, 24);
  g_alt_lo = g_alt_hi = 0;
  ss.ss_flags = SS_DISABLE;
  sigaltstack(&ss, NULL);

  /* ... and on one of 2048 bytes (the old MINSIGSTKSZ) an AVX-512 frame does not: SIGSEGV
     (Linux: "overflowed sigaltstack"). Not when capped: the frame is the CPU's, not the level's. */
  unsigned a, b;
  __cpuid_count(0xd, 0, a, b, c, d);
  if (!capped) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
      static char small[2048] __attribute__((aligned(64)));
      stack_t s2 = {.ss_sp = small, .ss_size = sizeof small, .ss_flags = 0};
      if (sigaltstack(&s2, NULL) != 0) {
        printf("sigaltstack(2048): %s\n", ename(errno));
        _exit(1);
      }
      install(SIGUSR1, clobber_handler, SA_ONSTACK);
      raise(SIGUSR1);
      _exit(0); /* the frame fitted */
    }
    int st;
    waitpid(pid, &st, 0);
    /* Whether it fits depends on the frame's size (the CPU's XSAVE area): say which case. */
    size_t need = (size_t)b + 4 + 64 + 440 + 16; /* xstate + magic2, alignment, rt_sigframe */
    printf("a %s frame on a 2048-byte alternate stack: ", need > 2048 ? "too big" : "small");
    show_status("child", st);
  }
  free(alt);
  printf("done\n");
  return 0;
}
