import type { Task } from '../task';
import { EFAULT, EINTR, ERESTARTNOHAND, ERESTART_RESTARTBLOCK } from '../../abi/errno';
import { Clock, clockNow, isWallClock, realtimeToMono, sinceBootNs } from './clocks';
import { writeTimespec } from './timespec';
import { setRestartBlock, clearRestartBlock } from './restart';

/**
 * nanosleep / clock_nanosleep. The first run computes the target on the sleep's clock
 * and keeps it in t.sysState; every re-run (timeout or spurious wake) compares the
 * clock with that target, so a restarted sleep never extends. CPU-clock sleeps
 * re-check their clock periodically, since CPU time has no wake-up event.
 */
export interface SleepState {
  kind: 'sleep';
  clock: Clock;
  /** Absolute target on the clock (ns). */
  target: bigint;
  /** Where to write the time left if a signal interrupts (0: don't, TIMER_ABSTIME). */
  remAddr: number;
}

function deadlineOf(s: SleepState): number {
  const c = s.clock;
  if (c.kind === 'cpu') {
    const left = Number(s.target - clockNow(c));
    return sinceBootNs() + Math.max(left / Math.max(1, c.tg.tasks.size), 1_000_000);
  }
  return Number(isWallClock(c) ? realtimeToMono(s.target) : s.target);
}

/**
 * Sleeps until `target` on `clock` (first run) or continues the sleep in t.sysState
 * (re-runs). Returns 0 once the time has come, else t.block(...).
 */
export function sleepUntil(t: Task, clock: Clock, target: bigint, remAddr: number): number {
  let s = t.sysState as SleepState | undefined;
  if (!s || s.kind !== 'sleep') {
    s = { kind: 'sleep', clock, target, remAddr };
    t.sysState = s;
  }
  if (clockNow(s.clock) >= s.target) {
    clearRestartBlock(t);
    return 0;
  }
  // A signal: relative sleeps write the time left to rem (EFAULT if they cannot) and
  // end in EINTR when a handler runs; absolute ones just return EINTR (Linux's
  // ERESTART_RESTARTBLOCK / ERESTARTNOHAND). Without a handler the Sentry restarts
  // the call, which for a relative sleep starts the full interval again.
  // Re-run after a signal (the Sentry checks the condition once more): keep what
  // onInterrupt decided.
  if (t.interrupting) return t.block(deadlineOf(s));
  t.intrResult = s.remAddr ? -ERESTART_RESTARTBLOCK : -ERESTARTNOHAND;
  const saved = s;
  t.onInterrupt = () => {
    if (sleepInterrupted(t) === -EFAULT) {
      t.intrResult = -EFAULT;
      return;
    }
    // If no handler runs, restart_syscall continues this same sleep.
    setRestartBlock(t, (rt) => {
      if (!rt.sysState) rt.sysState = { ...saved };
      return sleepUntil(rt, saved.clock, saved.target, saved.remAddr);
    });
  };
  return t.block(deadlineOf(s));
}

/**
 * Writes the time left of an interrupted relative sleep to the guest's rem argument.
 * Returns -EINTR, or -EFAULT if rem cannot be written. Installed as t.onInterrupt by
 * sleepUntil, so the Sentry's interrupt path runs it.
 */
export function sleepInterrupted(t: Task): number {
  const s = t.sysState as SleepState | undefined;
  if (!s || s.kind !== 'sleep' || s.remAddr === 0) return -EINTR;
  let left = s.target - clockNow(s.clock);
  if (left < 0n) left = 0n;
  return writeTimespec(t, s.remAddr, left) === 0 ? -EINTR : -EFAULT;
}
