/*
 * The memory the systrap platform shares between a stub process and the Sentry
 * (included by native/stub/stub.c and native/systrap_platform.cc; C, no libc).
 *
 * Each address space has its own memfd mapped MAP_SHARED at ST_FRAMES_BASE in the stub
 * and anywhere in the Sentry: a control page, then one slot per guest thread. A slot
 * holds the thread's frame (the registers its SIGSYS/fault handler saved, and the
 * Sentry's reply) and, above it, the thread's signal stack (sigaltstack).
 *
 * Everything here is writable by guest code (it is the guest's own address space):
 * the Sentry copies what it needs once, checks it, and never follows a value found here.
 */
#ifndef TSS_SYSTRAP_ABI_H
#define TSS_SYSTRAP_ABI_H

#define ST_FRAMES_BASE 0x7ff000100000UL
#define ST_CTL_SIZE 0x10000UL
#define ST_SLOTS_BASE (ST_FRAMES_BASE + ST_CTL_SIZE)
#define ST_SLOT_SIZE 0x8000UL
#define ST_NSLOTS 1024
#define ST_REGION_SIZE (ST_CTL_SIZE + ST_SLOT_SIZE * ST_NSLOTS)
#define ST_FRAME_SIZE 0x2000UL /* the signal stack is the rest of the slot */

/* Fixed code addresses in the stub image (stub.c's .text.gadget, see stub.ld). */
#define ST_GADGET_IP 0x7ff000000002UL   /* after the injection gadget's syscall */
#define ST_HSYS_IP 0x7ff000000022UL     /* after the handler's own syscall */
#define ST_RESTORER_IP 0x7ff00000003aUL /* after the signal restorer's rt_sigreturn */
#define ST_THREAD_START 0x7ff000000040UL
#define ST_ENTRY_ALT_IP 0x7ff0000002e2UL /* after the thread entry's sigaltstack */
#define ST_ENTRY_F2_IP 0x7ff000000312UL  /* after its seccomp (the guest-thread filter) */
#define ST_ENTRY_TRAP_IP 0x7ff000000322UL /* after its first trap (getpid) */
#define ST_BATCH_START 0x7ff000000330UL /* st_batch: injected calls from a table (stub.c) */
#define ST_BATCH_IP 0x7ff000000352UL    /* after its syscall */
#define ST_BATCH_TRAP 0x7ff000000361UL  /* its int3: the batch is done */
#define ST_BATCH_ENTRY 56               /* a table entry: nr, a0..a5 */
#define ST_SCRATCH 0x7ff000010000UL     /* the stub's scratch page (stub.c stub_scratch), read-only to guests */
#define ST_F2_PROG 0x7ff000011000UL     /* struct sock_fprog of the guest-thread filter */

/* Syscall-site patching (native/stub/stub.c st_tramp, README "Syscall-site patching").
   A site `mov $nr,%eax; syscall` (b8 imm32 0f 05) becomes `jmp *ABS` (ff 24 25 disp32)
   whose disp32 ends in the syscall's own bytes 0f 05: the pointer it jumps through lies
   in the 64 KiB window 0x050f0000 (below 2 GiB, so reachable from any site), and a
   thread that had already run the old `mov` still finds its `syscall` at site+5. The
   window (read/exec for the guest, written by the Sentry through the memfd) holds one
   pointer per site, then one entry per site: `movabs $(ret | nr << 48),%rcx;
   jmp *ST_PATCH_COMMON`, which leads to the stub's trampoline. A site
   `mov 0x8(%rsp),%r9; syscall` (4c 8b 4c 24 08 0f 05, glibc's syscall(3), the number
   in rax) becomes the same jump; its entry replays the `mov` it replaced:
   `mov 0x8(%rsp),%r9; movabs $ret,%rcx; jmp *ST_PATCH_COMMON_RAX` (st_tramp_rax). */
#define ST_PATCH_BASE 0x050f0000UL
#define ST_PATCH_SIZE 0x10000UL
#define ST_PATCH_COMMON (ST_PATCH_BASE + 0x3ff8) /* pointer to st_tramp */
#define ST_PATCH_COMMON_RAX (ST_PATCH_BASE + 0x3ff0) /* pointer to st_tramp_rax */
#define ST_PATCH_ENTRIES (ST_PATCH_BASE + 0x4000)
#define ST_PATCH_ENTRY_SIZE 32
#define ST_PATCH_NSITES 1536 /* pointers [0, 0x3000), entries [0x4000, 0x10000) */
#define ST_TRAMP_IP 0x7ff0000000b0UL
#define ST_TRAMP_RAX_IP 0x7ff000000078UL
#define ST_CAS64_IP 0x7ff000000058UL

#define ST_EVENTFD 1001 /* the stubs' end of the Sentry's doorbell */

/* frame.state */
#define ST_IDLE 0
#define ST_POSTED 1 /* the handler saved an event; the Sentry has not taken it */
#define ST_TAKEN 2  /* the Sentry took it and owns the thread */
#define ST_REPLY 3  /* the Sentry answered: frame.cmd says what to do */

/* frame.cmd */
#define ST_CMD_RESUME 1
#define ST_CMD_EXIT 2
#define ST_CMD_FP 0x100 /* with RESUME: load the FP/vector state from frame.fp */

struct st_ctl {
  volatile unsigned int sleeping; /* the Sentry sleeps: a post must ring the doorbell */
  unsigned int spinCycles;        /* how long a handler spins (TSC cycles) before it sleeps */
  unsigned int prof;              /* TSS_SYSTRAP_PROF: handlers stamp frame.stamp (TSC) */
  unsigned int yieldCycles;       /* spinning past this, a handler yields its CPU (0: never) */
  unsigned int sentryCpu;         /* the Sentry's CPU + 1: a handler on it does not spin */
  unsigned int patch;             /* patching on: a thread's host gs base is its slot */
  unsigned int xsize;             /* the trampoline's XSAVE image: its size, */
  unsigned int pad;
  unsigned long xmask;            /* and the components it saves (XCR0 less what does not fit) */
};

struct st_frame {
  volatile unsigned int state;
  volatile unsigned int waiting; /* the handler sleeps in FUTEX_WAIT on state */
  unsigned int signo;
  unsigned int cmd;
  unsigned int fpsize;
  volatile unsigned int tidword; /* CLONE_CHILD_SETTID/CLEARTID: 0 once the thread is gone */
  unsigned long altstack[3];     /* stack_t for the injected sigaltstack */
  unsigned long fpoff;           /* the kernel's FP/XSAVE image: its offset in the slot (0: none) */
  unsigned long regs[27]; /* struct user_regs_struct order */
  /* TSC stamps when ctl.prof: handler entry, post, reply seen, return (informative only) */
  unsigned long stamp[4];
  unsigned int cpu; /* the CPU the handler posted from + 1 (decides spinning only) */
  unsigned int pad1;
  unsigned char siginfo[128];
  unsigned char pad2[512 - 448];
  unsigned char fp[4096] __attribute__((aligned(64))); /* FP state the Sentry sets (ST_CMD_FP) */
};

#endif
