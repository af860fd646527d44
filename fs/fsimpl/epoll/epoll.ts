/**
 * epoll: an interest list of (fd, file) items. Each item keeps a persistent registration
 * on its file's wait queue; a notification marks the item (for edge-triggered reporting)
 * and wakes whoever waits on the epoll itself. epoll_wait checks readiness of every
 * enabled item (level-triggered semantics fall out of that), reports edge-triggered items
 * only after a notification, and disables EPOLLONESHOT items once reported.
 */
import * as E from '../../../src/abi/errno';
import type { WaitEntry } from '../../../src/waiter/waitqueue';
import { POLLIN, POLLERR, POLLHUP, POLLRDNORM } from '../../../src/abi/fs';
import { FileDescription } from '../../vfs/file';
import { anonInode } from '../../vfs/anon';

export const EPOLL_CTL_ADD = 1;
export const EPOLL_CTL_DEL = 2;
export const EPOLL_CTL_MOD = 3;
export const EPOLLEXCLUSIVE = 1 << 28;
export const EPOLLWAKEUP = 1 << 29;
export const EPOLLONESHOT = 1 << 30;
export const EPOLLET = 1 << 31;
const FLAG_BITS = (EPOLLEXCLUSIVE | EPOLLWAKEUP | EPOLLONESHOT | EPOLLET) >>> 0;

interface Item {
  fd: number;
  file: FileDescription;
  events: number;
  /** The 8 bytes of epoll_data, opaque. */
  data: Buffer;
  entry: WaitEntry;
  /** Events notified since the last report (edge-triggered). */
  pending: number;
  disabled: boolean;
}

export interface EpollEvent {
  events: number;
  data: Buffer;
}

export class EpollFile extends FileDescription {
  private readonly items = new Map<number, Item>();

  constructor(flags: number) {
    super(anonInode, flags);
  }

  private watch(it: Item): void {
    it.entry = it.file.waitQueue.add(0xffffffff, (ev) => {
      it.pending |= ev;
      this.waitQueue.notify(POLLIN | POLLRDNORM);
    });
  }

  /**
   * The file registered under fd, the toff-th such item (kcmp's KCMP_EPOLL_TFD; an item here
   * is one per fd, so only toff 0 can match), or null.
   */
  target(fd: number, toff: number): FileDescription | null {
    const it = this.items.get(fd);
    return it !== undefined && toff === 0 && !it.file.released ? it.file : null;
  }

  ctl(op: number, fd: number, file: FileDescription, events: number, data: Buffer): number {
    if (file === this) return -E.EINVAL;
    if (!file.pollable) return -E.EPERM;
    const cur = this.items.get(fd);
    const live = cur !== undefined && cur.file === file && !cur.file.released;
    switch (op) {
      case EPOLL_CTL_ADD: {
        if (live) return -E.EEXIST;
        if (cur) this.drop(fd);
        if (file instanceof EpollFile && file.reaches(this)) return -E.ELOOP;
        const it: Item = { fd, file, events: events >>> 0, data: Buffer.from(data), entry: null as unknown as WaitEntry, pending: 0xffffffff, disabled: false };
        this.watch(it);
        this.items.set(fd, it);
        this.waitQueue.notify(POLLIN | POLLRDNORM);
        return 0;
      }
      case EPOLL_CTL_MOD: {
        if (!live) return -E.ENOENT;
        if (events & EPOLLEXCLUSIVE || cur!.events & EPOLLEXCLUSIVE) return -E.EINVAL;
        cur!.events = events >>> 0;
        cur!.data = Buffer.from(data);
        cur!.disabled = false;
        cur!.pending = 0xffffffff;
        this.waitQueue.notify(POLLIN | POLLRDNORM);
        return 0;
      }
      case EPOLL_CTL_DEL:
        if (!live) return -E.ENOENT;
        this.drop(fd);
        return 0;
      default:
        return -E.EINVAL;
    }
  }

  private drop(fd: number): void {
    const it = this.items.get(fd);
    if (!it) return;
    it.file.waitQueue.remove(it.entry);
    this.items.delete(fd);
  }

  /** True if this epoll (transitively) watches target: adding would make a cycle. */
  private reaches(target: EpollFile, depth = 0): boolean {
    if (this === target) return true;
    if (depth > 5) return true;
    for (const it of this.items.values()) {
      if (it.file instanceof EpollFile && it.file.reaches(target, depth + 1)) return true;
    }
    return false;
  }

  /** Checkpoint support (src/snapshot): the interest list as it stands. */
  snapshotItems(): Array<{ fd: number; file: FileDescription; events: number; data: Buffer; pending: number; disabled: boolean }> {
    return [...this.items.values()].filter((it) => !it.file.released)
      .map((it) => ({ fd: it.fd, file: it.file, events: it.events, data: it.data, pending: it.pending, disabled: it.disabled }));
  }

  /** Checkpoint support (src/snapshot): an item of a restored interest list, with its edge and one-shot state. */
  restoreItem(fd: number, file: FileDescription, events: number, data: Buffer, pending: number, disabled: boolean): void {
    const it: Item = { fd, file, events: events >>> 0, data: Buffer.from(data), entry: null as unknown as WaitEntry, pending: pending >>> 0, disabled };
    this.watch(it);
    this.items.set(fd, it);
  }

  /** Collects up to max ready events (consuming edge/oneshot state). */
  collect(max: number): EpollEvent[] {
    const out: EpollEvent[] = [];
    for (const [fd, it] of this.items) {
      if (it.file.released) {
        this.drop(fd);
        continue;
      }
      if (it.disabled) continue;
      const want = (it.events & ~FLAG_BITS) | POLLERR | POLLHUP;
      let r = it.file.readiness() & want;
      if (r === 0) continue;
      if (it.events & EPOLLET) {
        if ((it.pending & want) === 0) continue;
        it.pending = 0;
      }
      out.push({ events: r >>> 0, data: it.data });
      if (it.events & EPOLLONESHOT) it.disabled = true;
      if (out.length >= max) break;
      r = 0;
    }
    return out;
  }

  /** Before the caller sleeps: host-backed files need their one-shot watches armed. */
  armAll(): void {
    for (const it of this.items.values()) if (!it.disabled) it.file.armWait(it.events & ~FLAG_BITS);
  }

  override readiness(): number {
    for (const it of this.items.values()) {
      if (it.disabled || it.file.released) continue;
      const want = (it.events & ~FLAG_BITS) | POLLERR | POLLHUP;
      const r = it.file.readiness() & want;
      if (r !== 0 && (!(it.events & EPOLLET) || it.pending & want)) return POLLIN | POLLRDNORM;
    }
    return 0;
  }
  override armWait(): void {
    this.armAll();
  }
  override read(): number {
    return -E.EINVAL;
  }
  override write(): number {
    return -E.EINVAL;
  }
  override anonName(): string {
    return 'anon_inode:[eventpoll]';
  }
  protected override release(): void {
    for (const fd of [...this.items.keys()]) this.drop(fd);
  }
}
