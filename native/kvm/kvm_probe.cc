// The kvm platform's probe (`tssandbox platforms`): a VM with the shim runs a guest
// `syscall` loop; its cost per round trip, or why it cannot run.
#include "kvm_run.h"
#include "kvm_abi.h"
#include "../platform_internal.h"
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

namespace tss {
namespace kvm {

int SyscallStaysInRing3(int kvm) {
  // A throwaway VM: one 2 MiB user page at 0 (identity), ring-3 `syscall` at 0x10000,
  // LSTAR 0x20000 holding `out %al,$KVM_SYSCALL_PORT`, the TSS's bitmap letting ring 3
  // use that port. On VMX/SVM the syscall enters ring 0 there (its `out` exits with cs
  // the kernel's); where it stays at CPL 3 the `out` exits from ring 3.
  int res = -1;
  int vm = ioctl(kvm, KVM_CREATE_VM, 0);
  if (vm < 0) return -1;
  const size_t len = 0x200000;
  uint8_t* mem = static_cast<uint8_t*>(mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  int cpu = -1;
  kvm_run* run = nullptr;
  int runSize = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
  kvm_userspace_memory_region reg = {0, 0, 0, len, (uint64_t)(uintptr_t)mem};
  if (mem != MAP_FAILED && runSize > 0 && ioctl(vm, KVM_SET_USER_MEMORY_REGION, &reg) == 0 &&
      (cpu = ioctl(vm, KVM_CREATE_VCPU, 0)) >= 0 &&
      (run = static_cast<kvm_run*>(mmap(nullptr, (size_t)runSize, PROT_READ | PROT_WRITE, MAP_SHARED, cpu, 0))) != MAP_FAILED) {
    uint64_t* t = reinterpret_cast<uint64_t*>(mem);
    t[0x1000 / 8] = 0x2000 | 7, t[0x2000 / 8] = 0x3000 | 7, t[0x3000 / 8] = 0x87;  // PML4 -> PDPT -> 2 MiB page
    const uint8_t sys[] = {0x0f, 0x05, 0xf4}, out[] = {0xe6, KVM_SYSCALL_PORT, 0xf4};
    memcpy(mem + 0x10000, sys, 3);
    memcpy(mem + 0x20000, out, 3);
    uint16_t iomap = 104;
    memcpy(mem + 0x4000 + 102, &iomap, 2);
    memset(mem + 0x4000 + 104, 0xff, 4);
    mem[0x4000 + 104 + KVM_SYSCALL_PORT / 8] &= (uint8_t) ~(1u << (KVM_SYSCALL_PORT % 8));
    kvm_sregs s;
    if (ioctl(cpu, KVM_GET_SREGS, &s) == 0) {
      kvm_segment seg = {};
      seg.limit = 0xffffffff, seg.selector = KVM_SEL_UCODE, seg.type = 11, seg.present = 1, seg.dpl = 3, seg.s = 1, seg.l = 1, seg.g = 1;
      s.cs = seg;
      seg.type = 3, seg.selector = KVM_SEL_UDATA, seg.l = 0, seg.db = 1;
      s.ds = s.es = s.fs = s.gs = s.ss = seg;
      s.tr = {};
      s.tr.base = 0x4000, s.tr.limit = 104 + 4 - 1, s.tr.selector = KVM_SEL_TSS, s.tr.type = 11, s.tr.present = 1;
      s.cr3 = 0x1000, s.cr4 = 0x20, s.cr0 = 0x80000001u | (1u << 16), s.efer = 0x501;
      alignas(8) uint8_t buf[8 + 2 * sizeof(kvm_msr_entry)] = {2};
      kvm_msr_entry* e = reinterpret_cast<kvm_msr_entry*>(buf + 8);
      e[0].index = 0xc0000081, e[0].data = ((uint64_t)KVM_SEL_KCODE << 32) | (0x23ull << 48);  // STAR
      e[1].index = 0xc0000082, e[1].data = 0x20000;                                          // LSTAR
      kvm_regs r = {};
      r.rip = 0x10000, r.rflags = 2, r.rsp = 0x8000;
      if (ioctl(cpu, KVM_SET_SREGS, &s) == 0 && ioctl(cpu, _IOW(KVMIO, 0x89, uint64_t), buf) == 2 &&
          ioctl(cpu, KVM_SET_REGS, &r) == 0) {
        int k = ioctl(cpu, KVM_RUN, 0);
        kvm_regs q;
        if (k == 0 && run->exit_reason == KVM_EXIT_IO && run->io.port == KVM_SYSCALL_PORT &&
            ioctl(cpu, KVM_GET_REGS, &q) == 0 && ioctl(cpu, KVM_GET_SREGS, &s) == 0)
          res = q.rip == 0x20002 && q.rcx == 0x10002 && (s.cs.selector & 3) == 3 ? 1 : 0;
        else if (k == 0)
          res = 0;
      }
    }
  }
  if (run && run != MAP_FAILED) munmap(run, (size_t)runSize);
  if (cpu >= 0) close(cpu);
  if (mem != MAP_FAILED) munmap(mem, len);
  close(vm);
  return res;
}

const char* HostKind() {
  // Which KVM backs /dev/kvm (the module the host loaded), for `tssandbox platforms`.
  if (access("/sys/module/kvm_pvm", F_OK) == 0) return "kvm_pvm";
  if (access("/sys/module/kvm_intel", F_OK) == 0) return "kvm_intel";
  if (access("/sys/module/kvm_amd", F_OK) == 0) return "kvm_amd";
  return "unknown";
}

double Probe(int n, std::string* why) {
  if (!Ready(why)) return -1;
  As* as = NewAs(0, why);
  if (!as) return -1;
  Vcpu* v = NewVcpu(as, 0, why);
  if (!v) {
    FreeAs(as);
    return -1;
  }
  // Guest code at 0x10000: `syscall; jmp .-2`, each syscall one exit through the shim, or
  // with direct syscalls (DirectSyscalls) one exit from ring 3 at KVM_SYSCALL_PAGE.
  // TSS_KVM_PROBE=int3 (by hand, for the cost of the shim's exception path alone):
  // `int3; nop; jmp .-4` instead. On kvm_pvm both cost ~120-150 us against ~10 us for the
  // bare exit of bench/kvm_exit.c: the ring 3 <-> ring 0 round trip is the cost there.
  static const uint8_t sysCode[] = {0x0f, 0x05, 0xeb, 0xfc};
  static const uint8_t int3Code[] = {0xcc, 0x90, 0xeb, 0xfc};
  const char* pk = getenv("TSS_KVM_PROBE");
  bool i3 = pk && strcmp(pk, "int3") == 0;
  const uint8_t* code = i3 ? int3Code : sysCode;
  bool direct = DirectSyscalls() && !i3;
  double ns = -1;
  if (MmAnon(as, 0x10000, 4096, 5, false) == 0x10000 && FillFault(as, 0x10000, 4 | 16) == kFilled) {
    memcpy(as->anon, code, 4);  // the first anonymous page is the mapping's
    v->regs.rip = 0x10000;
    memcpy(v->state + ST_REGS, &v->regs, sizeof v->regs);
    int64_t t0 = 0;
    int i;
    for (i = -1; i < n; i++) {
      if (i == 0) t0 = MonotonicNs();
      int r = ioctl(v->fd, KVM_RUN, 0);
      kvm_run* k = v->run;
      uint64_t vec, cr2;
      memcpy(&vec, v->state + ST_VEC, 8);
      memcpy(&cr2, v->state + ST_CR2, 8);
      uint8_t kind = r < 0 ? 0 : reinterpret_cast<uint8_t*>(k)[k->io.data_offset];
      bool sys = (i3 && kind == KIND_EXCEPTION && vec == 3) || kind == KIND_SYSCALL || (kind == KIND_EXCEPTION && vec == 14 && cr2 == SyscallEntry());
      if (direct && r == 0 && k->exit_reason == KVM_EXIT_IO && k->io.port == KVM_SYSCALL_PORT) {
        // A direct syscall (kvm_abi.h KVM_SYSCALL_PAGE), resumed as the platform does it:
        // its registers in kvm_run where KVM syncs them there, else by ioctl.
        kvm_regs q;
        if (v->syncRegs) q = k->s.regs.regs;
        else if (ioctl(v->fd, KVM_GET_REGS, &q) < 0) q.rip = 0;
        if (q.rip == KVM_SYSCALL_PAGE + 2) {
          q.rip = q.rcx, q.rflags = (q.r11 & 0x240dd5) | 0x202;
          if (v->syncRegs) {
            k->s.regs.regs = q;
            k->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
            continue;
          }
          if (ioctl(v->fd, KVM_SET_REGS, &q) == 0) continue;
        }
      }
      if (r < 0 || k->exit_reason != KVM_EXIT_IO || k->io.port != KVM_SHIM_PORT || !sys) {
        char m[160];
        uint64_t rip;
        memcpy(&rip, v->state + R_RIP, 8);
        snprintf(m, sizeof m, "a test guest did not reach its syscall (%s, exit reason %u, kind %u, vector %lu at %#lx)",
                 r < 0 ? strerror(errno) : "ran", k->exit_reason,
                 r < 0 ? 0u : reinterpret_cast<uint8_t*>(k)[k->io.data_offset], (unsigned long)vec, (unsigned long)rip);
        *why = m;
        break;
      }
      // Each round trip as the platform makes it: back to user space after the syscall.
      uint64_t next = 0x10002;
      memcpy(v->state + R_RIP, &next, 8);
    }
    if (i == n) ns = (double)(MonotonicNs() - t0) / n;
  } else {
    *why = "cannot map the test guest's page";
  }
  FreeAs(as);
  return ns;
}

}  // namespace kvm
}  // namespace tss
