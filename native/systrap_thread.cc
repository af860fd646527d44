// systrap: making address spaces and threads (the injector's clones, the shared memfd,
// a new thread's slot and entry), and freeing them.

#include "systrap_internal.h"

namespace tss {
namespace systrap {

// Clones traced thread `tid` (flags as clone(2)); the child is traced too (the stub's
// ptrace options) and returned stopped, or -errno.
long CloneFrom(pid_t tid, long flags, uint64_t ctid) {
  long a[6] = {flags, 0, 0, (long)ctid, 0, 0};
  pid_t child = 0;
  long r = InjectSyscall(tid, SYS_clone, a, &child);
  if (r < 0) return r;
  if (child == 0) child = (pid_t)r;
  return AwaitCloneStop(child);
}

// A traced thread's clone stops (ptrace's auto-attach) before it runs an instruction:
// waits for that stop. The child, or -errno.
long AwaitCloneStop(pid_t child) {
  for (;;) {
    int status;
    pid_t p = waitpid(child, &status, __WALL);
    if (p < 0 && errno == EINTR) continue;
    if (p < 0) return -errno;
    if (WIFSTOPPED(status)) return child;
    return -ESRCH;
  }
}

size_t MapSize() { return ST_REGION_SIZE + (PatchEnabled() ? ST_PATCH_SIZE : 0); }

void FreeAs(As* as) {
  for (Ctx* c : as->slots)
    if (c) Forget(c);
  munmap(as->map, MapSize());
  close(as->memfd);
  g_as.erase(as->leader);
  delete as;
}

// The shared region of a new address space (the leader is a fresh fork: whatever it
// inherited at ST_FRAMES_BASE, its parent's frames, is replaced; so is the patch
// window, by a copy of the parent's: the child's code holds the same patched sites).
// `at`: a private writable page of the fork's copy lent for the hand-over's msghdr (no
// guest thread runs in the copy yet), sparing the scratch page's two mprotects; or 0.
As* MakeAs(pid_t leader, long* err, const As* parent, uint64_t at, long* thread) {
  int fd = (int)syscall(SYS_memfd_create, "tss-systrap", MFD_CLOEXEC);
  PatchSites patch;
  if (fd < 0) {
    *err = -errno;
    return nullptr;
  }
  if (ftruncate(fd, (off_t)MapSize()) != 0) {
    *err = -errno;
    close(fd);
    return nullptr;
  }
  void* m = mmap(nullptr, MapSize(), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (m == MAP_FAILED) {
    *err = -errno;
    close(fd);
    return nullptr;
  }
  // A fork's window is there already (its parent's, inherited): replaced by its copy,
  // in the same hand-over of the memfd as the frames (one recvmsg, one close).
  if (PatchEnabled()) PatchInit(&patch, static_cast<uint8_t*>(m) + ST_REGION_SIZE, parent ? &parent->patch : nullptr);
  const long maps[2][5] = {
      {(long)ST_FRAMES_BASE, (long)ST_REGION_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, 0},
      {(long)ST_PATCH_BASE, (long)ST_PATCH_SIZE, PROT_READ | PROT_EXEC, MAP_SHARED | MAP_FIXED, (long)ST_REGION_SIZE}};
  const bool window = PatchEnabled() && patch.mapped;
  // With a lent page, one injection: the hand-over's calls and, with `thread`, the clone
  // of the first guest thread (slot 0 of the fresh region), stopped by ptrace at once.
  long calls[kBatchMax][7];
  int n = MapCalls(maps, window ? 2 : 1, calls);
  if (thread) {
    const long cl[7] = {SYS_clone, kThreadFlags, 0, 0,
                        (long)(ST_SLOTS_BASE + offsetof(st_frame, tidword)), 0, 0};
    memcpy(calls[n++], cl, sizeof cl);
  }
  // A fresh clone of the template (an exec's new image, a vfork child's exec) has no
  // guest page to lend and runs no guest code yet: its scratch page is made writable for
  // the hand-over's msghdr and table, and read-only again by the batch's last call (the
  // thread it clones stays stopped until StartThread, after that).
  const long ro[6] = {(long)ST_SCRATCH, 4096, PROT_READ, 0, 0, 0};
  bool scratch = false;
  if (at == 0 && !parent && thread && BatchEnabled()) {
    const long rw[6] = {(long)ST_SCRATCH, 4096, PROT_READ | PROT_WRITE, 0, 0, 0};
    if (InjectSyscall(leader, SYS_mprotect, rw, nullptr) == 0) {
      at = ST_SCRATCH;
      scratch = true;
      const long c[7] = {SYS_mprotect, ro[0], ro[1], ro[2], 0, 0, 0};
      memcpy(calls[n++], c, sizeof c);
    }
  }
  pid_t tid = 0;
  long r = BatchHandOver(leader, fd, at, calls, n, &tid);
  if (scratch && r < 0) InjectSyscall(leader, SYS_mprotect, ro, nullptr);  // the batch stopped short
  if (r == -ENOTSUP && scratch) at = 0;
  if (r == -ENOTSUP) {
    r = MmapHostFdManyIn(leader, fd, maps, window ? 2 : 1, at);
    if (window) r = r == (long)ST_PATCH_BASE ? (long)ST_FRAMES_BASE : r < 0 ? r : -EIO;
  } else if (r >= 0) {
    if (thread) *thread = tid > 0 ? AwaitCloneStop(tid) : -ESRCH;
    r = (long)ST_FRAMES_BASE;  // every call succeeded: MAP_FIXED at the given addresses
  }
  if (r != (long)ST_FRAMES_BASE) {
    *err = r < 0 ? r : -EIO;
    munmap(m, MapSize());
    close(fd);
    return nullptr;
  }
  As* as = new As{leader, fd, static_cast<uint8_t*>(m), std::vector<Ctx*>(ST_NSLOTS, nullptr), std::move(patch), 0};
  if (clock_getcpuclockid(leader, &as->cpuClock) != 0) as->cpuClock = -1;
  st_ctl* ctl = reinterpret_cast<st_ctl*>(as->map);
  ctl->patch = as->patch.window != nullptr;
  PatchXsaveLayout(&ctl->xmask, &ctl->xsize);
  reinterpret_cast<st_ctl*>(as->map)->spinCycles = (unsigned)g_stubSpin.budget;
  reinterpret_cast<st_ctl*>(as->map)->prof = prof::g.on;
  reinterpret_cast<st_ctl*>(as->map)->sentryCpu = g_sentryCpu;
  reinterpret_cast<st_ctl*>(as->map)->yieldCycles = (unsigned)(kYieldNs * 8 / 3);  // ~8000 cycles
  g_as[leader] = as;
  return as;
}

// Takes a posted frame: the Sentry's copy of the registers is made here, once.
void TakeFrame(Ctx* c, int* sigOut, uint8_t siOut[128]) {
  st_frame* f = c->f;
  if (prof::g.on) prof::OnTake(c->ps, f->stamp, prof::Tsc());
  __atomic_store_n(&f->state, ST_TAKEN, __ATOMIC_SEQ_CST);
  memcpy(&c->regs, const_cast<unsigned long*>(f->regs), sizeof c->regs);
  memcpy(siOut, f->siginfo, 128);
  *sigOut = (int)f->signo;
  c->regs.cs = 0x33;  // as the host kernel has them: the frame's copy is only informative
  c->regs.ss = 0x2b;
  c->regs.ds = c->regs.es = c->regs.fs = c->regs.gs = 0;
  c->fpLoaded = c->fpDirty = false;
  c->vsys = false;
  c->apart = g_sentryCpu == 0 || f->cpu != g_sentryCpu;
  g_peerApart = c->apart;
  if (prof::g.on) (c->apart ? prof::g.takesApart : prof::g.takesBeside)++;
  c->takenAt = prof::Tsc();
  StopRunning(c);
}

// The Sentry's copy of a stopped thread's FP state, from the kernel's image on the
// thread's signal stack (where the frame says it is: checked to lie inside the slot).
void LoadFp(Ctx* c) {
  if (c->fpLoaded) return;
  AwaitFirstPost(c);
  st_frame* f = c->f;
  uint64_t off = f->fpoff;
  uint32_t n = f->fpsize;
  if (n < 512 || n > kFpMax) n = 512;
  c->fpsize = n;
  if (off >= ST_FRAME_SIZE && off <= ST_SLOT_SIZE - n)
    memcpy(c->fp, reinterpret_cast<uint8_t*>(f) + off, n);
  else
    memset(c->fp, 0, n);  // no image (or a made-up offset): an empty state
  c->fpLoaded = true;
}

// A new guest thread in `as`, started at the stub's thread entry, untraced, with its
// signal stack and the guest-thread filter; returned stopped (its first trap taken).
long NewThreadIn(As* as, Ctx* from) {
  int slot = -1;
  for (int i = 0; i < ST_NSLOTS; i++) {
    // A slot is free once the Sentry let go of it and its old thread is gone (the
    // kernel clears tidword at the thread's exit, CLONE_CHILD_CLEARTID).
    if (!as->slots[i] && __atomic_load_n(&FrameOf(as, i)->tidword, __ATOMIC_ACQUIRE) == 0) {
      slot = i;
      break;
    }
  }
  if (slot < 0) return -EAGAIN;
  st_frame* f = FrameOf(as, slot);
  memset(static_cast<void*>(f), 0, offsetof(st_frame, fp));
  const int64_t t0 = prof::g.on ? NowNs() : 0;
  long tid = CloneFrom(as->leader, kThreadFlags, StubAddr(as, const_cast<unsigned int*>(&f->tidword)));
  if (tid < 0) return tid;
  if (prof::g.on) prof::g.forkPh[2] += (uint64_t)(NowNs() - t0);
  return StartThread(as, slot, tid, from);
}

// A guest thread just cloned (traced, stopped) into `slot` of `as`: pointed at the
// stub's thread entry, placed, detached and recorded; tid, or -errno (it is killed).
long StartThread(As* as, int slot, long tid, Ctx* from) {
  const int64_t t1 = prof::g.on ? NowNs() : 0;
  st_frame* f = FrameOf(as, slot);
  uint64_t slotStub = StubAddr(as, f);
  f->altstack[0] = slotStub + ST_FRAME_SIZE;
  f->altstack[1] = 0;
  f->altstack[2] = ST_SLOT_SIZE - ST_FRAME_SIZE;
  user_regs_struct r;
  int place = kAll;
  bool ok = syscall(SYS_ptrace, PTRACE_GETREGS, tid, 0, &r) == 0;
  if (ok) {
    // The entry sets its signal stack (rdi: this stack_t) and stacks the guest-thread
    // filter itself, then traps (stub.c st_thread_entry); no injection for either.
    r.rip = ST_THREAD_START;
    r.rdi = StubAddr(as, f->altstack);
    r.rsp = slotStub + ST_FRAME_SIZE;  // unused: the entry uses no stack
    r.orig_rax = (unsigned long)-1;
    ok = syscall(SYS_ptrace, PTRACE_SETREGS, tid, 0, &r) == 0;
    // Set once its injections are done: while it is traced the thread stays on the
    // Sentry's CPU (a ptrace stop across CPUs costs ~40 us here; on a busy machine, ms).
    if (g_haveAllCpus) {
      // Every CPU, except that a new address space's first thread keeps off the
      // Sentry's while the Sentry's spin pays (a CPU is free: spinning handoffs need
      // two); later threads (CPU-bound workers) and fork children get them all (a
      // child forced off the Sentry's CPU queues behind its parent, which holds the
      // other one: the host places it better). On a busy machine (the spin
      // off) the host places it: measured there, beside the Sentry with sleeping
      // handoffs beats a CPU of its own that other jobs share (fork+exec 6 vs 10 ms).
      cpu_set_t m = g_allCpus;
      int here = sched_getcpu();
      int mode = g_apartMode < 0 ? (g_sentrySpin.on && g_stubSpin.on ? kOff : kAll) : g_apartMode;
      if (!from && CPU_COUNT(&m) > 1 && here >= 0) {
        if (mode == kOff) {
          CPU_CLR(here, &m);
          place = kOff;
        } else if (mode == kBeside) {
          CPU_ZERO(&m);
          CPU_SET(here, &m);
          place = kBeside;
        }
      }
      sched_setaffinity((pid_t)tid, sizeof m, &m);
    }
    ok = ok && syscall(SYS_ptrace, PTRACE_DETACH, tid, 0, 0) == 0;
  }
  if (!ok) {
    syscall(SYS_tgkill, as->leader, tid, SIGKILL);
    return -EAGAIN;
  }
  if (prof::g.on) prof::g.forkPh[3] += (uint64_t)(NowNs() - t1);
  // Not waited for here: the thread reaches its first trap when the host schedules it
  // (on a busy machine, milliseconds), meanwhile the Sentry goes on; its first resume is
  // carried out at that trap (ScanPosted), calls that need its frame wait for it.
  Ctx* c = new Ctx();
  c->tid = (pid_t)tid;
  c->as = as;
  c->slot = slot;
  c->f = f;
  c->running = false;
  c->starting = true;
  c->kickPending = c->doomed = false;
  c->place = place;
  if (prof::g.on) fprintf(stderr, "systrap: thread %ld starts %s\n", tid, place == kAll ? "all" : place == kOff ? "off" : "beside");
  c->apart = true;
  c->asleep = c->quick = c->slow = c->backoff = 0;
  c->busyAt = c->busyCpu = 0;
  c->resumedAt = c->takenAt = 0;
  c->startDeadline = NowNs() + kStartNs;
  c->regs = r;  // the stub's entry: the Sentry sets the thread's own registers
  c->regs.cs = 0x33;
  c->regs.ss = 0x2b;
  c->regs.ds = c->regs.es = c->regs.fs = c->regs.gs = 0;
  c->regs.orig_rax = (unsigned long)-1;
  c->fpLoaded = c->fpDirty = false;
  c->vsys = false;
  as->slots[slot] = c;
  g_ctx[c->tid] = c;
  if (from) {
    // A thread or fork child starts with its creator's FP/vector state, as on Linux.
    LoadFp(from);
    memcpy(c->fp, from->fp, from->fpsize);
    c->fpsize = from->fpsize;
    c->fpLoaded = c->fpDirty = true;
  }
  return tid;
}

}  // namespace systrap
}  // namespace tss
