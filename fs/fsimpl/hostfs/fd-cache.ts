/**
 * The bounded cache of host fds of host files (HostFdSlot: one per file and access mode),
 * shared by every HostFs of the Sentry.
 */
import * as nfs from 'fs';
import * as E from '../../../src/abi/errno';
import { O_RDWR, O_WRONLY } from '../../../src/abi/fs';
import { hostErr } from './host-backend';
import { now } from './cache';
import type { HostInode } from './hostfs';

/**
 * The host fds of host files, bounded (as gVisor's gofer keeps a bounded set): guest fds
 * do not cost host fds one for one. Every open description of one file and access mode
 * shares one host fd (HostFdSlot); past `capacity` open fds the least recently used is
 * closed and re-opened through the backend (the Gofer) by path when next used, checked
 * to still be the same (dev, ino). Files whose name was unlinked or replaced through the
 * sandbox are pinned (never evicted). The cache's order is a Map's insertion order.
 */
export class HostFdCache {
  private readonly lru = new Map<HostFdSlot, true>();
  /** The most recently used slot (already last in the order: touching it again is free). */
  private last: HostFdSlot | null = null;
  constructor(public capacity: number) {}
  get size(): number {
    return this.lru.size;
  }
  touch(s: HostFdSlot): void {
    if (s === this.last) return;
    this.lru.delete(s);
    this.lru.set(s, true);
    this.last = s;
  }
  add(s: HostFdSlot): void {
    this.lru.set(s, true);
    this.last = s;
    if (this.lru.size <= this.capacity) return;
    for (const v of this.lru.keys()) {
      if (this.lru.size <= this.capacity) break;
      if (v === s || v.inode.pinned) continue;
      v.evict();
    }
  }
  remove(s: HostFdSlot): void {
    this.lru.delete(s);
    if (this.last === s) this.last = null;
  }
  /** Closes every cached fd (a reused pool worker, between sandboxes: src/server/retire.ts). */
  evictAll(): void {
    for (const v of [...this.lru.keys()]) v.evict();
    this.last = null;
  }
}

/** Soft RLIMIT_NOFILE of the Sentry (Node raises it to the hard limit at start-up). */
function sentryNofile(): number {
  try {
    const m = /Max open files\s+(\d+)/.exec(nfs.readFileSync('/proc/self/limits', 'utf8'));
    if (m) return Number(m[1]);
  } catch {
    /* no /proc */
  }
  return 1024;
}

/** A quarter of the Sentry's fd limit (the rest: pipes, sockets, memfds, stubs), 64..4096. */
export const hostFdCache = new HostFdCache(Math.max(64, Math.min(4096, Math.floor(sentryNofile() / 4))));

/** One host fd of a host file for one access mode, shared by its open descriptions. */
export class HostFdSlot {
  fd = -1;
  /** Open descriptions using it. */
  users = 0;
  constructor(readonly inode: HostInode, readonly acc: number) {}

  /** Takes fd (this file, this access mode) as the slot's idle fd: false if it has one. */
  adopt(fd: number): boolean {
    if (this.fd >= 0) return false;
    this.fd = fd;
    hostFdCache.add(this);
    return true;
  }

  /** A new description: opens (or truncates through) the host fd. */
  open(trunc: boolean): number {
    if (this.inode.pendingGen >= 0) this.inode.settle();
    if (this.fd < 0) {
      const fd = reopen(this.inode, this.acc, trunc);
      if (fd < 0) return fd;
      this.fd = fd;
      hostFdCache.add(this);
    } else if (trunc) {
      try {
        nfs.ftruncateSync(this.fd, 0);
      } catch (e) {
        return hostErr(e);
      }
    }
    this.users++;
    return 0;
  }

  /** The fd (re-opened if it was evicted) or -errno. */
  get(): number {
    if (this.inode.pendingGen >= 0) this.inode.settle(); // (a write-behind setattr goes first)
    if (this.fd >= 0) {
      hostFdCache.touch(this);
      return this.fd;
    }
    const fd = reopen(this.inode, this.acc, false);
    if (fd < 0) return fd;
    this.fd = fd;
    hostFdCache.add(this);
    return fd;
  }

  evict(): void {
    hostFdCache.remove(this);
    const fd = this.fd;
    this.fd = -1;
    if (fd >= 0) {
      try {
        nfs.closeSync(fd);
      } catch {
        /* gone */
      }
      // (Pinned: a name of the file went; its last fd closing, no read window keeps it.)
      if (this.inode.pinned) this.inode.dropWindows();
    }
  }

  /**
   * A description closed: the last one closes the host fd, except in an exclusive tree
   * (nothing else changes the file): there the fd stays in hostFdCache (bounded, least
   * recently used closed first), so opening the file again (the dynamic loader's
   * libraries at every exec, a header read twice) costs no Gofer round trip.
   */
  put(): void {
    if (--this.users > 0) return;
    if (this.inode.pinned || this.inode.fs.policy.mode !== 'exclusive') this.evict();
  }
}

/** Opens inode i on the host again (an evicted fd) by its path: -ESTALE if rel now names another file. */
function reopen(i: HostInode, acc: number, trunc: boolean): number {
  let hf = acc === O_WRONLY ? nfs.constants.O_WRONLY : acc === O_RDWR ? nfs.constants.O_RDWR : nfs.constants.O_RDONLY;
  if (trunc) hf |= nfs.constants.O_TRUNC;
  const be = i.fs.backend;
  const at = now();
  const fd = be.open(i.rel, hf, 0);
  if (fd < 0 || i.hostIno < 0) return fd;
  const dev = i.hostDev;
  const ino = i.hostIno;
  const got = be.lastStat;
  if (got !== null) {
    // The Gofer sent the opened file's attributes: no fstat, and they revalidate ours.
    if (got.ino === ino && (dev === 0 || got.dev === dev)) {
      if (!trunc) {
        i.cached = got;
        i.cachedAt = at;
      }
      return fd;
    }
  } else {
    try {
      const s = nfs.fstatSync(fd, { bigint: true });
      if (Number(s.ino) === ino && (dev === 0 || Number(s.dev) === dev)) return fd;
    } catch {
      /* fall through */
    }
  }
  nfs.closeSync(fd);
  return -E.ESTALE;
}
