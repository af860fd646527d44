/**
 * The Sentry's run loop: waits for the next platform event, serves syscalls through
 * the table, parks and wakes tasks, delivers signals. Synchronous on purpose: the hot
 * path is one native call per guest syscall (resume with the result and wait for the
 * next stop), and the loop never yields to libuv while guests run.
 */
import type { Platform } from '../platform/platform';
import { capUse } from '../auth/capabilities';
import { EventKind, Reg } from '../platform/event-buffer';
import { native } from '../platform/native';
import { KICK_SIGNAL } from '../platform/platform';
import { BLOCK, KEEP_REGS, NO_RESUME, type SyscallTable } from './syscall-dispatch';
import { ENOSYS, ERESTARTNOINTR, ERESTARTSYS, ERESTART_RESTARTBLOCK, EFAULT, EINTR } from '../abi/errno';
import type { Kernel } from './kernel';
import { hostPoller } from '../waiter/host-poller';
import { Task, TaskState } from './task';
import type { ThreadGroup } from './thread-group';
import { deliverPending, hasDeliverable, forceFault, onHostSignals, sendToGroup, sendToTask } from './signal-delivery';
import { reapHostExit } from './process-lifecycle';
import { setOwnerLookup } from './futex';
import { seccompCheck } from './seccomp/filter';
import { tracesSyscalls } from './ptrace';
import { ptraceSyscallEnter, ptraceSyscallExit } from './ptrace-stops';
import { syscallProfileFromEnv, type SyscallProfile } from './syscall-profile';

export interface SyscallTracer {
  enter(t: Task): void;
  /** The call parks the task (printed once, like strace's "<unfinished ...>"). */
  block(t: Task): void;
  exit(t: Task, result: number): void;
}

/** Timer rounds one pass of the run loop may fire (fireDeadlines). */
const ROUNDS = 8;
/** The longest the loop goes on after init exited for kernel.lingerers (Linux's orphans may take longer: a bound of ours). */
const LINGER_MAX_MS = 60_000;
/** A lingering loop's longest sleep when the platform has no guest left to wait for. */
const LINGER_NAP_MS = 20;
const napCell = new Int32Array(new SharedArrayBuffer(4));

export class Sentry {
  /** Guest task by host thread id. */
  readonly byHost = new Map<number, Task>();
  /** Woken tasks whose syscall handler must run again. */
  private readonly ready: Task[] = [];
  /** Blocked tasks with a finite deadline. */
  private readonly sleepers = new Set<Task>();
  /** A resume folded into the next wait (the hot path). */
  private pendingCtx = 0;
  private pendingResult = 0;
  /** The sandbox's first process; its exit ends the sandbox. */
  init: ThreadGroup | null = null;
  /** Wait status of init once it exited. */
  initStatus: number | null = null;
  tracer: SyscallTracer | null = null;
  private readonly reportedUnsupported = new Set<number>();
  /** Periodic/one-shot Sentry timers (itimers, POSIX timers): next deadline in ns, and firing. */
  timerSource: { nextDeadline(): number; fire(nowNs: number): void } | null = null;
  // ---- checkpoint support (src/snapshot): stopping the world without losing a result ----
  /** While set, a kicked task stays stopped in the Sentry and a finished syscall's result is kept in heldResults. */
  holdKicks = false;
  /** Results of syscalls that finished while holdKicks was set, by task (the task is still at its syscall stop). */
  readonly heldResults = new Map<Task, number>();
  /** Called at the top of every loop turn (the checkpoint, once every task has stopped). */
  loopHook: (() => void) | null = null;
  /** Sees host signals before they are forwarded; returns the ones still to forward. */
  hostSignalFilter: ((mask: number) => number) | null = null;
  /** TSSANDBOX_SYSCALL_PROFILE=1: time per syscall, Sentry against platform (syscall-profile.ts); else null. */
  private readonly profile: SyscallProfile | null;
  /** Woken tasks not yet re-run (a stopped world has none). */
  get readyCount(): number {
    return this.ready.length;
  }
  /** Moves the deferred resume (the hot path's) into heldResults: that task stays stopped. */
  holdPendingResume(): void {
    if (!this.pendingCtx) return;
    const t = this.byHost.get(this.pendingCtx);
    if (t) this.heldResults.set(t, this.pendingResult);
    this.pendingCtx = 0;
  }
  /** Ends the loop as if init had exited with this wait status (the sandbox was saved). */
  finish(status: number): void {
    this.initStatus = status;
    this.lingerEnd = -1; // saved: nothing is left to finish here
  }
  /** After init exited: when lingering stops (performance.now() ms; 0: not started, -1: no lingering). */
  private lingerEnd = 0;

  /** Whether the loop goes on after init's exit: a lingerer still has work, within LINGER_MAX_MS. */
  private lingers(): boolean {
    const ls = this.kernel.lingerers;
    if (this.lingerEnd < 0 || ls.length === 0) return false;
    const now = performance.now();
    if (this.lingerEnd === 0) {
      let busy = false;
      for (const f of ls) if (f()) busy = true;
      if (!busy) {
        this.lingerEnd = -1;
        return false;
      }
      this.lingerEnd = now + LINGER_MAX_MS;
      // The guests left go as when a pid namespace's init dies (else the Sentry's end
      // killed them): none runs on while the connections finish; their sockets close too.
      for (const g of this.kernel.threadGroups.values()) if (g !== this.init && !g.zombie) sendToGroup(this, g, { signo: 9, code: 0x80 });
      return true;
    }
    if (now >= this.lingerEnd) return false;
    for (const f of ls) if (f()) return true;
    this.lingerEnd = -1;
    return false;
  }

  /** A SIGSEGV the Sentry may answer itself (deterministic mode: trapped CPUID/RDTSC); true: handled, registers set. */
  faultHook: ((t: Task) => boolean) | null = null;
  /** Bound once: the wake callback every Task gets. */
  readonly wake = (t: Task, timedOut: boolean): void => this.wakeTask(t, timedOut);

  /** The syscall table registers itself here (syscalls/table.ts is above the kernel). */
  constructor(
    readonly kernel: Kernel,
    readonly platform: Platform,
    private readonly table: SyscallTable,
  ) {
    kernel.sentry = this;
    Task.signalSelfHook = (t, sig) => sendToTask(this, t, { signo: sig, code: 0, pid: t.tg.pid, uid: t.creds.uid });
    setOwnerLookup((tid) => this.kernel.tasks.has(tid));
    this.profile = syscallProfileFromEnv((nr) => table.name(nr));
  }

  // ---- the loop ----

  /** Runs until init exits; returns init's wait status. */
  run(): number {
    const p = this.platform;
    const prof = this.profile;
    for (;;) {
      if (this.loopHook !== null) this.loopHook();
      if (this.initStatus !== null && !this.lingers()) {
        this.flushResume();
        return this.initStatus;
      }
      if (this.ready.length) {
        this.runReady();
        continue;
      }
      const timeout = this.fireDeadlines();
      if (this.ready.length) continue;
      let kind: number;
      const hp = hostPoller;
      if (prof !== null) prof.beforeWait();
      if (this.pendingCtx && hp.empty) {
        // A deadline (a sleeper, a timer, a CI limit's sampler) bounds the wait: still one call.
        const ctx = this.pendingCtx;
        this.pendingCtx = 0;
        const t = this.byHost.get(ctx);
        if (t) t.inSentry = false;
        kind = p.resumeSyscallAndWait(ctx, this.pendingResult, timeout);
      } else {
        this.flushResume();
        if (hp.empty) kind = p.wait(timeout, null, null, null, 0);
        else {
          const ps = hp.pollSet();
          kind = p.wait(timeout, ps.fds, ps.events, ps.revents, ps.count);
        }
      }
      if (kind < 0 && this.initStatus !== null) {
        // Lingering with no guest left (ptrace's wait says ECHILD at once): sleep instead.
        if (prof !== null) prof.afterWait();
        Atomics.wait(napCell, 0, 0, timeout < 0 || timeout > LINGER_NAP_MS ? LINGER_NAP_MS : timeout);
        continue;
      }
      if (prof !== null) {
        prof.afterWait();
        const nr = kind === EventKind.Syscall ? p.ev.args[6] : -1;
        this.dispatch(kind);
        prof.served(nr);
        continue;
      }
      this.dispatch(kind);
    }
  }

  private flushResume(): void {
    if (!this.pendingCtx) return;
    const ctx = this.pendingCtx;
    this.pendingCtx = 0;
    const t = this.byHost.get(ctx);
    if (t) t.inSentry = false;
    this.platform.resumeSyscall(ctx, this.pendingResult);
  }

  private dispatch(kind: number): void {
    const ev = this.platform.ev;
    switch (kind) {
      case EventKind.Syscall: {
        const t = this.byHost.get(ev.tid);
        if (!t) {
          this.platform.resumeSyscall(ev.tid, -ENOSYS);
          return;
        }
        this.onSyscall(t);
        return;
      }
      case EventKind.Signal: {
        const t = this.byHost.get(ev.tid);
        if (!t) {
          this.platform.resume(ev.tid);
          return;
        }
        t.inSentry = true;
        t.kicked = false;
        const signo = ev.info[2];
        if (this.kernel.debug) this.kernel.log(`tid ${t.tid}: host signal ${signo} (code ${ev.siginfo[8]}) at rip 0x${ev.regs[Reg.RIP].toString(16)}`);
        if (signo === KICK_SIGNAL || signo === 19 /* SIGSTOP */) {
          if (t.doomed) return this.finishDoomed(t);
          if (this.holdKicks && signo === KICK_SIGNAL) return; // checkpoint: stays stopped here
          this.resumeWithSignals(t);
        } else if (signo === 11 && this.faultHook !== null && this.faultHook(t)) {
          this.resumeWithSignals(t);
        } else {
          forceFault(this, t, signo, Buffer.from(ev.siginfo));
        }
        return;
      }
      case EventKind.Exit:
        reapHostExit(this, ev.tid, ev.info[4]);
        return;
      case EventKind.GroupStop:
      case EventKind.PtraceEvent:
        this.platform.resume(ev.tid);
        return;
      case EventKind.HostSignal: {
        let mask = native().takeHostSignals();
        if (this.hostSignalFilter !== null) mask = this.hostSignalFilter(mask);
        onHostSignals(this, mask);
        return;
      }
      case EventKind.Poll:
        hostPoller.dispatch();
        return;
      case EventKind.Timeout:
        return;
      default:
        if (kind < 0) throw new Error(`platform wait failed: errno ${-kind}`);
    }
  }

  // ---- syscalls ----

  private onSyscall(t: Task): void {
    const ev = this.platform.ev;
    t.inSentry = true;
    t.kicked = false;
    if (t.doomed) return this.finishDoomed(t);
    t.sysno = ev.args[6];
    t.args.set(ev.args6);
    t.saveRegs(ev.regs);
    t.intrResult = -ERESTARTSYS;
    t.onInterrupt = null;
    t.syscallOverride = null;
    t.resumed = false;
    t.timedOut = false;
    t.sysStartNs = this.tracer ? this.kernel.nowNs() : 0;
    if (t.state === TaskState.Stopped) {
      // Its group stopped while it ran (the kick had not landed yet): on Linux the stop
      // comes first, so the call is made only after SIGCONT, as a restart.
      t.held = { result: -ERESTARTNOINTR };
      return;
    }
    if (t.ptrace !== null && tracesSyscalls(t)) return ptraceSyscallEnter(this, t);
    this.startSyscall(t);
  }

  /** After any syscall-entry stop: the strace line, seccomp, then the handler. */
  startSyscall(t: Task): void {
    if (this.tracer) this.tracer.enter(t);
    if (t.seccomp !== null) {
      const r = seccompCheck(this, t);
      if (r !== null) return this.complete(t, r);
    }
    const h = this.kernel.hooks;
    if (h !== null) {
      const d = h.syscall(t, t.sysno);
      if (d !== 0) return this.complete(t, d);
    }
    const m = this.kernel.memAcct; // --memory: a sample every Nth syscall (src/kernel/memory-account.ts)
    if (m !== null) {
      if (--m.countdown <= 0) m.everyNth();
      // Charged over a group's memory.high since: the penalty sleep comes first (memory-pressure.ts).
      if (m.overHighPages.size > 0) m.payOverHigh(t);
    }
    this.invoke(t);
  }

  private invoke(t: Task): void {
    const nr = t.sysno;
    const e = nr >= 0 ? this.table.entries[nr] : undefined;
    const a = t.args;
    let r: number;
    if (t.syscallOverride !== null) {
      r = t.syscallOverride();
    } else if (e && e.fn) {
      try {
        capUse.used = false;
        r = e.fn(t, a[0], a[1], a[2], a[3], a[4], a[5]);
        if (capUse.used) t.tg.superPriv = true;
      } catch (err) {
        // A handler bug must not take the sandbox down: log it, fail the call.
        this.kernel.log(`BUG: ${e.name} threw: ${(err as Error)?.stack ?? err}`);
        process.stderr.write(`tssandbox: internal error in ${e.name}: ${(err as Error)?.message ?? err}\n`);
        r = -EFAULT;
      }
    } else {
      if (!this.reportedUnsupported.has(nr)) {
        this.reportedUnsupported.add(nr);
        this.kernel.log(`unsupported syscall ${this.table.name(nr)} (${nr})`);
      }
      r = -ENOSYS;
    }
    this.complete(t, r);
  }

  /** The table's handler for the call t is in (a USER_NOTIF supervisor said CONTINUE). */
  runHandler(t: Task): number {
    const e = t.sysno >= 0 ? this.table.entries[t.sysno] : undefined;
    const a = t.args;
    return e?.fn ? e.fn(t, a[0], a[1], a[2], a[3], a[4], a[5]) : -ENOSYS;
  }

  /** Finishes a syscall: park, or resume with the result (delivering signals first). */
  complete(t: Task, r: number): void {
    if (r === BLOCK && t.interrupting && !hasDeliverable(t)) {
      // The signal that cut the wait short was taken meanwhile (another thread, a
      // sigwait): Linux restarts the call, i.e. it goes on waiting.
      t.interrupting = false;
    }
    if (r === BLOCK && t.interrupting) {
      // Re-run after a signal and still nothing to return: the signal wins.
      t.clearWaits();
      r = t.intrResult;
    } else if (r === BLOCK) {
      if (t.state !== TaskState.Blocked) return; // already woken during the handler
      if (this.tracer && !t.resumed) this.tracer.block(t);
      if (t.deadline !== Infinity) this.sleepers.add(t);
      if (hasDeliverable(t)) this.interrupt(t);
      return;
    }
    t.interrupting = false;
    if (this.tracer) this.tracer.exit(t, r);
    t.sysState = undefined;
    if (r === NO_RESUME) return;
    if (t.ptrace !== null && (t.ptrace.pendingEvent !== null || tracesSyscalls(t))) return ptraceSyscallExit(this, t, r);
    this.finishSyscall(t, r);
  }

  /** Resumes t after its syscall returned r (after any ptrace exit stop): signals, job control, the result. */
  finishSyscall(t: Task, r: number): void {
    if (t.stopWhenDone) {
      t.stopWhenDone = false;
      t.state = TaskState.Stopped;
    } else if (t.state !== TaskState.Stopped) {
      t.state = TaskState.Running;
    }
    if (r === KEEP_REGS) {
      if (hasDeliverable(t)) {
        if (this.platform.getRegs(t.hostTid) === 0) deliverPending(this, t, null);
      } else {
        this.resumeNow(t);
      }
      return;
    }
    if (hasDeliverable(t)) {
      this.flushResume();
      if (this.platform.getRegs(t.hostTid) === 0) {
        this.platform.ev.setReg(Reg.RAX, r);
        deliverPending(this, t, r);
      }
      return;
    }
    if (t.state === TaskState.Stopped) {
      // Job-control stop: the result waits with the task until SIGCONT (a restart code
      // restarts the call then, as Linux's does after the stop).
      t.held = { result: r };
      return;
    }
    // The one place a result goes back to the guest without a signal to settle it: an
    // internal restart code must not escape (it would read as errno 512..516).
    if (r <= -ERESTARTSYS && r >= -ERESTART_RESTARTBLOCK) r = this.escapedRestart(t, r);
    if (this.holdKicks) {
      this.heldResults.set(t, r); // checkpoint: stopped at its syscall's exit
      return;
    }
    this.flushResume();
    this.pendingCtx = t.hostTid;
    this.pendingResult = r;
  }

  /** A restart code with no signal left to act on it: EINTR, logged (a Sentry bug or a lost race). */
  private escapedRestart(t: Task, r: number): number {
    if (this.kernel.debug) this.kernel.log(`tid ${t.tid}: ${this.table.name(t.sysno)} returned internal errno ${-r} with no signal pending; EINTR`);
    return -EINTR;
  }

  /** Resumes a stopped task whose registers are already set (held back while job-control stopped). */
  resumeNow(t: Task): void {
    if (t.state === TaskState.Stopped) {
      t.held = { result: null };
      return;
    }
    t.inSentry = false;
    this.platform.resume(t.hostTid);
  }

  /**
   * SIGCONT: a job-control-stopped task goes on from where it was held, first taking
   * the signals queued while it was stopped (as Linux delivers them at once).
   */
  continueTask(t: Task): void {
    const held = t.held;
    t.held = null;
    if (!held) return;
    const restart = held.result !== null && held.result <= -ERESTARTSYS && held.result >= -ERESTART_RESTARTBLOCK;
    if ((restart || hasDeliverable(t)) && this.platform.getRegs(t.hostTid) === 0) {
      // deliverPending settles a restart code (restart, or EINTR for a handler) and resumes.
      if (held.result !== null) this.platform.ev.setReg(Reg.RAX, held.result);
      deliverPending(this, t, held.result);
      return;
    }
    t.inSentry = false;
    if (held.result !== null) this.platform.resumeSyscall(t.hostTid, held.result);
    else this.platform.resume(t.hostTid);
  }

  /** After a kick or a stop outside a syscall: deliver what is pending and go on. */
  resumeWithSignals(t: Task): void {
    if (hasDeliverable(t) && this.platform.getRegs(t.hostTid) === 0) deliverPending(this, t, null);
    else if (t.state !== TaskState.Dead) this.resumeNow(t);
  }

  private runReady(): void {
    const list = this.ready.splice(0);
    for (const t of list) {
      if (t.state !== TaskState.Blocked || !t.wokenPending) continue;
      t.wokenPending = false;
      t.state = TaskState.Running; // complete() applies a stop that came meanwhile
      t.resumed = true;
      this.invoke(t);
    }
  }

  private wakeTask(t: Task, timedOut: boolean): void {
    if (t.state !== TaskState.Blocked || t.wokenPending) return;
    t.clearWaits();
    this.sleepers.delete(t);
    t.timedOut = timedOut;
    t.wokenPending = true;
    this.ready.push(t);
  }

  /**
   * Cuts a blocked syscall short for a signal. As in Linux's wait loops, the handler
   * first runs once more (the awaited event may have come with the signal, e.g. a
   * child's exit with its SIGCHLD); only if it would block again does the call end
   * with t.intrResult (EINTR or a restart, decided at delivery). Deferred to the loop,
   * so a sender's handler never runs another task's handler re-entrantly.
   */
  interrupt(t: Task): void {
    if (t.state !== TaskState.Blocked || t.uninterruptible) return;
    t.clearWaits();
    this.sleepers.delete(t);
    if (t.onInterrupt && t.onInterrupt() === true) {
      // The handler takes the signal itself (rt_sigtimedwait): just run it again.
      if (!t.wokenPending) {
        t.wokenPending = true;
        this.ready.push(t);
      }
      return;
    }
    t.interrupting = true;
    if (!t.wokenPending) {
      t.wokenPending = true;
      this.ready.push(t);
    }
  }

  /** Wakes sleepers whose deadline passed; returns ms until the next one (-1: none). */
  private fireDeadlines(): number {
    let next = Infinity;
    const ts = this.timerSource;
    if (this.sleepers.size === 0 && !ts) return -1;
    const now = this.kernel.nowNs();
    for (const t of this.sleepers) {
      if (t.deadline <= now) this.wakeTask(t, true);
      else if (t.deadline < next) next = t.deadline;
    }
    let after = now;
    if (ts) {
      let d = ts.nextDeadline();
      // Timers armed while firing for "the next round" (a stack's queued frames) are due
      // at once: a few rounds run here, else every loopback hop waited a millisecond.
      for (let round = 0; round < ROUNDS && d <= after; round++) {
        ts.fire(after);
        d = ts.nextDeadline();
        after = this.kernel.nowNs();
      }
      if (d < next) next = d;
    }
    if (this.ready.length) return 0;
    if (next === Infinity) return -1;
    return Math.max(0, Math.ceil((next - after) / 1e6));
  }

  /** Whether a blocked task waits for a deadline or a timer is armed (deterministic mode's preemption asks). */
  hasDeadlines(): boolean {
    return this.sleepers.size > 0 || (this.timerSource !== null && this.timerSource.nextDeadline() < Infinity);
  }

  // ---- task bookkeeping ----

  register(t: Task): void {
    this.kernel.tasks.set(t.tid, t);
    this.byHost.set(t.hostTid, t);
    t.tg.tasks.add(t);
  }

  /** A context the task cannot use right now (running elsewhere): stop it at its next trap. */
  kick(t: Task): void {
    if (t.inSentry || t.kicked || t.state === TaskState.Dead) return;
    t.kicked = true;
    this.platform.kick(t.mm.asPid, t.hostTid);
  }

  /** Called when a task marked doomed (its group is exiting) stops: end its thread. */
  private finishDoomed(t: Task): void {
    this.byHost.delete(t.hostTid);
    this.platform.exitThread(t.hostTid);
  }

  unsupportedSeen(): number[] {
    return [...this.reportedUnsupported];
  }
}
