// N-API functions of the kvm platform (src/platform/kvm/): contexts are vCPUs, named by
// ids of our own (never host pids); an address space is named by its first context.
#include "kvm_run.h"
#include "../common.h"
#include "../platform_internal.h"
#include <cerrno>
#include <cpuid.h>
#include <cstring>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <time.h>

namespace tss {
namespace kvm {
namespace {

int I(const Napi::CallbackInfo& info, int i) { return info[i].As<Napi::Number>().Int32Value(); }
double D(const Napi::CallbackInfo& info, int i) { return info[i].As<Napi::Number>().DoubleValue(); }
uint64_t U(const Napi::CallbackInfo& info, int i) { return (uint64_t)info[i].As<Napi::Number>().Int64Value(); }

// A stopped vCPU, or null (unknown, or running: the Sentry may only touch stopped ones).
Vcpu* Stopped(const Napi::CallbackInfo& info, int i) {
  Vcpu* v = VcpuOf(I(info, i));
  return v && v->st.load() == kStopped ? v : nullptr;
}

Napi::Value Probe(const Napi::CallbackInfo& info) {
  std::string why;
  double ns = kvm::Probe(info.Length() > 0 ? I(info, 0) : 2000, &why);
  if (ns < 0) return Napi::String::New(info.Env(), why);
  return Num(info.Env(), ns);
}

// Which KVM the probe ran on and how guest syscalls leave the guest there (after a probe).
Napi::Value HostKindOf(const Napi::CallbackInfo& info) {
  const char* mod = ReadyHostKind();
  const char* hw = strcmp(mod, "kvm_pvm") == 0 ? "PVM" : strcmp(mod, "kvm_intel") == 0 ? "VMX" : strcmp(mod, "kvm_amd") == 0 ? "SVM" : "unknown";
  std::string s = std::string(mod) + ": " + hw + ", " + (DirectSyscalls() ? "syscalls exit from ring 3" : "syscalls through the ring-0 shim");
  return Napi::String::New(info.Env(), s);
}

Napi::Value Init(const Napi::CallbackInfo& info) {
  std::string why;
  if (InitRun(&why) < 0) return Napi::String::New(info.Env(), why);
  return Num(info.Env(), 0);
}

// The front's /dev/kvm fd (src/platform/launched-files.ts) for Ready: 0, or -EALREADY.
Napi::Value AdoptFd(const Napi::CallbackInfo& info) { return Num(info.Env(), Adopt(I(info, 0)) ? 0 : -EALREADY); }

Napi::Value NewAs(const Napi::CallbackInfo& info) {
  std::string why;
  As* as = MakeAs(&why);
  if (!as) return Napi::String::New(info.Env(), why);
  return Num(info.Env(), as->id);
}

// A new context made from stopped ctx info[0] by make (a thread, a fork): its id, or why not.
Napi::Value FromCtx(const Napi::CallbackInfo& info, int (*make)(Vcpu*, std::string*)) {
  Vcpu* v = Stopped(info, 0);
  if (!v) return Num(info.Env(), -ESRCH);
  std::string why;
  int r = make(v, &why);
  if (r < 0) return Napi::String::New(info.Env(), why);
  return Num(info.Env(), r);
}

Napi::Value NewThreadCtx(const Napi::CallbackInfo& info) { return FromCtx(info, NewThread); }
Napi::Value ForkCtx(const Napi::CallbackInfo& info) { return FromCtx(info, Fork); }

Napi::Value MmSyscall(const Napi::CallbackInfo& info) {
  Vcpu* v = VcpuOf(I(info, 0));
  if (!v) return Num(info.Env(), -ESRCH);
  As* as = v->as;
  long nr = I(info, 1);
  uint64_t a0 = U(info, 2), a1 = U(info, 3), a2 = U(info, 4), a3 = U(info, 5), a4 = U(info, 6);
  long r;
  switch (nr) {
    case 9:  // mmap (anonymous only: files come through mmapHostFd)
      r = (a3 & 0x20) ? MmAnon(as, a0, (a1 + 4095) & ~4095ull, (int)a2, (a3 & 0xf) == 1) : -EINVAL;
      break;
    case 11: r = MmUnmap(as, a0, a1); break;
    case 10: r = MmProtect(as, a0, a1, (int)a2); break;
    case 25: {
      // MREMAP_DONTUNMAP (4): the old range stays mapped, fresh and empty, as it was protected.
      int prot = ProtAt(as, a0);
      r = MmRemap(as, a0, a1, a2, (a3 & 3) == 3, a4);
      if (r >= 0 && (a3 & 4) && prot >= 0) {
        long k = MmAnon(as, a0, (a1 + 4095) & ~4095ull, prot, false);
        if (k < 0) r = k;
      }
      break;
    }
    case 28: r = MmAdvise(as, a0, a1, (int)a2); break;
    case 26: r = 0; break;  // msync: shared file pages are the host's page cache already
    default: r = -ENOSYS;
  }
  Shootdown(as);
  return Num(info.Env(), (double)r);
}

Napi::Value MmapHostFd(const Napi::CallbackInfo& info) {
  Vcpu* v = VcpuOf(I(info, 0));
  if (!v) return Num(info.Env(), -ESRCH);
  long r = MmFile(v->as, I(info, 1), U(info, 2), (U(info, 3) + 4095) & ~4095ull, I(info, 4), (I(info, 5) & 0xf) == 1, U(info, 6));
  Shootdown(v->as);
  return Num(info.Env(), (double)r);
}

Napi::Value MmapHostFdMany(const Napi::CallbackInfo& info) {
  Vcpu* v = VcpuOf(I(info, 0));
  if (!v) return Num(info.Env(), -ESRCH);
  int fd = I(info, 1);
  Napi::Float64Array arr = info[2].As<Napi::Float64Array>();
  size_t n = arr.ElementLength() / 5;
  if (n == 0 || n > 16) return Num(info.Env(), -EINVAL);
  for (size_t i = 0; i < n; i++) {
    long r = MmFile(v->as, fd, (uint64_t)arr[i * 5], ((uint64_t)arr[i * 5 + 1] + 4095) & ~4095ull, (int)arr[i * 5 + 2],
                    ((int)arr[i * 5 + 3] & 0xf) == 1, (uint64_t)arr[i * 5 + 4]);
    Shootdown(v->as);
    if (r < 0) return Num(info.Env(), (double)r);
  }
  return Num(info.Env(), 0);
}

Napi::Value GetRegs(const Napi::CallbackInfo& info) {
  Vcpu* v = Stopped(info, 0);
  if (!v) return Num(info.Env(), -ESRCH);
  *Regs() = v->regs;
  return Num(info.Env(), 0);
}

Napi::Value SetRegs(const Napi::CallbackInfo& info) {
  Vcpu* v = Stopped(info, 0);
  if (!v) return Num(info.Env(), -ESRCH);
  v->regs = *Regs();
  return Num(info.Env(), 0);
}

// The XSAVE image of the guest's features (XCR0 as the VM has it, standard layout):
// the host's own CPUID 0xd size counts what the host enables (AMX tile data here: > 4 KiB).
uint32_t XsaveSize() {
  static uint32_t n = 0;
  if (n) return n;
  uint64_t x = GuestXcr0();
  // x87 and SSE only: the guest has no XSAVE (CPUID OSXSAVE clear), and Linux gives such a
  // task a 512-byte FXSAVE signal frame, not an XSAVE one.
  if (!(x & ~3ull)) return n = 512;
  n = 512 + 64;
  for (unsigned i = 2; i < 63; i++) {
    if (!((x >> i) & 1)) continue;
    unsigned a, b, c, d;
    __cpuid_count(0xd, i, a, b, c, d);
    if (a + b > n) n = a + b;
  }
  if (n > 4096) n = 4096;
  return n;
}

Napi::Value GetFp(const Napi::CallbackInfo& info) {
  Vcpu* v = Stopped(info, 0);
  if (!v) return Num(info.Env(), -ESRCH);
  TssXsave x;
  if (ioctl(v->fd, TSS_KVM_GET_XSAVE, &x) < 0) return Num(info.Env(), -errno);
  uint32_t n = XsaveSize();
  memcpy(EventBuffer() + kFpOff, x.region, n);
  Info()[kInfoFpSize] = (int32_t)n;
  return Num(info.Env(), n);
}

Napi::Value SetFp(const Napi::CallbackInfo& info) {
  Vcpu* v = Stopped(info, 0);
  if (!v) return Num(info.Env(), -ESRCH);
  TssXsave x;
  if (ioctl(v->fd, TSS_KVM_GET_XSAVE, &x) < 0) return Num(info.Env(), -errno);
  size_t n = (size_t)Info()[kInfoFpSize];
  if (n > XsaveSize()) n = XsaveSize();
  memcpy(x.region, EventBuffer() + kFpOff, n);
  x.region[6] &= 0xffbf;  // mxcsr_mask's reserved bits are not the guest's to set (kept as read)
  if (ioctl(v->fd, TSS_KVM_SET_XSAVE, &x) < 0) return Num(info.Env(), -errno);
  return Num(info.Env(), 0);
}

void ResumeWith(Vcpu* v, double result) {
  if (DivertVsyscallFault(v, (long)result)) return;
  v->regs.rax = (unsigned long)(long long)result;
  Resume(v);
}

Napi::Value ResumeSyscall(const Napi::CallbackInfo& info) {
  Vcpu* v = Stopped(info, 0);
  if (!v) return Num(info.Env(), -ESRCH);
  ResumeWith(v, D(info, 1));
  return Num(info.Env(), 0);
}

Napi::Value ResumeSyscallAndWait(const Napi::CallbackInfo& info) {
  Vcpu* v = Stopped(info, 0);
  if (v) ResumeWith(v, D(info, 1));
  return Num(info.Env(), WaitEvent(info.Length() > 2 ? I(info, 2) : -1, nullptr, nullptr, nullptr, 0));
}

Napi::Value ResumeCtx(const Napi::CallbackInfo& info) {
  Vcpu* v = Stopped(info, 0);
  if (!v) return Num(info.Env(), -ESRCH);
  Resume(v);
  return Num(info.Env(), 0);
}

Napi::Value Wait(const Napi::CallbackInfo& info) {
  return Num(info.Env(), WaitEvent(I(info, 0), I32Arg(info, 1), I32Arg(info, 2), I32Arg(info, 3), I(info, 4)));
}

Napi::Value KickCtx(const Napi::CallbackInfo& info) {
  Vcpu* v = VcpuOf(I(info, 0));
  if (!v) return Num(info.Env(), -ESRCH);
  Kick(v);
  return Num(info.Env(), 0);
}

Napi::Value ExitCtx(const Napi::CallbackInfo& info) {
  Vcpu* v = Stopped(info, 0);
  if (!v) return Num(info.Env(), -ESRCH);
  ExitThread(v);
  return Num(info.Env(), 0);
}

Napi::Value DestroyAs(const Napi::CallbackInfo& info) {
  As* as = AsOf(I(info, 0));
  if (!as) return Num(info.Env(), -ESRCH);
  Destroy(as);
  return Num(info.Env(), 0);
}

// The CPU clock of a context's vCPU thread (running or stopped): ns, or -1 (gone).
Napi::Value ThreadCpuNs(const Napi::CallbackInfo& info) {
  Vcpu* v = VcpuOf(I(info, 0));
  clockid_t c;
  timespec ts;
  if (!v || !v->started || pthread_getcpuclockid(v->th, &c) != 0 || clock_gettime(c, &ts) != 0) return Num(info.Env(), -1);
  return Num(info.Env(), (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec);
}

// kvmThreadCounts(ctx): [minflt, majflt, nvcsw, nivcsw] of its vCPU thread (as of its last exit), or -1.
Napi::Value ThreadCounts(const Napi::CallbackInfo& info) {
  Vcpu* v = VcpuOf(I(info, 0));
  if (!v) return Num(info.Env(), -1);
  Napi::Array a = Napi::Array::New(info.Env(), 4);
  const std::atomic<uint64_t>* c[] = {&v->minflt, &v->majflt, &v->nvcsw, &v->nivcsw};
  for (uint32_t i = 0; i < 4; i++) a.Set(i, Num(info.Env(), (double)c[i]->load(std::memory_order_relaxed)));
  return a;
}

// kvmMemoryKb(ctx, peak): resident guest memory of ctx's address space, or its peak; -1.
Napi::Value MemoryKbCtx(const Napi::CallbackInfo& info) {
  As* as = AsOf(I(info, 0));
  if (!as) return Num(info.Env(), -1);
  uint64_t kb = ResidentKb(as);
  return Num(info.Env(), (double)(info[1].As<Napi::Boolean>().Value() ? as->peakKb : kb));
}

Napi::Value CasU32(const Napi::CallbackInfo& info) {
  As* as = AsOf(I(info, 0));
  if (!as) return Num(info.Env(), -ESRCH);
  uint64_t addr = U(info, 1);
  if (addr & 3) return Num(info.Env(), -EINVAL);
  uint32_t* p = reinterpret_cast<uint32_t*>(HostPtr(as, addr, 4, true));
  if (!p) return Num(info.Env(), -EFAULT);
  uint32_t expected = (uint32_t)I(info, 2);
  __atomic_compare_exchange_n(p, &expected, (uint32_t)I(info, 3), false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
  return Num(info.Env(), expected);
}

Napi::Value Mem(const Napi::CallbackInfo& info, bool write) {
  As* as = AsOf(I(info, 0));
  if (!as) return Num(info.Env(), -ESRCH);
  Napi::TypedArray ta = info[2].As<Napi::TypedArray>();
  size_t off = (size_t)U(info, 3), len = (size_t)U(info, 4);
  if (off + len > ta.ByteLength()) return Num(info.Env(), -EINVAL);
  if (len == 0) return Num(info.Env(), 0);
  uint8_t* b = static_cast<uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset() + off;
  return Num(info.Env(), (double)Access(as, U(info, 1), b, len, write));
}

// kvmReadFromHost(as, fd, pos, addr, len): one read/pread of a host fd straight into the
// Sentry's views of guest memory (the kernel copies: a bad page is EFAULT, never SIGBUS).
Napi::Value ReadFromHost(const Napi::CallbackInfo& info) {
  As* as = AsOf(I(info, 0));
  if (!as) return Num(info.Env(), -ESRCH);
  struct iovec iov[64];
  int n = WritableIov(as, U(info, 3), (size_t)U(info, 4), iov, 64);
  if (n == 0) return Num(info.Env(), -EFAULT);
  int64_t pos = info[2].As<Napi::Number>().Int64Value();
  ssize_t r = pos >= 0 ? preadv(I(info, 1), iov, n, pos) : readv(I(info, 1), iov, n);
  return Num(info.Env(), r < 0 ? -errno : (double)r);
}

Napi::Value ReadMem(const Napi::CallbackInfo& info) { return Mem(info, false); }
Napi::Value WriteMem(const Napi::CallbackInfo& info) { return Mem(info, true); }

Napi::Value ReadCString(const Napi::CallbackInfo& info) {
  As* as = AsOf(I(info, 0));
  if (!as) return Num(info.Env(), -ESRCH);
  return ReadCStringPaged(info.Env(), U(info, 1), (size_t)U(info, 2), [as](uint64_t at, char* into, size_t len) {
    return Access(as, at, reinterpret_cast<uint8_t*>(into), len, false);
  });
}

}  // namespace
}  // namespace kvm

void InitKvm(Napi::Env env, Napi::Object exports) {
  using namespace kvm;
  const std::pair<const char*, Napi::Value (*)(const Napi::CallbackInfo&)> fns[] = {
      {"kvmProbe", Probe}, {"kvmHostKind", HostKindOf}, {"kvmInit", Init}, {"kvmAdoptFd", AdoptFd}, {"kvmNewAddressSpace", NewAs}, {"kvmNewThread", NewThreadCtx}, {"kvmForkAddressSpace", ForkCtx}, {"kvmMmSyscall", MmSyscall},
      {"kvmMmapHostFd", MmapHostFd}, {"kvmMmapHostFdMany", MmapHostFdMany}, {"kvmGetRegs", GetRegs},
      {"kvmSetRegs", SetRegs}, {"kvmGetFpRegs", GetFp}, {"kvmSetFpRegs", SetFp}, {"kvmResumeSyscall", ResumeSyscall},
      {"kvmResumeSyscallAndWait", ResumeSyscallAndWait}, {"kvmResume", ResumeCtx}, {"kvmWait", Wait},
      {"kvmKick", KickCtx}, {"kvmExitThread", ExitCtx}, {"kvmDestroyAddressSpace", DestroyAs}, {"kvmCasU32", CasU32}, {"kvmThreadCpuNs", ThreadCpuNs}, {"kvmMemoryKb", MemoryKbCtx}, {"kvmThreadCounts", ThreadCounts},
      {"kvmReadMem", ReadMem}, {"kvmReadFromHost", ReadFromHost}, {"kvmWriteMem", WriteMem}, {"kvmReadCString", ReadCString},
  };
  for (auto& f : fns) exports[f.first] = Napi::Function::New(env, f.second);
}

}  // namespace tss
