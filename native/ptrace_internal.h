// What the ptrace platform's files (ptrace_*.cc) share among themselves; what they lend
// the systrap and kvm platforms is platform_internal.h.
#pragma once
#include "common.h"
#include "platform_internal.h"
#include <cerrno>
#include <csignal>
#include <linux/ptrace.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/user.h>
#include <unistd.h>

#ifndef PTRACE_SYSEMU
#define PTRACE_SYSEMU 31
#endif

namespace tss {

inline long Ptrace(int req, pid_t pid, void* addr, void* data) { return syscall(SYS_ptrace, req, pid, addr, data); }

// N-API argument i as a long.
inline long ArgL(const Napi::CallbackInfo& info, int i) { return (long)info[i].As<Napi::Number>().Int64Value(); }

// CLOCK_MONOTONIC in ns.
int64_t MonoNs();

// ptrace_platform.cc: the stop being served (its Sentry time is charged at the resume).
extern pid_t g_stopTid;
extern int64_t g_stopAt;

// ptrace_spawn.cc: the stubs' process group and fd-passing socket pair.
extern pid_t g_pgid;         // process group of every stub process
extern int g_stubSock;       // the Sentry's end of the fd-passing socket
extern int g_stubPeer;       // a copy of the stubs' end, only to drain stale datagrams
constexpr int kStubSockFd = 1000;                 // the stubs' end (see stub.c)
constexpr uint64_t kScratch = 0x7ff000010000ULL;  // a page of every stub the Sentry may use

// ptrace_wait.cc: the thread whose current stop is a vsyscall reported as a syscall.
extern pid_t g_vsysTid;

// ptrace_inject.cc. Runs stopped, traced tid from `r` until it traps (see there).
int RunUntilTrap(pid_t tid, const user_regs_struct* saved, user_regs_struct* r, pid_t* newTid);
// Registers for syscall nr with arguments a at the gadget.
void AtGadget(user_regs_struct* r, long nr, const long a[6]);

// Several host syscalls injected into one stopped stub thread in a row: its registers
// are read once before the first and put back once after the last (InjectSyscall reads
// and restores them around each), two ptrace requests fewer per call. Used where one
// operation needs several (the host-fd mappings below).
class InjectSeq {
 public:
  explicit InjectSeq(pid_t tid) : tid_(tid) { ok_ = Ptrace(PTRACE_GETREGS, tid, nullptr, &saved_) == 0; }
  ~InjectSeq() {
    if (ok_ && dirty_) Ptrace(PTRACE_SETREGS, tid_, nullptr, &saved_);
  }
  long Call(long nr, const long a[6]) {
    if (!ok_) return -ESRCH;
    user_regs_struct r = saved_;
    AtGadget(&r, nr, a);
    dirty_ = true;
    int sig = RunUntilTrap(tid_, nullptr, &r, nullptr);
    if (sig == -ESRCH) ok_ = false;  // dead: nothing to put back
    if (sig < 0) return sig;
    if (sig != SIGTRAP || r.rip != kGadget + 3) return -EFAULT;
    return (long)r.rax;
  }

 private:
  pid_t tid_;
  user_regs_struct saved_;
  bool ok_ = false, dirty_ = false;
};

// Each file's N-API exports (InitPtrace, ptrace_platform.cc, calls them).
void InitPtraceWait(Napi::Env env, Napi::Object exports);
void InitPtraceInject(Napi::Env env, Napi::Object exports);
void InitPtraceSpawn(Napi::Env env, Napi::Object exports);
void InitPtraceHostFd(Napi::Env env, Napi::Object exports);
void InitPtraceMemory(Napi::Env env, Napi::Object exports);

}  // namespace tss
