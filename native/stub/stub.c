/*
 * The stub: the only host program guest code ever runs inside.
 *
 * The Sentry starts it (traced, no fds, own namespaces including a pid namespace of
 * which this template stub is init, RLIMIT_CORE 0), then it
 *   1. ignores SIGCHLD, so host children the Sentry forks from it are reaped by the
 *      tracer alone and never linger as zombies;
 *   2. makes itself not dumpable (PR_SET_DUMPABLE 0: no core file or core helper ever
 *      sees guest memory; the Sentry keeps access as tracer and as owner of the
 *      stub's user namespace). argv[1] == "dumpable" keeps it dumpable: the Sentry
 *      passes it only when it could not otherwise read the stub's memory (no user
 *      namespace and no CAP_SYS_PTRACE);
 *   3. sets no_new_privs and installs a seccomp filter that kills the process for any
 *      syscall that does not come from the injection gadget below, so even if ptrace
 *      were lost no guest syscall could reach the host. The one exception is the
 *      vsyscall page: the host kernel runs the filter for a guest call to
 *      0xffffffffff600000/400/800 before emulating it; those get SECCOMP_RET_TRAP,
 *      the tracer sees the SIGSYS and the Sentry answers the call itself;
 *   4. stops on int3 and never runs its own code again: the Sentry unmaps everything
 *      but this image, maps the guest in, and runs guest code under PTRACE_SYSEMU.
 *
 * The Sentry performs the few host syscalls an address space needs (mmap, munmap,
 * mprotect, clone, exit...) by pointing rip at `stub_gadget` with the syscall's
 * registers and continuing until the int3 that follows it. The gadget is the first
 * thing in the image (see stub.ld), so its address is a constant both sides know.
 */
#include <stddef.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <asm/unistd.h>

#define PR_SET_NO_NEW_PRIVS 38
#define PR_SET_DUMPABLE 4
#define PR_SET_TSC 26
#define PR_TSC_SIGSEGV 2
#define SIGCHLD 17
#define SIG_IGN 1

__asm__(
    ".section .text.gadget,\"ax\"\n"
    ".globl stub_gadget\n"
    "stub_gadget:\n"
    "  syscall\n"
    "  int3\n"
    /* systrap: the handler's only syscall instruction (hsys(nr, a, b, c, d)). */
    "  .org 0x10, 0xcc\n"
    ".globl stub_hsys\n"
    "stub_hsys:\n"
    "  mov %rdi, %rax\n"
    "  mov %rsi, %rdi\n"
    "  mov %rdx, %rsi\n"
    "  mov %rcx, %rdx\n"
    "  mov %r8, %r10\n"
    "  .org 0x20, 0x90\n"
    "  syscall\n"
    "  ret\n"
    /* systrap: the signal restorer (sa_restorer), rt_sigreturn at a fixed address. */
    "  .org 0x30, 0xcc\n"
    ".globl stub_restorer\n"
    "stub_restorer:\n"
    "  mov $15, %eax\n"
    "  .org 0x38, 0x90\n"
    "  syscall\n"
    "  ud2\n"
    /* systrap: where a new guest thread starts (st_thread_entry below). */
    "  .org 0x40, 0xcc\n"
    "  jmp st_thread_entry\n"
    /* Both platforms: an atomic compare-and-swap on guest memory, run by a traced thread
       of the address space (cmpxchg32 (rdi) from eax to esi; eax = the old value). */
    "  .org 0x50, 0xcc\n"
    "  lock cmpxchg %esi, (%rdi)\n"
    "  int3\n"
    /* systrap: the same on a 64-bit word (writes a patched syscall site at once). */
    "  .org 0x58, 0xcc\n"
    "  lock cmpxchg %rsi, (%rdi)\n"
    "  int3\n"
    /* systrap: the trampoline of patched syscall sites (systrap_abi.h ST_PATCH_*).
       Entered (st_tramp) from a site's entry with rcx = return address | nr << 48 (rax, rcx, r11
       are the guest's to lose: a syscall clobbers rcx and r11, and the site's own mov
       set eax). It does what the SIGSYS handler does, without the signal: registers
       into the thread's frame (found by the host gs base, which the handler keeps at
       the thread's slot), post, wait (st_tramp_wait), registers back. The handler
       (systrap.c) knows these addresses: a signal before the post is dropped (the post
       comes), after the reply it is taken as arriving at the syscall's return. */
    "  .org 0x70, 0xcc\n"
    ".globl st_tramp_begin, st_tramp_slow\n"
    "st_tramp_begin:\n"
    /* gs is not a slot (the guest set its own): the syscall takes the signal way. */
    "st_tramp_bad:\n"
    "  add $0x7f, %al\n" /* OF from al, then the rest from ah */
    "  sahf\n"
    "st_tramp_slow:\n"
    "  ud2\n"
    /* The entry of a `mov 0x8(%rsp),%r9; syscall` site (glibc's syscall(3)): the
       number is the guest's rax (any value), rcx = the return address. A number that
       fits 16 bits joins rcx as a `mov $nr,%eax` site's does; a larger one (ENOSYS to
       be) goes back to the site's own `syscall` (at the return address - 2), trapped. */
    "  .org 0x78, 0xcc\n"
    ".globl st_tramp_rax\n"
    "st_tramp_rax:\n"
    "  mov %rax, %r11\n"
    "  lahf\n"
    "  seto %al\n"
    "  cmp $0xffff, %r11\n"
    "  ja 1f\n"
    "  shl $48, %r11\n"
    "  or %r11, %rcx\n"
    "  jmp st_tramp_go\n"
    "1:\n"
    "  add $0x7f, %al\n"
    "  sahf\n"
    "  mov %r11, %rax\n"
    "  lea -2(%rcx), %rcx\n"
    "  jmp *%rcx\n"
    "  .org 0xb0, 0xcc\n"
    ".globl st_tramp\n"
    "st_tramp:\n"
    "  lahf\n"
    "  seto %al\n" /* the guest's flags are in ax from here */
    "st_tramp_go:\n"
    "  rdgsbase %r11\n"
    "  cmp st_slots_lo(%rip), %r11\n"
    "  jb st_tramp_bad\n"
    "  cmp st_slots_hi(%rip), %r11\n"
    "  jae st_tramp_bad\n"
    "  test $0x7fff, %r11d\n"
    "  jnz st_tramp_bad\n"
    "  mov %r15, 56(%r11)\n"
    "  mov %r14, 64(%r11)\n"
    "  mov %r13, 72(%r11)\n"
    "  mov %r12, 80(%r11)\n"
    "  mov %rbp, 88(%r11)\n"
    "  mov %rbx, 96(%r11)\n"
    "  mov %r10, 112(%r11)\n"
    "  mov %r9, 120(%r11)\n"
    "  mov %r8, 128(%r11)\n"
    "  mov %rdx, 152(%r11)\n"
    "  mov %rsi, 160(%r11)\n"
    "  mov %rdi, 168(%r11)\n"
    "  mov %rsp, 208(%r11)\n"
    "  lea 0x8000(%r11), %rsp\n" /* the top of the slot's signal stack, never the guest's */
    "  add $0x7f, %al\n"
    "  sahf\n"
    "  pushfq\n"
    "  pop %rdx\n"
    "  mov %rdx, 200(%r11)\n" /* eflags */
    "  mov %rdx, 104(%r11)\n" /* r11: rflags, as the syscall instruction leaves it */
    "  mov %rcx, %rdx\n"
    "  shr $48, %rdx\n"
    "  mov %rdx, 136(%r11)\n" /* rax and orig_rax: the number */
    "  mov %rdx, 176(%r11)\n"
    "  shl $16, %rcx\n"
    "  shr $16, %rcx\n"
    "  mov %rcx, 144(%r11)\n" /* rcx and rip: the return address */
    "  mov %rcx, 184(%r11)\n"
    "  movq $0x33, 192(%r11)\n"
    "  movq $0x2b, 216(%r11)\n"
    "  rdfsbase %rax\n"
    "  mov %rax, 224(%r11)\n"
    "  movq $0, 232(%r11)\n" /* the guest's gs base is 0 while the host's is the slot */
    /* siginfo as seccomp's: SIGSYS, SYS_SECCOMP, call address, number, arch */
    "  movq $31, 312(%r11)\n"
    "  movq $1, 320(%r11)\n"
    "  mov %rcx, 328(%r11)\n"
    "  mov %edx, 336(%r11)\n"
    "  movl $0xc000003e, 340(%r11)\n"
    "  movl $31, 8(%r11)\n"
    /* the FP/vector state, where the handler's would be: on the signal stack */
    "  movabs $0x7ff000100000, %rsi\n"
    "  movq $0, 0x2208(%r11)\n" /* XCOMP_BV: standard format */
    "  mov 32(%rsi), %eax\n"
    "  mov 36(%rsi), %edx\n"
    "  xsave 0x2000(%r11)\n"
    "  mov 24(%rsi), %eax\n"
    "  mov %eax, 16(%r11)\n"
    "  movq $0x2000, 48(%r11)\n"
    "  rdtscp\n" /* the CPU (TSC_AUX) decides spinning */
    "  and $0xfff, %ecx\n"
    "  inc %ecx\n"
    "  mov %ecx, 304(%r11)\n"
    "  mov $1, %eax\n" /* ST_POSTED */
    "  xchg %eax, (%r11)\n"
    ".globl st_tramp_posted\n"
    "st_tramp_posted:\n"
    "  mov %r11, %rdi\n"
    "  call st_tramp_wait\n"
    "  rdgsbase %r11\n"
    "  cmp $1, %eax\n" /* a plain resume; anything else (FP state, exit) the signal way */
    "  jne st_tramp_fpret\n"
    "  mov 232(%r11), %rdx\n"
    "  test %rdx, %rdx\n" /* the Sentry gave the guest a gs base: only a signal return sets it */
    "  jnz st_tramp_fpret\n" /* (eax still the cmd: the handler applies that one) */
    "  mov 224(%r11), %rax\n"
    "  mov %rax, %rdx\n"
    "  shl $16, %rdx\n"
    "  sar $16, %rdx\n"
    "  cmp %rax, %rdx\n"
    "  jne 1f\n" /* non-canonical: keep the old base (as the handler does) */
    "  wrfsbase %rax\n"
    "1:\n"
    "  pushq 200(%r11)\n"
    "  popfq\n"
    "  mov 56(%r11), %r15\n"
    "  mov 64(%r11), %r14\n"
    "  mov 72(%r11), %r13\n"
    "  mov 80(%r11), %r12\n"
    "  mov 88(%r11), %rbp\n"
    "  mov 96(%r11), %rbx\n"
    "  mov 112(%r11), %r10\n"
    "  mov 120(%r11), %r9\n"
    "  mov 128(%r11), %r8\n"
    "  mov 136(%r11), %rax\n"
    "  mov 144(%r11), %rcx\n"
    "  mov 152(%r11), %rdx\n"
    "  mov 160(%r11), %rsi\n"
    "  mov 168(%r11), %rdi\n"
    "  mov 208(%r11), %rsp\n"
    "  mov 104(%r11), %r11\n"
    "  jmp *%gs:184\n"
    ".globl st_tramp_fpret\n"
    "st_tramp_fpret:\n"
    "  ud2\n"
    ".globl st_tramp_end\n"
    "st_tramp_end:\n"
    "  .p2align 3, 0xcc\n"
    "st_slots_lo: .quad 0x7ff000110000\n"
    "st_slots_hi: .quad 0x7ff002110000\n"
    /* systrap: a new guest thread's own set-up, then its first trap (which tells the
       Sentry it is ready). The Sentry detached it with rip at ST_THREAD_START and rdi
       = its slot's stack_t; it sets its signal stack and stacks the guest-thread filter
       (st_f2) itself, each from its own instruction that the stub's filter allows only
       that call (ST_ENTRY_ALT_IP, ST_ENTRY_F2_IP) and st_f2 traps. Straight-line code
       over the Sentry's registers, no stack, no memory but the two calls' arguments:
       nothing guest code can write steers it. If either call fails (or traps) the
       thread's first post is not the entry's getpid trap, and the Sentry ends its
       process without a reply (TakeFirstPost): a thread without the guest-thread
       filter never reaches guest code. */
    "  .org 0x2d0, 0xcc\n"
    ".globl st_thread_entry\n"
    "st_thread_entry:\n"
    "  mov $131, %eax\n" /* sigaltstack(rdi, NULL) */
    "  xor %esi, %esi\n"
    "  .org 0x2e0, 0x90\n"
    ".globl st_entry_alt\n"
    "st_entry_alt:\n"
    "  syscall\n"
    "  test %rax, %rax\n"
    "  jnz st_entry_fail\n"
    "  mov $317, %eax\n" /* seccomp(SECCOMP_SET_MODE_FILTER, 0, ST_F2_PROG) */
    "  mov $1, %edi\n"
    "  xor %esi, %esi\n"
    "  movabs $0x7ff000011000, %rdx\n"
    "  .org 0x310, 0x90\n"
    ".globl st_entry_f2\n"
    "st_entry_f2:\n"
    "  syscall\n"
    "  test %rax, %rax\n"
    "  jnz st_entry_fail\n"
    "  mov $39, %eax\n" /* the first trap (getpid: SIGSYS), which the Sentry checks */
    "  .org 0x320, 0x90\n"
    ".globl st_entry_trap\n"
    "st_entry_trap:\n"
    "  syscall\n"
    "  ud2\n"
    "st_entry_fail:\n"
    "  ud2\n"
    /* systrap: a batch of injected calls in one ptrace round trip (a host fd's hand-over,
       a fork's frames and first thread, an exec's unmaps). The Sentry points the traced
       injector here with rbx = a table of rbp entries {nr, a0..a5} (56 bytes each) in
       memory no guest code can touch meanwhile; the calls run in order until one fails;
       at the int3 rax is the last call's result and rbp the entries not run. Its
       syscall (ST_BATCH_IP) the stub's filter allows as the gadget's; the guest-thread
       filter traps it, so guest code jumping here only makes a syscall post. No stack. */
    "  .org 0x330, 0xcc\n"
    ".globl st_batch\n"
    "st_batch:\n"
    "  test %rbp, %rbp\n"
    "  jz 2f\n"
    "  mov (%rbx), %rax\n"
    "  mov 8(%rbx), %rdi\n"
    "  mov 16(%rbx), %rsi\n"
    "  mov 24(%rbx), %rdx\n"
    "  mov 32(%rbx), %r10\n"
    "  mov 40(%rbx), %r8\n"
    "  mov 48(%rbx), %r9\n"
    "  .org 0x350, 0x90\n"
    ".globl st_batch_sys\n"
    "st_batch_sys:\n"
    "  syscall\n"
    "  dec %rbp\n"
    "  add $56, %rbx\n"
    "  cmp $-4095, %rax\n"
    "  jb st_batch\n"
    "2:\n"
    ".globl st_batch_trap\n"
    "st_batch_trap:\n"
    "  int3\n");
extern char stub_gadget[];
long stub_hsys(long nr, long a, long b, long c, long d);
extern char stub_restorer[];

/* The Sentry's scratch page in every stub (msghdr for fd passing), at a fixed address.
   The Sentry keeps it read-only except while it injects a recvmsg into it, and never
   trusts what it reads back from it (guest threads run meanwhile). */
__attribute__((section(".data.scratch"), aligned(4096), used)) char stub_scratch[4096] = {1};

/* The stub's end of the socket over which the Sentry passes host fds to map. */
#define STUB_SOCK_FD 1000

static long raw_syscall(long nr, long a, long b, long c, long d) {
  long ret;
  register long r10 __asm__("r10") = d;
  register long r8 __asm__("r8") = 0; /* prctl refuses unused arguments that are not 0 */
  register long r9 __asm__("r9") = 0;
  __asm__ volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9) : "rcx", "r11", "memory");
  return ret;
}

struct kernel_sigaction {
  unsigned long handler, flags, restorer, mask;
};

#define ALLOW_NR(n) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (n), 0, 1), BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)
/* What the Sentry runs at the gadget on both platforms (20 instructions). */
#define GADGET_NRS                                                                                     \
  ALLOW_NR(__NR_mmap), ALLOW_NR(__NR_munmap), ALLOW_NR(__NR_mprotect), ALLOW_NR(__NR_mremap),          \
      ALLOW_NR(__NR_madvise), ALLOW_NR(__NR_msync), ALLOW_NR(__NR_clone), ALLOW_NR(__NR_exit),         \
      ALLOW_NR(__NR_exit_group), ALLOW_NR(__NR_close)

/* The entry point hands the initial stack (argc, argv...) to stub_main. */
__asm__(
    ".section .text.start,\"ax\"\n"
    ".globl _start\n"
    "_start:\n"
    "  mov %rsp, %rdi\n"
    "  and $-16, %rsp\n"
    "  call stub_main\n"
    "  int3\n");

static int streq(const char* a, const char* b) {
  while (*a && *a == *b) a++, b++;
  return *a == *b;
}

#include "systrap.c"

#define VSYSCALL_HI 0xffffffffu
#define VSYSCALL_LO 0xff600000u

__attribute__((noreturn, used)) void stub_main(long* sp) {
  long argc = sp[0];
  char** argv = (char**)(sp + 1);
  struct kernel_sigaction sa = {SIG_IGN, 0, 0, 0};
  raw_syscall(__NR_rt_sigaction, SIGCHLD, (long)&sa, 0, 8);
  int dumpable = 0, systrap = 0;
  for (long i = 1; i < argc; i++) {
    if (streq(argv[i], "dumpable")) dumpable = 1;
    if (streq(argv[i], "systrap")) systrap = 1;
  }
  if (!dumpable && raw_syscall(__NR_prctl, PR_SET_DUMPABLE, 0, 0, 0) != 0)
    raw_syscall(__NR_exit_group, 122, 0, 0, 0);
  /* --deterministic: CPUID and RDTSC/RDTSCP fault (SIGSEGV), so the Sentry answers them
     (RDRAND/RDSEED masked out of CPUID, the TSC from the virtual clock). Inherited by
     every clone of this stub; a host that cannot does without (the Sentry probes). */
  for (long i = 1; i < argc; i++) {
    if (streq(argv[i], "cpuid-fault")) raw_syscall(__NR_arch_prctl, 0x1012 /* ARCH_SET_CPUID */, 0, 0, 0);
    if (streq(argv[i], "notsc")) raw_syscall(__NR_prctl, PR_SET_TSC, PR_TSC_SIGSEGV, 0, 0);
  }
  if (systrap) {
    /* systrap: guest threads trap into st_handler (systrap.c) instead of stopping. */
    st_install_handlers();
    st_build_f2();
    if (raw_syscall(__NR_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0) != 0) raw_syscall(__NR_exit_group, 120, 0, 0, 0);
    st_install_filter();
    for (;;) __asm__ volatile("int3");
  }

  unsigned long ip = (unsigned long)stub_gadget + 2; /* address after `syscall` */
  struct sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
      /* A guest call into the vsyscall page: trap (SIGSYS to the tracer, which answers it). */
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, instruction_pointer) + 4),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, VSYSCALL_HI, 0, 4),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, instruction_pointer)),
      BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0xfffff000u),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, VSYSCALL_LO, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
      /* Otherwise only the gadget's own `syscall`. */
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, instruction_pointer) + 4),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)(ip >> 32), 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, instruction_pointer)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)ip, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      GADGET_NRS,
      /* recvmsg only on the Sentry's socket */
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_recvmsg, 0, 3),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, STUB_SOCK_FD, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
  };
  struct sock_fprog prog = {(unsigned short)(sizeof(filter) / sizeof(filter[0])), filter};
  if (raw_syscall(__NR_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0) != 0) raw_syscall(__NR_exit_group, 120, 0, 0, 0);
  if (raw_syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, 0, (long)&prog, 0) != 0) raw_syscall(__NR_exit_group, 121, 0, 0, 0);
  for (;;) __asm__ volatile("int3");
}
