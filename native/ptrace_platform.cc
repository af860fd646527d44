// The ptrace platform: stub processes whose every syscall stops under PTRACE_SYSEMU.
//
// All ptrace requests come from the Node main thread (the tracer). One N-API call
// returns the next stop with the registers already in the shared event buffer, and
// the hot path (resumeSyscallAndWait) writes the result, resumes and waits in one call.
//
// The core: the event buffer, Sentry-time accounting, registers and FP state, resuming
// and ending threads, and the module's exports. The wait loop is ptrace_wait.cc,
// injection ptrace_inject.cc, the host-fd hand-over ptrace_hostfd.cc, starting the
// template stub ptrace_spawn.cc, guest memory ptrace_memory.cc.
#include "ptrace_internal.h"
#include <cpuid.h>
#include <elf.h>
#include <sys/wait.h>

namespace tss {

static uint8_t g_fallbackBuf[kBufSize];
static uint8_t* g_buf = g_fallbackBuf;
static napi_ref g_bufRef = nullptr;

// Time the Sentry spends serving each thread's syscalls, which Linux would count as
// that thread's system time (slot = host tid & 0xffff; read and reset by JS).
static double g_sentryNs[1 << 16];
int64_t g_stopAt = 0;
pid_t g_stopTid = 0;

int64_t MonoNs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void NoteSentryStop(pid_t tid) {
  g_stopAt = MonoNs();
  g_stopTid = tid;
}

pid_t StubPgid() { return g_pgid; }

void ChargePendingStop() {
  if (g_stopTid) ChargeSentryTime(g_stopTid);
}

void ChargeSentryTime(pid_t tid) {
  if (tid != g_stopTid) return;
  g_sentryNs[tid & 0xffff] += (double)(MonoNs() - g_stopAt);
  g_stopTid = 0;
}

uint8_t* EventBuffer() { return g_buf; }
int32_t* Info() { return reinterpret_cast<int32_t*>(g_buf + kInfoOff); }
user_regs_struct* Regs() { return reinterpret_cast<user_regs_struct*>(g_buf + kRegsOff); }

static Napi::Value SetEventBuffer(const Napi::CallbackInfo& info) {
  Napi::ArrayBuffer ab = info[0].As<Napi::ArrayBuffer>();
  if (ab.ByteLength() < kBufSize) {
    Napi::TypeError::New(info.Env(), "event buffer too small").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  if (g_bufRef) napi_delete_reference(info.Env(), g_bufRef);
  napi_create_reference(info.Env(), ab, 1, &g_bufRef);
  g_buf = static_cast<uint8_t*>(ab.Data());
  return info.Env().Undefined();
}

void FillSyscallArgs() {
  user_regs_struct* r = Regs();
  double* a = reinterpret_cast<double*>(g_buf + kArgsOff);
  a[0] = ArgToDouble(r->rdi);
  a[1] = ArgToDouble(r->rsi);
  a[2] = ArgToDouble(r->rdx);
  a[3] = ArgToDouble(r->r10);
  a[4] = ArgToDouble(r->r8);
  a[5] = ArgToDouble(r->r9);
  *reinterpret_cast<double*>(g_buf + kNrOff) = ArgToDouble(r->orig_rax);
}

static Napi::Value Resume(const Napi::CallbackInfo& info) {
  pid_t tid = info[0].As<Napi::Number>().Int32Value();
  long sig = info.Length() > 1 ? info[1].As<Napi::Number>().Int32Value() : 0;
  if (tid == g_vsysTid) g_vsysTid = 0;
  if (Ptrace(PTRACE_SYSEMU, tid, nullptr, (void*)sig) != 0) return Num(info.Env(), -errno);
  return Num(info.Env(), 0);
}

static Napi::Value GetRegs(const Napi::CallbackInfo& info) {
  pid_t tid = info[0].As<Napi::Number>().Int32Value();
  if (Ptrace(PTRACE_GETREGS, tid, nullptr, Regs()) != 0) return Num(info.Env(), -errno);
  return Num(info.Env(), 0);
}

static Napi::Value SetRegs(const Napi::CallbackInfo& info) {
  pid_t tid = info[0].As<Napi::Number>().Int32Value();
  if (Ptrace(PTRACE_SETREGS, tid, nullptr, Regs()) != 0) return Num(info.Env(), -errno);
  return Num(info.Env(), 0);
}

static Napi::Value GetFpRegs(const Napi::CallbackInfo& info) {
  pid_t tid = info[0].As<Napi::Number>().Int32Value();
  struct iovec iov = {g_buf + kFpOff, kFpMax};
  if (Ptrace(PTRACE_GETREGSET, tid, (void*)NT_X86_XSTATE, &iov) != 0) {
    iov.iov_len = 512;
    if (Ptrace(PTRACE_GETFPREGS, tid, nullptr, g_buf + kFpOff) != 0) return Num(info.Env(), -errno);
  }
  Info()[kInfoFpSize] = (int32_t)iov.iov_len;
  return Num(info.Env(), (double)iov.iov_len);
}

static Napi::Value SetFpRegs(const Napi::CallbackInfo& info) {
  pid_t tid = info[0].As<Napi::Number>().Int32Value();
  size_t len = (size_t)Info()[kInfoFpSize];
  if (len == 0 || len > kFpMax) len = 512;
  struct iovec iov = {g_buf + kFpOff, len};
  if (len > 512 && Ptrace(PTRACE_SETREGSET, tid, (void*)NT_X86_XSTATE, &iov) == 0) return Num(info.Env(), 0);
  if (Ptrace(PTRACE_SETFPREGS, tid, nullptr, g_buf + kFpOff) != 0) return Num(info.Env(), -errno);
  return Num(info.Env(), 0);
}

static Napi::Value TakeSentryNs(const Napi::CallbackInfo& info) {
  pid_t tid = info[0].As<Napi::Number>().Int32Value();
  double v = g_sentryNs[tid & 0xffff];
  g_sentryNs[tid & 0xffff] = 0;
  return Num(info.Env(), v);
}

static Napi::Value Tgkill(const Napi::CallbackInfo& info) {
  pid_t tgid = info[0].As<Napi::Number>().Int32Value();
  pid_t tid = info[1].As<Napi::Number>().Int32Value();
  int sig = info[2].As<Napi::Number>().Int32Value();
  long r = syscall(SYS_tgkill, tgid, tid, sig);
  return Num(info.Env(), r < 0 ? -errno : 0);
}

// kill(2): a whole host process, named by any of its thread ids.
static Napi::Value Kill(const Napi::CallbackInfo& info) {
  pid_t pid = info[0].As<Napi::Number>().Int32Value();
  int sig = info[1].As<Napi::Number>().Int32Value();
  return Num(info.Env(), kill(pid, sig) < 0 ? -errno : 0);
}

// Ends one stopped thread: points it at `exit` in the gadget and lets it go. Not waited
// for: a thread-group leader's exit is not reported until its last thread is gone, so
// the main loop reaps it whenever it comes.
static Napi::Value ExitThread(const Napi::CallbackInfo& info) {
  pid_t tid = info[0].As<Napi::Number>().Int32Value();
  user_regs_struct r;
  if (Ptrace(PTRACE_GETREGS, tid, nullptr, &r) != 0) return Num(info.Env(), -errno);
  r.rax = SYS_exit;
  r.orig_rax = (unsigned long)-1;
  r.rdi = 0;
  r.rip = kGadget;
  if (Ptrace(PTRACE_SETREGS, tid, nullptr, &r) != 0) return Num(info.Env(), -errno);
  if (Ptrace(PTRACE_CONT, tid, nullptr, nullptr) != 0) return Num(info.Env(), -errno);
  return Num(info.Env(), 0);
}

static Napi::Value Reap(const Napi::CallbackInfo& info) {
  pid_t tid = info[0].As<Napi::Number>().Int32Value();
  int status;
  pid_t p = waitpid(tid, &status, __WALL | WNOHANG);
  return Num(info.Env(), p < 0 ? -errno : (p == 0 ? -EAGAIN : status));
}

// Pins the calling (main) thread to one CPU; stubs forked afterwards inherit it.
// A ptrace stop and resume between two CPUs costs ~40 us here (each side must wake
// an idle vCPU); on one CPU it is ~3 us, so tracer and tracees share a CPU.
static Napi::Value PinToCpu(const Napi::CallbackInfo& info) {
  int cpu = info[0].As<Napi::Number>().Int32Value();
  if (cpu < 0) cpu = sched_getcpu();
  if (cpu < 0) return Num(info.Env(), -errno);
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof set, &set) != 0) return Num(info.Env(), -errno);
  return Num(info.Env(), cpu);
}

// CPUID as the host answers it, for the Sentry to answer a guest's trapped CPUID
// (deterministic mode): [eax, ebx, ecx, edx] of leaf info[0], subleaf info[1].
static Napi::Value HostCpuid(const Napi::CallbackInfo& info) {
  unsigned a = 0, b = 0, c = 0, d = 0;
  __cpuid_count(info[0].As<Napi::Number>().Uint32Value(), info[1].As<Napi::Number>().Uint32Value(), a, b, c, d);
  Napi::Array out = Napi::Array::New(info.Env(), 4);
  out.Set(0u, Num(info.Env(), a));
  out.Set(1u, Num(info.Env(), b));
  out.Set(2u, Num(info.Env(), c));
  out.Set(3u, Num(info.Env(), d));
  return out;
}

// Whether this host can make CPUID fault (ARCH_SET_CPUID): setting "CPUID allowed" on
// the Sentry itself changes nothing and fails with ENODEV where faulting is missing.
static Napi::Value CpuidFaultingSupported(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), syscall(SYS_arch_prctl, 0x1012 /* ARCH_SET_CPUID */, 1) == 0);
}

void InitPtrace(Napi::Env env, Napi::Object exports) {
  exports["hostCpuid"] = Napi::Function::New(env, HostCpuid);
  exports["cpuidFaultingSupported"] = Napi::Function::New(env, CpuidFaultingSupported);
  exports["pinToCpu"] = Napi::Function::New(env, PinToCpu);
  exports["setEventBuffer"] = Napi::Function::New(env, SetEventBuffer);
  exports["resume"] = Napi::Function::New(env, Resume);
  exports["getRegs"] = Napi::Function::New(env, GetRegs);
  exports["setRegs"] = Napi::Function::New(env, SetRegs);
  exports["getFpRegs"] = Napi::Function::New(env, GetFpRegs);
  exports["setFpRegs"] = Napi::Function::New(env, SetFpRegs);
  exports["tgkill"] = Napi::Function::New(env, Tgkill);
  exports["takeSentryNs"] = Napi::Function::New(env, TakeSentryNs);
  exports["reap"] = Napi::Function::New(env, Reap);
  exports["kill"] = Napi::Function::New(env, Kill);
  exports["exitThread"] = Napi::Function::New(env, ExitThread);
  InitPtraceWait(env, exports);
  InitPtraceInject(env, exports);
  InitPtraceSpawn(env, exports);
  InitPtraceHostFd(env, exports);
  InitPtraceMemory(env, exports);
}

}  // namespace tss
