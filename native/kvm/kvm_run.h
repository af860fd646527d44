// The kvm platform's vCPU threads and event loop (kvm_run.cc), used by its N-API layer
// (kvm_napi.cc).
#pragma once
#include "kvm_vm.h"
#include <cstdint>

namespace tss {
namespace kvm {

// The doorbell and the kick signal's handler; the /dev/kvm fd (before confinement). 0 or -errno.
int InitRun(std::string* why);
As* MakeAs(std::string* why);  // a new address space with one stopped vCPU (its ctx is as->id)
Vcpu* VcpuOf(int ctx);
// A new stopped vCPU in stopped `from`'s VM (a thread; vfork), its FP state from's: its
// ctx, or -errno.
int NewThread(Vcpu* from, std::string* why);
// A copy of stopped from's address space (fork) with one stopped vCPU: its ctx, or -errno.
int Fork(Vcpu* from, std::string* why);
As* AsOf(int ctxOrAs);
// Lets stopped v run (its registers as the Sentry left them).
void Resume(Vcpu* v);
// The next event into the event buffer (EventKind), or -errno.
int WaitEvent(int timeoutMs, const int32_t* fds, const int32_t* events, int32_t* revents, int count);
// A vsyscall whose output pointer was bad (result -EFAULT): Linux raises SIGSEGV at the
// entry instead of returning. v stays stopped, put back at the call; the next wait reports
// it. True when so (the caller does not resume v).
bool DivertVsyscallFault(Vcpu* v, long result);
void Kick(Vcpu* v);
// After PTEs of as were cleared: no running vCPU of as keeps using them once this returns.
void Shootdown(As* as);
void ExitThread(Vcpu* v);
void Destroy(As* as);
// Raw exit cost: n round trips of a guest `syscall` through the shim, in ns each; <0: failed.
double Probe(int n, std::string* why);

}  // namespace kvm
}  // namespace tss
