/* What the ring-0 shim (shim.S) and the platform (kvm_vm.cc) agree on: guest virtual
 * layout of the shim's pages and the per-vCPU state page. Included by C++ and by the
 * assembler, so numbers only. All of it lies in the top 2 GiB of the address space
 * (absolute disp32 reaches it), mapped supervisor-only: ring 3 faults on any touch. */
#pragma once

#define KVM_SHIM_BASE 0xffffffff80000000 /* shim code (one page) */
#define KVM_SHIM_IDT 0xffffffff80001000  /* shared IDT (256 gates, one page) */
#define KVM_SHIM_CPU0 0xffffffff80010000 /* vCPU i: state, GDT+TSS, 2 stack pages */
#define KVM_SHIM_CPU_STRIDE 0x4000
#define KVM_SHIM_MAX_CPUS 256 /* threads alive at once (KVM allows 1024 vCPUs, 4096 ids a VM) */

/* The port the shim's one `out` writes: the only exit the platform takes as the shim's. */
#define KVM_SHIM_PORT 0x10

/* Direct syscalls (hosts where a ring-3 `syscall` stays in ring 3 at LSTAR, as kvm_pvm's
 * does: kvm_probe.cc SyscallStaysInRing3): LSTAR is this user page, which holds
 * `out %al,$KVM_SYSCALL_PORT` (the TSS's I/O bitmap lets ring 3 use that one port), so a
 * guest syscall is one exit from ring 3 with no ring-0 code on its way. The page is the
 * last of the user half, which Linux never maps (TASK_SIZE ends below it). */
#define KVM_SYSCALL_PAGE 0x7ffffffff000
#define KVM_SYSCALL_PORT 0x11

/* Selectors: Linux's layout, so a guest (and its signal frames) sees the usual values. */
#define KVM_SEL_KCODE 0x10
#define KVM_SEL_KDATA 0x18
#define KVM_SEL_UDATA 0x2b
#define KVM_SEL_UCODE 0x33
#define KVM_SEL_TSS 0x40

/* State page (per vCPU, reached through %gs while in ring 0). */
#define ST_KIND 0x00   /* 1 syscall, 2 exception from ring 3, 3 exception in ring 0 */
#define ST_VEC 0x08
#define ST_ERR 0x10
#define ST_CR2 0x18
#define ST_KSTACK 0x20 /* top of this vCPU's ring-0 stack */
#define ST_FLAGS 0x28  /* set by the platform: 1 load fs base, 2 load gs base, 4 flush TLB, 8 invlpg ST_INVL */
#define ST_INVL_N 0x30 /* triples in ST_INVL to apply before returning to ring 3 */
#define ST_REGS 0x100  /* struct user_regs_struct, 27 x u64 */
/* (va, pages, pte) triples at %gs:ST_INVL (the page after the GDT's): PTEs the platform
 * cleared, which the shim clears again itself and invlpgs. With shadow paging (nested)
 * KVM sees a PTE change only when the guest writes it: the platform's own write is
 * unseen, and invlpg of a page KVM write-protects re-reads nothing. */
#define ST_INVL 0x2000
#define ST_INVL_MAX 170
/* Longer runs of the queue are cleared whole and the TLB flushed (no invlpg a page). */
#define KVM_INVL_RUN 32
/* The platform's memory (page tables included) as the shim sees it: supervisor-only. */
#define KVM_SHIM_PTWIN 0xffffff8000000000

#define KIND_SYSCALL 1
#define KIND_EXCEPTION 2
#define KIND_RING0 3

#define FL_FSBASE 1
#define FL_GSBASE 2
#define FL_FLUSH 4
#define FL_INVL 8

/* Offsets of user_regs_struct's fields (u64 index * 8) within ST_REGS. */
#define R_R15 (ST_REGS + 0 * 8)
#define R_R14 (ST_REGS + 1 * 8)
#define R_R13 (ST_REGS + 2 * 8)
#define R_R12 (ST_REGS + 3 * 8)
#define R_RBP (ST_REGS + 4 * 8)
#define R_RBX (ST_REGS + 5 * 8)
#define R_R11 (ST_REGS + 6 * 8)
#define R_R10 (ST_REGS + 7 * 8)
#define R_R9 (ST_REGS + 8 * 8)
#define R_R8 (ST_REGS + 9 * 8)
#define R_RAX (ST_REGS + 10 * 8)
#define R_RCX (ST_REGS + 11 * 8)
#define R_RDX (ST_REGS + 12 * 8)
#define R_RSI (ST_REGS + 13 * 8)
#define R_RDI (ST_REGS + 14 * 8)
#define R_ORIG_RAX (ST_REGS + 15 * 8)
#define R_RIP (ST_REGS + 16 * 8)
#define R_CS (ST_REGS + 17 * 8)
#define R_EFLAGS (ST_REGS + 18 * 8)
#define R_RSP (ST_REGS + 19 * 8)
#define R_SS (ST_REGS + 20 * 8)
#define R_FS_BASE (ST_REGS + 21 * 8)
#define R_GS_BASE (ST_REGS + 22 * 8)
