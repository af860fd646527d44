/*
 * The systrap half of the stub (included by stub.c; freestanding, no libc).
 *
 * Guest threads of a systrap stub are not traced. Every syscall they make traps
 * (seccomp SECCOMP_RET_TRAP: SIGSYS), and every fault and the Sentry's kick signal land
 * in st_handler below, on the thread's own signal stack inside its slot of the shared
 * region (systrap_abi.h). The handler saves the registers into the slot's frame, posts
 * it, spins and then sleeps (futex) until the Sentry replies, loads the registers the
 * Sentry gave back and returns into guest code through rt_sigreturn.
 *
 * The handler trusts nothing either: guest code may have written the frame, and may
 * jump to the handler's syscall instruction itself. That instruction is allowed only
 * futex, write on the doorbell eventfd, sched_yield and exit (seccomp checks the
 * instruction pointer); nothing the guest reaches there touches the host.
 */
#include "systrap_abi.h"

/* Offsets st_tramp (stub.c) writes by number. */
_Static_assert(offsetof(struct st_frame, regs) == 56, "st_tramp: regs");
_Static_assert(offsetof(struct st_frame, cpu) == 304, "st_tramp: cpu");
_Static_assert(offsetof(struct st_frame, siginfo) == 312, "st_tramp: siginfo");
_Static_assert(offsetof(struct st_frame, fpoff) == 48 && offsetof(struct st_frame, fpsize) == 16, "st_tramp: fp");
_Static_assert(offsetof(struct st_ctl, xsize) == 24 && offsetof(struct st_ctl, xmask) == 32, "st_tramp: ctl");
_Static_assert(ST_SLOTS_BASE == 0x7ff000110000UL && ST_SLOT_SIZE == 0x8000 && ST_FRAME_SIZE == 0x2000, "st_tramp: slots");

#define SIGSYS_ 31
#define SA_SIGINFO_ 4
#define SA_ONSTACK_ 0x08000000
#define SA_RESTORER_ 0x04000000
#define FUTEX_WAIT_ 0
#define FUTEX_WAKE_ 1

struct k_sigcontext {
  unsigned long r8, r9, r10, r11, r12, r13, r14, r15, rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip, eflags;
  unsigned short cs, gs, fs, ss;
  unsigned long err, trapno, oldmask, cr2, fpstate, reserved[8];
};
struct k_ucontext {
  unsigned long flags, link;
  unsigned long stack_sp;
  int stack_flags, stack_pad;
  unsigned long stack_size;
  struct k_sigcontext mc;
  unsigned long sigmask;
};

static inline unsigned long st_rdtsc(void) {
  unsigned int lo, hi;
  __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return ((unsigned long)hi << 32) | lo;
}

static void st_copy(void* d, const void* s, unsigned long n) {
  unsigned char* dd = d;
  const unsigned char* ss = s;
  while (n--) *dd++ = *ss++;
}

/* Size of the kernel's FP/XSAVE image in the signal frame (fx_sw_bytes at 464). */
static unsigned int st_fpsize(const unsigned char* fx) {
  unsigned int magic = *(const unsigned int*)(fx + 464), size = *(const unsigned int*)(fx + 480);
  if (magic != 0x46505853u || size < 512 || size > 4096) return 512;
  return size;
}

/* Spins first (a handoff costs ~0.1 us spinning, ~8 us through futex), then sleeps,
   until the Sentry's reply is in frame f (the post is made). */
static inline __attribute__((always_inline)) void st_wait_reply(struct st_frame* f, struct st_ctl* ctl, unsigned int budget) {
  unsigned long t0 = st_rdtsc();
  unsigned int s;
  while ((s = __atomic_load_n(&f->state, __ATOMIC_ACQUIRE)) != ST_REPLY) {
    unsigned long spun = st_rdtsc() - t0;
    if (spun < budget) {
      /* Past the first few microseconds, yield: if the Sentry shares this CPU, a pure
         spin would keep it off until the time slice ends. */
      unsigned int y = ctl->yieldCycles;
      if (y && spun > y) stub_hsys(__NR_sched_yield, 0, 0, 0, 0);
      else __asm__ volatile("pause");
      continue;
    }
    __atomic_store_n(&f->waiting, 1, __ATOMIC_SEQ_CST);
    s = __atomic_load_n(&f->state, __ATOMIC_SEQ_CST);
    /* Bounded: if another guest thread wrote over this frame's state, the Sentry (which
       then thinks this thread runs) would never take it; posting again every 50 ms
       heals that, and a thread the Sentry does hold ignores it (the Sentry only looks
       at frames of threads it let run). */
    struct { long sec, nsec; } nap = {0, 50000000};
    if (s != ST_REPLY && stub_hsys(__NR_futex, (long)&f->state, FUTEX_WAIT_, s, (long)&nap) == -110 /* ETIMEDOUT */) {
      /* Never over a reply that came meanwhile: only from the state that was seen. */
      unsigned int seen = s;
      if (__atomic_compare_exchange_n(&f->state, &seen, ST_POSTED, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
        if (__atomic_load_n(&ctl->sleeping, __ATOMIC_SEQ_CST)) {
          unsigned long one = 1;
          stub_hsys(__NR_write, ST_EVENTFD, (long)&one, 8, 0);
        }
      }
    }
    __atomic_store_n(&f->waiting, 0, __ATOMIC_SEQ_CST);
  }
}

/* How long a thread on `cpu` (+1) spins: not at all on the Sentry's CPU (that would
   only keep the Sentry off it). */
static inline __attribute__((always_inline)) unsigned int st_budget(struct st_ctl* ctl, unsigned int cpu) {
  return cpu == ctl->sentryCpu ? 0 : ctl->spinCycles;
}

static inline __attribute__((always_inline)) void st_ring(struct st_ctl* ctl) {
  if (__atomic_load_n(&ctl->sleeping, __ATOMIC_SEQ_CST)) {
    unsigned long one = 1;
    stub_hsys(__NR_write, ST_EVENTFD, (long)&one, 8, 0);
  }
}

/* The trampoline's wait (st_tramp in stub.c has posted f): its own section, so the
   handler knows a signal that lands here came while a patched syscall was out. Its
   argument is only where to wait: a guest jumping here waits on its own memory. */
__attribute__((section(".text.tramp"), noinline, used)) unsigned int st_tramp_wait(struct st_frame* f) {
  struct st_ctl* ctl = (struct st_ctl*)ST_FRAMES_BASE;
  unsigned int prof = ctl->prof;
  if (prof) f->stamp[0] = f->stamp[1] = st_rdtsc();
  st_ring(ctl);
  st_wait_reply(f, ctl, st_budget(ctl, f->cpu));
  if (prof) f->stamp[2] = f->stamp[3] = st_rdtsc();
  return f->cmd;
}

extern char st_tramp_begin[], st_tramp_slow[], st_tramp_posted[], st_tramp_fpret[], st_tramp_end[];
extern char st_tramp_c_begin[], st_tramp_c_end[];

/* Loads the Sentry's reply (frame f) into the interrupted context: registers, fs/gs
   bases (set here: the signal return does not restore them), FP state if changed. */
/* `cmd` is read once, by whoever saw the reply: a sibling may write over the frame's
   word meanwhile. Only an exact EXIT ends the host thread (the Sentry forgot it first);
   anything else resumes (a made-up command costs the guest at worst its registers,
   which a scribbled frame already gave it). */
static inline __attribute__((always_inline)) void st_apply(struct st_frame* f, struct st_ctl* ctl, struct k_sigcontext* m,
                                                        unsigned char* fx, unsigned int fpsize, unsigned int cmd) {
  unsigned long* r = f->regs;
  if ((cmd & 0xff) == ST_CMD_EXIT) stub_hsys(__NR_exit, 0, 0, 0, 0);
  m->r15 = r[0], m->r14 = r[1], m->r13 = r[2], m->r12 = r[3], m->rbp = r[4], m->rbx = r[5];
  m->r11 = r[6], m->r10 = r[7], m->r9 = r[8], m->r8 = r[9], m->rax = r[10], m->rcx = r[11];
  m->rdx = r[12], m->rsi = r[13], m->rdi = r[14], m->rip = r[16], m->eflags = r[18], m->rsp = r[19];
  unsigned long fsb = r[21], gsb = r[22];
  /* Patching on, a guest gs base of 0 is the slot on the host (the trampoline finds its
     frame by it); the guest never sees that value (st_handler reports it as 0). */
  if (!gsb && ctl->patch) gsb = (unsigned long)f;
  /* Non-canonical bases would fault here, inside the handler: keep the old ones then. */
  if ((long)(fsb << 16) >> 16 == (long)fsb) __asm__ volatile("wrfsbase %0" ::"r"(fsb));
  if ((long)(gsb << 16) >> 16 == (long)gsb) __asm__ volatile("wrgsbase %0" ::"r"(gsb));
  if ((cmd & ST_CMD_FP) && fx) {
    /* The kernel's own bytes (fx_sw_bytes, 464..511) stay: they describe its frame. */
    unsigned int n = f->fpsize < fpsize ? f->fpsize : fpsize;
    st_copy(fx, f->fp, n < 464 ? n : 464);
    if (n > 512) st_copy(fx + 512, f->fp + 512, n - 512);
  }
}

__attribute__((used)) static void st_handler(int sig, void* si, void* ucv) {
  struct k_ucontext* uc = ucv;
  unsigned long tEntry = st_rdtsc();
  unsigned long sp = (unsigned long)__builtin_frame_address(0);
  if (sp < ST_SLOTS_BASE || sp >= ST_SLOTS_BASE + ST_SLOT_SIZE * ST_NSLOTS) stub_hsys(__NR_exit, 0, 0, 0, 0);
  struct st_frame* f = (struct st_frame*)(ST_SLOTS_BASE + (sp - ST_SLOTS_BASE) / ST_SLOT_SIZE * ST_SLOT_SIZE);
  struct st_ctl* ctl = (struct st_ctl*)ST_FRAMES_BASE;
  struct k_sigcontext* m = &uc->mc;
  unsigned char* fx = (unsigned char*)m->fpstate;
  unsigned int fpsize = fx ? st_fpsize(fx) : 0;
  /* A signal inside a patched syscall's path (window entry, trampoline, its wait). */
  unsigned long ip = m->rip;
  unsigned char fakeSi[128];
  if (sig == 4 /* ILL */ && ip == (unsigned long)st_tramp_slow) {
    /* The thread's gs base is not its slot: the syscall the site stands for, as if
       trapped at the site (rcx = return | nr << 48, as the entry set it). */
    unsigned long ret = m->rcx & 0xffffffffffffUL, nr = m->rcx >> 48;
    m->rax = nr, m->rcx = ret, m->r11 = m->eflags, m->rip = ret;
    for (unsigned i = 0; i < 128; i++) fakeSi[i] = 0;
    *(int*)fakeSi = SIGSYS_;
    *(int*)(fakeSi + 8) = 1; /* SYS_SECCOMP */
    *(unsigned long*)(fakeSi + 16) = ret;
    *(int*)(fakeSi + 24) = (int)nr;
    *(unsigned int*)(fakeSi + 28) = 0xc000003eu;
    si = fakeSi;
    sig = SIGSYS_;
  } else if (sig == 4 && ip == (unsigned long)st_tramp_fpret) {
    /* The trampoline's reply needs a signal return (FP state, a guest gs base); eax
       holds the cmd st_tramp_wait read (stub.c keeps it there). */
    st_apply(f, ctl, m, fx, fpsize, (unsigned int)m->rax);
    uc->sigmask = 0;
    return;
  } else if (sig == SIGSYS_) {
    /* A syscall trapped, wherever it was made (a guest jumping to the handler's own
       instruction with another number included): served as any. */
  } else if ((ip >= ST_PATCH_BASE && ip < ST_PATCH_BASE + ST_PATCH_SIZE) ||
             (ip >= (unsigned long)st_tramp_begin && ip < (unsigned long)st_tramp_posted)) {
    /* Before the post: the post is coming, which is all a kick asks for; a step trap
       (TF) steps over the whole syscall. A fault here is a guest that jumped in
       half-way: reported as any fault. */
    if (sig == 23 /* URG */ || sig == 5 /* TRAP */) return;
  } else if ((ip >= (unsigned long)st_tramp_posted && ip < (unsigned long)st_tramp_end) ||
             (ip >= (unsigned long)st_tramp_c_begin && ip < (unsigned long)st_tramp_c_end) ||
             (ip >= ST_GADGET_IP + 14 && ip <= ST_HSYS_IP + 1)) {
    /* After the post: until the reply the Sentry holds the thread (nothing to report);
       with the reply in, the thread is in effect back at the syscall's return, and the
       signal is reported there (a kick must not be lost). */
    if (__atomic_load_n(&f->state, __ATOMIC_ACQUIRE) == ST_REPLY) st_apply(f, ctl, m, fx, fpsize, f->cmd);
    else if (sig == 23 /* URG */ || sig == 5 /* TRAP */) return;
    /* (a fault with no reply in: a guest that jumped in half-way, reported as any) */
  }
  unsigned long* r = f->regs;
  unsigned long fsb, gsb;
  __asm__ volatile("rdfsbase %0" : "=r"(fsb));
  __asm__ volatile("rdgsbase %0" : "=r"(gsb));
  if (gsb == (unsigned long)f) gsb = 0; /* the slot (patching): the guest's base is 0 */
  r[0] = m->r15, r[1] = m->r14, r[2] = m->r13, r[3] = m->r12, r[4] = m->rbp, r[5] = m->rbx;
  r[6] = m->r11, r[7] = m->r10, r[8] = m->r9, r[9] = m->r8, r[10] = m->rax, r[11] = m->rcx;
  r[12] = m->rdx, r[13] = m->rsi, r[14] = m->rdi, r[15] = m->rax, r[16] = m->rip, r[17] = m->cs;
  r[18] = m->eflags, r[19] = m->rsp, r[20] = m->ss, r[21] = fsb, r[22] = gsb;
  r[23] = r[24] = r[25] = r[26] = 0;
  st_copy(f->siginfo, si, 128);
  /* The FP image stays where the kernel put it, on this slot's signal stack, which the
     Sentry maps too: it reads it there only when it needs it (signal frames, forks). */
  f->fpoff = fx ? (unsigned long)fx - (unsigned long)f : 0;
  f->fpsize = fpsize;
  f->signo = (unsigned int)sig;
  /* The CPU this thread runs on (rdtscp's TSC_AUX): sharing the Sentry's, spinning
     would only keep the Sentry off it, so the handler sleeps at once. */
  unsigned int lo_, hi_, aux_;
  __asm__ volatile("rdtscp" : "=a"(lo_), "=d"(hi_), "=c"(aux_));
  unsigned int cpu = (aux_ & 0xfff) + 1;
  f->cpu = cpu;
  unsigned int budget = st_budget(ctl, cpu);
  unsigned int prof = ctl->prof;
  if (prof) f->stamp[0] = tEntry, f->stamp[1] = st_rdtsc();
  __atomic_store_n(&f->state, ST_POSTED, __ATOMIC_SEQ_CST);
  st_ring(ctl);
  st_wait_reply(f, ctl, budget);
  if (prof) f->stamp[2] = st_rdtsc();
  st_apply(f, ctl, m, fx, fpsize, f->cmd);
  if (prof) f->stamp[3] = st_rdtsc();
  uc->sigmask = 0; /* the guest's signal mask is the Sentry's business, not the host's */
}

struct st_kernel_sigaction {
  unsigned long handler, flags, restorer, mask;
};

static void st_install_handlers(void) {
  static const int sigs[] = {SIGSYS_, 11 /* SEGV */, 7 /* BUS */, 4 /* ILL */, 8 /* FPE */, 5 /* TRAP */, 23 /* URG: kick */};
  for (unsigned i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
    struct st_kernel_sigaction sa = {(unsigned long)st_handler, SA_SIGINFO_ | SA_ONSTACK_ | SA_RESTORER_,
                                     (unsigned long)stub_restorer, ~0UL};
    if (raw_syscall(__NR_rt_sigaction, sigs[i], (long)&sa, 0, 8) != 0) raw_syscall(__NR_exit_group, 119, 0, 0, 0);
  }
}

#define IP_LO offsetof(struct seccomp_data, instruction_pointer)
#define IP_HI (offsetof(struct seccomp_data, instruction_pointer) + 4)
#define LD(off) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (off))
#define RET(a) BPF_STMT(BPF_RET | BPF_K, (a))
/* 5 instructions, the accumulator holding the low ip: at instruction `ip` only syscall
   `sysno` (else a trap); from any other ip, on to the next block. */
#define ONE_NR_AT(ip, sysno)                                          \
  BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)(ip), 0, 4),          \
      LD(offsetof(struct seccomp_data, nr)),                          \
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (sysno), 0, 1), RET(SECCOMP_RET_ALLOW), RET(SECCOMP_RET_TRAP)

/* The guest-thread filter, stacked on the stub's (each new guest thread installs it
   itself, at its entry, before any guest code runs): the injection gadget and the
   entry's two instructions trap instead of running (seccomp takes the most
   restrictive answer of all filters, so everything else is as the stub's filter says).
   The batch's syscall (ST_BATCH_IP) traps too: only the injector runs it. */
__attribute__((section(".data.f2"), used, aligned(4096))) struct {
  struct sock_fprog prog;
  struct sock_filter f[9];
} st_f2 = {{0, 0}, {{0, 0, 0, 0}}};

static void st_build_f2(void) {
  struct sock_filter f[] = {
      LD(IP_HI),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)(ST_GADGET_IP >> 32), 0, 6),
      LD(IP_LO),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)ST_GADGET_IP, 3, 0),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)ST_BATCH_IP, 2, 0),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)ST_ENTRY_ALT_IP, 1, 0),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)ST_ENTRY_F2_IP, 0, 1),
      RET(SECCOMP_RET_TRAP),
      RET(SECCOMP_RET_ALLOW),
  };
  st_copy(st_f2.f, f, sizeof f);
  st_f2.prog.len = sizeof f / sizeof f[0];
  st_f2.prog.filter = st_f2.f;
}

/* The systrap stub's own filter (inherited by every thread): any syscall not from one of
   the stub's six instructions traps (SIGSYS to st_handler, reported to the Sentry);
   the gadget and the batch's syscall (Sentry-driven, traced threads only) run the
   address-space calls; the
   handler's instruction runs futex/doorbell/yield/exit; the restorer rt_sigreturn;
   a new thread's entry sigaltstack at one instruction and, at the other, seccomp
   installing exactly st_f2 (which then traps all three but the handler's and the
   restorer's for that thread). */
static void st_install_filter(void) {
  struct sock_filter f[] = {
      LD(offsetof(struct seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
      RET(SECCOMP_RET_TRAP), /* int 0x80 with IA32 emulation: reported, becomes SIGSEGV */
      LD(IP_HI),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)(ST_GADGET_IP >> 32), 1, 0),
      RET(SECCOMP_RET_TRAP),
      LD(IP_LO),
      /* the batch's syscall: allowed what the gadget's is (only the injector runs it) */
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)ST_BATCH_IP, 1, 0),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)ST_GADGET_IP, 0, 26),
      /* [9] the gadget */
      LD(offsetof(struct seccomp_data, nr)),
      GADGET_NRS,
      /* recvmsg only on the Sentry's socket */
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_recvmsg, 0, 3),
      LD(offsetof(struct seccomp_data, args[0])),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, STUB_SOCK_FD, 0, 1),
      RET(SECCOMP_RET_ALLOW),
      RET(SECCOMP_RET_TRAP), /* a guest thread at the gadget: trapped like any syscall */
      /* [35] the handler's instruction (the accumulator still holds the low ip) */
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)ST_HSYS_IP, 0, 13),
      LD(offsetof(struct seccomp_data, nr)),
      ALLOW_NR(__NR_sched_yield),
      ALLOW_NR(__NR_exit),
      /* [41] futex: FUTEX_WAIT or FUTEX_WAKE only */
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_futex, 0, 2),
      LD(offsetof(struct seccomp_data, args[1])),
      BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, FUTEX_WAKE_, 4, 3),
      /* [44] write on the doorbell only */
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_write, 0, 3),
      LD(offsetof(struct seccomp_data, args[0])),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ST_EVENTFD, 0, 1),
      /* [47] */
      RET(SECCOMP_RET_ALLOW),
      RET(SECCOMP_RET_TRAP),
      /* [49] the restorer */
      ONE_NR_AT(ST_RESTORER_IP, __NR_rt_sigreturn),
      /* [54] the thread entry's first instruction: sigaltstack only */
      ONE_NR_AT(ST_ENTRY_ALT_IP, __NR_sigaltstack),
      /* [59] its second: seccomp(SECCOMP_SET_MODE_FILTER, 0, ST_F2_PROG) only */
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)ST_ENTRY_F2_IP, 0, 13),
      LD(offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_seccomp, 0, 11),
      LD(offsetof(struct seccomp_data, args[0])),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SECCOMP_SET_MODE_FILTER, 0, 9),
      LD(offsetof(struct seccomp_data, args[1])),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 7),
      LD(offsetof(struct seccomp_data, args[2])),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)ST_F2_PROG, 0, 5),
      LD(offsetof(struct seccomp_data, args[2]) + 4),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)(ST_F2_PROG >> 32), 0, 3),
      LD(offsetof(struct seccomp_data, args[0]) + 4),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 1),
      RET(SECCOMP_RET_ALLOW),
      RET(SECCOMP_RET_TRAP),
  };
  struct sock_fprog prog = {(unsigned short)(sizeof(f) / sizeof(f[0])), f};
  if (raw_syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, 0, (long)&prog, 0) != 0) raw_syscall(__NR_exit_group, 121, 0, 0, 0);
}
