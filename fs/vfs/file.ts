/**
 * Open file descriptions (struct file): shared by dup'ed fds and across fork, so the
 * offset and status flags live here. Refcounted: the last decRef releases it (a pipe
 * end then drops its reader/writer count, a host fd is closed).
 *
 * Blocking convention: read/write return -EAGAIN when they would block; the syscall
 * handler then either returns EAGAIN (O_NONBLOCK) or calls armWait() and parks the task
 * on `waitQueue` (POLLIN / POLLOUT) and retries when woken.
 */
import * as E from '../../src/abi/errno';
import { WaitQueue } from '../../src/waiter/waitqueue';
import type { Ctty, FsCaller as Task } from './caller';
import {
  O_ACCMODE, O_RDONLY, O_WRONLY, O_RDWR, O_PATH, POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM,
  SEEK_SET, SEEK_CUR, SEEK_END, SEEK_DATA, SEEK_HOLE,
} from '../../src/abi/fs';
import type { Inode, Stat, DirEntry } from './inode';
import type { Dentry } from './dentry';

/**
 * The largest offset a Sentry file takes (its s_maxbytes; Linux's tmpfs allows 2^63 - 1).
 * Offsets are JS numbers, and syscall arguments from 2^52 up may be saturated
 * (src/platform/event-buffer.ts argToNumber), so seeks past it fail with EINVAL and
 * writes with EFBIG, as on a file system with a smaller limit.
 */
export const MAX_FILE_OFFSET = 2 ** 52 - 1;

export abstract class FileDescription {
  private refs = 1;
  /** Offset for read/write/lseek. */
  pos = 0;
  /** Notified with POLL* events when readiness may have changed (pipes share their pipe's queue). */
  waitQueue: WaitQueue = new WaitQueue();
  /** Where it was opened (null for anonymous files: pipes, eventfd, epoll...). */
  dentry: Dentry | null = null;
  /** Set on the last close. */
  released = false;
  /** flock(2) state held through this description: 0, LOCK_SH(1) or LOCK_EX(2). */
  flockState = 0;

  /** The inode this description holds (Inode.holds) until its last close. */
  private readonly held: Inode;

  constructor(
    public inode: Inode,
    /** open(2) access mode and status flags (O_APPEND, O_NONBLOCK...). */
    public flags: number,
  ) {
    inode.holds++;
    this.held = inode;
  }

  get readable(): boolean {
    const a = this.flags & O_ACCMODE;
    return (a === O_RDONLY || a === O_RDWR) && (this.flags & O_PATH) === 0;
  }
  get writable(): boolean {
    const a = this.flags & O_ACCMODE;
    return (a === O_WRONLY || a === O_RDWR) && (this.flags & O_PATH) === 0;
  }
  get isPath(): boolean {
    return (this.flags & O_PATH) !== 0;
  }

  incRef(): this {
    this.refs++;
    return this;
  }
  decRef(): void {
    if (--this.refs === 0 && !this.released) {
      this.released = true;
      this.held.holds--;
      if (this.onLastClose !== null) this.onLastClose(this);
      if (FileDescription.closeHook !== null) FileDescription.closeHook(this);
      this.release();
    }
  }
  /** Called on every last close (inotify's IN_CLOSE_*), set by fs/inotify.ts. */
  static closeHook: ((f: FileDescription) => void) | null = null;
  /** Set by fs/locks.ts while this description holds flock/OFD locks. */
  onLastClose: ((f: FileDescription) => void) | null = null;
  get refCount(): number {
    return this.refs;
  }

  /** Called once on the last close. */
  protected release(): void {}

  /** Reads into buf at the current offset. -EAGAIN when it would block. */
  read(_buf: Uint8Array, _t?: Task): number {
    return -E.EINVAL;
  }
  write(_buf: Uint8Array, _t?: Task): number {
    return -E.EINVAL;
  }
  pread(_buf: Uint8Array, _pos: number): number {
    return -E.ESPIPE;
  }
  pwrite(_buf: Uint8Array, _pos: number): number {
    return -E.ESPIPE;
  }
  seek(_off: number, _whence: number): number {
    return -E.ESPIPE;
  }
  /** Writes vanish without reading the buffer (/dev/null, /dev/zero): no guest copy needed. */
  get discardsWrites(): boolean {
    return false;
  }
  /** False where Linux's file has no mmap method (proc and sysfs attributes): ENODEV. */
  get mappable(): boolean {
    return true;
  }
  /** Directory listing for getdents; null when not a directory. */
  readdirEntries(): DirEntry[] | null {
    return null;
  }
  /** False for files without a poll method (regular files, dirs): epoll_ctl gives EPERM. */
  get pollable(): boolean {
    return true;
  }
  /** POLL* bits ready now. */
  readiness(): number {
    return POLLIN | POLLRDNORM | POLLOUT | POLLWRNORM;
  }
  /** Before a task sleeps on waitQueue for mask: arrange for a notification (host fds). */
  armWait(_mask: number): void {}
  ioctl(_t: Task, _cmd: number, _arg: number): number {
    return -E.ENOTTY;
  }
  /** The terminal (job-control state) this file is, for open()'s controlling-tty rules. */
  ctty(): Ctty | null {
    return null;
  }
  /** FIONREAD: bytes readable now; -ENOTTY when the file has no such notion. */
  available(): number {
    return -E.ENOTTY;
  }
  stat(): Stat | number {
    // The dentry's inode is what stat(path) shows (the overlay inode, not its layer).
    return (this.dentry !== null ? this.dentry.inode : this.inode).stat();
  }
  truncate(len: number): number {
    return this.inode.setattr({ size: len });
  }
  fsync(): number {
    return 0;
  }
  /** fallocate mode 0: make sure [off, off+len) exists (extends the size). */
  allocate(off: number, len: number): number {
    const st = this.inode.stat();
    if (typeof st === 'number') return st;
    if (off + len > st.size) return this.inode.setattr({ size: off + len });
    return 0;
  }
  /** Pipe capacity for F_GETPIPE_SZ/F_SETPIPE_SZ; -EBADF when not a pipe. */
  pipeSize(_set?: number): number {
    return -E.EBADF;
  }
  /** Name shown by /proc/pid/fd for anonymous files ("pipe:[123]", "anon_inode:[eventfd]"). */
  anonName(): string | null {
    return null;
  }
}

/**
 * A seekable file whose data is addressed by position (tmpfs, host, memfd, /proc text):
 * subclasses provide pread/pwrite/size; read/write/seek follow from them.
 */
/** Writes all of data to f (the Sentry's own files: set-up writes, no guest waits); bytes written. */
export function writeAll(f: FileDescription, data: Uint8Array): number {
  let off = 0;
  while (off < data.length) {
    const w = f.write(data.subarray(off));
    if (w <= 0) break;
    off += w;
  }
  return off;
}

export abstract class SeekableFile extends FileDescription {
  abstract size(): number;
  override get pollable(): boolean {
    return false;
  }
  override available(): number {
    return Math.max(0, this.size() - this.pos);
  }
  abstract override pread(buf: Uint8Array, pos: number): number;
  override pwrite(_buf: Uint8Array, _pos: number): number {
    return -E.EINVAL;
  }
  /** O_APPEND writes go to the end atomically (under the single-threaded Sentry, trivially). */
  override read(buf: Uint8Array): number {
    const n = this.pread(buf, this.pos);
    if (n > 0) this.pos += n;
    return n;
  }
  override write(buf: Uint8Array): number {
    if (this.flags & 0o2000 /* O_APPEND */) this.pos = this.size();
    const n = this.pwrite(buf, this.pos);
    if (n > 0) this.pos += n;
    return n;
  }
  override seek(off: number, whence: number): number {
    let base: number;
    switch (whence) {
      case SEEK_SET: base = 0; break;
      case SEEK_CUR: base = this.pos; break;
      case SEEK_END: base = this.size(); break;
      case SEEK_DATA: {
        // No holes tracked: all data up to size is data.
        const sz = this.size();
        if (off < 0 || off >= sz) return -E.ENXIO;
        return (this.pos = off);
      }
      case SEEK_HOLE: {
        const sz = this.size();
        if (off < 0 || off >= sz) return -E.ENXIO;
        return (this.pos = sz);
      }
      default: return -E.EINVAL;
    }
    const p = base + off;
    if (p < 0 || p > MAX_FILE_OFFSET) return -E.EINVAL;
    return (this.pos = p);
  }
}

/**
 * A directory opened for getdents: entries are snapshotted at offset 0 (as a fresh
 * readdir) and served by index, so d_off is the index of the next entry.
 */
export class DirFile extends FileDescription {
  private entries: DirEntry[] | null = null;
  override get pollable(): boolean {
    return false;
  }

  override readdirEntries(): DirEntry[] | null {
    if (this.entries === null || this.pos === 0) {
      const list = this.inode.readdir();
      let p = this.dentry;
      while (p !== null && p.mountpoint !== null) p = p.mountpoint;
      const parentIno = p !== null && p.parent !== null ? p.parent.inode.ino : this.inode.ino;
      const base: DirEntry[] = [
        { name: '.', ino: this.inode.ino, type: 4 },
        { name: '..', ino: parentIno, type: 4 },
      ];
      this.entries = typeof list === 'number' ? base : base.concat(list);
    }
    return this.entries;
  }
  override read(): number {
    return -E.EISDIR;
  }
  override pread(): number {
    return -E.EISDIR;
  }
  override write(): number {
    return -E.EBADF;
  }
  override seek(off: number, whence: number): number {
    if (whence === SEEK_SET) {
      if (off < 0 || off > MAX_FILE_OFFSET) return -E.EINVAL;
      return (this.pos = off);
    }
    if (whence === SEEK_CUR) {
      const p = this.pos + off;
      if (p < 0 || p > MAX_FILE_OFFSET) return -E.EINVAL;
      return (this.pos = p);
    }
    return -E.EINVAL;
  }
}

/** A file opened with O_PATH: only fstat, fchdir, *at() bases and /proc links work. */
export class PathFile extends FileDescription {
  override read(): number {
    return -E.EBADF;
  }
  override write(): number {
    return -E.EBADF;
  }
  override readiness(): number {
    return 0x20; // POLLNVAL like Linux for O_PATH
  }
}
