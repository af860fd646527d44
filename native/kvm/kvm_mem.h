// What the kvm platform's machine files (kvm_machine.cc, kvm_pagetable.cc, kvm_memory.cc,
// kvm_fork.cc) share among themselves: the guest-physical layout and page-table bits, and
// the helpers one of them defines for the others. Not for kvm_run.cc or the N-API layer
// (kvm_vm.h is theirs).
//
// Guest-physical layout of a VM: slot 0 at 0 is the platform's own memory (page
// tables, the shim's code, IDT, per-vCPU state/GDT/TSS/stack pages), never mapped
// into the guest's user half; slot 1 at kAnonGpa is the address space's anonymous
// memory (one sparse memfd, mapped into the Sentry too); every host-file mapping gets a
// memslot of its own above kFileGpa (the Sentry's MAP_PRIVATE/MAP_SHARED mapping of
// the file: the host does copy-on-write and page cache).
#pragma once
#include "kvm_vm.h"
#include "kvm_abi.h"
#include <string>
#include <utility>
#include <vector>

namespace tss {
namespace kvm {

constexpr uint64_t kPage = 4096;
constexpr uint64_t kPlatLen = 64ull << 20;
constexpr uint64_t kShimGpa = 0x10000, kIdtGpa = 0x11000, kCpuGpa = 0x20000, kPtGpa = 0x800000;
static_assert(kCpuGpa + KVM_SHIM_MAX_CPUS * KVM_SHIM_CPU_STRIDE <= kPtGpa, "per-vCPU pages overlap the page tables");
constexpr uint64_t kAnonGpa = 4ull << 30, kAnonLen = 64ull << 30;
constexpr uint64_t kFileGpa = kAnonGpa + kAnonLen;
constexpr uint64_t kUserEnd = 0x800000000000ull;
// The end of what the guest's memory calls may touch: with direct syscalls the last user
// page is the platform's (kvm_abi.h KVM_SYSCALL_PAGE), never unmapped or remapped.
inline uint64_t UserTop() { return DirectSyscalls() ? KVM_SYSCALL_PAGE : kUserEnd; }
constexpr uint64_t P = 1, RW = 2, US = 4, A = 0x20, D = 0x40, NX = 1ull << 63;
constexpr uint64_t kAddr = 0x000ffffffffff000ull;

std::string Err(const char* what);
// The highest guest-physical address this host's KVM gives (CPUID 0x80000008).
uint64_t MaxGpa();

// Page tables (kvm_pagetable.cc).
uint64_t* Table(As* as, uint64_t gpa);
uint64_t AllocPt(As* as);
// The PTE slot for va (tables made on the way when create), or null.
uint64_t* Walk(As* as, uint64_t va, bool create);
// Clears the user PTEs of [start, end) and queues their clearing for every vCPU.
void ClearPtes(As* as, uint64_t start, uint64_t end);
// Supervisor-only mappings: a 2 MiB page (the shim's window), a 4 KiB one.
void MapKernelLarge(As* as, uint64_t va, uint64_t gpa);
void MapKernel(As* as, uint64_t va, uint64_t gpa, bool write, bool exec);

// The mirror (kvm_memory.cc).
const Mapping* Find(As* as, uint64_t addr, uint64_t* start);
void SplitAt(As* as, uint64_t addr);
int AllocSlot(As* as);
long AllocAnon(As* as, uint64_t len, uint64_t* off);

}  // namespace kvm
}  // namespace tss
