/**
 * Wait queues: the one mechanism by which anything that can become ready
 * (a pipe, a socket, a child exiting, a futex word, a host fd) wakes whoever waits on it.
 * A waiter is a callback, so a sleeping task, an epoll instance and a poll() call
 * all wait the same way.
 */
export type WakeFn = (events: number) => void;

export interface WaitEntry {
  readonly mask: number;
  readonly fn: WakeFn;
  /** Who waits, when the waiter is a task (futex PI hand-off needs to know). */
  readonly owner?: { tid: number };
  /** Set once removed, so a queue being notified can skip stale entries. */
  removed: boolean;
  /** The queue holding it now (futex requeue moves entries between queues). */
  queue: WaitQueue;
}

export class WaitQueue {
  private entries: WaitEntry[] = [];

  /** Registers fn for events in mask (0xffffffff for "any"). Returns the entry to remove later. */
  add(mask: number, fn: WakeFn, owner?: { tid: number }): WaitEntry {
    const e: WaitEntry = { mask, fn, removed: false, owner, queue: this };
    this.entries.push(e);
    return e;
  }

  remove(e: WaitEntry): void {
    if (e.removed) return;
    e.removed = true;
    const list = e.queue.entries;
    const i = list.indexOf(e);
    if (i >= 0) list.splice(i, 1);
  }

  /** Moves up to n waiters, oldest first, to another queue (FUTEX_REQUEUE); returns how many. */
  requeue(target: WaitQueue, n: number): number {
    let moved = 0;
    while (moved < n && this.entries.length) {
      const e = this.entries.shift()!;
      if (e.removed) continue;
      e.queue = target;
      target.entries.push(e);
      moved++;
    }
    return moved;
  }

  /** The task waiting longest, if the oldest waiter is a task. */
  firstWaiter(): { tid: number } | undefined {
    for (const e of this.entries) if (!e.removed) return e.owner;
    return undefined;
  }

  /** Waiters registered for any of the events in mask. */
  count(mask: number): number {
    let n = 0;
    for (const e of this.entries) if (!e.removed && (e.mask & mask) !== 0) n++;
    return n;
  }

  get size(): number {
    return this.entries.length;
  }

  /** Wakes every waiter whose mask intersects events. Callbacks may remove themselves. */
  notify(events: number): void {
    if (this.entries.length === 0) return;
    for (const e of this.entries.slice()) {
      if (!e.removed && (e.mask & events) !== 0) e.fn(events);
    }
  }

  /** Wakes at most n waiters (futex-style), oldest first; returns how many were woken. */
  notifyN(events: number, n: number): number {
    let woken = 0;
    for (const e of this.entries.slice()) {
      if (woken >= n) break;
      if (!e.removed && (e.mask & events) !== 0) {
        e.fn(events);
        woken++;
      }
    }
    return woken;
  }
}
