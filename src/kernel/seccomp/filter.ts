/**
 * Guest seccomp: the filters a task carries (a chain, newest first, shared with the
 * tasks it forked) and the check the Sentry makes at syscall entry for a task that has
 * any (tasks without filters pay one null test). The action of the chain is the
 * lowest-valued one any filter returns, acted on as Linux's __seccomp_filter does.
 */
import { Reg } from '../../platform/event-buffer';
import { ENOSYS } from '../../abi/errno';
import { NO_RESUME } from '../syscall-dispatch';
import type { Sentry } from '../sentry';
import type { Task } from '../task';
import { type BpfProgram, runBpf } from './bpf';
import { exitGroup, exitThread } from '../process-lifecycle';
import { fatalStatus, forceFault } from '../signal-delivery';
import { SIGKILL, SIGSYS } from '../signals';
import { PTRACE_O_TRACESECCOMP } from '../ptrace';
import { ptraceSeccompStop } from '../ptrace-stops';
import type { SeccompListener } from './notify';

export const SECCOMP_MODE_DISABLED = 0, SECCOMP_MODE_STRICT = 1, SECCOMP_MODE_FILTER = 2;

export const SECCOMP_RET_KILL_PROCESS = 0x80000000, SECCOMP_RET_KILL_THREAD = 0, SECCOMP_RET_TRAP = 0x00030000,
  SECCOMP_RET_ERRNO = 0x00050000, SECCOMP_RET_USER_NOTIF = 0x7fc00000, SECCOMP_RET_TRACE = 0x7ff00000,
  SECCOMP_RET_LOG = 0x7ffc0000, SECCOMP_RET_ALLOW = 0x7fff0000;
const RET_ACTION_FULL = 0xffff0000, RET_DATA = 0xffff;
/** Every action Linux knows (SECCOMP_GET_ACTION_AVAIL). */
export const SECCOMP_ACTIONS = [SECCOMP_RET_KILL_PROCESS, SECCOMP_RET_KILL_THREAD, SECCOMP_RET_TRAP, SECCOMP_RET_ERRNO,
  SECCOMP_RET_USER_NOTIF, SECCOMP_RET_TRACE, SECCOMP_RET_LOG, SECCOMP_RET_ALLOW];

export const AUDIT_ARCH_X86_64 = 0xc000003e;
const SYS_SECCOMP = 1; // si_code of a SIGSYS from SECCOMP_RET_TRAP
const MAX_ERRNO = 4095;

/** One installed filter; `prev` is the one installed before it (immutable, shared). */
export interface SeccompFilter {
  readonly prog: BpfProgram;
  readonly prev: SeccompFilter | null;
  /** SECCOMP_FILTER_FLAG_LOG: log every action but ALLOW. */
  readonly log: boolean;
  /** Instructions on the path to the root, each filter counting 4 more (MAX_INSNS_PER_PATH). */
  readonly pathInsns: number;
  /** SECCOMP_FILTER_FLAG_NEW_LISTENER: where its SECCOMP_RET_USER_NOTIF calls are answered. */
  readonly listener: SeccompListener | null;
}

/** A task's seccomp state; replaced, never changed, so forked tasks can share it. */
export interface SeccompState {
  readonly mode: typeof SECCOMP_MODE_STRICT | typeof SECCOMP_MODE_FILTER;
  readonly filter: SeccompFilter | null;
}

export function filterCount(s: SeccompState | null): number {
  let n = 0;
  for (let f = s?.filter ?? null; f; f = f.prev) n++;
  return n;
}

/** True when `anc` is `f` or one of the filters installed before it. */
export function isAncestor(anc: SeccompFilter | null, f: SeccompFilter | null): boolean {
  if (anc === null) return true;
  for (let w = f; w; w = w.prev) if (w === anc) return true;
  return false;
}

const data = new Uint32Array(16);

/** struct seccomp_data for the syscall t is entering (nr, arch, rip after `syscall`, args). */
export function seccompData(t: Task): Uint32Array {
  const w = t.entryRegWords();
  data[0] = w[Reg.ORIG_RAX * 2];
  data[1] = AUDIT_ARCH_X86_64;
  data[2] = w[Reg.RIP * 2];
  data[3] = w[Reg.RIP * 2 + 1];
  const argRegs = [Reg.RDI, Reg.RSI, Reg.RDX, Reg.R10, Reg.R8, Reg.R9];
  for (let i = 0; i < 6; i++) {
    data[4 + i * 2] = w[argRegs[i] * 2];
    data[5 + i * 2] = w[argRegs[i] * 2 + 1];
  }
  return data;
}

/** Runs the chain: the lowest action wins (compared as signed, so KILL_PROCESS is lowest). */
export function runFilters(f: SeccompFilter, d: Uint32Array): { ret: number; match: SeccompFilter } {
  let ret = SECCOMP_RET_ALLOW;
  let match = f;
  for (let w: SeccompFilter | null = f; w; w = w.prev) {
    const cur = runBpf(w.prog, d);
    if ((cur & RET_ACTION_FULL) < (ret & RET_ACTION_FULL)) { // int32 results: a signed comparison
      ret = cur;
      match = w;
    }
  }
  return { ret, match };
}

/** The strict mode's allowed calls: read, write, exit, rt_sigreturn. */
const STRICT_ALLOWED = new Set([0, 1, 60, 15]);

/**
 * The check at syscall entry: null to run the call, or what the call returns without
 * running (an errno, or NO_RESUME when the task was killed or sent SIGSYS).
 */
export function seccompCheck(s: Sentry, t: Task): number | null {
  const st = t.seccomp!;
  const nr = t.sysno;
  if (st.mode === SECCOMP_MODE_STRICT) {
    if (STRICT_ALLOWED.has(nr)) return null;
    t.kernel.log(`tid ${t.tid}: seccomp strict mode: syscall ${nr} kills the thread`);
    killThread(s, t, SIGKILL);
    return NO_RESUME;
  }
  const d = seccompData(t);
  const { ret, match } = runFilters(st.filter!, d);
  const action = (ret & RET_ACTION_FULL) >>> 0;
  const value = ret & RET_DATA;
  if (action !== SECCOMP_RET_ALLOW && (match.log || action === SECCOMP_RET_LOG)) {
    t.kernel.log(`tid ${t.tid}: seccomp action 0x${action.toString(16)} for syscall ${nr}`);
  }
  switch (action) {
    case SECCOMP_RET_ALLOW:
    case SECCOMP_RET_LOG:
      return null;
    case SECCOMP_RET_ERRNO:
      return -Math.min(value, MAX_ERRNO);
    case SECCOMP_RET_TRACE:
      // After the tracer's PTRACE_EVENT_SECCOMP stop the filters run again, and TRACE then allows.
      if (t.seccompRechecking) return null;
      if (t.ptrace && t.ptrace.options & PTRACE_O_TRACESECCOMP) {
        ptraceSeccompStop(s, t, value);
        return NO_RESUME;
      }
      return -ENOSYS; // no tracer asked for it: as Linux
    case SECCOMP_RET_USER_NOTIF:
      if (!match.listener || match.listener.closed) return -ENOSYS; // no supervisor: as Linux
      return match.listener.notify(t, d);
    case SECCOMP_RET_TRAP:
      trap(s, t, nr, value);
      return NO_RESUME;
    default:
      // The last thread killed takes its process with it, as KILL_PROCESS does.
      if (action === SECCOMP_RET_KILL_THREAD && t.tg.tasks.size > 1) {
        killThread(s, t, SIGSYS);
        return NO_RESUME;
      }
      // KILL_PROCESS and any action Linux does not know: SIGSYS with the default action.
      exitGroup(s, t.tg, fatalStatus(t.tg, SIGSYS));
      return NO_RESUME;
  }
}

/** SECCOMP_RET_TRAP: the call is skipped and SIGSYS forced, with rax rolled back to nr. */
function trap(s: Sentry, t: Task, nr: number, reason: number): void {
  const p = s.platform;
  if (p.getRegs(t.hostTid) !== 0) return;
  p.ev.setReg(Reg.RAX, nr);
  p.setRegs(t.hostTid);
  const si = Buffer.alloc(128);
  si.writeInt32LE(SIGSYS, 0);
  si.writeInt32LE(reason, 4);
  si.writeInt32LE(SYS_SECCOMP, 8);
  si.writeBigUInt64LE(t.entryReg(Reg.RIP), 16); // si_call_addr
  si.writeInt32LE(nr, 24); // si_syscall
  si.writeUInt32LE(AUDIT_ARCH_X86_64, 28); // si_arch
  forceFault(s, t, SIGSYS, si);
}

/** One thread dies of sig (do_exit(sig)); the last one ends its process with that signal. */
function killThread(s: Sentry, t: Task, sig: number): void {
  if (t.tg.tasks.size > 1) exitThread(s, t, 0);
  else exitGroup(s, t.tg, sig === SIGKILL ? SIGKILL : fatalStatus(t.tg, sig));
}
