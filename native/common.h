// Shared declarations for the native half of the Sentry.
#pragma once
#ifndef TSS_LAUNCHER  // native/sentry_launch.cc builds gofer_server.cc without Node
#include <napi.h>
#endif
#include <cstddef>
#include <sys/types.h>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <deque>
#include <utility>
#include <sys/user.h>
#include <sys/socket.h>
#include <unistd.h>

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
constexpr uint64_t kCas64Gadget = 0x7ff000000058ULL;  // lock cmpxchg %rsi,(%rdi); int3
constexpr uint64_t kStubBase = 0x7ff000000000ULL;
constexpr uint64_t kStubEnd = 0x7ff000100000ULL;

// A syscall argument register as the double the Sentry's handlers get. Exact for
// |v| < 2^53. Beyond (where a double would round away low bits, so an int argument
// or a count could turn into another valid value), the low 52 bits are kept exactly and
// the magnitude lands in [2^52, 2^53) with the sign kept: int views (x | 0, x >>> 0)
// see Linux's truncation, and every size/offset/length check rejects it as it rejects
// the real value. src/platform/event-buffer.ts argToNumber is the same function.
inline double ArgToDouble(uint64_t v) {
  const int64_t s = static_cast<int64_t>(v);
  constexpr int64_t kExact = int64_t(1) << 53, kLow = (int64_t(1) << 52) - 1;
  if (s >= kExact) return static_cast<double>((int64_t(1) << 52) | (s & kLow));
  if (s < -kExact) return static_cast<double>(-kExact + (s & kLow));
  return static_cast<double>(s);
}

uint8_t* EventBuffer();
int32_t* Info();
user_regs_struct* Regs();

// An Exit event for the first of a platform's queued exits (tid, wait status): systrap's
// and kvm's, whose address spaces' deaths are found all at once and reported one by one.
inline int ReportQueuedExit(std::deque<std::pair<int, int>>& exits) {
  auto e = exits.front();
  exits.pop_front();
  int32_t* inf = Info();
  inf[kInfoTid] = e.first;
  inf[kInfoStatus] = e.second;
  inf[kInfoSigno] = 0;
  inf[kInfoMsg] = 0;
  inf[kInfoKind] = kEvExit;
  return kEvExit;
}

// host.cc
int SelfPipeReadFd();
uint32_t PendingHostSignals();
// wait4(pid, status, options | __WALL...) that returns -EINTR, without waiting, once a
// host signal is pending (checked race-free against the signal handler); else its result.
long WaitUnlessHostSignal(pid_t pid, int* status, int options);
void SetSigchldWakeups(bool on);
// The blocking wait's deadline (CLOCK_MONOTONIC ns): a timer makes WaitUnlessHostSignal
// return -EINTR then. False if no timer can be made (then poll). TakeWaitDeadline: it fired.
bool ArmWaitDeadline(int64_t deadlineNs);
int64_t ArmedWaitDeadline();
bool TakeWaitDeadline();
void ResetSignalsInChild();

// gofer_server.cc: the launcher's gofer-to-be waits for its roots on sock, then serves.
void GoferAwaitRequest(int sock);

// A SOCK_SEQPACKET pair (close-on-exec) and a fork, for the helper processes the Sentry
// starts (the Gofer, the host-network broker, the OCI network helper): the pid (0 in the
// child) with sv filled, or -errno with nothing left open.
inline pid_t ForkWithSeqpacket(int sv[2]) {
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) return -errno;
  pid_t pid = fork();
  if (pid < 0) {
    int e = errno;
    close(sv[0]);
    close(sv[1]);
    return -e;
  }
  return pid;
}

#ifndef TSS_LAUNCHER
void InitPtrace(Napi::Env env, Napi::Object exports);
void InitHost(Napi::Env env, Napi::Object exports);
void InitGofer(Napi::Env env, Napi::Object exports);
void InitGoferServer(Napi::Env env, Napi::Object exports);
void InitVdsoClock(Napi::Env env, Napi::Object exports);
void InitSentryConfine(Napi::Env env, Napi::Object exports);
void InitOci(Napi::Env env, Napi::Object exports);  // oci_console.cc

inline Napi::Value Num(Napi::Env env, double v) { return Napi::Number::New(env, v); }

// A guest C string of at most max bytes (MAX_ARG_STRLEN), read a page at a time (a
// string may end just before an unmapped page): read(addr, buf, len) returns the bytes
// it read, <= 0 for none. The string, or -EFAULT / -ENAMETOOLONG.
template <class Read>
Napi::Value ReadCStringPaged(Napi::Env env, uint64_t addr, size_t max, Read read) {
  static char buf[131072 + 4096];
  if (max > 131072) max = 131072;
  size_t got = 0;
  while (got < max) {
    size_t chunk = 4096 - ((addr + got) & 4095);
    if (chunk > max - got) chunk = max - got;
    long r = read(addr + got, buf + got, chunk);
    if (r <= 0) return Num(env, -EFAULT);
    void* nul = memchr(buf + got, 0, (size_t)r);
    if (nul) return Napi::String::New(env, buf, (size_t)(static_cast<char*>(nul) - buf));
    got += (size_t)r;
  }
  return Num(env, -ENAMETOOLONG);
}
#endif

}  // namespace tss
