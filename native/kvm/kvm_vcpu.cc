// The kvm platform's vCPU threads. KVM_RUN blocks its caller, and the Sentry is one
// JavaScript thread: each vCPU runs KVM_RUN on a native thread of its own, which posts
// each exit (state kPosted, the doorbell rung if the Sentry sleeps) and waits (spin, then
// futex) to be let run again. Kicks (signals, timers) and TLB shootdowns reach a running
// vCPU as kKickSig, which sets immediate_exit.
#include "kvm_run_internal.h"
#include "kvm_abi.h"
#include "../common.h"
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <linux/futex.h>
#include <malloc.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <time.h>
#include <unistd.h>

namespace tss {
namespace kvm {

int g_bell = -1;
std::atomic<int> g_sleeping{0};

namespace {

thread_local kvm_run* t_run = nullptr;

void OnKick(int) {
  if (t_run) t_run->immediate_exit = 1;
}


long Futex(std::atomic<int>* a, int op, int val, const timespec* ts) {
  return syscall(SYS_futex, reinterpret_cast<int*>(a), op, val, ts, nullptr, 0);
}

void Post(Vcpu* v) {
  int running = kRun;  // a vCPU told to quit meanwhile stays quitting
  if (!v->st.compare_exchange_strong(running, kPosted, std::memory_order_seq_cst)) return;
  if (g_sleeping.load(std::memory_order_seq_cst)) {
    uint64_t one = 1;
    (void)!write(g_bell, &one, 8);
  }
}

// One KVM_RUN and what it ended with; false: keep running (a kick that came in ring 0).
bool RunOnce(Vcpu* v, timer_t timer) {
  int r = ioctl(v->fd, KVM_RUN, 0);
  int e = errno;
  v->run->immediate_exit = 0;
  if (r == 0) {
    kvm_run* k = v->run;
    if (k->exit_reason == KVM_EXIT_IO && k->io.direction == KVM_EXIT_IO_OUT && k->io.port == KVM_SHIM_PORT &&
        k->io.size == 1 && k->io.count == 1) {
      v->why = kWhyShim;
      v->shimKind = reinterpret_cast<uint8_t*>(k)[k->io.data_offset];
      return true;
    }
    if (k->exit_reason == KVM_EXIT_IO && k->io.port == KVM_SYSCALL_PORT && k->io.size == 1 && DirectSyscalls()) {
      // Ring 3's one port (kvm_abi.h KVM_SYSCALL_PAGE): a syscall from the page, or the
      // guest's own `in`/`out` elsewhere (kvm_decode.cc tells them apart by rip).
      v->portOut = k->io.direction == KVM_EXIT_IO_OUT;
      if (!v->portOut) {
        // KVM finishes an `in` (its register write, rip past it) at the next KVM_RUN: done
        // now, before anything enters, so that the registers the Sentry gets are final.
        v->run->immediate_exit = 1;
        ioctl(v->fd, KVM_RUN, 0);
        v->run->immediate_exit = 0;
      }
      v->fromSync = v->syncRegs && v->portOut;
      if (v->fromSync) {
        v->kregs = v->run->s.regs.regs;
      } else if (ioctl(v->fd, KVM_GET_REGS, &v->kregs) < 0) {
        v->why = kWhyFatal;
        v->fatal = "KVM_GET_REGS failed";
        return true;
      }
      v->why = kWhyPort;
      return true;
    }
    char m[96];
    snprintf(m, sizeof m, "vCPU exit reason %u", k->exit_reason);
    v->why = kWhyFatal;
    v->fatal = m;
    return true;
  }
  if (e == EINTR || e == EFAULT) {
    kvm_sregs s;
    if (ioctl(v->fd, KVM_GET_SREGS, &s) < 0 || ioctl(v->fd, KVM_GET_REGS, &v->kregs) < 0) {
      v->why = kWhyFatal;
      v->fatal = "KVM_GET_REGS failed";
      return true;
    }
    bool ring3 = (s.cs.selector & 3) == 3;
    if (ring3 && e == EINTR && v->st.load() == kRun && !v->kicked.load() && v->shoot.load()) {
      // A shootdown (no kick of the Sentry's): through the shim's resume path, which
      // clears and invlpgs the PTEs queued meanwhile, back to where the guest was.
      if (!ApplyPending(v)) ReRegisterPlat(v->as);
      if (!EnterShim(v, v->kregs, &s)) {
        v->why = kWhyFatal;
        v->fatal = "cannot enter the shim for a TLB shootdown";
        return true;
      }
      v->shoot.store(0, std::memory_order_release);
      return false;
    }
    // A late signal of a shootdown or kick already served: nothing to report.
    if (ring3 && e == EINTR && v->st.load() == kRun && !v->kicked.load()) return false;
    if (!ring3) {
      if (e == EFAULT) {
        v->why = kWhyFatal;
        v->fatal = "the shim touched memory KVM cannot map";
        return true;
      }
      if (v->st.load() == kQuit) return true;
      // In the shim (entering or leaving ring 3): run on, and look again soon.
      itimerspec it = {{0, 0}, {0, 20000}};
      timer_settime(timer, 0, &it, nullptr);
      return false;
    }
    v->kicked.store(0);
    v->why = e == EINTR ? kWhyKick : kWhyFault;
    // KVM_EXIT_MEMORY_FAULT (39: not in this system's headers): the gpa, 8 bytes into the union at 32.
    v->faultGpa = 0;
    if (e == EFAULT && v->run->exit_reason == 39) memcpy(&v->faultGpa, reinterpret_cast<uint8_t*>(v->run) + 32 + 8, 8);
    return true;
  }
  v->why = kWhyFatal;
  v->fatal = std::string("KVM_RUN: ") + strerror(e);
  return true;
}

}  // namespace

void* VcpuMain(void* p) {
  Vcpu* v = static_cast<Vcpu*>(p);
  sigset_t all;
  sigfillset(&all);
  sigdelset(&all, kKickSig);
  pthread_sigmask(SIG_SETMASK, &all, nullptr);
  t_run = v->run;
  sigevent se = {};
  se.sigev_notify = SIGEV_THREAD_ID;
  se.sigev_signo = kKickSig;
  se._sigev_un._tid = (pid_t)syscall(SYS_gettid);
  timer_t timer;
  timer_create(CLOCK_MONOTONIC, &se, &timer);
  for (;;) {
    int s;
    for (int i = 0; (s = v->st.load(std::memory_order_acquire)) != kRun && s != kQuit; i++) {
      if (i < 2000) {
        __builtin_ia32_pause();
        continue;
      }
      v->sleeping.store(1, std::memory_order_seq_cst);
      if (v->st.load() == s) Futex(&v->st, FUTEX_WAIT_PRIVATE, s, nullptr);
      v->sleeping.store(0, std::memory_order_relaxed);
    }
    if (s == kQuit) break;
    while (!RunOnce(v, timer)) {
    }
    rusage ru;
    if (getrusage(RUSAGE_THREAD, &ru) == 0) {
      v->minflt.store((uint64_t)ru.ru_minflt, std::memory_order_relaxed);
      v->majflt.store((uint64_t)ru.ru_majflt, std::memory_order_relaxed);
      v->nvcsw.store((uint64_t)ru.ru_nvcsw, std::memory_order_relaxed);
      v->nivcsw.store((uint64_t)ru.ru_nivcsw, std::memory_order_relaxed);
    }
    Post(v);
  }
  timer_delete(timer);
  t_run = nullptr;
  return nullptr;
}

void SetState(Vcpu* v, int s) {
  v->st.store(s, std::memory_order_seq_cst);
  if (v->sleeping.load(std::memory_order_seq_cst)) Futex(&v->st, FUTEX_WAKE_PRIVATE, 1, nullptr);
}

// Lets stopped v run: its pending shim work first (a vCPU stopped outside the shim
// resumes in ring 3 directly: its work waits for its next pass through the shim).
void Go(Vcpu* v) {
  v->shoot.store(0);  // what a shootdown asked is in the state page now
  if (!ApplyPending(v)) ReRegisterPlat(v->as);
  v->run->immediate_exit = 0;
  SetState(v, kRun);
}

void StopThread(Vcpu* v) {
  if (!v->started) return;
  SetState(v, kQuit);
  pthread_kill(v->th, kKickSig);
  pthread_join(v->th, nullptr);
  v->started = false;
}

int InitRun(std::string* why) {
  if (!Ready(why)) return -ENODEV;
  if (g_bell < 0) {
    // glibc's malloc sizes its arena limit from get_nprocs() (/sys/devices/system/cpu/online,
    // /proc/stat) the first time a new thread needs an arena: a vCPU thread, after the
    // Sentry confined itself (those opens refused, and host paths named). The same limit,
    // set now while the files may be read (before confinement).
    mallopt(M_ARENA_MAX, 8 * get_nprocs());
    g_bell = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    struct sigaction sa = {};
    sa.sa_handler = OnKick;
    sigemptyset(&sa.sa_mask);
    sigaction(kKickSig, &sa, nullptr);
  }
  return g_bell < 0 ? -errno : 0;
}

void Kick(Vcpu* v) {
  if (v->st.load() != kRun || !v->started) return;
  v->kicked.store(1);
  pthread_kill(v->th, kKickSig);
}

void Shootdown(As* as) {
  if (!as->shoot) return;
  as->shoot = false;
  // Every running vCPU of as is signalled and, stopped in ring 3, re-enters through the
  // shim (RunOnce), which applies its queue; one in the shim re-arms its timer and is
  // taken in ring 3 a moment later, or exits (its resume applies the queue). Until each
  // has, the call that cleared the PTEs does not return: as Linux's munmap/mprotect.
  std::vector<Vcpu*> wait;
  for (Vcpu* v : as->vcpus) {
    if (!v || !v->started || v->st.load() != kRun) continue;
    v->shoot.store(1);
    if (v->st.load() != kRun) continue;  // stopped meanwhile: its resume applies the queue
    pthread_kill(v->th, kKickSig);
    wait.push_back(v);
  }
  for (Vcpu* v : wait)
    for (int i = 0; v->shoot.load(std::memory_order_acquire) && v->st.load(std::memory_order_acquire) == kRun; i++) {
      if (i < 1000) __builtin_ia32_pause();
      else sched_yield();
    }
}

}  // namespace kvm
}  // namespace tss
