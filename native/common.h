// Shared declarations for the native half of the Sentry.
#pragma once
#include <napi.h>
#include <cstdint>
#include <sys/user.h>

namespace tss {

// Layout of the event buffer shared with JS (src/platform/event-buffer.ts mirrors it).
constexpr size_t kRegsOff = 0;        // struct user_regs_struct (27 x u64)
constexpr size_t kArgsOff = 256;      // 6 x f64: syscall args as signed int64 -> double
constexpr size_t kNrOff = 304;        // f64: syscall number (orig_rax)
constexpr size_t kInfoOff = 512;      // int32 fields, below
constexpr size_t kSiginfoOff = 640;   // 128-byte siginfo_t
constexpr size_t kFpOff = 4096;       // XSAVE area (up to 4096 bytes)
constexpr size_t kFpMax = 4096;
constexpr size_t kBufSize = 8192;

enum InfoField { kInfoTid = 0, kInfoKind, kInfoSigno, kInfoMsg, kInfoStatus, kInfoFpSize };

enum EventKind {
  kEvTimeout = 0,
  kEvSyscall = 1,
  kEvSignal = 2,
  kEvExit = 3,
  kEvGroupStop = 4,
  kEvPtraceEvent = 5,
  kEvHostSignal = 6,
  kEvPoll = 7,
};

// The stub's injection gadget (`syscall; int3`), first thing in its image (stub.ld).
constexpr uint64_t kGadget = 0x7ff000000000ULL;
constexpr uint64_t kCasGadget = 0x7ff000000050ULL;  // lock cmpxchg %esi,(%rdi); int3
constexpr uint64_t kStubBase = 0x7ff000000000ULL;
constexpr uint64_t kStubEnd = 0x7ff000100000ULL;

uint8_t* EventBuffer();
int32_t* Info();
user_regs_struct* Regs();

// host.cc
int SelfPipeReadFd();
uint32_t PendingHostSignals();
// wait4(pid, status, options | __WALL...) that returns -EINTR, without waiting, once a
// host signal is pending (checked race-free against the signal handler); else its result.
long WaitUnlessHostSignal(pid_t pid, int* status, int options);
void SetSigchldWakeups(bool on);
void ResetSignalsInChild();

void InitPtrace(Napi::Env env, Napi::Object exports);
void InitHost(Napi::Env env, Napi::Object exports);
void InitGofer(Napi::Env env, Napi::Object exports);
void InitGoferServer(Napi::Env env, Napi::Object exports);
void InitVdsoClock(Napi::Env env, Napi::Object exports);
void InitSentryConfine(Napi::Env env, Napi::Object exports);
void InitOci(Napi::Env env, Napi::Object exports);  // oci_console.cc

inline Napi::Value Num(Napi::Env env, double v) { return Napi::Number::New(env, v); }

}  // namespace tss
