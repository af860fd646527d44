import type { Task } from '../task';
import type { ThreadGroup } from '../thread-group';
import { taskCpu, processCpu } from './cputime';
import { native } from '../../platform/native';
import { virtualClock, startVirtualClock, VIRTUAL_EPOCH_NS } from '../../determinism/virtual-clock';

/**
 * The guest's clocks. MONOTONIC, MONOTONIC_RAW and BOOTTIME all count from the
 * sandbox's boot (kernel.nowNs(); the sandbox never suspends). REALTIME is the host's
 * wall clock, sampled once at start with sub-microsecond precision and then advanced by
 * the monotonic clock, so guest REALTIME and MONOTONIC never disagree about elapsed time
 * (host clock steps after start are not seen; clock_settime is refused anyway).
 * CPU clocks come from host accounting of the stub threads (see cputime.ts).
 */

export const CLOCK_REALTIME = 0;
export const CLOCK_MONOTONIC = 1;
export const CLOCK_PROCESS_CPUTIME_ID = 2;
export const CLOCK_THREAD_CPUTIME_ID = 3;
export const CLOCK_MONOTONIC_RAW = 4;
export const CLOCK_REALTIME_COARSE = 5;
export const CLOCK_MONOTONIC_COARSE = 6;
export const CLOCK_BOOTTIME = 7;
export const CLOCK_REALTIME_ALARM = 8;
export const CLOCK_BOOTTIME_ALARM = 9;
export const CLOCK_TAI = 11;

/** CPU clock flavours, as encoded in the low bits of dynamic clock ids. */
export const CPUCLOCK_PROF = 0; // user + system
export const CPUCLOCK_VIRT = 1; // user only
export const CPUCLOCK_SCHED = 2; // total runtime

/** Resolution of the tick-based COARSE clocks: Debian's CONFIG_HZ=250. */
export const COARSE_RES_NS = 4_000_000n;

/**
 * The guest's monotonic time base: ns since the Sentry process started (its "boot").
 * It is the line the guests' vDSO reads too (native/vdso_clock.cc), so a vDSO read and
 * a trapped syscall agree. One per process: sandboxes sharing a process share their boot.
 */
const vdsoNowNs = native().vdsoNowNs;
export function sinceBootNs(): number {
  return virtualClock.active ? virtualClock.monoNs : vdsoNowNs();
}

/** Wall-clock ns at sinceBootNs() === 0 (read again after rebaseClock; the fixed epoch under --deterministic). */
let realtimeOffsetNs = native().vdsoRealtimeOffsetNs();

/**
 * Checkpoint support (src/snapshot): the sandbox's monotonic clock goes on from nowNs,
 * where a checkpointed one stood. Only before the clock starts (prepareVdso); false after.
 */
export function rebaseClock(nowNs: number): boolean {
  if (native().vdsoSetBoot(nowNs) !== 0) return false;
  realtimeOffsetNs = native().vdsoRealtimeOffsetNs();
  return true;
}

/** --deterministic: every clock reads the virtual clock from now on (before the first task). */
export function useVirtualClock(): void {
  startVirtualClock();
  realtimeOffsetNs = VIRTUAL_EPOCH_NS;
}

export type Clock =
  | { kind: 'real' | 'mono' | 'boot' | 'tai' | 'realCoarse' | 'monoCoarse' | 'raw' | 'alarm'; id: number }
  | { kind: 'cpu'; id: number; tg: ThreadGroup; task: Task | null; which: number };

export function monoNs(): bigint {
  return BigInt(sinceBootNs());
}

export function realtimeNs(): bigint {
  return realtimeOffsetNs + BigInt(sinceBootNs());
}

/** Converts an absolute REALTIME instant to the monotonic (kernel.nowNs) time base. */
export function realtimeToMono(ns: bigint): bigint {
  return ns - realtimeOffsetNs;
}

/**
 * Decodes a clockid as the calling task sees it, or null (the caller returns EINVAL).
 * Negative ids are the dynamic CPU clocks of clock_getcpuclockid/pthread_getcpuclockid:
 * (~pid << 3) | perthread(4) | which. Dynamic fd clocks (which == 3) are not supported.
 */
export function resolveClock(t: Task, id: number): Clock | null {
  id |= 0;
  switch (id) {
    case CLOCK_REALTIME:
      return { kind: 'real', id };
    case CLOCK_REALTIME_ALARM:
    case CLOCK_BOOTTIME_ALARM:
      // Alarm clocks need an RTC; the sandbox has none (like this host): clock_gettime
      // says EINVAL, timers and sleeps EOPNOTSUPP, as Linux without an RTC device.
      return { kind: 'alarm', id };
    case CLOCK_MONOTONIC:
      return { kind: 'mono', id };
    case CLOCK_MONOTONIC_RAW:
      return { kind: 'raw', id };
    case CLOCK_BOOTTIME:
      return { kind: 'boot', id };
    case CLOCK_TAI:
      return { kind: 'tai', id };
    case CLOCK_REALTIME_COARSE:
      return { kind: 'realCoarse', id };
    case CLOCK_MONOTONIC_COARSE:
      return { kind: 'monoCoarse', id };
    case CLOCK_PROCESS_CPUTIME_ID:
      return { kind: 'cpu', id, tg: t.tg, task: null, which: CPUCLOCK_SCHED };
    case CLOCK_THREAD_CPUTIME_ID:
      return { kind: 'cpu', id, tg: t.tg, task: t, which: CPUCLOCK_SCHED };
  }
  if (id >= 0) return null;
  const which = id & 3;
  if (which === 3) return null;
  const perThread = (id & 4) !== 0;
  const pid = ~(id >> 3);
  if (pid === 0) return { kind: 'cpu', id, tg: t.tg, task: perThread ? t : null, which };
  if (perThread) {
    // Thread clocks only name threads of the caller's own process (as Linux).
    const task = t.kernel.tasks.get(pid);
    if (!task || task.tg !== t.tg) return null;
    return { kind: 'cpu', id, tg: task.tg, task, which };
  }
  const tg = t.kernel.threadGroups.get(pid) ?? (pid === t.tid ? t.tg : undefined);
  if (!tg) return null;
  return { kind: 'cpu', id, tg, task: null, which };
}

/** CPU time in ns of a CPU clock. */
export function cpuClockNs(c: Extract<Clock, { kind: 'cpu' }>): bigint {
  const s = c.task ? taskCpu(c.task) : processCpu(c.tg);
  return BigInt(c.which === CPUCLOCK_VIRT ? s.userNs : s.userNs + s.sysNs);
}

export function clockNow(c: Clock): bigint {
  switch (c.kind) {
    case 'real':
    case 'tai': // TAI offset is 0 unless adjtimex set one, which the guest cannot.
      return realtimeNs();
    case 'realCoarse': {
      const r = realtimeNs();
      return r - (r % COARSE_RES_NS);
    }
    case 'monoCoarse': {
      const m = monoNs();
      return m - (m % COARSE_RES_NS);
    }
    case 'mono':
    case 'raw':
    case 'boot':
    case 'alarm': // not readable (see clockReadable); kept total for the type
      return monoNs();
    case 'cpu':
      return cpuClockNs(c);
  }
}

/**
 * The clock's reading at monotonic instant nowNs (kernel.nowNs() base), for the timer
 * queue, which is told "now" by the scheduler. CPU clocks have no such mapping and
 * are read afresh.
 */
export function clockAt(c: Clock, nowNs: number): bigint {
  if (c.kind === 'cpu') return cpuClockNs(c);
  if (isWallClock(c)) return realtimeOffsetNs + BigInt(nowNs);
  return BigInt(nowNs);
}

/**
 * Resolution: 1 ns for hrtimer clocks and the CPU runtime clocks; a tick for the
 * COARSE clocks and for the tick-sampled PROF/VIRT CPU clocks (as Linux).
 */
export function clockRes(c: Clock): bigint {
  if (c.kind === 'realCoarse' || c.kind === 'monoCoarse') return COARSE_RES_NS;
  if (c.kind === 'cpu' && c.which !== CPUCLOCK_SCHED) return COARSE_RES_NS;
  return 1n;
}

/** Whether clock_gettime/clock_getres may read the clock (alarm clocks: no RTC). */
export function clockReadable(c: Clock): boolean {
  return c.kind !== 'alarm';
}

/** Clocks that can back a timer or a sleep (not RAW, COARSE or alarm clocks, as Linux). */
export function clockHasTimers(c: Clock): boolean {
  return c.kind !== 'raw' && c.kind !== 'realCoarse' && c.kind !== 'monoCoarse' && c.kind !== 'alarm';
}

/** True when absolute times on this clock are wall-clock times. */
export function isWallClock(c: Clock): boolean {
  return c.kind === 'real' || c.kind === 'tai';
}
