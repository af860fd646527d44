// The kvm platform's contexts and event loop: address spaces and vCPUs by the Sentry's
// ctx ids, fork and threads, resuming a stopped vCPU with the Sentry's registers, and
// wait(): posted exits (kvm_decode.cc), host signals and host fds served as on the other
// platforms (the self-pipe, poll). The vCPU threads: kvm_vcpu.cc.
#include "kvm_run_internal.h"
#include "kvm_abi.h"
#include "../common.h"
#include "../platform_internal.h"
#include <cerrno>
#include <csignal>
#include <cstring>
#include <deque>
#include <poll.h>
#include <pthread.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <unordered_map>

namespace tss {
namespace kvm {

std::deque<int> g_segv;

namespace {

int g_nextCtx = 0x40000000;  // ctx ids: never a host pid
std::unordered_map<int, Vcpu*> g_ctx;
std::unordered_map<int, As*> g_as;
std::deque<std::pair<int, int>> g_exits;  // (ctx, wait status)

int64_t NowNs() { return MonotonicNs(); }

int ReportExit() { return ReportQueuedExit(g_exits); }

Vcpu* ScanPosted() {
  for (auto& kv : g_ctx) {
    Vcpu* v = kv.second;
    if (v->st.load(std::memory_order_acquire) == kPosted) {
      v->st.store(kStopped, std::memory_order_relaxed);
      return v;
    }
  }
  return nullptr;
}

bool AnyRunning() {
  for (auto& kv : g_ctx)
    if (kv.second->st.load(std::memory_order_relaxed) == kRun) return true;
  return false;
}

}  // namespace

// A vCPU of as with its thread started, or null.
Vcpu* StartVcpu(As* as, int ctx, std::string* why) {
  Vcpu* v = NewVcpu(as, ctx, why);
  if (!v) return nullptr;
  if (pthread_create(&v->th, nullptr, VcpuMain, v) != 0) {
    *why = "cannot start a vCPU thread";
    FreeVcpu(v);
    return nullptr;
  }
  v->started = true;
  g_ctx[ctx] = v;
  return v;
}

As* MakeAs(std::string* why) {
  if (InitRun(why) < 0) return nullptr;
  int ctx = g_nextCtx++;
  As* as = NewAs(ctx, why);
  if (!as) return nullptr;
  if (!StartVcpu(as, ctx, why)) {
    FreeAs(as);
    return nullptr;
  }
  g_as[ctx] = as;
  return as;
}

// The new vCPU to continue as from does: its registers and FP state.
void CopyCpu(Vcpu* from, Vcpu* v) {
  v->regs = from->regs;
  TssXsave x;
  if (ioctl(from->fd, TSS_KVM_GET_XSAVE, &x) == 0) ioctl(v->fd, TSS_KVM_SET_XSAVE, &x);
}

int Fork(Vcpu* from, std::string* why) {
  int ctx = g_nextCtx++;
  As* as = NewAs(ctx, why);
  if (!as) return -EAGAIN;
  long e = ForkMemory(from->as, as);
  Shootdown(from->as);  // the parent's private pages are the child's too now: read-only
  Vcpu* v = e < 0 ? nullptr : StartVcpu(as, ctx, why);
  if (!v) {
    if (e < 0) *why = "out of memory slots or guest memory for a fork";
    FreeAs(as);
    return -EAGAIN;
  }
  CopyCpu(from, v);
  g_as[ctx] = as;
  return ctx;
}

int NewThread(Vcpu* from, std::string* why) {
  int ctx = g_nextCtx++;
  Vcpu* v = StartVcpu(from->as, ctx, why);
  if (!v) return -EAGAIN;
  CopyCpu(from, v);
  return ctx;
}

Vcpu* VcpuOf(int ctx) {
  auto it = g_ctx.find(ctx);
  return it == g_ctx.end() ? nullptr : it->second;
}

As* AsOf(int id) {
  auto a = g_as.find(id);
  if (a != g_as.end()) return a->second;
  Vcpu* v = VcpuOf(id);
  return v ? v->as : nullptr;
}

void Resume(Vcpu* v) {
  user_regs_struct& r = v->regs;
  // What ring 3 may hold: no IOPL, NT, VM; IF on. A return that would fault in ring 0
  // (non-canonical rip) is the SIGSEGV Linux gives.
  r.eflags = (r.eflags & 0x240dd5) | 0x202;
  if (r.rip >= kUserEnd) {
    g_segv.push_back(v->ctx);
    return;
  }
  bool bases = r.fs_base != v->fsBase || r.gs_base != v->gsBase;
  if (r.fs_base >= kUserEnd) r.fs_base = 0;
  if (r.gs_base >= kUserEnd) r.gs_base = 0;
  if (v->regsInKvm) {
    kvm_regs k = {};
    k.rax = r.rax, k.rbx = r.rbx, k.rcx = r.rcx, k.rdx = r.rdx, k.rsi = r.rsi, k.rdi = r.rdi, k.rsp = r.rsp;
    k.rbp = r.rbp, k.r8 = r.r8, k.r9 = r.r9, k.r10 = r.r10, k.r11 = r.r11, k.r12 = r.r12, k.r13 = r.r13;
    k.r14 = r.r14, k.r15 = r.r15, k.rip = r.rip, k.rflags = r.eflags;
    // Stopped in ring 3 by a kick: TLB work queued meanwhile (a sibling's munmap, a fork's
    // copy-on-write) must be done before the guest runs on, through the shim's resume path,
    // or it writes on through the old PTEs KVM still shadows (cp_clone's waitid under
    // signals: a kick beside a fork's shootdown crashed ~3 runs in 10).
    if (!ApplyPending(v)) ReRegisterPlat(v->as);
    uint64_t work, queued;
    memcpy(&work, v->state + ST_FLAGS, 8);
    memcpy(&queued, v->state + ST_INVL_N, 8);
    kvm_sregs s;
    if (work || queued) {
      if (ioctl(v->fd, KVM_GET_SREGS, &s) == 0) {
        s.fs.base = r.fs_base, s.gs.base = r.gs_base;
        EnterShim(v, k, &s);
      }
    } else {
      if (v->fromSync) {
        v->run->s.regs.regs = k;
        v->run->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
      } else {
        ioctl(v->fd, KVM_SET_REGS, &k);
      }
      if (bases && ioctl(v->fd, KVM_GET_SREGS, &s) == 0) {
        s.fs.base = r.fs_base, s.gs.base = r.gs_base;
        ioctl(v->fd, KVM_SET_SREGS, &s);
      }
    }
    v->regsInKvm = false;
    v->fromSync = false;
  } else {
    memcpy(v->state + ST_REGS, &r, sizeof r);
    if (r.fs_base != v->fsBase) v->pendFlags |= FL_FSBASE;
    if (r.gs_base != v->gsBase) v->pendFlags |= FL_GSBASE;
  }
  v->fsBase = r.fs_base, v->gsBase = r.gs_base;
  Go(v);
}

int WaitEvent(int timeoutMs, const int32_t* fds, const int32_t* events, int32_t* revents, int count) {
  int64_t deadline = timeoutMs < 0 ? INT64_MAX : NowNs() + (int64_t)timeoutMs * 1000000;
  if (count > 256) count = 256;
  struct pollfd p[258];
  for (;;) {
    if (!g_exits.empty()) return ReportExit();
    if (!g_segv.empty()) {
      Vcpu* v = VcpuOf(g_segv.front());
      g_segv.pop_front();
      if (v) return ReportSignal(v, SIGSEGV, 0x80, 0);
      continue;
    }
    if (PendingHostSignals()) {
      Info()[kInfoKind] = kEvHostSignal;
      return kEvHostSignal;
    }
    // Spin a little while a vCPU runs (an exit's handoff then costs no wakeup).
    int64_t spinEnd = AnyRunning() && count == 0 ? NowNs() + 20000 : 0;
    Vcpu* v = nullptr;
    do {
      v = ScanPosted();
      if (v) break;
      __builtin_ia32_pause();
    } while (spinEnd && NowNs() < spinEnd);
    if (v) {
      int k = Decode(v);
      if (k >= 0) return k;
      continue;
    }
    g_sleeping.store(1, std::memory_order_seq_cst);
    v = ScanPosted();
    if (v || !g_exits.empty() || !g_segv.empty() || PendingHostSignals()) {
      g_sleeping.store(0);
      if (v) {
        int k = Decode(v);
        if (k >= 0) return k;
      }
      continue;
    }
    int wait = FillWaitSet(p, g_bell, fds, events, count, deadline);
    int n = poll(p, (nfds_t)count + 2, wait);
    int e = errno;
    g_sleeping.store(0);
    int ev;
    if (AfterWaitSet(p, n, e, g_bell, revents, count, deadline, &ev)) return ev;
  }
}

bool DivertVsyscallFault(Vcpu* v, long result) {
  if (!v->vsys) return false;
  v->vsys = false;
  if (result != -EFAULT) return false;
  v->regs.rip = v->vsysEntry;
  v->regs.rsp -= 8;
  v->regs.rax = (unsigned long)-ENOSYS;
  v->regs.orig_rax = (unsigned long)-1;
  g_segv.push_back(v->ctx);
  return true;
}

void ExitThread(Vcpu* v) {
  As* as = v->as;
  int ctx = v->ctx;
  StopThread(v);
  g_ctx.erase(ctx);
  FreeVcpu(v);
  g_exits.emplace_back(ctx, 0);
  bool any = false;
  for (Vcpu* o : as->vcpus) any = any || o;
  if (!any) {
    g_as.erase(as->id);
    FreeAs(as);
  }
}

void Destroy(As* as) {
  for (Vcpu* v : as->vcpus) {
    if (!v) continue;
    StopThread(v);
    g_ctx.erase(v->ctx);
    g_exits.emplace_back(v->ctx, SIGKILL);
  }
  g_as.erase(as->id);
  FreeAs(as);
}


}  // namespace kvm
}  // namespace tss
