// The kvm platform's exits into the Sentry's events: a posted vCPU's exit decoded from
// its state page (written by the shim in ring 0: the guest's ring 3 cannot reach it) or
// from KVM's registers (a kick); page faults of mapped memory answered here (FillFault)
// without reporting them; syscalls, vsyscalls and exceptions as Linux reports them.
#include "kvm_run_internal.h"
#include "kvm_abi.h"
#include "../common.h"
#include "../platform_internal.h"
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>

namespace tss {
namespace kvm {
namespace {

int32_t* EventFor(Vcpu* v) {
  *Regs() = v->regs;
  int32_t* inf = Info();
  inf[kInfoTid] = v->ctx;
  inf[kInfoStatus] = 0;
  inf[kInfoMsg] = 0;
  inf[kInfoSigno] = 0;
  return inf;
}

}  // namespace

int ReportSignal(Vcpu* v, int sig, int code, uint64_t addr) {
  int32_t* inf = EventFor(v);
  uint8_t* si = EventBuffer() + kSiginfoOff;
  memset(si, 0, 128);
  int32_t* w = reinterpret_cast<int32_t*>(si);
  w[0] = sig;
  w[2] = code;
  memcpy(si + 16, &addr, 8);
  inf[kInfoSigno] = sig;
  inf[kInfoKind] = kEvSignal;
  return kEvSignal;
}

namespace {

int ReportSyscall(Vcpu* v) {
  int32_t* inf = EventFor(v);
  FillSyscallArgs();
  inf[kInfoKind] = kEvSyscall;
  return kEvSyscall;
}

void FromKvm(Vcpu* v) {
  const kvm_regs& k = v->kregs;
  user_regs_struct& r = v->regs;
  r.rax = k.rax, r.rbx = k.rbx, r.rcx = k.rcx, r.rdx = k.rdx, r.rsi = k.rsi, r.rdi = k.rdi, r.rsp = k.rsp;
  r.rbp = k.rbp, r.r8 = k.r8, r.r9 = k.r9, r.r10 = k.r10, r.r11 = k.r11, r.r12 = k.r12, r.r13 = k.r13;
  r.r14 = k.r14, r.r15 = k.r15, r.rip = k.rip, r.eflags = k.rflags;
  r.orig_rax = (unsigned long)-1;
  v->regsInKvm = true;
}

// The shim's registers (state page) into the Sentry's copy.
void FromState(Vcpu* v) {
  user_regs_struct& r = v->regs;
  memcpy(&r, v->state + ST_REGS, sizeof r);
  r.cs = KVM_SEL_UCODE, r.ss = KVM_SEL_UDATA;
  r.ds = r.es = r.fs = r.gs = 0;
  r.fs_base = v->fsBase, r.gs_base = v->gsBase;
  v->regsInKvm = false;
}

// Linux's signal for an exception vector from ring 3.
int Exception(Vcpu* v, uint64_t vec, uint64_t err, uint64_t cr2) {
  v->regs.orig_rax = (unsigned long)-1;
  switch (vec) {
    case 0: return ReportSignal(v, SIGFPE, 1 /* FPE_INTDIV */, v->regs.rip);
    case 1: return ReportSignal(v, SIGTRAP, 2 /* TRAP_TRACE */, v->regs.rip);
    case 3: return ReportSignal(v, SIGTRAP, 0x80 /* SI_KERNEL */, 0);
    case 6: {
      // int $0x80 comes as #UD on this nested host: SIGSEGV, as Linux without IA32 emulation.
      uint8_t op[2];
      if (Access(v->as, v->regs.rip, op, 2, false) == 2 && op[0] == 0xcd && op[1] == 0x80) return ReportSignal(v, SIGSEGV, 0x80, 0);
      return ReportSignal(v, SIGILL, 2 /* ILL_ILLOPN */, v->regs.rip);
    }
    case 16: case 19: return ReportSignal(v, SIGFPE, 0, v->regs.rip);
    case 12: case 17: return ReportSignal(v, SIGBUS, 0x80, 0);
    case 14: {
      // ACCERR where something is mapped (PTEs are made lazily: not-present says nothing).
      bool acc = (err & 1) || (cr2 < kUserEnd && ProtAt(v->as, cr2) >= 0);
      return ReportSignal(v, SIGSEGV, acc ? 2 /* SEGV_ACCERR */ : 1 /* SEGV_MAPERR */, cr2);
    }
    default: return ReportSignal(v, SIGSEGV, 0x80, 0);  // #GP (int $0x80 too), #NP, ...
  }
}

bool IsSyscall(Vcpu* v) {
  uint64_t rip;
  uint8_t op[2];
  memcpy(&rip, v->state + R_RIP, 8);
  return Access(v->as, rip, op, 2, false) == 2 && op[0] == 0x0f && op[1] == 0x05;
}

// A shim exit into an event; -1: answered here (a fault the mirror maps), v runs again.
int DecodeShim(Vcpu* v) {
  v->vsys = false;
  uint64_t vec, err, cr2;
  memcpy(&vec, v->state + ST_VEC, 8);
  memcpy(&err, v->state + ST_ERR, 8);
  memcpy(&cr2, v->state + ST_CR2, 8);
  if (v->shimKind == KIND_SYSCALL) {
    FromState(v);
    v->regs.orig_rax = v->regs.rax;
    v->regs.rax = (unsigned long)-ENOSYS;
    return ReportSyscall(v);
  }
  if (v->shimKind != KIND_EXCEPTION) return -2;
  if (vec == 14 && cr2 == SyscallEntry() && (err & 0x14) == 0x14) {
    // `syscall` that stayed at CPL 3 (this nested host, kvm_vm.cc): the instruction did its
    // part (rcx = return address, r11 = flags); a guest that jumps there itself makes a
    // syscall with the rcx and r11 it chose, as it could with the instruction.
    FromState(v);
    v->regs.rip = v->regs.rcx;
    v->regs.eflags = v->regs.r11;
    v->regs.orig_rax = v->regs.rax;
    v->regs.rax = (unsigned long)-ENOSYS;
    return ReportSyscall(v);
  }
  if (vec == 6 && IsSyscall(v)) {
    // `syscall` where EFER.SCE is not honoured the other way (#UD): done here.
    FromState(v);
    uint64_t ret = v->regs.rip + 2;
    v->regs.rip = ret;
    v->regs.rcx = ret;
    v->regs.r11 = v->regs.eflags & ~0x10000ull;  // RF is the fault's, not the guest's
    v->regs.orig_rax = v->regs.rax;
    v->regs.rax = (unsigned long)-ENOSYS;
    return ReportSyscall(v);
  }
  int fill = vec == 14 ? FillFault(v->as, cr2, err) : kRefused;
  if (fill == kFilled) {
    if (err & 1) v->pendFlags |= FL_FLUSH;
    Go(v);
    return -1;
  }
  FromState(v);
  if (fill == kPastEof) {
    v->regs.orig_rax = (unsigned long)-1;
    return ReportSignal(v, SIGBUS, 2 /* BUS_ADRERR */, cr2);
  }
  if (vec == 14 && (cr2 & ~0xfffull) == kVsyscall && v->regs.rip == cr2 && (cr2 & 0x3ff) == 0 && cr2 - kVsyscall <= 0x800) {
    // A call into the vsyscall page: the syscall it stands for, returning to the caller.
    uint64_t caller;
    if (Access(v->as, v->regs.rsp, reinterpret_cast<uint8_t*>(&caller), 8, false) == 8) {
      uint64_t off = cr2 - kVsyscall;
      v->regs.rip = caller;
      v->regs.rsp += 8;
      v->regs.orig_rax = off == 0 ? 96 /* gettimeofday */ : off == 0x400 ? 201 /* time */ : 309 /* getcpu */;
      v->vsys = true, v->vsysEntry = cr2;
      v->regs.rax = (unsigned long)-ENOSYS;
      return ReportSyscall(v);
    }
  }
  return Exception(v, vec, err, cr2);
}

void KillAs(As* as, const std::string& why) {
  fprintf(stderr, "tssandbox: kvm platform: %s: the address space is ended\n", why.c_str());
  Destroy(as);
}

}  // namespace

int Decode(Vcpu* v) {
  switch (v->why) {
    case kWhyShim: {
      int k = DecodeShim(v);
      if (k == -2) {
        // The CPU's frame on the ring-0 stack: vector, error code, rip.
        uint64_t f[3];
        memcpy(f, v->state + KVM_SHIM_CPU_STRIDE - 56, sizeof f);
        char m[128];
        uint64_t q[3];
        memcpy(q, v->state + ST_INVL, sizeof q);
        snprintf(m, sizeof m, "a fault inside the shim (vector %lu, error %#lx, at %#lx) q %lx %lx %lx", (unsigned long)f[0],
                 (unsigned long)f[1], (unsigned long)f[2], q[0], q[1], q[2]);
        KillAs(v->as, m);
        return -1;
      }
      return k;
    }
    case kWhyKick:
      FromKvm(v);
      if (v->regs.rip == (DirectSyscalls() ? KVM_SYSCALL_PAGE : SyscallEntry())) {
        // Kicked between this host's `syscall` (rip at LSTAR, still CPL 3: kvm_machine.cc)
        // and its fetch fault: the syscall it is, as DecodeShim takes that fault (the kick's
        // signal is the Sentry's to deliver after it). Reporting the kick instead put
        // LSTAR in the signal frame: the guest got SIGSEGV at its return (cp_clone).
        v->regs.rip = v->regs.rcx;
        v->regs.eflags = v->regs.r11;
        v->regs.orig_rax = v->regs.rax;
        v->regs.rax = (unsigned long)-ENOSYS;
        return ReportSyscall(v);
      }
      return ReportSignal(v, SIGURG, 0, 0);
    case kWhyPort:
      FromKvm(v);
      v->vsys = false;
      if (v->portOut && v->regs.rip == KVM_SYSCALL_PAGE + 2) {
        // A guest syscall (LSTAR, kvm_abi.h): rcx and r11 as the instruction left them; a
        // guest that jumps to the page itself makes a syscall with the rcx and r11 it chose.
        v->regs.rip = v->regs.rcx;
        v->regs.eflags = v->regs.r11;
        v->regs.orig_rax = v->regs.rax;
        v->regs.rax = (unsigned long)-ENOSYS;
        return ReportSyscall(v);
      }
      {
        // The guest's own `in`/`out` to the port elsewhere: the #GP Linux gives it, at the
        // instruction (KVM ran it: rip is past its 1 or 2 bytes).
        uint8_t op[2];
        bool imm = Access(v->as, v->regs.rip - 2, op, 2, false) == 2 && (op[0] == 0xe4 || op[0] == 0xe6) && op[1] == KVM_SYSCALL_PORT;
        v->regs.rip -= imm ? 2 : 1;
        v->regs.orig_rax = (unsigned long)-1;
        return ReportSignal(v, SIGSEGV, 0x80, 0);
      }
    case kWhyFault:
      FromKvm(v);
      return ReportSignal(v, SIGBUS, 2 /* BUS_ADRERR */, v->faultGpa ? VaOfGpa(v->as, v->faultGpa & ~0xfffull) + (v->faultGpa & 0xfff) : 0);
    default:
      KillAs(v->as, v->fatal);
      return -1;
  }
}

}  // namespace kvm
}  // namespace tss
