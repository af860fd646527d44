/**
 * PTRACE_SEIZE and what comes with it: PTRACE_INTERRUPT (a PTRACE_EVENT_STOP at the
 * tracee's next stop), group-stops reported to the tracer (a traced task taking a stop
 * signal stops at a ptrace stop; under SEIZE its status says PTRACE_EVENT_STOP), and
 * PTRACE_LISTEN (the tracee stays group-stopped but out of the ptrace stop until SIGCONT,
 * which makes it trap again with PTRACE_EVENT_STOP and SIGTRAP), as Linux's jobctl traps;
 * and PTRACE_EVENT_EXIT (PTRACE_O_TRACEEXIT) before exit/exit_group.
 */
import { Reg } from '../platform/event-buffer';
import type { Sentry } from './sentry';
import { Task, TaskState } from './task';
import type { ThreadGroup } from './thread-group';
import { type SigInfo, SIGSTOP, SIGTRAP } from './signals';
import { eventStatus, ptraceStop, signalStatus, PTRACE_EVENT_EXIT, PTRACE_O_TRACEEXIT } from './ptrace';
import { deliverPending } from './signal-delivery';

export const PTRACE_EVENT_STOP = 128;

/** The wait status of a PTRACE_EVENT_STOP with signal sig. */
export function eventStopStatus(sig: number): number {
  return ((sig | (PTRACE_EVENT_STOP << 8)) << 8) | 0x7f;
}

/** The queued marker of a PTRACE_INTERRUPT: SIGSTOP's number, which no mask blocks. */
export function interruptMarker(): SigInfo {
  return { signo: SIGSTOP, code: 0, interrupt: true };
}

/** PTRACE_INTERRUPT: the tracee traps at its next stop (now, if it is running or parked). */
export function ptraceInterrupt(s: Sentry, t: Task): void {
  const st = t.ptrace!;
  if (st.listening !== null) {
    // Out of its ptrace stop but still group-stopped: it traps again at once.
    const resume = st.listening;
    st.listening = null;
    ptraceStop(s, t, 'event', eventStopStatus(st.groupStopped ? SIGSTOP : SIGTRAP), resume);
    return;
  }
  if (st.interruptQueued) return;
  st.interruptQueued = true;
  t.sig.pending.unshift(interruptMarker());
  if (t.state === TaskState.Blocked) s.interrupt(t);
  else if (t.state === TaskState.Running && !t.inSentry) s.kick(t);
}

/** Holds t (registers in the buffer) at a jobctl trap; resuming delivers what is left. */
function trap(s: Sentry, t: Task, status: number, result: number | null, group: boolean): void {
  const p = s.platform;
  if (result !== null) p.ev.setReg(Reg.RAX, result);
  p.setRegs(t.hostTid);
  const st = t.ptrace!;
  st.groupStopped = group || st.groupStopped;
  ptraceStop(s, t, group ? 'group' : 'event', status, () => {
    // The signal argument of a resume from a group-stop or PTRACE_EVENT_STOP is ignored (Linux).
    if (t.ptrace) t.ptrace.groupStopped = false;
    if (p.getRegs(t.hostTid) === 0) deliverPending(s, t, result);
  });
}

/** The marker was dequeued in delivery: PTRACE_EVENT_STOP (SIGTRAP, or the stop signal when group-stopped). */
export function interruptStop(s: Sentry, t: Task, result: number | null): void {
  const st = t.ptrace!;
  st.interruptQueued = false;
  trap(s, t, eventStopStatus(st.groupStopped ? SIGSTOP : SIGTRAP), result, false);
}

/**
 * A traced task takes a stop signal's default action: a group-stop its tracer sees. The
 * other traced threads of its process stop too, each reported on its own (Linux's
 * JOBCTL_STOP_PENDING): a marker at the head of their queues makes each trap at its
 * next stop, now if it is running or parked.
 */
export function ptraceGroupStop(s: Sentry, t: Task, sig: number, result: number | null, initiator = true): void {
  const st = t.ptrace!;
  trap(s, t, st.seized ? eventStopStatus(sig) : signalStatus(sig), result, true);
  if (!initiator) return;
  for (const o of t.tg.tasks) {
    if (o === t || o.ptrace === null || o.ptrace.groupStopped || o.state === TaskState.Dead) continue;
    if (o.sig.pending.some((x) => x.jobStop !== undefined)) continue;
    o.sig.pending.unshift({ signo: SIGSTOP, code: 0, jobStop: sig });
    if (o.state === TaskState.Blocked) s.interrupt(o);
    else if (o.state === TaskState.Running && !o.inSentry) s.kick(o);
  }
}

/**
 * PTRACE_LISTEN: only at a PTRACE_EVENT_STOP of a seized tracee; it stays held, not
 * reportable, until SIGCONT (or PTRACE_INTERRUPT) makes it trap again.
 */
export function ptraceListen(t: Task): number {
  const st = t.ptrace!;
  const stop = st.stop;
  if (!st.seized || stop === null || stop.status >> 16 !== PTRACE_EVENT_STOP) return -5; // EIO
  st.stop = null;
  st.listening = stop.resume;
  return 0;
}

/** SIGCONT reached tg: listening tracees trap again (PTRACE_EVENT_STOP, SIGTRAP). */
export function ptraceContinued(s: Sentry, tg: ThreadGroup): void {
  for (const t of tg.tasks) {
    const st = t.ptrace;
    if (!st || st.listening === null) continue;
    const resume = st.listening;
    st.listening = null;
    st.groupStopped = false;
    ptraceStop(s, t, 'event', eventStopStatus(SIGTRAP), resume);
  }
}

/**
 * PTRACE_O_TRACEEXIT: exit(2)/exit_group(2) of a tracee first stops at PTRACE_EVENT_EXIT
 * (GETEVENTMSG: the wait status to be), registers still readable; resuming exits. Returns
 * false when there is no such stop to make (the caller exits at once).
 */
export function ptraceExitStop(s: Sentry, t: Task, status: number, exit: () => void): boolean {
  const st = t.ptrace;
  if (st === null || (st.options & PTRACE_O_TRACEEXIT) === 0) return false;
  st.eventMsg = status;
  ptraceStop(s, t, 'event', eventStatus(PTRACE_EVENT_EXIT), () => exit());
  return true;
}

