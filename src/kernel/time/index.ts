/**
 * Lifecycle hooks of the time subsystem for the lead's process code.
 */
import type { ThreadGroup } from '../thread-group';
import { itimersOnExit } from './itimers';
import { posixTimersOnExecOrExit } from './posix-timers';

export { timerQueue, TimerQueue } from './timers';
export type { TimerSignal, TimerSignalSink } from './timers';
export { accountExitedTask, cpuNsForParent } from './cputime';
export { sleepInterrupted } from './sleep';
export { installTimers } from './timer-signals';
export { schedOnClone } from './sched';

/** execve: timer_create timers are deleted; interval timers (alarm) survive. */
export function timersOnExec(tg: ThreadGroup): void {
  posixTimersOnExecOrExit(tg);
}

/** Process exit (last thread gone or exit_group): nothing of it may fire any more. */
export function timersOnExit(tg: ThreadGroup): void {
  posixTimersOnExecOrExit(tg);
  itimersOnExit(tg);
}
