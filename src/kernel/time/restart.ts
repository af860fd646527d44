import type { Task } from '../task';
import { EINTR } from '../../abi/errno';

/**
 * Linux's restart blocks: a syscall interrupted by a signal that ran no handler
 * (a stop and continue, for instance) returns -ERESTART_RESTARTBLOCK, and the kernel
 * resumes it through restart_syscall(2) with the state it saved, so a sleep continues
 * with the time left rather than starting over. The blocked call registers how to
 * resume here; restart_syscall runs it once. With no block (or after a handler ran
 * and the guest called restart_syscall itself) the answer is EINTR, as Linux's
 * do_no_restart_syscall.
 */
const blocks = new WeakMap<Task, (t: Task) => number>();

export function setRestartBlock(t: Task, resume: (t: Task) => number): void {
  blocks.set(t, resume);
}

export function clearRestartBlock(t: Task): void {
  blocks.delete(t);
}

/** restart_syscall: resumes the saved call (re-runs after a block keep using it). */
export function runRestartBlock(t: Task): number {
  const resume = blocks.get(t);
  if (!resume) return -EINTR;
  return resume(t);
}
