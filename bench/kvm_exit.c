/*
 * kvm_exit [N]: the raw cost of one KVM exit to user space on this machine (a host
 * program, not a guest: src/platform/README.md "kvm" uses it to decide whether a KVM
 * platform could pay here). One VM, one vCPU in 64-bit mode on a 2 MiB identity page,
 * guest code `out %al,$0x10; inc %eax; jmp` : N KVM_RUN round trips, each one I/O exit.
 * Prints "<ns per exit> ns/exit", or one line saying why KVM cannot run here (exit 1).
 *   gcc -O2 -o /tmp/kvm_exit bench/kvm_exit.c && /tmp/kvm_exit 100000
 */
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static int fail(const char *what) {
  perror(what);
  return 1;
}

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 100000;
  if (n < 1) n = 1;
  int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (kvm < 0) return fail("open /dev/kvm");
  if (ioctl(kvm, KVM_GET_API_VERSION, 0) != 12) return fail("KVM_GET_API_VERSION is not 12");
  int vm = ioctl(kvm, KVM_CREATE_VM, 0);
  if (vm < 0) return fail("KVM_CREATE_VM");
  size_t memsz = 0x200000;
  uint8_t *mem = mmap(NULL, memsz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) return fail("mmap");
  struct kvm_userspace_memory_region reg = {.slot = 0, .guest_phys_addr = 0, .memory_size = memsz,
                                            .userspace_addr = (uint64_t)(uintptr_t)mem};
  if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &reg) < 0) return fail("KVM_SET_USER_MEMORY_REGION");
  int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
  if (vcpu < 0) return fail("KVM_CREATE_VCPU");
  int sz = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
  struct kvm_run *run = mmap(NULL, (size_t)sz, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
  if (run == MAP_FAILED) return fail("mmap vcpu");
  /* PML4 (0x1000) -> PDPT (0x2000) -> PD (0x3000): one 2 MiB page at 0 */
  uint64_t *pml4 = (uint64_t *)(mem + 0x1000), *pdpt = (uint64_t *)(mem + 0x2000), *pd = (uint64_t *)(mem + 0x3000);
  pml4[0] = 0x2000 | 3;
  pdpt[0] = 0x3000 | 3;
  pd[0] = 0x83; /* present, writable, 2 MiB */
  static const uint8_t code[] = {0xe6, 0x10, 0xff, 0xc0, 0xeb, 0xfa}; /* out %al,$0x10; inc %eax; jmp */
  memcpy(mem + 0x10000, code, sizeof code);
  struct kvm_sregs s;
  if (ioctl(vcpu, KVM_GET_SREGS, &s) < 0) return fail("KVM_GET_SREGS");
  struct kvm_segment seg = {.base = 0, .limit = 0xffffffff, .selector = 0x8, .type = 11, .present = 1, .s = 1, .l = 1, .g = 1};
  s.cs = seg;
  seg.type = 3, seg.selector = 0x10, seg.l = 0, seg.db = 1;
  s.ds = s.es = s.fs = s.gs = s.ss = seg;
  s.cr3 = 0x1000;
  s.cr4 = 1 << 5;                          /* PAE */
  s.cr0 = 0x80000001u | (1u << 16);        /* PG, PE, WP */
  s.efer = 0x500;                          /* LME, LMA */
  if (ioctl(vcpu, KVM_SET_SREGS, &s) < 0) return fail("KVM_SET_SREGS");
  struct kvm_regs r = {.rip = 0x10000, .rflags = 2, .rsp = 0x8000};
  if (ioctl(vcpu, KVM_SET_REGS, &r) < 0) return fail("KVM_SET_REGS");
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (long i = 0; i < n; i++) {
    if (ioctl(vcpu, KVM_RUN, 0) < 0) return fail("KVM_RUN");
    if (run->exit_reason != KVM_EXIT_IO) {
      fprintf(stderr, "kvm_exit: exit reason %u, not an I/O exit, at round trip %ld\n", run->exit_reason, i);
      return 1;
    }
  }
  clock_gettime(CLOCK_MONOTONIC, &b);
  if (ioctl(vcpu, KVM_GET_REGS, &r) < 0) return fail("KVM_GET_REGS");
  if ((long)r.rax != n - 1) {
    fprintf(stderr, "kvm_exit: the guest ran %llu loops for %ld exits\n", (unsigned long long)r.rax, n);
    return 1;
  }
  printf("%.1f ns/exit\n", ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / (double)n);
  return 0;
}
