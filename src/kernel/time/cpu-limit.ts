/**
 * RLIMIT_CPU: when a process's CPU time (user + system) reaches the soft limit it gets
 * SIGXCPU, then once a second more until the hard limit, where it gets SIGKILL (Linux's
 * check_process_timers). A CPU-clock timer per limited process does the counting.
 */
import type { ThreadGroup } from '../thread-group';
import { limitsOf, RLIMIT_CPU, RLIM_INFINITY } from '../limits';
import { ClockTimer } from './clock-timer';
import { CPUCLOCK_PROF } from './clocks';
import { processCpu } from './cputime';
import { SI_KERNEL, timerQueue } from './timers';

const SIGKILL = 9;
const SIGXCPU = 24;
const SECOND = 1_000_000_000n;
const timers = new WeakMap<ThreadGroup, ClockTimer>();

/** (Re)arms tg's CPU-limit timer after setrlimit/prlimit, fork, or at start. */
export function cpuLimitChanged(tg: ThreadGroup): void {
  const lim = limitsOf(tg).get(RLIMIT_CPU);
  let timer = timers.get(tg);
  if (lim.cur === RLIM_INFINITY) {
    timer?.disarm();
    return;
  }
  if (!timer) {
    timer = new ClockTimer({ kind: 'cpu', id: 2, tg, task: null, which: CPUCLOCK_PROF }, () => expire(tg), false, timerQueue, tg);
    timers.set(tg, timer);
  }
  timer.set({ value: lim.cur * SECOND, interval: SECOND }, true);
}

function expire(tg: ThreadGroup): void {
  const lim = limitsOf(tg).get(RLIMIT_CPU);
  const s = processCpu(tg);
  const usedNs = BigInt(Math.floor(s.userNs + s.sysNs));
  const hard = lim.max === RLIM_INFINITY ? null : lim.max * SECOND;
  const signo = hard !== null && usedNs >= hard ? SIGKILL : SIGXCPU;
  timerQueue.raise({ tg, task: null, signo, code: SI_KERNEL, timerId: 0, value: 0n });
}
