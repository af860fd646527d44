import type { Task } from '../task';
import type { ThreadGroup } from '../thread-group';
import { EAGAIN, EFAULT, EINVAL, EOPNOTSUPP } from '../../abi/errno';
import { Clock, resolveClock, clockHasTimers } from './clocks';
import { ClockTimer } from './clock-timer';
import { SI_TIMER, TimerSignal, timerQueue } from './timers';
import type { TimerSpec } from './timespec';

/**
 * timer_create and friends. Each process has its own timer ids, handed out from a
 * counter that starts at 0 and skips ids in use (as Linux). An expiry raises one
 * SI_TIMER signal; further expiries while that signal is still queued count as
 * overruns, reported in si_overrun at delivery and by timer_getoverrun afterwards.
 */

export const SIGEV_SIGNAL = 0;
export const SIGEV_NONE = 1;
export const SIGEV_THREAD = 2;
export const SIGEV_THREAD_ID = 4;
const SIGALRM = 14;
const SIGRTMAX = 64;
const DELAYTIMER_MAX = 0x7fffffff;
/** Upper bound on timers per process (Linux's bound is RLIMIT_SIGPENDING). */
const MAX_TIMERS = 32768;

export class PosixTimer {
  readonly timer: ClockTimer;
  /** A signal of ours is queued and not yet delivered. */
  private pending = false;
  /** Expiries since the queued signal was raised (beyond the one it stands for). */
  private overrun = 0;
  /** Overrun count of the last delivered signal (timer_getoverrun). */
  lastOverrun = 0;

  constructor(
    readonly id: number,
    readonly tg: ThreadGroup,
    clock: Clock,
    readonly notify: number,
    readonly signo: number,
    readonly target: Task | null,
    readonly value: bigint,
  ) {
    this.timer = new ClockTimer(clock, (n) => this.fired(n), notify === SIGEV_NONE, timerQueue, tg);
  }

  /** The queued signal, while pending. */
  private queued: TimerSignal | null = null;

  private fired(n: number): void {
    if (this.pending && this.queued?.stillQueued && !this.queued.stillQueued()) this.delivered();
    if (this.pending) {
      this.overrun = Math.min(DELAYTIMER_MAX, this.overrun + n);
      return;
    }
    // A thread-directed timer whose thread is gone sends nothing (Linux: dead pid).
    if (this.target && !this.target.kernel.tasks.has(this.target.tid)) return;
    this.overrun = n - 1;
    const s: TimerSignal = {
      tg: this.tg,
      task: this.target,
      signo: this.signo,
      code: SI_TIMER,
      timerId: this.id,
      value: this.value,
      onDequeue: () => this.delivered(),
    };
    if (timerQueue.raise(s)) {
      this.pending = true;
      this.queued = s;
    } else {
      this.delivered();
    }
  }

  private delivered(): number {
    this.pending = false;
    this.queued = null;
    this.lastOverrun = this.overrun;
    this.overrun = 0;
    return this.lastOverrun;
  }

  set(spec: TimerSpec, absolute: boolean): TimerSpec {
    // Linux common_timer_set: re-arming forgets overruns, also the last reported one.
    this.overrun = 0;
    this.lastOverrun = 0;
    return this.timer.set(spec, absolute);
  }
}

interface ProcessTimers {
  next: number;
  byId: Map<number, PosixTimer>;
}

const perProcess = new WeakMap<ThreadGroup, ProcessTimers>();

function timersOf(tg: ThreadGroup): ProcessTimers {
  let p = perProcess.get(tg);
  if (!p) {
    p = { next: 0, byId: new Map() };
    perProcess.set(tg, p);
  }
  return p;
}

export function findTimer(tg: ThreadGroup, id: number): PosixTimer | undefined {
  return perProcess.get(tg)?.byId.get(id);
}

/** Reads struct sigevent (64 bytes: value, signo, notify, tid). sevp 0 means the default. */
function readSigevent(t: Task, sevp: number): { value: bigint | null; signo: number; notify: number; tid: number } | number {
  if (sevp === 0) return { value: null, signo: SIGALRM, notify: SIGEV_SIGNAL, tid: 0 };
  const b = t.mem.read(sevp, 20);
  if (!b || b.length < 20) return -EFAULT;
  return { value: b.readBigUInt64LE(0), signo: b.readInt32LE(8), notify: b.readInt32LE(12), tid: b.readInt32LE(16) };
}

/** timer_create: returns the new id, or -errno. */
export function createTimer(t: Task, clockId: number, sevp: number): number {
  // Linux order: copy the sigevent, check the clock, then check the sigevent.
  const ev = readSigevent(t, sevp);
  if (typeof ev === 'number') return ev;
  const clock = resolveClock(t, clockId);
  if (!clock) return -EINVAL;
  // Alarm clocks fail later in Linux (no RTC), after an id was used up; others now.
  if (!clockHasTimers(clock) && clock.kind !== 'alarm') return -EOPNOTSUPP;
  // Linux hands out the id before it checks the sigevent, so a rejected one uses an id up.
  const p = timersOf(t.tg);
  if (p.byId.size >= MAX_TIMERS) return -EAGAIN;
  let id = p.next;
  while (p.byId.has(id)) id = (id + 1) & 0x7fffffff;
  p.next = (id + 1) & 0x7fffffff;
  // Linux good_sigevent(): SIGEV_THREAD is a plain signal to the kernel.
  let target: Task | null = null;
  if (ev.notify === (SIGEV_SIGNAL | SIGEV_THREAD_ID)) {
    const tt = t.kernel.tasks.get(ev.tid) ?? (ev.tid === t.tid ? t : undefined);
    if (!tt || tt.tg !== t.tg) return -EINVAL;
    target = tt;
  } else if (ev.notify !== SIGEV_SIGNAL && ev.notify !== SIGEV_THREAD && ev.notify !== SIGEV_NONE) {
    return -EINVAL;
  }
  if (ev.notify !== SIGEV_NONE && (ev.signo <= 0 || ev.signo > SIGRTMAX)) return -EINVAL;
  if (clock.kind === 'alarm') return -EOPNOTSUPP;
  // Without a sigevent, si_value carries the timer id (Linux).
  const timer = new PosixTimer(id, t.tg, clock, ev.notify, ev.signo, target, ev.value ?? BigInt(id));
  p.byId.set(id, timer);
  return id;
}

export function deleteTimer(tg: ThreadGroup, id: number): number {
  const p = perProcess.get(tg);
  const timer = p?.byId.get(id);
  if (!p || !timer) return -EINVAL;
  timer.timer.disarm();
  p.byId.delete(id);
  return 0;
}

/** Lead: call at exec and at process exit; exec deletes every timer_create timer. */
export function posixTimersOnExecOrExit(tg: ThreadGroup): void {
  const p = perProcess.get(tg);
  if (!p) return;
  for (const timer of p.byId.values()) timer.timer.disarm();
  p.byId.clear();
}


/** Checkpoint support (src/snapshot): tg's timer_create timers and the next id it would hand out. */
export function processTimers(tg: ThreadGroup): { next: number; timers: PosixTimer[] } {
  const p = perProcess.get(tg);
  return { next: p?.next ?? 0, timers: p ? [...p.byId.values()] : [] };
}

/** Checkpoint support: tg's timers as they were (each disarmed: the restorer arms it) and its next id. */
export function adoptTimers(tg: ThreadGroup, next: number, timers: PosixTimer[]): void {
  const p = timersOf(tg);
  p.next = next;
  for (const t of timers) p.byId.set(t.id, t);
}
