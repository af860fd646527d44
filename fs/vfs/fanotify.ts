/**
 * fanotify (FAN_CLASS_NOTIF, fd-reporting groups): marks on inodes (a directory's own
 * events, and its children's with FAN_EVENT_ON_CHILD), on mounts and on filesystems;
 * events FAN_ACCESS, FAN_MODIFY, FAN_OPEN, FAN_CLOSE_WRITE/NOWRITE taken from the same
 * VFS hooks as inotify (inotify.ts counts the marks, so nothing runs while there are
 * none). Reading an event installs an fd open on its file in the reader's table; those
 * fds make no events of their own. Events on one file by one process merge while queued,
 * as Linux's. No permission classes and no FID reporting (EINVAL).
 */
import * as E from '../../src/abi/errno';
import { POLLIN, POLLRDNORM, O_CLOEXEC } from '../../src/abi/fs';
import { FileDescription } from './file';
import type { Inode, FileSystem } from './inode';
import type { Dentry } from './dentry';
import type { FsCaller } from './caller';
import { anonInode } from './anon';
import { setFanotify } from './inotify';

export const FAN_ACCESS = 0x1, FAN_MODIFY = 0x2, FAN_CLOSE_WRITE = 0x8, FAN_CLOSE_NOWRITE = 0x10, FAN_OPEN = 0x20,
  FAN_OPEN_EXEC = 0x1000, FAN_Q_OVERFLOW = 0x4000, FAN_EVENT_ON_CHILD = 0x08000000, FAN_ONDIR = 0x40000000;
export const FAN_CLOEXEC = 0x1, FAN_NONBLOCK = 0x2, FAN_CLASS_CONTENT = 0x4, FAN_CLASS_PRE_CONTENT = 0x8,
  FAN_UNLIMITED_QUEUE = 0x10, FAN_UNLIMITED_MARKS = 0x20, FAN_ENABLE_AUDIT = 0x40, FAN_REPORT_TID = 0x100;
export const FAN_MARK_ADD = 0x1, FAN_MARK_REMOVE = 0x2, FAN_MARK_DONT_FOLLOW = 0x4, FAN_MARK_ONLYDIR = 0x8,
  FAN_MARK_MOUNT = 0x10, FAN_MARK_IGNORED_MASK = 0x20, FAN_MARK_IGNORED_SURV_MODIFY = 0x40, FAN_MARK_FLUSH = 0x80,
  FAN_MARK_FILESYSTEM = 0x100;
/** The events an fd-reporting notification group may ask for. */
export const FAN_NOTIF_EVENTS = FAN_ACCESS | FAN_MODIFY | FAN_CLOSE_WRITE | FAN_CLOSE_NOWRITE | FAN_OPEN | FAN_OPEN_EXEC;
const EVENT_LEN = 24;
const METADATA_VERSION = 3;
const MAX_QUEUED = 16384;
/** Linux compares a new event with this many queued ones when merging. */
const MERGE_WINDOW = 128;

export type MarkKind = 'inode' | 'mount' | 'fs';
interface Mark {
  kind: MarkKind;
  /** The inode, the mount's root dentry, or the filesystem. */
  obj: Inode | Dentry | FileSystem;
  mask: number;
  ignored: number;
}

interface FanEvent {
  mask: number;
  pid: number;
  d: Dentry | null;
  inode: Inode;
}

const groups = new Set<FanotifyFile>();
let markCount = 0;
/** Descriptions handed to readers: FMODE_NONOTIFY, no events from them. */
const quiet = new WeakSet<FileDescription>();
/** Who opened a description (close events report the opener). */
const openers = new WeakMap<FileDescription, number>();

function recount(delta: number): void {
  markCount += delta;
  setFanotify(markCount, markCount > 0 ? onEvent : null);
}

export class FanotifyFile extends FileDescription {
  private readonly marks: Mark[] = [];
  private queue: FanEvent[] = [];

  constructor(flags: number, readonly eventFlags: number, readonly reportTid: boolean, readonly unlimited: boolean) {
    super(anonInode, flags);
    groups.add(this);
  }

  /** FAN_MARK_ADD / REMOVE of mask (or of the ignore mask) on one object. */
  mark(kind: MarkKind, obj: Mark['obj'], add: boolean, mask: number, ignore: boolean): number {
    let m = this.marks.find((x) => x.kind === kind && x.obj === obj);
    if (!add) {
      if (!m) return -E.ENOENT;
      if (ignore) m.ignored &= ~mask;
      else m.mask &= ~mask;
      if ((m.mask & ~(FAN_ONDIR | FAN_EVENT_ON_CHILD)) === 0 && m.ignored === 0) this.drop(m);
      return 0;
    }
    if (!m) {
      m = { kind, obj, mask: 0, ignored: 0 };
      this.marks.push(m);
      if (kind === 'inode') (obj as Inode).holds++;
      recount(1);
    }
    if (ignore) m.ignored |= mask;
    else m.mask |= mask;
    return 0;
  }

  /** FAN_MARK_FLUSH: every mark of one kind goes. */
  flush(kind: MarkKind): void {
    for (const m of this.marks.filter((x) => x.kind === kind)) this.drop(m);
  }

  private drop(m: Mark): void {
    const i = this.marks.indexOf(m);
    if (i < 0) return;
    this.marks.splice(i, 1);
    if (m.kind === 'inode') (m.obj as Inode).holds--;
    recount(-1);
  }

  /** What of mask this group takes for an event on inode (at d). */
  wants(d: Dentry | null, inode: Inode, mask: number): number {
    let want = 0;
    let ignored = 0;
    const isDir = inode.isDir;
    for (const m of this.marks) {
      let hit = false;
      if (m.kind === 'inode') {
        if (m.obj === inode) hit = !isDir || (m.mask & FAN_ONDIR) !== 0;
        else if (m.mask & FAN_EVENT_ON_CHILD && d !== null && d.parent !== null && d.parent.inode === m.obj) hit = !isDir || (m.mask & FAN_ONDIR) !== 0;
      } else if (m.kind === 'fs') {
        hit = inode.fs === m.obj && (!isDir || (m.mask & FAN_ONDIR) !== 0);
      } else if (d !== null) {
        hit = mountRoot(d) === m.obj && (!isDir || (m.mask & FAN_ONDIR) !== 0);
      }
      if (!hit) continue;
      want |= m.mask;
      ignored |= m.ignored;
    }
    return mask & want & ~ignored & FAN_NOTIF_EVENTS;
  }

  push(ev: FanEvent): void {
    // Merge with a queued event on the same file by the same process (fanotify_merge).
    for (let i = this.queue.length - 1, n = 0; i >= 0 && n < MERGE_WINDOW; i--, n++) {
      const q = this.queue[i];
      if (q.pid === ev.pid && q.inode === ev.inode && q.d === ev.d && q.mask !== FAN_Q_OVERFLOW) {
        q.mask |= ev.mask;
        return;
      }
    }
    if (!this.unlimited && this.queue.length >= MAX_QUEUED) {
      if (this.queue[this.queue.length - 1]?.mask !== FAN_Q_OVERFLOW) this.queue.push({ mask: FAN_Q_OVERFLOW, pid: 0, d: null, inode: anonInode });
      return;
    }
    this.queue.push(ev);
    this.waitQueue.notify(POLLIN | POLLRDNORM);
  }

  /** Whole events only; each gets an fd open on its file in the reader's table (FAN_NOFD for overflow). */
  override read(buf: Uint8Array, t?: unknown): number {
    if (this.queue.length === 0) return -E.EAGAIN;
    if (buf.length < EVENT_LEN) return -E.EINVAL;
    const caller = t as FsCaller | undefined;
    const out = Buffer.from(buf.buffer, buf.byteOffset, buf.length);
    let off = 0;
    while (this.queue.length > 0 && off + EVENT_LEN <= buf.length) {
      const ev = this.queue[0];
      let fd = -1;
      if (ev.mask !== FAN_Q_OVERFLOW && caller !== undefined) {
        const f = ev.inode.open(this.eventFlags & ~O_CLOEXEC);
        if (typeof f === 'number') {
          if (off > 0) break;
          this.queue.shift();
          return f;
        }
        f.dentry = ev.d;
        quiet.add(f);
        fd = caller.fdTable.install(f, (this.eventFlags & O_CLOEXEC) !== 0);
        if (fd < 0) {
          if (off > 0) break;
          return fd;
        }
      }
      this.queue.shift();
      out.writeUInt32LE(EVENT_LEN, off);
      out[off + 4] = METADATA_VERSION;
      out[off + 5] = 0;
      out.writeUInt16LE(EVENT_LEN, off + 6);
      out.writeBigUInt64LE(BigInt(ev.mask >>> 0), off + 8);
      out.writeInt32LE(fd, off + 16);
      out.writeInt32LE(ev.pid, off + 20);
      off += EVENT_LEN;
    }
    return off;
  }
  override write(): number {
    return -E.EINVAL;
  }
  override readiness(): number {
    return this.queue.length > 0 ? POLLIN | POLLRDNORM : 0;
  }
  override available(): number {
    return this.queue.length * EVENT_LEN;
  }
  override anonName(): string {
    return 'anon_inode:[fanotify]';
  }
  protected override release(): void {
    for (const m of [...this.marks]) this.drop(m);
    groups.delete(this);
    this.queue = [];
  }
}

/** The root dentry of the mount d is on. */
function mountRoot(d: Dentry): Dentry {
  let x = d;
  while (x.parent !== null) x = x.parent;
  return x;
}

export function mountRootOf(d: Dentry): Dentry {
  return mountRoot(d);
}

function pidOf(by: object | null, tid: boolean): number {
  const t = by as { tid?: number; tg?: { pid: number } } | null;
  return (tid ? t?.tid : t?.tg?.pid) ?? 0;
}

function onEvent(d: Dentry | null, inode: Inode, mask: number, by: object | null, f: FileDescription | null): void {
  if (f !== null && quiet.has(f)) return;
  let pidSrc = by;
  if (f !== null) {
    if (mask & FAN_OPEN && by !== null) openers.set(f, pidOf(by, false));
    // A close reports the opener (the closing process is not known here).
    if (by === null && mask & (FAN_CLOSE_WRITE | FAN_CLOSE_NOWRITE)) pidSrc = { tg: { pid: openers.get(f) ?? 0 } };
  }
  for (const g of groups) {
    const m = g.wants(d, inode, mask);
    if (m === 0) continue;
    // An fd-reporting group is not told FAN_ONDIR in the mask (Linux sets it only with FID reporting).
    g.push({ mask: m, pid: pidOf(pidSrc, g.reportTid), d, inode });
  }
}
