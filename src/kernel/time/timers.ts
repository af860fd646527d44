import type { Task } from '../task';
import type { ThreadGroup } from '../thread-group';

/**
 * The sandbox's timer queue: every armed guest timer (alarm/setitimer, timer_create,
 * and CPU-time timers) is an entry here, keyed by an absolute deadline on the
 * kernel.nowNs() time base. The scheduler asks nextDeadline() how long it may sleep
 * when every task is blocked, and calls fire(kernel.nowNs()) whenever it wakes; expired
 * timers then raise their signal through the sink given at construction (or setSink).
 * Task sleeps (nanosleep) do not use this queue: they block with t.block(deadline).
 */

export const SI_KERNEL = 0x80;
export const SI_TIMER = -2;

/** A signal a timer wants raised. */
export interface TimerSignal {
  tg: ThreadGroup;
  /** SIGEV_THREAD_ID target; null for a process-directed signal. */
  task: Task | null;
  signo: number;
  /** si_code: SI_KERNEL for setitimer/alarm, SI_TIMER for timer_create timers. */
  code: number;
  /** si_timerid (timer_create timers; 0 otherwise). */
  timerId: number;
  /** si_value (sigev_value, 64 bits) for SI_TIMER signals. */
  value: bigint;
  /**
   * For SI_TIMER signals: the signal code must call this when it dequeues the signal
   * for delivery; it returns the si_overrun to report. Until then the timer counts
   * further expiries as overruns instead of queueing more signals (as Linux does).
   */
  onDequeue?: () => number;
  /**
   * Set by the sink for a queued signal: whether it is still waiting in a queue. Lets
   * the timer notice a signal that left without onDequeue being called.
   */
  stillQueued?: () => boolean;
}

/**
 * Raises a timer's signal. Return true if the signal was queued and onDequeue will be
 * called at delivery; false if it was dropped (e.g. the process is exiting) or the
 * sink does not track delivery (the timer then never counts overruns).
 */
export type TimerSignalSink = (s: TimerSignal) => boolean;

/** Anything that can sit in the queue. */
export abstract class TimerEntry {
  /** Absolute monotonic deadline in ns; valid while queued. */
  deadline = Infinity;
  /** Position in the heap, -1 when not queued. */
  heapIndex = -1;
  /** Called once the deadline has passed; may re-schedule itself. */
  abstract expire(nowNs: number, q: TimerQueue): void;
}

export class TimerQueue {
  private heap: TimerEntry[] = [];

  constructor(private sink: TimerSignalSink | null = null) {}

  setSink(sink: TimerSignalSink | null): void {
    this.sink = sink;
  }

  /** Raises a timer signal through the sink; false if no sink or it declined. */
  raise(s: TimerSignal): boolean {
    if (s.tg.zombie || s.tg.exiting) return false;
    return this.sink ? this.sink(s) : false;
  }

  get size(): number {
    return this.heap.length;
  }

  /** Drops every timer and the sink (a reused pool worker, between sandboxes: src/server/retire.ts). */
  clear(): void {
    for (const e of this.heap) e.heapIndex = -1;
    this.heap = [];
    this.sink = null;
  }

  /** Queues (or moves) e to fire at deadlineNs. */
  schedule(e: TimerEntry, deadlineNs: number): void {
    if (e.heapIndex >= 0) this.cancel(e);
    e.deadline = deadlineNs;
    e.heapIndex = this.heap.length;
    this.heap.push(e);
    this.up(e.heapIndex);
  }

  cancel(e: TimerEntry): void {
    const i = e.heapIndex;
    if (i < 0) return;
    const lastE = this.heap.pop()!;
    e.heapIndex = -1;
    if (lastE !== e) {
      this.heap[i] = lastE;
      lastE.heapIndex = i;
      this.down(i);
      this.up(lastE.heapIndex);
    }
  }

  /** Earliest deadline (absolute monotonic ns), Infinity if nothing is armed. */
  nextDeadline(): number {
    return this.heap.length ? this.heap[0].deadline : Infinity;
  }

  /** Expires every entry whose deadline is <= nowNs. Returns how many expired. */
  fire(nowNs: number): number {
    const due: TimerEntry[] = [];
    while (this.heap.length && this.heap[0].deadline <= nowNs) {
      const e = this.heap[0];
      this.cancel(e);
      due.push(e);
    }
    // Expire after collecting, so an entry re-armed for "now" waits for the next fire().
    for (const e of due) e.expire(nowNs, this);
    return due.length;
  }

  private less(a: number, b: number): boolean {
    return this.heap[a].deadline < this.heap[b].deadline;
  }

  private swap(a: number, b: number): void {
    const h = this.heap;
    [h[a], h[b]] = [h[b], h[a]];
    h[a].heapIndex = a;
    h[b].heapIndex = b;
  }

  private up(i: number): void {
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }

  private down(i: number): void {
    const n = this.heap.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < n && this.less(l, m)) m = l;
      if (r < n && this.less(r, m)) m = r;
      if (m === i) break;
      this.swap(i, m);
      i = m;
    }
  }
}

/**
 * The sandbox's one queue. Lead: the scheduler calls timerQueue.fire(kernel.nowNs()) each
 * time round and sleeps no later than timerQueue.nextDeadline(); signals.ts installs
 * the sink with timerQueue.setSink(...).
 */
export const timerQueue = new TimerQueue();
