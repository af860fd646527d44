import type { WaitQueue } from './waitqueue';

/**
 * Host fds that guest tasks wait on (the terminal, pipes the Sentry was handed, gofer
 * fds). The run loop polls them together with the platform's stops; when one becomes
 * ready its queue is notified once and the registration is dropped (one-shot: a file
 * that still has nothing to offer simply registers again).
 */
export class HostPoller {
  private readonly watches = new Map<number, Array<{ events: number; q: WaitQueue }>>();
  private fds = new Int32Array(16);
  private events = new Int32Array(16);
  private revents = new Int32Array(16);
  private count = 0;
  private dirty = true;

  watch(fd: number, events: number, q: WaitQueue): void {
    let list = this.watches.get(fd);
    if (!list) this.watches.set(fd, (list = []));
    if (!list.some((w) => w.q === q && w.events === events)) list.push({ events, q });
    this.dirty = true;
  }

  /** Drops every watch (a reused pool worker, between sandboxes: src/server/retire.ts). */
  clear(): void {
    this.watches.clear();
    this.dirty = true;
  }

  get empty(): boolean {
    return this.watches.size === 0;
  }

  /** The arrays handed to the platform's wait (rebuilt only when the set changed). */
  pollSet(): { fds: Int32Array; events: Int32Array; revents: Int32Array; count: number } {
    if (this.dirty) {
      if (this.watches.size > this.fds.length) {
        const n = this.watches.size * 2;
        this.fds = new Int32Array(n);
        this.events = new Int32Array(n);
        this.revents = new Int32Array(n);
      }
      let i = 0;
      for (const [fd, list] of this.watches) {
        this.fds[i] = fd;
        this.events[i] = list.reduce((m, w) => m | w.events, 0);
        i++;
      }
      this.count = i;
      this.dirty = false;
    }
    return { fds: this.fds, events: this.events, revents: this.revents, count: this.count };
  }

  /** Called after a poll filled revents: notifies and drops ready watches. */
  dispatch(): void {
    const { fds, revents, count } = this.pollSet();
    for (let i = 0; i < count; i++) {
      const rev = revents[i];
      if (rev === 0) continue;
      revents[i] = 0;
      const list = this.watches.get(fds[i]);
      if (!list) continue;
      // POLLERR/POLLHUP/POLLNVAL (8|16|32) wake every waiter on the fd.
      const ready = list.filter((w) => (w.events | 0x38) & rev);
      const rest = list.filter((w) => !((w.events | 0x38) & rev));
      if (rest.length) this.watches.set(fds[i], rest);
      else this.watches.delete(fds[i]);
      this.dirty = true;
      for (const w of ready) w.q.notify(rev);
    }
  }
}

/** The Sentry process's one poller: host fds belong to the process, not to a sandbox. */
export const hostPoller = new HostPoller();
