import { BLOCK } from './syscall-dispatch';
import type { WaitEntry, WaitQueue } from '../waiter/waitqueue';
import type { Credentials } from '../auth/credentials';
import type { ThreadGroup } from './thread-group';
import type { AddressSpace } from '../mm/address-space';
import type { GuestMemory } from '../mm/guest-memory';
import type { FdTable } from '../../fs/vfs/fdtable';
import type { FsContext } from '../../fs/vfs/context';
import type { SignalState } from './signals';
import type { Kernel } from './kernel';
import type { SeccompState } from './seccomp/filter';
import type { PtraceState } from './ptrace';

export const enum TaskState {
  /** Running guest code on the platform (or about to be resumed). */
  Running,
  /** Parked in the Sentry inside a syscall, waiting on queues and/or a deadline. */
  Blocked,
  /** Stopped by job control (SIGSTOP/SIGTSTP). */
  Stopped,
  /** Exited; its host context is gone. */
  Dead,
  /** Held at a ptrace stop until its tracer resumes it (src/kernel/ptrace.ts). */
  Traced,
}

/**
 * A guest thread: one per host stub thread. Syscall handlers receive the Task and
 * reach everything through it: memory (t.mem), files (t.fdTable, t.fsCtx), identity
 * (t.creds, t.tg), and sleeping (t.waitOn / t.block / t.blockOn).
 */
export class Task {
  state: TaskState = TaskState.Running;
  /** Per-syscall scratch that survives re-runs of a blocked handler; cleared on completion. */
  sysState: any = undefined;
  /** True when the handler is being re-run because its deadline passed. */
  timedOut = false;
  /** True when the current (re-)run follows a wake-up rather than the first entry. */
  resumed = false;
  /** Wait registrations of the current block; removed on wake-up. */
  waitEntries: Array<[WaitQueue, WaitEntry]> = [];
  /** Absolute monotonic deadline (ns) of the current block, Infinity if none. */
  deadline = Infinity;
  /** Syscall number being served (valid while in a syscall). */
  sysno = -1;
  /** Arguments of the syscall being served, kept for re-runs. */
  readonly args = new Float64Array(6);
  /** CLONE_CHILD_CLEARTID address (set_tid_address). */
  clearChildTid = 0;
  robustList = 0;
  /** rseq(2) registration: kept across fork, dropped by exec and CLONE_VM threads. */
  rseq: { addr: number; len: number; sig: number } | null = null;
  /** ioprio_set(IOPRIO_WHO_PROCESS) value; 0: none set (IOPRIO_CLASS_NONE). */
  ioprio = 0;
  /** set_mempolicy mode and node mask (one node: bit 0), for get_mempolicy. */
  mempolicy = { mode: 0, nodes: 0 };
  /** Thread name (PR_SET_NAME, /proc/[tid]/comm). */
  comm = '';
  /** Exit code when Dead. */
  exitCode = 0;
  /** Stopped in the Sentry (at a syscall or signal stop), so its registers can be used. */
  inSentry = false;
  /** A kick (host signal to stop it) is in flight. */
  kicked = false;
  /** Its thread group is exiting: end its host thread when it next stops. */
  doomed = false;
  /** Woken and queued to re-run its handler. */
  wokenPending = false;
  /** What an interrupted blocking call returns (-ERESTARTSYS unless the handler says). */
  intrResult = -512;
  /** Its group was stopped while it was parked in a syscall: stop when that completes. */
  stopWhenDone = false;
  /** Held at a job-control stop: the syscall result to resume with, or null (registers set). */
  held: { result: number | null } | null = null;
  /** Set while a handler is re-run because a signal arrived during its block. */
  interrupting = false;
  /** Signals do not cut this block short (vfork's wait for the child); they wait for the result. */
  uninterruptible = false;
  /** Called when a signal interrupts the block (e.g. nanosleep writes the time left). */
  onInterrupt: (() => boolean | void) | null = null;
  /** Robust list and clear_child_tid already handled (exit paths may meet twice). */
  userStateReleased = false;
  /** PR_SET_PDEATHSIG. */
  pdeathSig = 0;
  /** PR_SET/GET_TIMERSLACK (kept and read back); a fork's child gets the parent's as both value and default. */
  timerSlackNs = 50_000;
  defaultTimerSlackNs = 50_000;
  noNewPrivs = false;
  /** Seccomp mode and filters (src/kernel/seccomp); null: none, and no check at syscall entry. */
  seccomp: SeccompState | null = null;
  /** Being traced (src/kernel/ptrace.ts); null: not, and no stop is ever made. */
  ptrace: PtraceState | null = null;
  /** The filters run again after a PTRACE_EVENT_SECCOMP stop (SECCOMP_RET_TRACE then allows). */
  seccompRechecking = false;
  /** Runs instead of the call's handler while it waits elsewhere (a seccomp USER_NOTIF supervisor). */
  syscallOverride: (() => number) | null = null;
  /** vfork: the parent waiting for this child to exec or exit. */
  vforkParent: Task | null = null;
  /** vfork: set on the parent when its child released it. */
  vforkDone = false;
  /** Sentry time spent on this thread's syscalls so far (ns): part of its system time. */
  sentryNs = 0;
  /** When the current syscall began (for --strace durations). */
  sysStartNs = 0;
  /** The registers at syscall entry (for rawArg and handlers that need them). */
  private readonly savedRegs = new BigUint64Array(27);
  /** The same registers as 32-bit words (seccomp_data is built from them without BigInts). */
  private regWords: Uint32Array | null = null;

  /** Wakes this task from any wait; bound once so queues can hold it. */
  readonly wakeFn: (events: number) => void;

  constructor(
    /** The sandbox this task belongs to: its tables, VFS and Sentry (never a module global). */
    readonly kernel: Kernel,
    /** Guest tid (the Sentry's own numbering; the first task is 1). Changes only when a non-leader thread execs. */
    public tid: number,
    /** Host tid of the stub thread running this task. */
    public hostTid: number,
    public tg: ThreadGroup,
    public mm: AddressSpace,
    public fdTable: FdTable,
    public fsCtx: FsContext,
    public creds: Credentials,
    public sig: SignalState,
    private readonly onWake: (t: Task, timedOut: boolean) => void,
  ) {
    this.wakeFn = () => this.onWake(this, false);
  }

  /** Installed by the Sentry: queue a signal for this thread (SIGPIPE, SIGXFSZ...). */
  static signalSelfHook: ((t: Task, sig: number) => void) | null = null;

  /** Sends sig to this thread, as the kernel does for EPIPE (SIGPIPE) or RLIMIT_FSIZE (SIGXFSZ). */
  sendSignalSelf(sig: number): void {
    Task.signalSelfHook?.(this, sig);
  }

  /** Guest memory of this task's address space. */
  get mem(): GuestMemory {
    return this.mm.mem;
  }

  /** The exact 64-bit value of argument register i. */
  rawArg(i: number): bigint {
    // rdi, rsi, rdx, r10, r8, r9 in user_regs_struct order
    return this.savedRegs[[14, 13, 12, 7, 9, 8][i]];
  }

  /** Copies the entry registers (a memcpy: no BigInt is created). */
  saveRegs(regs: BigUint64Array): void {
    this.savedRegs.set(regs);
  }

  /** The entry registers as little-endian 32-bit words: register i is words 2i, 2i+1. */
  entryRegWords(): Uint32Array {
    return (this.regWords ??= new Uint32Array(this.savedRegs.buffer));
  }

  /** A register as it was at syscall entry. */
  entryReg(i: number): bigint {
    return this.savedRegs[i];
  }

  /** Registers interest in events (mask) on q; call any number of times, then return t.block(). */
  waitOn(q: WaitQueue, mask: number): void {
    this.waitEntries.push([q, q.add(mask, this.wakeFn, this)]);
  }

  /**
   * Parks the task until one of the queues registered with waitOn fires, the deadline
   * (absolute monotonic ns, see kernel.nowNs) passes, or a signal interrupts it.
   * The handler is then re-run with the same arguments (t.timedOut tells a deadline).
   */
  block(deadlineNs = Infinity): number {
    this.state = TaskState.Blocked;
    this.deadline = deadlineNs;
    return BLOCK;
  }

  /** waitOn + block in one call. */
  blockOn(q: WaitQueue, mask: number, deadlineNs = Infinity): number {
    this.waitOn(q, mask);
    return this.block(deadlineNs);
  }

  /** Drops every wait registration (called by the scheduler on wake-up or interruption). */
  clearWaits(): void {
    for (const [q, e] of this.waitEntries) q.remove(e);
    this.waitEntries.length = 0;
    this.deadline = Infinity;
  }

  get isThreadGroupLeader(): boolean {
    return this.tid === this.tg.pid;
  }
}
