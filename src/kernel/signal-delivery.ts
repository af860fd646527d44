/**
 * Sending and delivering guest signals: choosing the thread, waking or kicking it,
 * and at the next return to the guest either running the default action or building
 * a handler frame, with Linux's syscall-restart rules.
 */
import { Reg } from '../platform/event-buffer';
import { ERESTARTNOHAND, ERESTARTNOINTR, ERESTARTSYS, ERESTART_RESTARTBLOCK, EINTR } from '../abi/errno';
import type { Sentry } from './sentry';
import type { Task } from './task';
import { TaskState } from './task';
import type { ThreadGroup } from './thread-group';
import {
  type SigInfo, DefaultAction, defaultAction, encodeSigInfo, enqueue, nextDeliverable, sigbit,
  SA_NODEFER, SA_RESETHAND, SA_RESTART, SIG_DFL, SIG_IGN, SIGCONT, SIGKILL, SIGSEGV, SIGSTOP,
  SI_KERNEL, SIGINT, SIGQUIT, SIGTSTP, SIGWINCH, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2, UNBLOCKABLE,
} from './signals';
import { exitGroup, stopGroup, continueGroup } from './process-lifecycle';
import { pushSignalFrame } from './signal-frame';
import { signalEvents } from './signalfd';
import { limitsOf, RLIMIT_CORE } from './limits';
import { stopsThroughDelivery } from './ptrace';
import { ptraceSignalStop } from './ptrace-stops';
import { interruptStop, ptraceExitStop, ptraceGroupStop } from './ptrace-seize';
import { anyPidNs } from './namespaces/pid-ns';
import { seenSigInfo } from './namespaces/pid-view';

function pendingFor(t: Task): boolean {
  return nextDeliverable(t.sig.pending, t.sig.mask) >= 0 || nextDeliverable(t.tg.sharedPending, t.sig.mask) >= 0;
}

/** True when t has a signal it would act on now. */
export function hasDeliverable(t: Task): boolean {
  if (t.sig.pending.length === 0 && t.tg.sharedPending.length === 0) return false;
  return pendingFor(t);
}

/**
 * Init's protection (Linux's SIGNAL_UNKILLABLE in sig_task_ignored): the sandbox's pid 1
 * gets no signal from inside its pid namespace that it has no handler for, SIGKILL and
 * SIGSTOP included; only the kernel's own SIGKILL/SIGSTOP (si_code SI_KERNEL, e.g.
 * RLIMIT_CPU's hard limit) still act. `si.force` signals act regardless: the host's
 * SIGTERM/SIGINT forwarded by onHostSignals (from outside: they end the sandbox as a
 * terminal's would) and synchronous faults.
 */
function initIgnores(s: Sentry, tg: ThreadGroup, si: SigInfo, only?: Task): boolean {
  if (tg !== s.init || si.force) return false;
  if (tg.handlers.actions[si.signo].handler !== SIG_DFL) return false;
  const kernelOnly = si.signo === SIGKILL || si.signo === SIGSTOP;
  if (kernelOnly) return si.code !== SI_KERNEL;
  // A blocked signal is never ignored at send time (sig_ignored): it is queued, and
  // dropped at delivery if init still has no handler then.
  const bit = sigbit(si.signo);
  for (const t of only ? [only] : tg.tasks) if (t.sig.blocks(bit)) return false;
  return true;
}

/** Queues a signal for one thread (tkill, faults) and makes sure it notices. */
export function sendToTask(s: Sentry, t: Task, si: SigInfo): void {
  if (!(si.signo >= 1 && si.signo <= 64)) return;
  if (anyPidNs()) si = seenSigInfo(t.tg, si); // the sender's pid as the receiver numbers it, fixed now (Linux)
  if (t.state === TaskState.Dead || t.tg.zombie) return;
  if (si.signo === SIGCONT) continueGroup(s, t.tg); // even for init (prepare_signal)
  if (initIgnores(s, t.tg, si, t)) return;
  if (si.signo === SIGKILL) return exitGroup(s, t.tg, SIGKILL);
  if (!stopsThroughDelivery(t, si.signo) && prepareSignal(s, t.tg, si.signo)) return;
  enqueue(t.sig.pending, si);
  signalEvents.notify(0x41);
  notify(s, t, si.signo);
}

/** Queues a process-directed signal (kill) and wakes a thread that can take it. */
export function sendToGroup(s: Sentry, tg: ThreadGroup, si: SigInfo): void {
  if (!(si.signo >= 1 && si.signo <= 64)) return;
  if (anyPidNs()) si = seenSigInfo(tg, si);
  if (tg.zombie || tg.tasks.size === 0) return;
  if (si.signo === SIGCONT) continueGroup(s, tg); // even for init (prepare_signal)
  if (initIgnores(s, tg, si)) return;
  if (si.signo === SIGKILL) return exitGroup(s, tg, SIGKILL);
  const traced = si.signo === SIGSTOP && [...tg.tasks].some((t) => stopsThroughDelivery(t, si.signo));
  if (!traced && prepareSignal(s, tg, si.signo)) return;
  enqueue(tg.sharedPending, si);
  signalEvents.notify(0x41);
  const bit = sigbit(si.signo);
  let target: Task | undefined;
  for (const t of tg.tasks) {
    if ((t.sig.mask & bit) === 0n) {
      target = t;
      if (t.state === TaskState.Blocked) break;
    }
  }
  if (target) notify(s, target, si.signo);
}

/** Job-control side effects at send time; true if the signal is discarded. */
function prepareSignal(s: Sentry, tg: ThreadGroup, sig: number): boolean {
  if (sig === SIGSTOP) {
    stopGroup(s, tg, sig);
    return true;
  }
  // Ignored signals are dropped at once unless some thread blocks them (Linux sig_ignored)
  // or is traced (its tracer hears of every signal).
  if (tg.handlers.isIgnored(sig) && ![...tg.tasks].some((t) => t.ptrace !== null)) {
    const bit = sigbit(sig);
    let blocked = false;
    for (const t of tg.tasks) if (t.sig.blocks(bit)) blocked = true;
    if (!blocked) return true;
  }
  return false;
}

function notify(s: Sentry, t: Task, sig: number): void {
  if ((t.sig.mask & sigbit(sig)) !== 0n && sig !== SIGKILL) return;
  if (t.state === TaskState.Blocked) s.interrupt(t);
  else if (t.state === TaskState.Stopped) return;
  else if (!t.inSentry) s.kick(t);
}

/** Takes the next deliverable signal off t's queues. */
function dequeue(t: Task): SigInfo | null {
  let i = nextDeliverable(t.sig.pending, t.sig.mask);
  if (i >= 0) return t.sig.pending.splice(i, 1)[0];
  i = nextDeliverable(t.tg.sharedPending, t.sig.mask);
  if (i >= 0) return t.tg.sharedPending.splice(i, 1)[0];
  return null;
}

/**
 * Delivers pending signals to stopped task t whose registers are in the event buffer.
 * `result` is the syscall's result when t is returning from one (decides restarts).
 * Resumes t (or ends its process).
 */
export function deliverPending(s: Sentry, t: Task, result: number | null): void {
  const p = s.platform;
  const ev = p.ev;
  for (;;) {
    const si = dequeue(t);
    if (!si) break;
    const sig = si.signo;
    if (si.jobStop !== undefined) {
      if (t.ptrace === null || t.tg.exiting) continue;
      if (result !== null) ev.setReg(Reg.RAX, result);
      return ptraceGroupStop(s, t, si.jobStop, result, false);
    }
    if (si.interrupt) {
      if (t.ptrace === null) continue;
      if (result !== null) ev.setReg(Reg.RAX, result);
      return interruptStop(s, t, result);
    }
    if (t.ptrace !== null && !si.traced && sig !== SIGKILL) {
      // Signal-delivery stop: the tracer decides what is delivered (ptrace-stops.ts).
      if (result !== null) ev.setReg(Reg.RAX, result);
      return ptraceSignalStop(s, t, si, result);
    }
    const act = t.tg.handlers.actions[sig];
    if (act.handler === SIG_IGN) continue;
    if (act.handler === SIG_DFL) {
      // Queued while blocked, or the handler was reset meanwhile: init still gets no
      // default action it did not ask for from inside (get_signal's SIGNAL_UNKILLABLE).
      if (t.tg === s.init && !si.force) continue;
      const d = defaultAction(sig);
      if (d === DefaultAction.Ignore || d === DefaultAction.Continue) continue;
      if (d === DefaultAction.Stop) {
        if (t.ptrace !== null) return ptraceGroupStop(s, t, sig, result);
        stopGroup(s, t.tg, sig);
        break;
      }
      // A tracer with PTRACE_O_TRACEEXIT sees the death first (PTRACE_EVENT_EXIT), registers as they were.
      const status = fatalStatus(t.tg, sig);
      if (t.ptrace !== null) {
        if (result !== null) ev.setReg(Reg.RAX, result);
        p.setRegs(t.hostTid);
      }
      if (!ptraceExitStop(s, t, status, () => exitGroup(s, t.tg, status))) exitGroup(s, t.tg, status);
      return;
    }
    // A handler runs: settle the interrupted syscall first.
    if (result !== null) {
      const restart = result === -ERESTARTNOINTR || (result === -ERESTARTSYS && (act.flags & SA_RESTART) !== 0n);
      if (restart) restartSyscall(t, ev);
      else if (isRestartCode(result)) ev.setReg(Reg.RAX, -EINTR);
      result = null;
    }
    const oldMask = t.sig.savedMask ?? t.sig.mask;
    t.sig.savedMask = null;
    if (!pushSignalFrame(p, t, sig, act, encodeSigInfo(si), oldMask)) {
      // An unwritable stack, or an alternate stack the frame would overflow: Linux's
      // force_sigsegv. A SIGSEGV handler of its own may take it (on a stack that fits); a
      // frame for SIGSEGV itself that fails kills with the default action.
      if (sig === SIGSEGV) {
        exitGroup(s, t.tg, fatalStatus(t.tg, SIGSEGV));
        return;
      }
      t.sig.savedMask = oldMask === t.sig.mask ? null : oldMask;
      forceSignal(t, { signo: SIGSEGV, code: SI_KERNEL, force: true });
      continue;
    }
    let mask = t.sig.mask | act.mask;
    if ((act.flags & SA_NODEFER) === 0n) mask |= sigbit(sig);
    t.sig.mask = mask & ~UNBLOCKABLE;
    if ((act.flags & SA_RESETHAND) !== 0n) act.handler = SIG_DFL;
    // Like Linux, go on setting up frames for whatever else is deliverable under the
    // new mask: each lands on top of the last, so the last one set up runs first.
  }
  // No handler ran: restart codes restart transparently; ERESTART_RESTARTBLOCK goes
  // through restart_syscall(2), which continues with the state the call saved.
  if (result !== null && isRestartCode(result)) {
    restartSyscall(t, ev);
    if (result === -ERESTART_RESTARTBLOCK) ev.setReg(Reg.RAX, 219);
  }
  if (t.sig.savedMask !== null) {
    t.sig.mask = t.sig.savedMask;
    t.sig.savedMask = null;
  }
  if (t.state === TaskState.Dead) return;
  p.setRegs(t.hostTid);
  s.resumeNow(t); // held back if a stop signal stopped the group

}

/**
 * The wait status of a death by signal. Like Linux, "core dumped" is reported only
 * where a dump would be written (RLIMIT_CORE > 0); the sandbox never writes the file.
 */
export function fatalStatus(tg: ThreadGroup, sig: number): number {
  // do_coredump writes nothing for a non-dumpable process (fs.suid_dumpable 0), so no core flag.
  const mm = tg.tasks.values().next().value?.mm;
  const core = defaultAction(sig) === DefaultAction.Core && limitsOf(tg).soft(RLIMIT_CORE) > 0 && mm?.dumpable !== 0;
  return sig | (core ? 0x80 : 0);
}

function isRestartCode(r: number): boolean {
  return r === -ERESTARTSYS || r === -ERESTARTNOINTR || r === -ERESTARTNOHAND || r === -ERESTART_RESTARTBLOCK;
}

function restartSyscall(t: Task, ev: Sentry['platform']['ev']): void {
  ev.regs[Reg.RIP] -= 2n;
  ev.regs[Reg.RAX] = t.entryReg(Reg.ORIG_RAX);
}

/** force_sig_info: a blocked or ignored signal the kernel forces kills with the default action; queued first. */
function forceSignal(t: Task, si: SigInfo): void {
  const act = t.tg.handlers.actions[si.signo];
  const bit = sigbit(si.signo);
  if ((t.sig.mask & bit) !== 0n || act.handler === SIG_IGN) {
    act.handler = SIG_DFL;
    t.sig.mask &= ~bit;
  }
  t.sig.pending.unshift(si);
}

/** A synchronous fault in the guest (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP). */
export function forceFault(s: Sentry, t: Task, signo: number, rawInfo: Buffer): void {
  forceSignal(t, { signo, code: rawInfo.readInt32LE(8), raw: rawInfo, force: true });
  if (s.platform.getRegs(t.hostTid) === 0) deliverPending(s, t, null);
}

/** `run -t` (src/cli/console.ts): a host SIGWINCH resizes the guest's pty instead. */
let hostWinchHook: (() => void) | null = null;
export function setHostWinchHook(fn: (() => void) | null): void {
  hostWinchHook = fn;
}

/** Host signals the Sentry received: passed on to the guest like a terminal or runc would. */
export function onHostSignals(s: Sentry, mask: number): void {
  const init = s.init;
  if (!init) return;
  for (let sig = 1; sig < 32; sig++) {
    if ((mask & (1 << sig)) === 0) continue;
    if (sig === SIGWINCH && hostWinchHook !== null) {
      hostWinchHook();
      continue;
    }
    const si: SigInfo = { signo: sig, code: SI_KERNEL, force: true };
    if (sig === SIGINT || sig === SIGQUIT || sig === SIGTSTP || sig === SIGWINCH) {
      // Keyboard signals go to the foreground process group.
      const pgid = s.kernel.foregroundPgid || init.pgid;
      for (const tg of s.kernel.threadGroups.values()) if (tg.pgid === pgid && !tg.zombie) sendToGroup(s, tg, si);
    } else if (sig === SIGTERM || sig === SIGHUP || sig === SIGUSR1 || sig === SIGUSR2) {
      sendToGroup(s, init, si);
    } else if (sig === SIGCONT) {
      // We were continued after a stop: nothing to forward.
    }
  }
}

