import { Clock, clockNow, clockAt, realtimeToMono, isWallClock, sinceBootNs } from './clocks';
import { TimerEntry, TimerQueue, timerQueue } from './timers';
import type { TimerSpec } from './timespec';
import type { ThreadGroup } from '../thread-group';

/**
 * One interval timer on one clock: the engine under setitimer/alarm and timer_create.
 * Expiry is kept on the timer's own clock; the queue deadline is its monotonic image:
 * the same instant for MONOTONIC/BOOTTIME, a fixed offset away for REALTIME, and a
 * lower bound for CPU clocks (CPU time cannot pass faster than wall time times the
 * thread count), after which the CPU clock is re-read and the wait repeated if needed.
 * A passive timer (SIGEV_NONE) is never queued; reads just advance it lazily.
 */
export class ClockTimer extends TimerEntry {
  /** Absolute expiry on the timer's clock (ns), or null when disarmed. */
  private expiry: bigint | null = null;
  private interval = 0n;

  constructor(
    readonly clock: Clock,
    /** Called with the number of periods that elapsed (>= 1) at each expiry. */
    private readonly onFire: (expiries: number) => void,
    /** True for SIGEV_NONE timers: never queued, so nothing fires. */
    private readonly passive = false,
    private readonly q: TimerQueue = timerQueue,
    /** The process owning the timer: once it is gone the timer stops for good. */
    private readonly owner: ThreadGroup | null = null,
  ) {
    super();
  }

  get armed(): boolean {
    return this.expiry !== null;
  }

  /**
   * Arms the timer (value 0 disarms, as Linux; the interval is kept either way, which
   * getitimer reports). value is relative unless absolute is set. Returns the old setting.
   */
  set(spec: TimerSpec, absolute = false): TimerSpec {
    const old = this.get();
    this.q.cancel(this);
    this.interval = spec.interval;
    if (spec.value === 0n) {
      this.expiry = null;
      return old;
    }
    this.expiry = absolute ? spec.value : clockNow(this.clock) + spec.value;
    this.schedule();
    return old;
  }

  /**
   * Current setting: time left (>= minLeft while armed, so an armed timer never reads
   * as disarmed; 1 µs for setitimer's timevals, 1 ns for timer_gettime) and the interval.
   */
  get(minLeft = 1n): TimerSpec {
    if (this.expiry === null) return { interval: this.interval, value: 0n };
    const now = clockNow(this.clock);
    if (this.passive && now >= this.expiry) this.advance(now);
    if (this.expiry === null) return { interval: this.interval, value: 0n };
    let left = this.expiry - now;
    if (left < minLeft) left = minLeft;
    return { interval: this.interval, value: left };
  }

  disarm(): void {
    this.q.cancel(this);
    this.expiry = null;
  }

  expire(nowNs: number, _q: TimerQueue): void {
    if (this.expiry === null) return;
    if (this.owner && this.owner.zombie) {
      this.expiry = null; // Exited without timersOnExit: do not keep re-arming.
      return;
    }
    const cur = clockAt(this.clock, nowNs);
    if (cur < this.expiry) {
      this.schedule(); // CPU clock not there yet, or a REALTIME rounding: wait again.
      return;
    }
    const n = this.advance(cur);
    if (this.expiry !== null) this.schedule();
    this.onFire(n);
  }

  /** Moves expiry past now; returns the number of periods that elapsed. */
  private advance(now: bigint): number {
    const exp = this.expiry as bigint;
    if (this.interval === 0n) {
      this.expiry = null;
      return 1;
    }
    const periods = (now - exp) / this.interval + 1n;
    this.expiry = exp + periods * this.interval;
    return periods > 0x7fffffffn ? 0x7fffffff : Number(periods);
  }

  private schedule(): void {
    if (this.passive || this.expiry === null) return;
    const c = this.clock;
    let deadline: number;
    if (c.kind === 'cpu') {
      const threads = Math.max(1, c.task ? 1 : c.tg.tasks.size);
      const left = Number(this.expiry - clockNow(c)) / threads;
      // Re-read the CPU clock at most every 1 ms: /proc reads are not free.
      deadline = sinceBootNs() + Math.max(left, 1_000_000);
    } else {
      deadline = Number(isWallClock(c) ? realtimeToMono(this.expiry) : this.expiry);
    }
    this.q.schedule(this, deadline);
  }
}
