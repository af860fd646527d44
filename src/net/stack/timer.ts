/**
 * Stack timers on the Sentry's timer queue (src/kernel/time/timers.ts): the run loop
 * fires it with kernel.nowNs(), so a retransmission fires while every task sleeps.
 * Unit tests drive their own TimerQueue with a fake clock.
 */
import { TimerEntry, type TimerQueue } from '../../kernel/time/timers';

export interface Clock {
  /** Monotonic now in ns, on the queue's base. */
  nowNs(): number;
  readonly q: TimerQueue;
}

export class StackTimer extends TimerEntry {
  constructor(
    private readonly clock: Clock,
    private readonly fn: () => void,
  ) {
    super();
  }
  get armed(): boolean {
    return this.heapIndex >= 0;
  }
  /** (Re)arms to fire in ms milliseconds. */
  arm(ms: number): void {
    this.clock.q.schedule(this, this.clock.nowNs() + ms * 1e6);
  }
  /** Arms only if not already armed. */
  ensure(ms: number): void {
    if (this.heapIndex < 0) this.arm(ms);
  }
  cancel(): void {
    if (this.heapIndex >= 0) this.clock.q.cancel(this);
  }
  expire(): void {
    this.fn();
  }
}
