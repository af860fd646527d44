// What the ptrace platform's files (native/ptrace_*.cc) lend systrap and kvm (the systrap
// platform drives its stubs' injector threads with the same ptrace machinery).
#pragma once
#include <napi.h>
#include <poll.h>
#include <sys/types.h>
#include <sys/user.h>

namespace tss {

// Injections (syscalls and cas gadgets run in a traced stub thread) so far: counted for
// the systrap profile (TSS_SYSTRAP_PROF), one add per injection.
extern uint64_t g_injections;
// Runs one host syscall in stopped, traced stub thread tid at the gadget; its result.
long InjectSyscall(pid_t tid, long nr, const long a[6], pid_t* newTid);
// mmap of a Sentry host fd into stopped, traced tid (fd passed and closed again).
long MmapHostFdIn(pid_t tid, int hostFd, long addr, long len, long prot, long flags, long off);
// n mmaps of one host fd in one hand-over (maps[i] = addr, len, prot, flags, off); at: a
// private writable guest page lent for the msghdr, or 0. The last mmap's result or -errno.
long MmapHostFdManyIn(pid_t tid, int hostFd, const long (*maps)[5], int n, uint64_t at);
// The hand-over's parts for a caller that injects the recvmsg itself (systrap's batch):
// queue hostFd on the stubs' socket (0 or -errno; received as fd 0), drop what is left.
long SendFdToStub(int hostFd);
void DrainStubFds();
// Runs stopped, traced tid from registers r until its next trap (its own registers put
// back after): the signal, with r the registers at the trap, or -errno.
int InjectRun(pid_t tid, struct user_regs_struct* r, pid_t* newTid);
// mmapHostFdMany's arguments 2 and 3 (Float64Array of addr, len, prot, flags, off each,
// at most 16; the lent page): the count, or 0 if malformed.
int MapsArg(const Napi::CallbackInfo& info, long (*maps)[5], uint64_t* at);
// A lent page's address from JS (see MmapHostFdManyIn), or 0 where it may not be used.
uint64_t ScratchAt(const Napi::Value& v);
// Atomic compare-and-swap of the aligned u64 at addr, run by stopped, traced tid: 0 with
// the word's old value in *old, or -errno.
long CasU64(pid_t tid, uint64_t addr, uint64_t expected, uint64_t desired, uint64_t* old);
// readMem(pid, addr, buf, off, len) for N-API: process_vm_readv into the caller's buffer,
// then after(pid, addr, bytes, n) may edit what was read (null: nothing).
Napi::Value ReadMemNapi(const Napi::CallbackInfo& info, void (*after)(pid_t, uint64_t, uint8_t*, size_t));
// The process group of all stubs (waitpid(-pgid) hears every traced stub thread).
pid_t StubPgid();
// Sentry-time accounting per host thread (takeSentryNs): a stop taken / answered.
void NoteSentryStop(pid_t tid);
void ChargeSentryTime(pid_t tid);
// A thread stopped but not resumed (it blocked): charges its handling up to now only.
void ChargePendingStop();

// The event buffer's syscall view (args, number) from its registers.
void FillSyscallArgs();
// Reports the stopped thread as faulted with SIGSEGV (SI_KERNEL), as Linux does.
int ReportSegv(pid_t pid);
// wait()'s host-fd part: empties the self-pipe; copies poll results (true: some ready,
// the event is a Poll).
void DrainSelfPipe();
bool TakePollResults(const struct pollfd* p, int32_t* revents, int count);
// systrap's and kvm's sleep: the self-pipe, the platform's doorbell, then the Sentry's count
// fds into p; returns poll's timeout in ms for deadline (CLOCK_MONOTONIC ns, INT64_MAX: none).
int FillWaitSet(struct pollfd* p, int bell, const int32_t* fds, const int32_t* events, int count, int64_t deadline);
// After poll(p, count + 2, ...) = n (errno err) on FillWaitSet's set: rings off the doorbell
// and the self-pipe; true when the wait is over, with *ev the event (kEvPoll, kEvTimeout) or
// -errno; false: wait on.
bool AfterWaitSet(const struct pollfd* p, int n, int err, int bell, int32_t* revents, int count, int64_t deadline, int* ev);
int64_t MonotonicNs();
int32_t* I32Arg(const Napi::CallbackInfo& info, int i);

void InitSystrap(Napi::Env env, Napi::Object exports);
void InitSystrapBatch(Napi::Env env, Napi::Object exports);

}  // namespace tss
