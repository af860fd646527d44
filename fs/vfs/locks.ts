/**
 * Advisory file locks: flock(2) (owned by the open file description) and fcntl record
 * locks (owned by the process for F_SETLK, by the description for F_OFD_SETLK). Locks are
 * kept per inode; blocked lockers sleep on the inode's queue, woken on every unlock.
 */
import * as E from '../../src/abi/errno';
import { WaitQueue } from '../../src/waiter/waitqueue';
import type { FileDescription } from './file';
import type { Inode } from './inode';

export const F_RDLCK = 0;
export const F_WRLCK = 1;
export const F_UNLCK = 2;
export const LOCK_SH = 1;
export const LOCK_EX = 2;
export const LOCK_NB = 4;
export const LOCK_UN = 8;
/** flock(2)'s old mandatory-lock request, ignored since Linux 5.19. */
export const LOCK_MAND = 32;

interface RangeLock {
  /** A ThreadGroup (process locks) or a FileDescription (OFD locks). */
  owner: object;
  /** pid reported by F_GETLK (-1 for OFD locks). */
  pid: number;
  type: number;
  start: number;
  /** Inclusive; Infinity = to EOF and beyond. */
  end: number;
}

class LockState {
  readonly queue = new WaitQueue();
  readonly flocks = new Map<FileDescription, number>();
  ranges: RangeLock[] = [];
}

const states = new WeakMap<Inode, LockState>();

export function lockInode(f: FileDescription): Inode {
  return f.dentry !== null ? f.dentry.inode : f.inode;
}
function stateOf(f: FileDescription): LockState {
  const ino = lockInode(f);
  let s = states.get(ino);
  if (!s) states.set(ino, (s = new LockState()));
  return s;
}

function releaseAllOf(f: FileDescription): void {
  const s = states.get(lockInode(f));
  if (!s) return;
  s.flocks.delete(f);
  s.ranges = s.ranges.filter((r) => r.owner !== f);
  s.queue.notify(0xffffffff);
}

/** flock: returns 0, -EWOULDBLOCK (LOCK_NB), or the wait queue to sleep on. */
export function flock(f: FileDescription, op: number): number | WaitQueue {
  const s = stateOf(f);
  const kind = op & ~LOCK_NB;
  if (kind === LOCK_UN) {
    if (s.flocks.delete(f)) s.queue.notify(0xffffffff);
    return 0;
  }
  if (kind !== LOCK_SH && kind !== LOCK_EX) return -E.EINVAL;
  for (const [other, t] of s.flocks) {
    if (other === f || other.released) continue;
    if (kind === LOCK_EX || t === LOCK_EX) return op & LOCK_NB ? -E.EWOULDBLOCK : s.queue;
  }
  s.flocks.set(f, kind);
  f.onLastClose = releaseAllOf;
  return 0;
}

export interface LockRequest {
  type: number;
  start: number;
  end: number;
}

/** A process that has exited holds no locks (in case its fds were not closed through us). */
function ownerGone(o: object): boolean {
  const tg = o as { zombie?: unknown; exiting?: unknown; released?: unknown };
  return tg.zombie === true || tg.exiting === true || tg.released === true;
}

/** F_GETLK: the first lock that would conflict, or null. */
export function getlk(f: FileDescription, owner: object, req: LockRequest): RangeLock | null {
  const s = states.get(lockInode(f));
  if (!s) return null;
  if (s.ranges.some((r) => ownerGone(r.owner))) s.ranges = s.ranges.filter((r) => !ownerGone(r.owner));
  for (const r of s.ranges) {
    if (r.owner === owner) continue;
    if (r.end < req.start || r.start > req.end) continue;
    if (req.type === F_WRLCK || r.type === F_WRLCK) return r;
  }
  return null;
}

/** F_SETLK(W): 0, -EAGAIN (conflict, caller decides to wait on the returned queue via waitQueueOf). */
export function setlk(f: FileDescription, owner: object, pid: number, req: LockRequest): number {
  const s = stateOf(f);
  if (req.type !== F_UNLCK && getlk(f, owner, req) !== null) return -E.EAGAIN;
  // Cut [start, end] out of this owner's locks, then add the new one.
  const out: RangeLock[] = [];
  for (const r of s.ranges) {
    if (r.owner !== owner || r.end < req.start || r.start > req.end) {
      out.push(r);
      continue;
    }
    if (r.start < req.start) out.push({ ...r, end: req.start - 1 });
    if (r.end > req.end) out.push({ ...r, start: req.end + 1 });
  }
  if (req.type !== F_UNLCK) out.push({ owner, pid, type: req.type, start: req.start, end: req.end });
  s.ranges = out;
  if (owner === f) f.onLastClose = releaseAllOf;
  s.queue.notify(0xffffffff);
  return 0;
}

export function lockQueue(f: FileDescription): WaitQueue {
  return stateOf(f).queue;
}

/** close(2) of any fd of a process drops that process's record locks on the inode (POSIX). */
export function releaseProcessLocks(f: FileDescription, owner: object): void {
  const s = states.get(lockInode(f));
  if (!s || s.ranges.length === 0) return;
  const before = s.ranges.length;
  s.ranges = s.ranges.filter((r) => r.owner !== owner);
  if (s.ranges.length !== before) s.queue.notify(0xffffffff);
}
