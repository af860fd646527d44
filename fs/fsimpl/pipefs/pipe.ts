/**
 * Pipes and FIFOs: a ring buffer with reader/writer counts. Both ends share one wait
 * queue (readers wait for POLLIN, writers for POLLOUT). Writes of at most PIPE_BUF bytes
 * are atomic: they wait for room for all of them. EOF once every writer is gone; EPIPE
 * once every reader is gone.
 */
import * as E from '../../../src/abi/errno';
import { WaitQueue } from '../../../src/waiter/waitqueue';
import {
  O_ACCMODE, O_RDONLY, O_WRONLY, O_NONBLOCK, PIPE_BUF, S_IFIFO,
  POLLIN, POLLOUT, POLLHUP, POLLERR, POLLRDNORM, POLLWRNORM,
} from '../../../src/abi/fs';
import { FileSystem, Inode, emptyStat, nowTs, type SetAttr, type Stat } from '../../vfs/inode';
import { FileDescription } from '../../vfs/file';

export const DEFAULT_PIPE_SIZE = 65536;
/** /proc/sys/fs/pipe-max-size. */
export const PIPE_MAX_SIZE = 1048576;

class PipeFs extends FileSystem {
  readonly magic = 0x50495045;
  readonly type = 'pipefs';
  root(): Inode {
    throw new Error('pipefs has no root');
  }
}
export const pipefs = new PipeFs();
let nextPipeIno = 1000;

/** The anonymous inode of a pipe(2) pipe, what fstat shows and /proc/pid/fd/N reopens. */
export class PipeInode extends Inode {
  readonly fs = pipefs;
  readonly ino = nextPipeIno++;
  mode = S_IFIFO | 0o600;
  private readonly t = nowTs();
  private c = this.t;
  constructor(
    readonly pipe: Pipe,
    public uid: number,
    public gid: number,
  ) {
    super();
  }
  /** chmod/chown of a pipe (Linux's simple_setattr on pipefs; runc chowns its stdio pipes). */
  override setattr(a: SetAttr): number {
    if (a.size !== undefined) return -E.EINVAL;
    if (a.mode !== undefined) this.mode = S_IFIFO | (a.mode & 0o7777);
    if (a.uid !== undefined) this.uid = a.uid;
    if (a.gid !== undefined) this.gid = a.gid;
    this.c = nowTs();
    return 0;
  }
  stat(): Stat {
    const st = emptyStat();
    st.dev = pipefs.dev;
    st.ino = this.ino;
    st.mode = this.mode;
    st.uid = this.uid;
    st.gid = this.gid;
    st.atimeSec = st.mtimeSec = this.t[0];
    st.atimeNsec = st.mtimeNsec = this.t[1];
    st.ctimeSec = this.c[0];
    st.ctimeNsec = this.c[1];
    return st;
  }
  override open(flags: number): FileDescription | number {
    return this.pipe.openFifo(this, flags);
  }
}

export class Pipe {
  private buf = Buffer.allocUnsafe(DEFAULT_PIPE_SIZE);
  private head = 0;
  /** Bytes buffered. */
  len = 0;
  readers = 0;
  writers = 0;
  /** True once a writer ever opened (a FIFO reader opened before any writer sees no HUP). */
  hadWriter = false;
  readonly queue = new WaitQueue();

  get capacity(): number {
    return this.buf.length;
  }

  /** Checkpoint support (src/snapshot): the buffered bytes, oldest first. */
  snapshotData(): Buffer {
    const out = Buffer.alloc(this.len);
    const first = Math.min(this.len, this.buf.length - this.head);
    this.buf.copy(out, 0, this.head, this.head + first);
    if (first < this.len) this.buf.copy(out, first, 0, this.len - first);
    return out;
  }

  /** Checkpoint support: a pipe holding data (capacity as it was), with no ends yet. */
  static restored(data: Buffer, capacity: number): Pipe {
    const p = new Pipe();
    p.buf = Buffer.alloc(Math.max(capacity, data.length));
    data.copy(p.buf, 0);
    p.len = data.length;
    return p;
  }

  /** Creates a pipe(2) pair: [read end, write end]. */
  static pair(uid: number, gid: number, flags: number): [PipeEnd, PipeEnd] {
    const p = new Pipe();
    const ino = new PipeInode(p, uid, gid);
    return [p.end(ino, O_RDONLY | (flags & O_NONBLOCK)), p.end(ino, O_WRONLY | (flags & O_NONBLOCK))];
  }

  end(inode: Inode, flags: number): PipeEnd {
    const acc = flags & O_ACCMODE;
    if (acc === O_RDONLY || acc === 2) this.readers++;
    if (acc === O_WRONLY || acc === 2) {
      this.writers++;
      this.hadWriter = true;
    }
    const e = new PipeEnd(inode, flags, this);
    this.queue.notify(POLLIN | POLLOUT);
    return e;
  }

  /** open(2) of a FIFO: O_WRONLY|O_NONBLOCK without a reader is ENXIO; waiting for a peer is the handler's job. */
  openFifo(inode: Inode, flags: number): PipeEnd | number {
    const acc = flags & O_ACCMODE;
    if (acc === 3) return -E.EINVAL;
    // An anonymous pipe reopened through /proc/self/fd/N (/dev/stdin) never waits for
    // a peer nor fails for want of one, as Linux's fifo_open for pipefs inodes.
    if (acc === O_WRONLY && flags & O_NONBLOCK && this.readers === 0 && !(inode instanceof PipeInode)) return -E.ENXIO;
    return this.end(inode, flags);
  }

  read(dst: Uint8Array): number {
    if (dst.length === 0) return 0;
    if (this.len === 0) return this.writers === 0 ? 0 : -E.EAGAIN;
    const n = Math.min(dst.length, this.len);
    const cap = this.buf.length;
    const first = Math.min(n, cap - this.head);
    dst.set(this.buf.subarray(this.head, this.head + first), 0);
    if (first < n) dst.set(this.buf.subarray(0, n - first), first);
    this.head = (this.head + n) % cap;
    this.len -= n;
    if (this.len === 0) this.head = 0;
    this.queue.notify(POLLOUT | POLLWRNORM);
    return n;
  }

  /** Copies without consuming (tee, FIONREAD-like peeks). */
  peek(dst: Uint8Array): number {
    const n = Math.min(dst.length, this.len);
    const cap = this.buf.length;
    const first = Math.min(n, cap - this.head);
    dst.set(this.buf.subarray(this.head, this.head + first), 0);
    if (first < n) dst.set(this.buf.subarray(0, n - first), first);
    return n;
  }

  /** Drops the first n buffered bytes (after a peek whose bytes went elsewhere: splice). */
  consume(n: number): void {
    n = Math.min(n, this.len);
    if (n <= 0) return;
    this.head = (this.head + n) % this.buf.length;
    this.len -= n;
    if (this.len === 0) this.head = 0;
    this.queue.notify(POLLOUT | POLLWRNORM);
  }

  write(src: Uint8Array): number {
    if (this.readers === 0) return -E.EPIPE;
    if (src.length === 0) return 0;
    const cap = this.buf.length;
    const free = cap - this.len;
    if (free === 0 || (src.length <= PIPE_BUF && free < src.length)) return -E.EAGAIN;
    const n = Math.min(free, src.length);
    const tail = (this.head + this.len) % cap;
    const first = Math.min(n, cap - tail);
    this.buf.set(src.subarray(0, first), tail);
    if (first < n) this.buf.set(src.subarray(first, n), 0);
    this.len += n;
    this.queue.notify(POLLIN | POLLRDNORM);
    return n;
  }

  /** F_SETPIPE_SZ: rounds up to a power of two pages; EBUSY if the data would not fit. */
  resize(size: number): number {
    if (size > PIPE_MAX_SIZE) return -E.EPERM;
    let cap = 4096;
    while (cap < size) cap *= 2;
    if (cap < this.len) return -E.EBUSY;
    if (cap === this.buf.length) return cap;
    const nb = Buffer.allocUnsafe(cap);
    this.peek(nb);
    this.buf = nb;
    this.head = 0;
    return cap;
  }

  release(flags: number): void {
    const acc = flags & O_ACCMODE;
    if (acc === O_RDONLY || acc === 2) this.readers--;
    if (acc === O_WRONLY || acc === 2) this.writers--;
    this.queue.notify(POLLIN | POLLOUT | POLLHUP | POLLERR);
  }
}

export class PipeEnd extends FileDescription {
  constructor(
    inode: Inode,
    flags: number,
    readonly pipe: Pipe,
  ) {
    super(inode, flags);
    this.waitQueue = pipe.queue;
  }
  override read(buf: Uint8Array): number {
    if (!this.readable) return -E.EBADF;
    return this.pipe.read(buf);
  }
  override write(buf: Uint8Array): number {
    if (!this.writable) return -E.EBADF;
    return this.pipe.write(buf);
  }
  override readiness(): number {
    const p = this.pipe;
    let r = 0;
    if (this.readable) {
      if (p.len > 0) r |= POLLIN | POLLRDNORM;
      if (p.writers === 0 && p.hadWriter) r |= POLLHUP;
    }
    if (this.writable) {
      if (p.len < p.capacity) r |= POLLOUT | POLLWRNORM;
      if (p.readers === 0) r |= POLLERR;
    }
    return r;
  }
  /** A blocking FIFO open waits until the other side exists. */
  peerReady(): boolean {
    if (this.inode instanceof PipeInode) return true;
    const acc = this.flags & O_ACCMODE;
    if (acc === O_RDONLY) return this.pipe.writers > 0;
    if (acc === O_WRONLY) return this.pipe.readers > 0;
    return true;
  }
  override pipeSize(set?: number): number {
    return set === undefined ? this.pipe.capacity : this.pipe.resize(set);
  }
  override available(): number {
    return this.pipe.len;
  }
  override anonName(): string {
    return `pipe:[${this.inode.ino}]`;
  }
  protected override release(): void {
    this.pipe.release(this.flags);
  }
}
