/**
 * Host-side changes seen by the guest's inotify watches on a shared tree (a rw bind the
 * host may change too). When a guest first watches a directory of such a tree, the
 * Gofer adds a host inotify watch on it (Op.Watch: the path resolved by the Gofer as
 * any other, the watch bounded there; ENOSPC past it) to the one inotify instance it
 * owns, whose fd it hands the Sentry with the first reply: the Sentry reads the events
 * from it (no round trip per event, no thread) and delivers them to the guest's watches
 * as the VFS delivers its own. The Sentry can only read events of directories the Gofer
 * chose to watch: no path of its own reaches the host.
 *
 * The sandbox's own changes reach the host too, and the host reports them again: so
 * every change the sandbox makes to a watched tree (a mutating Gofer request, a write
 * or futimens through a host fd) runs inside `own()`, which drains the events queued
 * before it (the host's: delivered) and after it (its own echo, queued by the host
 * kernel while the call ran: dropped; the VFS has already told the guest). A host change
 * landing in that very window is taken for the sandbox's (its event is lost, the cache
 * is still dropped). Events: create, delete, moves (cookies renumbered into the guest's
 * space), modify, attrib, the directory's own delete and move; each also drops what the
 * cache held for the name, so the guest's next look sees the change at once.
 */
import * as nfs from 'fs';
import { POLLIN } from '../../../src/abi/fs';
import { goferNative } from '../../../src/gofer/native';
import { hostPoller } from '../../../src/waiter/host-poller';
import { WaitQueue } from '../../../src/waiter/waitqueue';
import { newCookie, IN_IGNORED, IN_Q_OVERFLOW } from '../../vfs/inotify';

/** A directory watched on the host (HostInode). */
export interface HostWatched {
  readonly rel: string;
  /** A host event on it (name: of a child, '' for itself), cookie already the guest's. */
  hostEvent(mask: number, cookie: number, name: string): void;
}

/** What the Gofer offers for watches (GoferBackend). */
export interface WatchBackend {
  /** Host wd or -errno; fd: the inotify fd that came with the reply, or -1. */
  watch(rel: string): { wd: number; fd: number };
  unwatch(wd: number): void;
}

export class HostWatch {
  private fd = -1;
  private readonly byWd = new Map<number, HostWatched>();
  private readonly wdOf = new Map<HostWatched, number>();
  private readonly buf = Buffer.alloc(64 * 1024);
  private readonly q = new WaitQueue();
  private readonly cookies = new Map<number, number>();
  private failed = false;

  constructor(private readonly be: WatchBackend) {
    // The run loop polls the fd with the platform's stops (one-shot): drain, then re-arm.
    this.q.add(0xffffffff, () => {
      this.drain(true);
      this.arm();
    });
  }

  /** Some directory is watched: changes of the sandbox's own must go through own(). */
  get active(): boolean {
    return this.byWd.size > 0;
  }

  add(target: HostWatched): void {
    if (this.failed || this.wdOf.has(target)) return;
    const { wd, fd } = this.be.watch(target.rel);
    if (fd >= 0) {
      if (this.fd < 0) this.fd = fd;
      else nfs.closeSync(fd); // (only the first reply has one)
    }
    if (wd <= 0) return; // not watched on the host (bound reached, gone): local events only
    if (this.fd < 0 || goferNative()?.hostReadNb === undefined) {
      // No instance to read: a watch nobody reads would only fill the host's queue.
      this.be.unwatch(wd);
      this.failed = true;
      return;
    }
    // The same directory by another path (a hard-linked name cannot be; a bind can) shares the wd.
    this.byWd.set(wd, target);
    this.wdOf.set(target, wd);
    this.arm();
  }

  remove(target: HostWatched): void {
    const wd = this.wdOf.get(target);
    if (wd === undefined) return;
    this.wdOf.delete(target);
    if (this.byWd.get(wd) === target) this.byWd.delete(wd);
    this.be.unwatch(wd);
  }

  /** Runs f, a change the sandbox makes to this tree: the host's echo of it is not delivered again. */
  own<T>(f: () => T): T {
    if (this.byWd.size === 0) return f();
    this.drain(true);
    try {
      return f();
    } finally {
      this.drain(false);
    }
  }

  private arm(): void {
    if (this.fd >= 0 && this.byWd.size > 0) hostPoller.watch(this.fd, POLLIN, this.q);
  }

  /** Reads every queued event; delivers them (the host's) or only keeps the wd table right (our own). */
  drain(deliver: boolean): void {
    const n = goferNative();
    if (this.fd < 0 || n?.hostReadNb === undefined) return;
    const b = this.buf;
    for (;;) {
      const r = n.hostReadNb(this.fd, b);
      if (r <= 0) return;
      for (let off = 0; off + 16 <= r; ) {
        const wd = b.readInt32LE(off);
        const mask = b.readUInt32LE(off + 4);
        const cookie = b.readUInt32LE(off + 8);
        const len = b.readUInt32LE(off + 12);
        const end = Math.min(off + 16 + len, r);
        const z = b.indexOf(0, off + 16);
        const name = b.toString('latin1', off + 16, z >= 0 && z < end ? z : end);
        off = end;
        if (mask & IN_Q_OVERFLOW) {
          // Events were lost on the host: every watched directory forgets what it cached.
          for (const t of new Set(this.byWd.values())) t.hostEvent(IN_Q_OVERFLOW, 0, '');
          continue;
        }
        const t = this.byWd.get(wd);
        if (t === undefined) continue;
        if (mask & IN_IGNORED) {
          // The host dropped the watch (the directory went): so does the table.
          this.byWd.delete(wd);
          if (this.wdOf.get(t) === wd) this.wdOf.delete(t);
        }
        if (!deliver) continue;
        t.hostEvent(mask, cookie === 0 ? 0 : this.cookie(cookie), name);
      }
    }
  }

  /** The guest's cookie for a host cookie (both names of one rename share it). */
  private cookie(host: number): number {
    let c = this.cookies.get(host);
    if (c === undefined) {
      if (this.cookies.size >= 64) this.cookies.clear();
      c = newCookie();
      this.cookies.set(host, c);
    }
    return c;
  }
}
