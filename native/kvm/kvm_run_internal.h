// What the kvm platform's run files share (kvm_run.cc: contexts and the event loop;
// kvm_vcpu.cc: the vCPU threads; kvm_decode.cc: exits into events).
#pragma once
#include "kvm_run.h"
#include <atomic>
#include <cstdint>
#include <deque>
#include <string>

namespace tss {
namespace kvm {

constexpr int kKickSig = 40;  // SIGRTMIN+6: sets immediate_exit in the vCPU thread
constexpr uint64_t kVsyscall = 0xffffffffff600000ull;
constexpr uint64_t kUserEnd = 0x800000000000ull;

extern int g_bell;                  // the doorbell (eventfd) a vCPU rings when the Sentry sleeps
extern std::atomic<int> g_sleeping;  // the Sentry is in poll (kvm_run.cc WaitEvent)
extern std::deque<int> g_segv;       // ctxs whose return would fault: SIGSEGV now

// The vCPU thread's body (arg: its Vcpu).
void* VcpuMain(void* p);
void SetState(Vcpu* v, int s);
// Lets stopped v run: its pending shim work first.
void Go(Vcpu* v);
// Ends v's thread (v stays allocated).
void StopThread(Vcpu* v);
// A posted exit of v into an event (EventKind); -1: answered or the address space ended.
int Decode(Vcpu* v);
int ReportSignal(Vcpu* v, int sig, int code, uint64_t addr);

}  // namespace kvm
}  // namespace tss
