import type { Task } from './task';

/**
 * The contract between the Sentry's run loop and the syscall table (syscalls/table.ts),
 * which registers itself with the Sentry: the kernel never imports the table.
 *
 * A syscall handler. Arguments arrive as the guest's six argument registers,
 * each a signed 64-bit value converted to a JS number (exact below 2^53, so every
 * pointer and every small negative int is exact). Use `a | 0` for C `int` args and
 * `a >>> 0` for `unsigned int`; `t.rawArg(i)` gives the exact 64-bit value when needed.
 *
 * Returns the syscall result: a value >= 0, or -errno. A handler that must wait
 * returns `t.block(...)` (the BLOCK sentinel); the Sentry re-runs the same handler with
 * the same arguments when the task is woken, so handlers are written as retry loops.
 */
export type SyscallHandler = (
  t: Task,
  a0: number,
  a1: number,
  a2: number,
  a3: number,
  a4: number,
  a5: number,
) => number;

/** Returned by a handler (through t.block / t.blockOn) when the task must sleep. */
export const BLOCK = -0x100000;

export type SupportLevel = 'supported' | 'partial' | 'unsupported';

export interface SyscallEntry {
  readonly nr: number;
  readonly name: string;
  readonly support: SupportLevel;
  /** What is missing, for partial entries. */
  readonly note?: string;
  readonly fn?: SyscallHandler;
}

/** Returned by a handler that has set every register itself (rt_sigreturn): resume as is. */
export const KEEP_REGS = -0x100001;

/** Returned by a handler after which the calling context must not be resumed (exit, execve). */
export const NO_RESUME = -0x100002;

/** What the run loop needs of the syscall table: entries by number, names for logs. */
export interface SyscallTable {
  readonly entries: ReadonlyArray<SyscallEntry | undefined>;
  name(nr: number): string;
}
