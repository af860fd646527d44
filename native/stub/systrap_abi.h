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
#define ST_F2_PROG 0x7ff000011000UL     /* struct sock_fprog of the guest-thread filter */

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
  unsigned long pad1[5];
  unsigned char siginfo[128];
  unsigned char pad2[512 - 448];
  unsigned char fp[4096] __attribute__((aligned(64))); /* FP state the Sentry sets (ST_CMD_FP) */
};

#endif
