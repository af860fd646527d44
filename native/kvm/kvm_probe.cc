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

namespace tss {
namespace kvm {

double Probe(int n, std::string* why) {
  if (!Ready(why)) return -1;
  As* as = NewAs(0, why);
  if (!as) return -1;
  Vcpu* v = NewVcpu(as, 0, why);
  if (!v) {
    FreeAs(as);
    return -1;
  }
  // Guest code at 0x10000: `syscall; jmp .-2`, each syscall one exit through the shim.
  // TSS_KVM_PROBE=int3 (by hand, for the cost of the shim's exception path alone):
  // `int3; nop; jmp .-4` instead. On kvm_pvm both cost ~120-150 us against ~10 us for the
  // bare exit of bench/kvm_exit.c: the ring 3 <-> ring 0 round trip is the cost there.
  static const uint8_t sysCode[] = {0x0f, 0x05, 0xeb, 0xfc};
  static const uint8_t int3Code[] = {0xcc, 0x90, 0xeb, 0xfc};
  const char* pk = getenv("TSS_KVM_PROBE");
  bool i3 = pk && strcmp(pk, "int3") == 0;
  const uint8_t* code = i3 ? int3Code : sysCode;
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
