/**
 * Where a traced task stops, and how each stop goes on: syscall entry (the tracer may
 * change the number and arguments, or skip the call with orig_rax = -1), syscall exit
 * (after any fork/clone/vfork event), signal delivery (the tracer passes, changes or
 * drops the signal), exec (PTRACE_EVENT_EXEC or SIGTRAP) and a new traced child's
 * first stop.
 */
import { Reg, argToNumber } from '../platform/event-buffer';
import { KEEP_REGS } from './syscall-dispatch';
import type { Sentry } from './sentry';
import type { Task } from './task';
import { type SigInfo, SIGSTOP, SIGTRAP, SI_USER } from './signals';
import {
  attach, eventStatus, injectedSignal, PTRACE_EVENT_EXEC, PTRACE_EVENT_SECCOMP, PTRACE_O_TRACEEXEC, ptraceStop, signalStatus,
  syscallTrapStatus, tracesSyscalls,
} from './ptrace';
import { deliverPending, sendToTask } from './signal-delivery';
import { eventStopStatus } from './ptrace-seize';

const ARG_REGS = [Reg.RDI, Reg.RSI, Reg.RDX, Reg.R10, Reg.R8, Reg.R9];

function signed(v: bigint): number {
  return Number(BigInt.asIntN(64, v));
}

function pass(s: Sentry, t: Task, sig: number, from: SigInfo | null): void {
  if (sig > 0 && sig <= 64) sendToTask(s, t, injectedSignal(t, sig, from));
}

/**
 * Single-stepping out of a stop inside a syscall (an event stop): the step ends at the
 * syscall's exit, with a SIGTRAP before any instruction runs, as Linux reports it.
 */
function stepReport(s: Sentry, t: Task): void {
  if (t.ptrace?.mode === 'step' || t.ptrace?.mode === 'sysemu-step') sendToTask(s, t, { signo: SIGTRAP, code: 2 /* TRAP_TRACE */, pid: 0, uid: 0 });
}

/**
 * After a stop before the call ran: the number and arguments as the tracer left them in
 * the registers, the signal it passed queued. Returns rax (the result if the call is
 * skipped), or null if the thread is gone.
 */
function reloadCall(s: Sentry, t: Task, sig: number): number | null {
  const p = s.platform;
  if (p.getRegs(t.hostTid) !== 0) return null;
  const ev = p.ev;
  t.saveRegs(ev.regs);
  t.sysno = argToNumber(ev.regs[Reg.ORIG_RAX]);
  for (let i = 0; i < 6; i++) t.args[i] = argToNumber(ev.regs[ARG_REGS[i]]);
  const rax = signed(ev.regs[Reg.RAX]);
  pass(s, t, sig, null);
  return rax;
}

/** Syscall-entry stop; on resume the call runs as the registers now say. */
export function ptraceSyscallEnter(s: Sentry, t: Task): void {
  ptraceStop(s, t, 'sysenter', syscallTrapStatus(t), (sig) => {
    const rax = reloadCall(s, t, sig);
    if (rax === null) return;
    const m = t.ptrace?.mode;
    // PTRACE_SYSEMU: the call is not run (and has no exit stop); orig_rax -1 skips it.
    if (m === 'sysemu' || m === 'sysemu-step') return s.finishSyscall(t, rax);
    if (t.sysno < 0) return s.complete(t, rax);
    s.startSyscall(t);
  });
}

/**
 * SECCOMP_RET_TRACE with a tracer that asked (PTRACE_O_TRACESECCOMP): PTRACE_EVENT_SECCOMP,
 * the filter's data as the event message; on resume the call runs as the registers say
 * (orig_rax -1 skips it), the filters checked again.
 */
export function ptraceSeccompStop(s: Sentry, t: Task, data: number): void {
  t.ptrace!.eventMsg = data;
  ptraceStop(s, t, 'seccomp', eventStatus(PTRACE_EVENT_SECCOMP), (sig) => {
    const rax = reloadCall(s, t, sig);
    if (rax === null) return;
    if (t.sysno < 0) return s.complete(t, rax);
    t.seccompRechecking = true;
    try {
      s.startSyscall(t);
    } finally {
      t.seccompRechecking = false;
    }
  }, null, data);
}

/** After the handler: a pending fork/clone event stop, then the syscall-exit stop. */
export function ptraceSyscallExit(s: Sentry, t: Task, r: number): void {
  const st = t.ptrace!;
  const exitStop = (): void => {
    if (!t.ptrace || !tracesSyscalls(t)) {
      stepReport(s, t);
      return s.finishSyscall(t, r);
    }
    const p = s.platform;
    if (p.getRegs(t.hostTid) !== 0) return;
    if (r !== KEEP_REGS) {
      p.ev.setReg(Reg.RAX, r);
      p.setRegs(t.hostTid);
    }
    ptraceStop(s, t, 'sysexit', syscallTrapStatus(t), (sig) => {
      if (p.getRegs(t.hostTid) !== 0) return;
      const rr = r === KEEP_REGS ? KEEP_REGS : signed(p.ev.regs[Reg.RAX]);
      pass(s, t, sig, null);
      s.finishSyscall(t, rr);
    }, null, r);
  };
  const e = st.pendingEvent;
  if (!e) return exitStop();
  st.pendingEvent = null;
  st.eventMsg = e.msg;
  ptraceStop(s, t, 'event', eventStatus(e.event), (sig) => {
    pass(s, t, sig, null);
    exitStop();
  });
}

/** A signal about to be delivered to a tracee: the tracer sees it first. Registers are in the buffer. */
export function ptraceSignalStop(s: Sentry, t: Task, si: SigInfo, result: number | null): void {
  const p = s.platform;
  p.setRegs(t.hostTid); // the buffer holds the syscall result: keep it while others run
  ptraceStop(s, t, 'signal', signalStatus(si.signo), (sig) => {
    if (sig > 0 && sig <= 64) t.sig.pending.unshift(injectedSignal(t, sig, si));
    if (p.getRegs(t.hostTid) === 0) deliverPending(s, t, result);
  }, si);
}

/** After a traced task's execve: PTRACE_EVENT_EXEC (or a SIGTRAP), then the exit stop (rax 0). */
export function ptraceAfterExec(s: Sentry, t: Task, oldTid: number): void {
  const st = t.ptrace!;
  const exitStop = (): void => {
    if (!t.ptrace || !tracesSyscalls(t)) {
      stepReport(s, t);
      return s.resumeWithSignals(t);
    }
    ptraceStop(s, t, 'sysexit', syscallTrapStatus(t), (sig) => {
      pass(s, t, sig, null);
      s.resumeWithSignals(t);
    }, null, 0);
  };
  if (st.options & PTRACE_O_TRACEEXEC) {
    st.eventMsg = oldTid;
    ptraceStop(s, t, 'event', eventStatus(PTRACE_EVENT_EXEC), (sig) => {
      pass(s, t, sig, null);
      exitStop();
    });
    return;
  }
  sendToTask(s, t, { signo: SIGTRAP, code: SI_USER, pid: 0, uid: 0 });
  exitStop();
}

/** A child made by a traced task with TRACEFORK/VFORK/CLONE: traced too, it starts stopped (SIGSTOP). */
export function ptraceNewChild(s: Sentry, parent: Task, child: Task, event: number): void {
  const st = parent.ptrace!;
  attach(child, st.tracer, st.options, st.seized);
  st.pendingEvent = { event, msg: child.tid };
  child.inSentry = true;
  // Under SEIZE the new child starts in PTRACE_EVENT_STOP (SIGTRAP), else with a SIGSTOP.
  const si: SigInfo = { signo: SIGSTOP, code: SI_USER, pid: 0, uid: 0 };
  ptraceStop(s, child, st.seized ? 'event' : 'signal', st.seized ? eventStopStatus(SIGTRAP) : signalStatus(SIGSTOP), (sig) => {
    pass(s, child, sig === SIGSTOP || st.seized ? 0 : sig, si);
    s.resumeWithSignals(child);
  }, st.seized ? null : si);
}
