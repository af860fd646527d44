/* The ring-0 shim of the kvm platform: the only code that runs in the guest's ring 0.
 * It is data in the addon (never executed on the host): kvm_vm.cc copies the bytes
 * between kvm_shim_start and kvm_shim_end into a supervisor-only page of every VM.
 *
 * syscall (LSTAR) and every exception from ring 3 save the guest's registers into the
 * vCPU's state page (through %gs after swapgs: the page the platform reads them from)
 * and exit to the VMM with one `out` (al: the kind); when the platform runs the vCPU
 * again it continues at kvm_shim_resume, which loads the registers the platform wrote
 * back and returns to ring 3 with iretq (never sysret: a non-canonical rcx would fault
 * in ring 0 on the guest's stack). The guest's stack is never touched. An exception in
 * ring 0 (a bug of ours) exits with kind 3 and halts: the platform ends the address
 * space. Layout and offsets: kvm_abi.h. */
#include "kvm_abi.h"

/* The general registers but rsp into the state page (rip, rflags, rsp: the caller's). */
.macro SAVE_GPRS
	mov %rax, %gs:R_RAX
	mov %rbx, %gs:R_RBX
	mov %rcx, %gs:R_RCX
	mov %rdx, %gs:R_RDX
	mov %rsi, %gs:R_RSI
	mov %rdi, %gs:R_RDI
	mov %rbp, %gs:R_RBP
	mov %r8, %gs:R_R8
	mov %r9, %gs:R_R9
	mov %r10, %gs:R_R10
	mov %r11, %gs:R_R11
	mov %r12, %gs:R_R12
	mov %r13, %gs:R_R13
	mov %r14, %gs:R_R14
	mov %r15, %gs:R_R15
.endm

	.section .rodata.kvm_shim, "a"
	.balign 4096
	.globl kvm_shim_start
kvm_shim_start:

	.globl kvm_shim_syscall
kvm_shim_syscall:
	swapgs
	mov %rsp, %gs:R_RSP
	SAVE_GPRS
	mov %rcx, %gs:R_RIP
	mov %r11, %gs:R_EFLAGS
	mov $KIND_SYSCALL, %eax
	jmp shim_exit

exc_common:
	/* stack: vector, error code, rip, cs, rflags, rsp, ss */
	testb $3, 24(%rsp)
	jz exc_ring0
	swapgs
	SAVE_GPRS
	mov 0(%rsp), %rax
	mov %rax, %gs:ST_VEC
	mov 8(%rsp), %rax
	mov %rax, %gs:ST_ERR
	mov 16(%rsp), %rax
	mov %rax, %gs:R_RIP
	mov 32(%rsp), %rax
	mov %rax, %gs:R_EFLAGS
	mov 40(%rsp), %rax
	mov %rax, %gs:R_RSP
	mov %cr2, %rax
	mov %rax, %gs:ST_CR2
	mov $KIND_EXCEPTION, %eax

shim_exit:
	out %al, $KVM_SHIM_PORT
	/* run again: the platform wrote the registers to return with */

	.globl kvm_shim_resume
kvm_shim_resume:
	mov %gs:ST_KSTACK, %rsp
	mov %gs:ST_FLAGS, %rbx
	test %rbx, %rbx
	jz 2f
	movq $0, %gs:ST_FLAGS
	test $FL_FLUSH, %bl
	jz 3f
	mov %cr3, %rax
	mov %rax, %cr3
3:	test $FL_INVL, %bl
	jz 3f
	/* the platform's cleared PTEs, cleared again by the guest itself (kvm_abi.h); a
	 * long run with rep stosq and one TLB flush at the end, not an invlpg a page
	 * (each one a trap to KVM on this nested host: a 200 MiB fork paid ~0.5 s) */
	cld
	xor %edx, %edx
	xor %r9d, %r9d
6:	cmp %gs:ST_INVL_N, %rdx
	jae 7f
	imul $24, %rdx, %r8
	mov %gs:ST_INVL(%r8), %rax
	mov %gs:ST_INVL+8(%r8), %rsi
	mov %gs:ST_INVL+16(%r8), %rdi
	cmp $KVM_INVL_RUN, %rsi
	jbe 8f
	mov %rsi, %rcx
	xor %eax, %eax
	rep stosq
	mov $1, %r9d
	jmp 9f
8:	test %rsi, %rsi
	jz 9f
	movq $0, (%rdi)
	invlpg (%rax)
	add $4096, %rax
	add $8, %rdi
	dec %rsi
	jmp 8b
9:	inc %rdx
	jmp 6b
7:	movq $0, %gs:ST_INVL_N
	test %r9d, %r9d
	jz 3f
	mov %cr3, %rax
	mov %rax, %cr3
3:	test $FL_FSBASE, %bl
	jz 4f
	mov $0xc0000100, %ecx
	mov %gs:R_FS_BASE, %eax
	mov %gs:R_FS_BASE+4, %edx
	wrmsr
4:	test $FL_GSBASE, %bl
	jz 2f
	mov $0xc0000102, %ecx /* KERNEL_GS_BASE: the user's gs base after swapgs */
	mov %gs:R_GS_BASE, %eax
	mov %gs:R_GS_BASE+4, %edx
	wrmsr
2:	pushq $KVM_SEL_UDATA
	pushq %gs:R_RSP
	pushq %gs:R_EFLAGS
	pushq $KVM_SEL_UCODE
	pushq %gs:R_RIP
	mov %gs:R_RAX, %rax
	mov %gs:R_RBX, %rbx
	mov %gs:R_RCX, %rcx
	mov %gs:R_RDX, %rdx
	mov %gs:R_RSI, %rsi
	mov %gs:R_RDI, %rdi
	mov %gs:R_RBP, %rbp
	mov %gs:R_R8, %r8
	mov %gs:R_R9, %r9
	mov %gs:R_R10, %r10
	mov %gs:R_R11, %r11
	mov %gs:R_R12, %r12
	mov %gs:R_R13, %r13
	mov %gs:R_R14, %r14
	mov %gs:R_R15, %r15
	swapgs
	iretq

exc_ring0:
	mov $KIND_RING0, %eax
	out %al, $KVM_SHIM_PORT
1:	hlt
	jmp 1b

/* One 16-byte entry per vector 0..31; those the CPU pushes no error code for push 0. */
.macro VEC n, ec
	.balign 16
	.if \ec == 0
	pushq $0
	.endif
	pushq $\n
	jmp exc_common
.endm
	.balign 16
	.globl kvm_shim_vectors
kvm_shim_vectors:
	VEC 0,0
	VEC 1,0
	VEC 2,0
	VEC 3,0
	VEC 4,0
	VEC 5,0
	VEC 6,0
	VEC 7,0
	VEC 8,1
	VEC 9,0
	VEC 10,1
	VEC 11,1
	VEC 12,1
	VEC 13,1
	VEC 14,1
	VEC 15,0
	VEC 16,0
	VEC 17,1
	VEC 18,0
	VEC 19,0
	VEC 20,0
	VEC 21,1
	VEC 22,0
	VEC 23,0
	VEC 24,0
	VEC 25,0
	VEC 26,0
	VEC 27,0
	VEC 28,0
	VEC 29,1
	VEC 30,1
	VEC 31,0
	.globl kvm_shim_end
kvm_shim_end:
	.section .note.GNU-stack, "", @progbits
