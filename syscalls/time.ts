/**
 * Clocks, sleeps and timers: clock_*, gettimeofday, time, times, nanosleep,
 * setitimer/getitimer/alarm, timer_*. Handlers decode arguments and delegate to
 * src/kernel/time.
 */
import type { Task } from '../src/kernel/task';
import { EFAULT, EINVAL, EOPNOTSUPP, EPERM } from '../src/abi/errno';
import {
  resolveClock, clockNow, clockRes, clockHasTimers, clockReadable, realtimeNs, monoNs, CLOCK_MONOTONIC, CLOCK_THREAD_CPUTIME_ID,
} from '../src/kernel/time/clocks';
import {
  readTimespecNs, readTimevalNs, writeTimespec, writeTimeval, readItimerspec, writeItimerspec, readItimerval,
  writeItimerval, TimerSpec,
} from '../src/kernel/time/timespec';
import { sleepUntil, SleepState } from '../src/kernel/time/sleep';
import { runRestartBlock } from '../src/kernel/time/restart';
import { adjtimexRead } from '../src/kernel/time/ntp';
import { createTimerFd, timerFdOf, validSettimeFlags, isAbsolute } from '../src/kernel/time/timerfd';
import { getItimer, setItimer, validItimer, alarm as setAlarm } from '../src/kernel/time/itimers';
import { createTimer, deleteTimer, findTimer } from '../src/kernel/time/posix-timers';
import { processCpu } from '../src/kernel/time/cputime';
import { capable, CAP_SYS_TIME } from '../src/auth/capabilities';
import { timerQueue } from '../src/kernel/time/timers';
import { installTimers } from '../src/kernel/time/timer-signals';

const TIMER_ABSTIME = 1;

/**
 * Makes sure the Sentry drives the timer queue and turns expiries into signals,
 * before the first timer is armed (idempotent; the CLI may also install it at start).
 */
function timersReady(t: Task): void {
  const s = t.kernel.sentry;
  if (!s) return; // No Sentry (unit tests): whoever drives the queue installed a sink.
  if (s.timerSource !== timerQueue) installTimers(s);
}
/** USER_HZ: clock_t ticks per second. */
const TICK_NS = 10_000_000n;

export function clock_gettime(t: Task, clk: number, tp: number): number {
  const c = resolveClock(t, clk);
  if (!c || !clockReadable(c)) return -EINVAL;
  return writeTimespec(t, tp, clockNow(c));
}

export function clock_getres(t: Task, clk: number, res: number): number {
  const c = resolveClock(t, clk);
  if (!c || !clockReadable(c)) return -EINVAL;
  return res === 0 ? 0 : writeTimespec(t, res, clockRes(c));
}

/** The sandbox never sets the host's clock: REALTIME (and CPU clocks) say EPERM. */
export function clock_settime(t: Task, clk: number, tp: number): number {
  const c = resolveClock(t, clk);
  if (!c || (c.kind !== 'real' && c.kind !== 'cpu')) return -EINVAL;
  const ns = readTimespecNs(t, tp);
  if (typeof ns === 'number') return ns;
  return -EPERM;
}

export function gettimeofday(t: Task, tv: number, tz: number): number {
  if (tv !== 0 && writeTimeval(t, tv, realtimeNs()) !== 0) return -EFAULT;
  // struct timezone {minuteswest, dsttime}: the kernel's sys_tz, 0/0 unless set.
  if (tz !== 0 && !t.mem.write(tz, Buffer.alloc(8))) return -EFAULT;
  return 0;
}

export function settimeofday(t: Task, tv: number, tz: number): number {
  if (tv !== 0) {
    const ns = readTimevalNs(t, tv);
    if (typeof ns === 'number') return ns;
  }
  if (tz !== 0 && !t.mem.read(tz, 8)) return -EFAULT;
  if (tv !== 0 || !capable(t.creds, CAP_SYS_TIME)) return -EPERM;
  return 0; // Setting only the timezone: accepted, nothing in the sandbox reads it.
}

export function time(t: Task, tloc: number): number {
  const sec = Number(realtimeNs() / 1_000_000_000n);
  if (tloc !== 0 && !t.mem.write(tloc, u64(sec))) return -EFAULT;
  return sec;
}

/** times(): CPU times of the process and its reaped children in clock ticks; returns uptime ticks. */
export function times(t: Task, buf: number): number {
  if (buf !== 0) {
    const cpu = processCpu(t.tg);
    const b = Buffer.alloc(32);
    b.writeBigInt64LE(BigInt(cpu.userNs) / TICK_NS, 0);
    b.writeBigInt64LE(BigInt(cpu.sysNs) / TICK_NS, 8);
    b.writeBigInt64LE(BigInt(Math.floor(t.tg.childrenCpuNs)) / TICK_NS, 16);
    if (!t.mem.write(buf, b)) return -EFAULT;
  }
  return Number(monoNs() / TICK_NS);
}

export function nanosleep(t: Task, req: number, rem: number): number {
  const c = { kind: 'mono', id: CLOCK_MONOTONIC } as const;
  if (isSleeping(t)) return sleepUntil(t, c, 0n, rem);
  const ns = readTimespecNs(t, req);
  if (typeof ns === 'number') return ns;
  return sleepUntil(t, c, monoNs() + ns, rem);
}

export function clock_nanosleep(t: Task, clk: number, flags: number, req: number, rem: number): number {
  const c = resolveClock(t, clk);
  if (!c) return -EINVAL;
  // The thread CPU clock has no nsleep (EOPNOTSUPP); a thread's own clock by its id is EINVAL below.
  if ((clk | 0) === CLOCK_THREAD_CPUTIME_ID) return -EOPNOTSUPP;
  if (isSleeping(t)) return sleepUntil(t, c, 0n, 0);
  if (!clockHasTimers(c)) return -EOPNOTSUPP;
  // A thread cannot sleep on its own CPU clock (it would never advance).
  if (c.kind === 'cpu' && c.task === t) return -EINVAL;
  const ns = readTimespecNs(t, req);
  if (typeof ns === 'number') return ns;
  const abs = (flags & TIMER_ABSTIME) !== 0;
  return sleepUntil(t, c, abs ? ns : clockNow(c) + ns, abs ? 0 : rem);
}

/** restart_syscall: continues a sleep a signal without a handler interrupted. */
export function restart_syscall(t: Task): number {
  return runRestartBlock(t);
}

/** adjtimex: read-only (modes 0 or ADJ_OFFSET_SS_READ), else EPERM. */
export function adjtimex(t: Task, buf: number): number {
  return adjtimexRead(t, buf);
}

/** clock_adjtime: only CLOCK_REALTIME can be adjusted on Linux; here only read. */
export function clock_adjtime(t: Task, clk: number, buf: number): number {
  if (!t.mem.read(buf, 208)) return -EFAULT;
  const c = resolveClock(t, clk);
  if (!c) return -EINVAL;
  if (c.kind !== 'real' || c.id !== 0) return -EOPNOTSUPP;
  return adjtimexRead(t, buf);
}

function isSleeping(t: Task): boolean {
  return (t.sysState as SleepState | undefined)?.kind === 'sleep';
}

export function getitimer(t: Task, which: number, cur: number): number {
  which |= 0;
  if (!validItimer(which)) return -EINVAL;
  return writeItimerval(t, cur, getItimer(t.tg, which));
}

export function setitimer(t: Task, which: number, nv: number, old: number): number {
  which |= 0;
  // A NULL new value disarms (Linux accepts it, with a warning).
  let spec: TimerSpec = { interval: 0n, value: 0n };
  if (nv !== 0) {
    const r = readItimerval(t, nv);
    if (typeof r === 'number') return r;
    spec = r;
  }
  if (!validItimer(which)) return -EINVAL;
  timersReady(t);
  const prev = setItimer(t.tg, which, spec);
  return old === 0 ? 0 : writeItimerval(t, old, prev);
}

export function alarm(t: Task, seconds: number): number {
  timersReady(t);
  return setAlarm(t.tg, seconds >>> 0);
}

export function timer_create(t: Task, clk: number, sevp: number, idp: number): number {
  timersReady(t);
  const id = createTimer(t, clk, sevp);
  if (id < 0) return id;
  if (!t.mem.write(idp, i32(id))) {
    deleteTimer(t.tg, id);
    return -EFAULT;
  }
  return 0;
}

export function timer_settime(t: Task, id: number, flags: number, nv: number, old: number): number {
  if (nv === 0) return -EINVAL;
  const spec = readItimerspec(t, nv);
  if (typeof spec === 'number') return spec;
  const timer = findTimer(t.tg, id | 0);
  if (!timer) return -EINVAL;
  const prev = timer.set(spec, (flags & TIMER_ABSTIME) !== 0);
  return old === 0 ? 0 : writeItimerspec(t, old, prev);
}

export function timer_gettime(t: Task, id: number, cur: number): number {
  const timer = findTimer(t.tg, id | 0);
  if (!timer) return -EINVAL;
  return writeItimerspec(t, cur, timer.timer.get());
}

export function timer_getoverrun(t: Task, id: number): number {
  const timer = findTimer(t.tg, id | 0);
  return timer ? timer.lastOverrun : -EINVAL;
}

export function timer_delete(t: Task, id: number): number {
  return deleteTimer(t.tg, id | 0);
}

export function timerfd_create(t: Task, clk: number, flags: number): number {
  timersReady(t);
  return createTimerFd(t, clk | 0, flags | 0);
}

export function timerfd_settime(t: Task, fd: number, flags: number, nv: number, old: number): number {
  // Linux order: copy the new value, check flags and values, then look up the fd.
  const spec = readItimerspec(t, nv);
  if (typeof spec === 'number') return spec;
  if (!validSettimeFlags(flags | 0)) return -EINVAL;
  const f = timerFdOf(t, fd);
  if (typeof f === 'number') return f;
  timersReady(t);
  const prev = f.set(spec, isAbsolute(flags | 0));
  return old === 0 ? 0 : writeItimerspec(t, old, prev);
}

export function timerfd_gettime(t: Task, fd: number, cur: number): number {
  const f = timerFdOf(t, fd);
  if (typeof f === 'number') return f;
  return writeItimerspec(t, cur, f.timer.get());
}

function u64(v: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigInt64LE(BigInt(v));
  return b;
}

function i32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32LE(v);
  return b;
}
