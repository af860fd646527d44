/*
 * kvm_exit [N]: the raw cost of KVM exits to user space on this machine (a host program,
 * not a guest: src/platform/kvm/README.md uses it to decide what a KVM platform can pay
 * here). Three guests, each one VM and one vCPU in 64-bit mode on a 2 MiB identity page
 * (user-accessible), each round trip one KVM_RUN that ends in an I/O exit:
 *   ring0    `out %al,$0x10; inc %eax; jmp` in ring 0: the bare exit
 *   ring3    the same loop in ring 3 (the TSS's I/O bitmap lets ring 3 use port 0x10)
 *   syscall  ring 3 `syscall; jmp` with LSTAR at a ring-3 page holding `out %al,$0x10`:
 *            a guest syscall that exits with no ring-0 code at all (where the hypervisor
 *            leaves `syscall` at CPL 3, as kvm_pvm does); the VMM resumes it at rcx with
 *            rflags r11 through kvm_run's synced registers (no GET/SET_REGS ioctl)
 * The rounds alternate in bursts of 200 (the machine's load moves by the second); each
 * line gives the fastest burst's mean and the median burst's. A guest whose exits are not
 * the expected ones says so; one that cannot run prints why (exit 1).
 *   gcc -O2 -o /tmp/kvm_exit bench/kvm_exit.c && /tmp/kvm_exit 20000
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

#define PORT 0x10
#define BURST 200
/* kvm_msrs ends in a flexible array: its ioctl number counts only the 8-byte header. */
#define SET_MSRS _IOW(KVMIO, 0x89, uint64_t)

enum { RING0, RING3, SYSCALL, NGUEST };
static const char *const names[NGUEST] = {"ring0", "ring3", "syscall"};

struct guest {
  int vcpu;
  struct kvm_run *run;
  uint64_t exits;
  double *burst;
  int nburst;
};

static int fail(const char *what) {
  perror(what);
  return 1;
}

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static int setup(int kvm, int kind, struct guest *g) {
  int vm = ioctl(kvm, KVM_CREATE_VM, 0);
  if (vm < 0) return fail("KVM_CREATE_VM");
  size_t memsz = 0x200000;
  uint8_t *mem = mmap(NULL, memsz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) return fail("mmap");
  struct kvm_userspace_memory_region reg = {.slot = 0, .guest_phys_addr = 0, .memory_size = memsz,
                                            .userspace_addr = (uint64_t)(uintptr_t)mem};
  if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &reg) < 0) return fail("KVM_SET_USER_MEMORY_REGION");
  g->vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
  if (g->vcpu < 0) return fail("KVM_CREATE_VCPU");
  int sz = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
  g->run = mmap(NULL, (size_t)sz, PROT_READ | PROT_WRITE, MAP_SHARED, g->vcpu, 0);
  if (g->run == MAP_FAILED) return fail("mmap vcpu");
  /* PML4 (0x1000) -> PDPT (0x2000) -> PD (0x3000): one 2 MiB user-accessible page at 0 */
  uint64_t *pml4 = (uint64_t *)(mem + 0x1000), *pdpt = (uint64_t *)(mem + 0x2000), *pd = (uint64_t *)(mem + 0x3000);
  pml4[0] = 0x2000 | 7;
  pdpt[0] = 0x3000 | 7;
  pd[0] = 0x87; /* present, writable, user, 2 MiB */
  static const uint8_t outLoop[] = {0xe6, PORT, 0xff, 0xc0, 0xeb, 0xfa}; /* out %al,$0x10; inc %eax; jmp */
  static const uint8_t sysLoop[] = {0x0f, 0x05, 0xeb, 0xfc};             /* syscall; jmp */
  static const uint8_t entry[] = {0xe6, PORT};                           /* LSTAR: out %al,$0x10 */
  memcpy(mem + 0x10000, kind == SYSCALL ? sysLoop : outLoop, kind == SYSCALL ? sizeof sysLoop : sizeof outLoop);
  memcpy(mem + 0x20000, entry, sizeof entry);
  /* TSS at 0x4000: I/O bitmap at 104, every port refused but PORT */
  uint8_t *tss = mem + 0x4000;
  uint16_t iomap = 104;
  memcpy(tss + 102, &iomap, 2);
  memset(tss + 104, 0xff, 0x2000 / 8 + 1);
  tss[104 + PORT / 8] &= (uint8_t) ~(1u << (PORT % 8));
  struct kvm_sregs s;
  if (ioctl(g->vcpu, KVM_GET_SREGS, &s) < 0) return fail("KVM_GET_SREGS");
  int ring = kind == RING0 ? 0 : 3;
  struct kvm_segment seg = {.base = 0, .limit = 0xffffffff, .selector = ring ? 0x33 : 0x10, .type = 11, .present = 1,
                            .dpl = (uint8_t)ring, .s = 1, .l = 1, .g = 1};
  s.cs = seg;
  seg.type = 3, seg.selector = ring ? 0x2b : 0x18, seg.l = 0, seg.db = 1;
  s.ds = s.es = s.fs = s.gs = s.ss = seg;
  s.tr = (struct kvm_segment){.base = 0x4000, .limit = 104 + 0x2000 / 8, .selector = 0x40, .type = 11, .present = 1};
  s.cr3 = 0x1000;
  s.cr4 = 1 << 5;                          /* PAE */
  s.cr0 = 0x80000001u | (1u << 16);        /* PG, PE, WP */
  s.efer = 0x500 | 0x1;                    /* LME, LMA, SCE */
  if (ioctl(g->vcpu, KVM_SET_SREGS, &s) < 0) return fail("KVM_SET_SREGS");
  struct {
    uint32_t n, pad;
    struct kvm_msr_entry e[3];
  } msrs = {3, 0, {{0xc0000081, 0, (0x10ull << 32) | (0x23ull << 48)}, /* STAR */
                   {0xc0000082, 0, 0x20000},                            /* LSTAR: the ring-3 entry page */
                   {0xc0000084, 0, 0x47700}}};                          /* SFMASK: TF IF DF IOPL NT AC */
  if (ioctl(g->vcpu, SET_MSRS, &msrs) != 3) return fail("KVM_SET_MSRS");
  struct kvm_regs r = {.rip = 0x10000, .rflags = 2, .rsp = 0x8000};
  if (ioctl(g->vcpu, KVM_SET_REGS, &r) < 0) return fail("KVM_SET_REGS");
  g->run->kvm_valid_regs = KVM_SYNC_X86_REGS;
  return 0;
}

/* n round trips of g; 0, or 1 (said why) when an exit is not the expected one. */
static int rounds(struct guest *g, int kind, int n) {
  for (int i = 0; i < n; i++) {
    if (ioctl(g->vcpu, KVM_RUN, 0) < 0) return fail("KVM_RUN");
    struct kvm_run *k = g->run;
    struct kvm_regs *q = &k->s.regs.regs;
    if (k->exit_reason != KVM_EXIT_IO || k->io.port != PORT ||
        (kind == SYSCALL && q->rip != 0x20002) || (kind != SYSCALL && q->rip != 0x10002)) {
      fprintf(stderr, "kvm_exit: %s: exit reason %u (port %#x) at rip %#llx, not the guest's out, at round trip %llu\n",
              names[kind], k->exit_reason, k->io.port, (unsigned long long)q->rip, (unsigned long long)g->exits);
      return 1;
    }
    if (kind == SYSCALL) { /* back to the caller as a sysret would: rip rcx, rflags r11 */
      q->rax = 39;
      q->rip = q->rcx;
      q->rflags = q->r11;
      k->kvm_dirty_regs = KVM_SYNC_X86_REGS;
    }
    g->exits++;
  }
  return 0;
}

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 20000;
  if (n < BURST) n = BURST;
  int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (kvm < 0) return fail("open /dev/kvm");
  if (ioctl(kvm, KVM_GET_API_VERSION, 0) != 12) return fail("KVM_GET_API_VERSION is not 12");
  if (ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_SYNC_REGS) <= 0) {
    fprintf(stderr, "kvm_exit: KVM lacks KVM_CAP_SYNC_REGS\n");
    return 1;
  }
  struct guest g[NGUEST] = {{0}};
  int bursts = (int)(n / BURST);
  for (int k = 0; k < NGUEST; k++) {
    if (setup(kvm, k, &g[k])) return 1;
    g[k].burst = calloc((size_t)bursts, sizeof(double));
    if (rounds(&g[k], k, 2)) return 1; /* first touches: page faults, shadow tables */
  }
  for (int b = 0; b < bursts; b++)
    for (int k = 0; k < NGUEST; k++) {
      double t0 = now();
      if (rounds(&g[k], k, BURST)) return 1;
      g[k].burst[g[k].nburst++] = (now() - t0) / BURST;
    }
  for (int k = 0; k < NGUEST; k++) {
    qsort(g[k].burst, (size_t)g[k].nburst, sizeof(double), cmp);
    printf("%-8s %9.1f ns/exit (fastest burst), %9.1f ns/exit (median burst)\n", names[k], g[k].burst[0],
           g[k].burst[g[k].nburst / 2]);
  }
  return 0;
}
