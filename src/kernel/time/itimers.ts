import type { ThreadGroup } from '../thread-group';
import { CPUCLOCK_PROF, CPUCLOCK_VIRT } from './clocks';
import { ClockTimer } from './clock-timer';
import { SI_KERNEL, timerQueue } from './timers';
import type { TimerSpec } from './timespec';

/**
 * setitimer/getitimer/alarm: three per-process timers. ITIMER_REAL counts the
 * monotonic clock and raises SIGALRM; ITIMER_VIRTUAL (user CPU time, SIGVTALRM) and
 * ITIMER_PROF (user+system CPU time, SIGPROF) count the process's CPU clocks.
 * Kept across exec, not inherited by fork (a new thread group starts with none).
 */

export const ITIMER_REAL = 0;
export const ITIMER_VIRTUAL = 1;
export const ITIMER_PROF = 2;

const SIGALRM = 14;
const SIGVTALRM = 26;
const SIGPROF = 27;

const SIGNAL_OF = [SIGALRM, SIGVTALRM, SIGPROF];

const perProcess = new WeakMap<ThreadGroup, ClockTimer[]>();

function timerOf(tg: ThreadGroup, which: number): ClockTimer {
  let set = perProcess.get(tg);
  if (!set) {
    const mk = (w: number): ClockTimer => {
      const clock =
        w === ITIMER_REAL
          ? ({ kind: 'mono', id: 1 } as const)
          : ({ kind: 'cpu', id: 2, tg, task: null, which: w === ITIMER_VIRTUAL ? CPUCLOCK_VIRT : CPUCLOCK_PROF } as const);
      // Linux sends one signal per expiry (no overrun count for itimers).
      return new ClockTimer(
        clock,
        () => {
          timerQueue.raise({ tg, task: null, signo: SIGNAL_OF[w], code: SI_KERNEL, timerId: 0, value: 0n });
        },
        false,
        timerQueue,
        tg,
      );
    };
    set = [mk(0), mk(1), mk(2)];
    perProcess.set(tg, set);
  }
  return set[which];
}

export function validItimer(which: number): boolean {
  return which === ITIMER_REAL || which === ITIMER_VIRTUAL || which === ITIMER_PROF;
}

/** Current value of an interval timer; an armed ITIMER_REAL never reads below 1 µs. */
export function getItimer(tg: ThreadGroup, which: number): TimerSpec {
  return timerOf(tg, which).get(1000n);
}

/** Sets an interval timer (value relative); returns the old setting. */
export function setItimer(tg: ThreadGroup, which: number, spec: TimerSpec): TimerSpec {
  const t = timerOf(tg, which);
  const old = t.get(1000n);
  t.set(spec);
  return old;
}

/**
 * alarm(seconds): ITIMER_REAL one-shot. Returns the seconds left on the previous alarm,
 * rounded to nearest, and at least 1 if one was pending (Linux alarm_setitimer).
 */
export function alarm(tg: ThreadGroup, seconds: number): number {
  const old = setItimer(tg, ITIMER_REAL, { interval: 0n, value: BigInt(seconds) * 1_000_000_000n });
  const usec = (old.value % 1_000_000_000n) / 1000n;
  let sec = Number(old.value / 1_000_000_000n);
  if ((sec === 0 && usec > 0n) || usec >= 500_000n) sec++;
  return sec;
}

/** Lead: call when a process exits, so none of its timers fire afterwards. */
export function itimersOnExit(tg: ThreadGroup): void {
  const set = perProcess.get(tg);
  if (set) for (const t of set) t.disarm();
  perProcess.delete(tg);
}
