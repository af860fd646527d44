/**
 * Guest ptrace: a tracee is a task held in the Sentry at a ptrace stop (syscall entry or
 * exit, signal delivery, an event) until its tracer resumes it. A stop is a continuation:
 * the code that stopped the task says how it goes on, with the signal the tracer passes.
 * The tracer waits for stops with wait4/waitid (`ptraceWaitable`), gets SIGCHLD
 * (CLD_TRAPPED) at each, and reads the tracee's registers and memory through the platform
 * while it is held. Single-stepping is the CPU's trap flag: the step ends in a SIGTRAP.
 */
import { Reg } from '../platform/event-buffer';
import type { Platform } from '../platform/platform';
import { PAGE_SIZE, PROT_READ, PROT_WRITE, pageDown } from '../mm/vma';
import { capable, CAP_SYS_PTRACE } from '../auth/capabilities';
import type { Sentry } from './sentry';
import { Task, TaskState } from './task';
import type { ThreadGroup } from './thread-group';
import { sendToGroup } from './signal-delivery';
import { type SigInfo, SIGCHLD, SIGKILL, SIGSTOP, SIGTRAP, CLD_TRAPPED, SI_USER } from './signals';
import { SUID_DUMP_USER } from './dumpable';

export const PTRACE_O_TRACESYSGOOD = 1, PTRACE_O_TRACEFORK = 2, PTRACE_O_TRACEVFORK = 4, PTRACE_O_TRACECLONE = 8,
  PTRACE_O_TRACEEXEC = 0x10, PTRACE_O_TRACEVFORKDONE = 0x20, PTRACE_O_TRACEEXIT = 0x40, PTRACE_O_TRACESECCOMP = 0x80,
  PTRACE_O_EXITKILL = 0x100000, PTRACE_O_SUSPEND_SECCOMP = 0x200000;
export const PTRACE_O_MASK = 0x3000ff;
export const PTRACE_EVENT_FORK = 1, PTRACE_EVENT_VFORK = 2, PTRACE_EVENT_CLONE = 3, PTRACE_EVENT_EXEC = 4,
  PTRACE_EVENT_VFORK_DONE = 5, PTRACE_EVENT_EXIT = 6, PTRACE_EVENT_SECCOMP = 7;

const TF = 0x100n; // EFLAGS trap flag
const SYS_MPROTECT = 10;

export type ResumeMode = 'cont' | 'syscall' | 'sysemu' | 'step' | 'sysemu-step';
export type StopKind = 'sysenter' | 'sysexit' | 'signal' | 'event' | 'seccomp' | 'group';

export interface PtraceStop {
  kind: StopKind;
  /** Wait status the tracer gets ((sig | event << 8) << 8 | 0x7f). */
  status: number;
  /** The signal of a signal-delivery stop (PTRACE_GETSIGINFO). */
  siginfo: SigInfo | null;
  /** How the task goes on: called with the signal the tracer passed (0: none). */
  resume: (sig: number) => void;
  /** The syscall result at an exit stop (PTRACE_GET_SYSCALL_INFO). */
  rval: number;
}

export interface PtraceState {
  tracer: ThreadGroup;
  options: number;
  mode: ResumeMode;
  stop: PtraceStop | null;
  /** The current stop was reported by a wait (WNOWAIT keeps it reportable). */
  reported: boolean;
  eventMsg: number;
  /** An event (fork, clone, vfork) to report before the syscall that caused it returns. */
  pendingEvent: { event: number; msg: number } | null;
  /** The trap flag was set by PTRACE_SINGLESTEP (cleared on the next resume that is not a step). */
  stepping: boolean;
  /** Attached by PTRACE_SEIZE (src/kernel/ptrace-seize.ts): no SIGSTOP at attach, group-stops as PTRACE_EVENT_STOP. */
  seized: boolean;
  /** A PTRACE_INTERRUPT is queued. */
  interruptQueued: boolean;
  /** In a group-stop (PTRACE_LISTEN is allowed). */
  groupStopped: boolean;
  /** PTRACE_LISTEN: how the held tracee goes on once SIGCONT makes it trap again; null: not listening. */
  listening: ((sig: number) => void) | null;
}

/** Tracees by tracer process. */
const tracees = new WeakMap<ThreadGroup, Set<Task>>();
/** Exits of tracees the tracer must hear of but is not the parent of: tid and wait status. */
const exitReports = new WeakMap<ThreadGroup, Array<{ pid: number; status: number; pgid: number; thread: boolean }>>();

export function traceesOf(tg: ThreadGroup): Set<Task> {
  let s = tracees.get(tg);
  if (!s) tracees.set(tg, (s = new Set()));
  return s;
}

export function attach(t: Task, tracer: ThreadGroup, options = 0, seized = false): void {
  t.ptrace = {
    tracer, options, mode: 'cont', stop: null, reported: false, eventMsg: 0, pendingEvent: null, stepping: false, seized,
    interruptQueued: false, groupStopped: false, listening: null,
  };
  traceesOf(tracer).add(t);
}

/** Ends tracing (PTRACE_DETACH, tracer exit). A stopped tracee goes on with sig. */
export function detach(s: Sentry, t: Task, sig: number): void {
  const st = t.ptrace;
  if (!st) return;
  traceesOf(st.tracer).delete(t);
  t.ptrace = null;
  if (st.stepping) clearStep(s, t);
  // A queued PTRACE_INTERRUPT goes with the tracer.
  if (st.interruptQueued) t.sig.pending = t.sig.pending.filter((x) => !x.interrupt);
  const stop = st.stop;
  const resume = stop?.resume ?? st.listening;
  if (resume && t.state === TaskState.Traced) {
    t.state = TaskState.Running;
    resume(sig);
  }
}

function clearStep(s: Sentry, t: Task): void {
  const p = s.platform;
  if (t.ptrace) t.ptrace.stepping = false;
  if (p.getRegs(t.hostTid) !== 0) return;
  p.ev.regs[Reg.EFLAGS] &= ~TF;
  p.setRegs(t.hostTid);
}

/** Holds t at a ptrace stop and tells its tracer (wait, SIGCHLD). t's registers are on the host. */
export function ptraceStop(s: Sentry, t: Task, kind: StopKind, status: number, resume: (sig: number) => void, siginfo: SigInfo | null = null, rval = 0): void {
  const st = t.ptrace!;
  st.stop = { kind, status, siginfo, resume, rval };
  st.reported = false;
  t.state = TaskState.Traced;
  const tracer = st.tracer;
  tracer.childEvents.notify(-1);
  sendToGroup(s, tracer, { signo: SIGCHLD, code: CLD_TRAPPED, pid: t.tid, uid: t.creds.uid, status: (status >> 8) & 0xff });
}

/** The tracer resumes a stopped tracee (PTRACE_CONT, SYSCALL, SINGLESTEP, SYSEMU). */
export function resumeTracee(s: Sentry, t: Task, mode: ResumeMode, sig: number): void {
  const st = t.ptrace!;
  const stop = st.stop!;
  st.stop = null;
  st.mode = mode;
  const step = mode === 'step' || mode === 'sysemu-step';
  if (step !== st.stepping) {
    const p = s.platform;
    if (p.getRegs(t.hostTid) === 0) {
      if (step) p.ev.regs[Reg.EFLAGS] |= TF;
      else p.ev.regs[Reg.EFLAGS] &= ~TF;
      p.setRegs(t.hostTid);
    }
    st.stepping = step;
  }
  t.state = TaskState.Running;
  stop.resume(sig);
}

/** A signal the tracer passed on resuming: delivered as if it had just arrived. */
export function injectedSignal(t: Task, sig: number, from: SigInfo | null): SigInfo {
  if (from && from.signo === sig) return { ...from, traced: true };
  return { signo: sig, code: SI_USER, pid: t.ptrace?.tracer.pid ?? 0, uid: 0, traced: true };
}

/** Syscall tracing is on for t (PTRACE_SYSCALL or SYSEMU). */
export function tracesSyscalls(t: Task): boolean {
  const m = t.ptrace?.mode;
  return m === 'syscall' || m === 'sysemu' || m === 'sysemu-step';
}

export function syscallTrapStatus(t: Task): number {
  const sig = SIGTRAP | (t.ptrace!.options & PTRACE_O_TRACESYSGOOD ? 0x80 : 0);
  return (sig << 8) | 0x7f;
}

export function eventStatus(event: number): number {
  return ((SIGTRAP | (event << 8)) << 8) | 0x7f;
}

export function signalStatus(sig: number): number {
  return (sig << 8) | 0x7f;
}

/** The option that makes a clone of these flags an event, and which event, or null. */
export function cloneEvent(t: Task, flags: number, exitSignal: number): number | null {
  const o = t.ptrace?.options ?? 0;
  if (flags & 0x4000 /* CLONE_VFORK */) return o & PTRACE_O_TRACEVFORK ? PTRACE_EVENT_VFORK : null;
  if (exitSignal !== SIGCHLD) return o & PTRACE_O_TRACECLONE ? PTRACE_EVENT_CLONE : null;
  return o & PTRACE_O_TRACEFORK ? PTRACE_EVENT_FORK : null;
}

export interface TraceWait { pid: number; status: number; exited: boolean; task: Task | null }

/** A tracee stop or exit the waiting tracer may report (marked reported unless WNOWAIT). */
export function ptraceWaitable(tracer: Task, match: (pid: number, pgid: number, thread: boolean) => boolean, noWait: boolean, exitsToo: boolean): TraceWait | null {
  const tg = tracer.tg;
  const reps = exitReports.get(tg);
  if (exitsToo && reps) {
    const i = reps.findIndex((r) => match(r.pid, r.pgid, r.thread));
    if (i >= 0) {
      const r = reps[i];
      if (!noWait) reps.splice(i, 1);
      return { pid: r.pid, status: r.status, exited: true, task: null };
    }
  }
  for (const t of traceesOf(tg)) {
    const st = t.ptrace;
    if (!st || !st.stop || st.reported || t.state !== TaskState.Traced) continue;
    if (!match(t.tid, t.tg.pgid, t.tid !== t.tg.pid)) continue;
    if (!noWait) st.reported = true;
    return { pid: t.tid, status: st.stop.status, exited: false, task: t };
  }
  return null;
}

/** True when tracer has tracees or exit reports: its wait does not fail with ECHILD. */
export function hasTracees(tracer: ThreadGroup): boolean {
  return (tracees.get(tracer)?.size ?? 0) > 0 || (exitReports.get(tracer)?.length ?? 0) > 0;
}

/**
 * A traced task ends. Its tracer hears of it through a wait unless it is the tracer's
 * own child process (then the ordinary zombie is what the tracer waits for).
 */
export function ptraceTaskExited(t: Task, status: number): void {
  const st = t.ptrace;
  if (!st) return;
  traceesOf(st.tracer).delete(t);
  t.ptrace = null;
  const leader = t.tid === t.tg.pid;
  if (leader && t.tg.parent === st.tracer) return;
  let reps = exitReports.get(st.tracer);
  if (!reps) exitReports.set(st.tracer, (reps = []));
  reps.push({ pid: t.tid, status, pgid: t.tg.pgid, thread: !leader });
  st.tracer.childEvents.notify(-1);
}

/** The tracer process exits: its tracees go on untraced (or die, with PTRACE_O_EXITKILL). */
export function tracerExited(s: Sentry, tracer: ThreadGroup): void {
  const set = tracees.get(tracer);
  exitReports.delete(tracer);
  if (!set) return;
  for (const t of [...set]) {
    if (t.ptrace && t.ptrace.options & PTRACE_O_EXITKILL) {
      detach(s, t, 0);
      sendToGroup(s, t.tg, { signo: SIGKILL, code: SI_USER, force: true });
    } else {
      detach(s, t, 0);
    }
  }
  tracees.delete(tracer);
}

/** PTRACE_ATTACH's SIGSTOP (and signals to tracees) go through delivery, where the tracer sees them. */
export function stopsThroughDelivery(t: Task, sig: number): boolean {
  return sig === SIGSTOP && t.ptrace !== null;
}

/** __ptrace_may_access, as far as the sandbox has it: same user of a dumpable process, or CAP_SYS_PTRACE. */
export function mayAccess(t: Task, target: Task): boolean {
  const c = t.creds, o = target.creds;
  if (target.tg === t.tg) return true;
  // The ids and dumpability first, CAP_SYS_PTRACE only where they refuse (Linux's order:
  // a capability not needed is not "used", acct's ASU).
  const sameIds = [o.uid, o.euid, o.suid].every((u) => u === c.uid) && [o.gid, o.egid, o.sgid].every((g) => g === c.gid);
  return (sameIds && target.mm.dumpable === SUID_DUMP_USER) || capable(c, CAP_SYS_PTRACE);
}

/**
 * A write where the target may not write itself (a breakpoint in its code: POKETEXT,
 * /proc/PID/mem), as Linux's FOLL_FORCE: through a moment of PROT_WRITE. The target is stopped.
 */
export function forceWrite(p: Platform, target: Task, addr: number, b: Buffer): boolean {
  if (target.mem.write(addr, b)) return true;
  const pages: Array<{ start: number; prot: number }> = [];
  for (let a = pageDown(addr); a < addr + b.length; a += PAGE_SIZE) {
    const v = target.mm.find(a);
    if (!v) return false;
    pages.push({ start: a, prot: v.prot });
  }
  for (const pg of pages) p.mmSyscall(target.hostTid, SYS_MPROTECT, pg.start, PAGE_SIZE, pg.prot | PROT_READ | PROT_WRITE, 0, 0, 0);
  const ok = target.mem.write(addr, b);
  for (const pg of pages) p.mmSyscall(target.hostTid, SYS_MPROTECT, pg.start, PAGE_SIZE, pg.prot, 0, 0, 0);
  return ok;
}
