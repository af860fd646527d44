// systrap: the Sentry's wait for the next event: reaping injectors, scanning the running
// threads' frames, kicks, starting and vanished threads, spin then poll.

#include "systrap_internal.h"

namespace tss {
namespace systrap {

// Injector exits: the whole stub process is gone; each of its guest threads exits with it.
bool ReapInjectors() {
  for (;;) {
    int status;
    pid_t p = waitpid(-StubPgid(), &status, __WALL | WNOHANG);
    if (p <= 0) return !g_exits.empty();
    if (!WIFEXITED(status) && !WIFSIGNALED(status)) continue;  // a stray stop: it stays stopped
    auto it = g_as.find(p);
    if (it == g_as.end()) continue;
    for (Ctx* c : it->second->slots)
      if (c) g_exits.emplace_back(c->tid, status);
    FreeAs(it->second);
  }
}

int ReportExit() { return ReportQueuedExit(g_exits); }

Ctx* ScanPosted() {
  for (Ctx* c : g_running) {
    if (__atomic_load_n(&c->f->state, __ATOMIC_ACQUIRE) != ST_POSTED) continue;
    if (!c->starting) return c;
    // A new thread's first trap: the resume the Sentry asked for while it started,
    // or the kick it sent meanwhile.
    TakeFirstPost(c);
    if (c->kickPending) {
      c->kickPending = false;
      g_kicks.push_back(c);
      continue;
    }
    WriteBack(c);
  }
  return nullptr;
}

// A kick event for stopped c, registers as the Sentry holds them.
int ReportKick() {
  Ctx* c = g_kicks.front();
  g_kicks.erase(g_kicks.begin());
  StopRunning(c);
  int32_t* inf = EventFor(c);
  memset(EventBuffer() + kSiginfoOff, 0, 128);
  reinterpret_cast<int32_t*>(EventBuffer() + kSiginfoOff)[0] = SIGURG;
  inf[kInfoSigno] = SIGURG;
  inf[kInfoKind] = kEvSignal;
  return kEvSignal;
}

// New threads that never reach their first trap (kStartNs) take their process down; the
// injector's exit then reports every thread of it.
bool CheckStarting() {
  int64_t now = 0;
  bool any = false;
  for (Ctx* c : g_running) {
    if (!c->starting) continue;
    any = true;
    if (!now) now = NowNs();
    // Its process (the thread may be gone already: its entry exits if a call fails).
    if (now > c->startDeadline) kill(c->as->leader, SIGKILL);
  }
  return any;
}

// A guest thread the Sentry lets run whose host thread is gone: nothing the Sentry did
// ends a host thread without its knowing (ExitThread forgets the thread first, a stub's
// death is its injector's exit), so the guest did it through its own frames (forging
// the exit command into a sibling's frame). The Sentry would wait for that thread
// forever and the process could never end by itself: its address space is killed
// instead, and reaped here at once (an injection the Sentry made meanwhile would
// otherwise reap the injector's exit unseen), every thread reported as exited.
// Checked at most every kVanishNs; the tid is the Sentry's own, never a frame's word.
constexpr int64_t kVanishNs = 100000000;
int64_t g_vanishCheckedAt = 0;
void CheckVanished() {
  if (g_running.empty()) return;
  int64_t now = NowNs();
  if (now - g_vanishCheckedAt < kVanishNs) return;
  g_vanishCheckedAt = now;
  std::vector<As*> dead;
  for (Ctx* c : g_running) {
    if (c->starting) continue;  // CheckStarting's bound covers those
    if (syscall(SYS_tgkill, c->as->leader, c->tid, 0) != 0 && errno == ESRCH &&
        std::find(dead.begin(), dead.end(), c->as) == dead.end())
      dead.push_back(c->as);
  }
  for (As* as : dead) {
    kill(as->leader, SIGKILL);
    int status = SIGKILL;  // as reported if its exit was reaped elsewhere already
    for (;;) {
      int st;
      pid_t p = waitpid(as->leader, &st, __WALL);
      if (p < 0 && errno == EINTR) continue;
      if (p < 0) break;
      if (WIFEXITED(st) || WIFSIGNALED(st)) {
        status = st;
        break;
      }
    }
    for (Ctx* c : as->slots)
      if (c) g_exits.emplace_back(c->tid, status);
    FreeAs(as);
  }
}

void SetSleeping(unsigned v) {
  for (auto& kv : g_as) __atomic_store_n(&reinterpret_cast<st_ctl*>(kv.second->map)->sleeping, v, __ATOMIC_SEQ_CST);
}

// Spins on the running threads' frames for a while (a handoff then costs ~0.1 us),
// then sleeps in poll on the doorbell, the self-pipe (host signals, SIGCHLD of a dying
// stub) and the caller's host fds.

int WaitEvent(int timeoutMs, const int32_t* fds, const int32_t* events, int32_t* revents, int count) {
  if (g_synthSegv) {
    Ctx* c = g_synthSegv;
    g_synthSegv = nullptr;
    return ReportSegv(c);
  }
  if (!g_exits.empty()) return ReportExit();
  if (!g_kicks.empty()) return ReportKick();
  ChargePendingStop();
  SetSigchldWakeups(true);
  int64_t start = NowNs();
  int64_t spin = g_running.empty() || count > 0 || !g_peerApart ? 0 : g_sentrySpin.Next();
  int64_t deadline = timeoutMs < 0 ? INT64_MAX : start + (int64_t)timeoutMs * 1000000;
  if (count > 256) count = 256;
  struct pollfd p[258];
  for (;;) {
    for (unsigned it = 0;; it++) {
      if (PendingHostSignals()) {
        Info()[kInfoKind] = kEvHostSignal;
        return kEvHostSignal;
      }
      if (Ctx* c = ScanPosted()) {
        if (spin > 0) g_sentrySpin.Hit();
        if (prof::g.on) prof::g.spinTakes++;
        return Decode(c);
      }
      if (!g_kicks.empty()) return ReportKick();
      if ((it & 255) == 0) {
        CheckStarting();
        CheckBusyBeside();
        CheckVanished();
        if (ReapInjectors() || !g_exits.empty()) return ReportExit();
      }
      if (spin == 0 || deadline == start) break;
      int64_t spun = NowNs() - start;
      if (spun > spin) {
        g_sentrySpin.Miss();
        spin = 0;
        break;
      }
      // Past the first microseconds, yield: a stub thread on this CPU gets to run.
      if (spun > kYieldNs) sched_yield();
      else __builtin_ia32_pause();
    }
    SetSleeping(1);
    Ctx* c = ScanPosted();
    if (c || !g_kicks.empty() || PendingHostSignals() || ReapInjectors()) {
      SetSleeping(0);
      if (c) return Decode(c);
      continue;
    }
    int wait = FillWaitSet(p, g_doorbell, fds, events, count, deadline);
    if (CheckStarting() && (wait < 0 || wait > 100)) wait = 100;  // their kStartNs bound
    if (!g_running.empty() && (wait < 0 || wait > 100)) wait = 100;  // CheckVanished's period
    if (CheckBusyBeside() && (wait < 0 || wait > 2)) wait = 2;
    if (prof::g.on) prof::g.polls++;
    int n = poll(p, count + 2, wait);
    int e = errno;
    SetSleeping(0);
    int ev;
    if (AfterWaitSet(p, n, e, g_doorbell, revents, count, deadline, &ev)) return ev;
    start = NowNs();
  }
}

}  // namespace systrap
}  // namespace tss
