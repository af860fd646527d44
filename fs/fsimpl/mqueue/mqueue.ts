/**
 * The mqueue filesystem: POSIX message queues as files of one flat directory, one
 * instance per sandbox (its IPC namespace), the same tree wherever it is mounted
 * (/dev/mqueue, `mount -t mqueue`). mq_open/mq_unlink (syscalls/mqueue.ts) work on it
 * without a mount, as Linux's internal mount. A queue holds messages by priority (FIFO
 * within one); reading its file gives Linux's status line; it polls readable when a
 * message waits and writable when there is room.
 */
import * as E from '../../../src/abi/errno';
import { O_ACCMODE, POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM, S_IFDIR, S_IFREG } from '../../../src/abi/fs';
import type { Credentials } from '../../../src/auth/credentials';
import { WaitQueue } from '../../../src/waiter/waitqueue';
import { DirFile, FileDescription } from '../../vfs/file';
import { emptyStat, FileSystem, Inode, nowTs, type DirEntry, type SetAttr, type Stat } from '../../vfs/inode';

const MQUEUE_MAGIC = 0x19800202;
export const DFLT_MSGMAX = 10, DFLT_MSGSIZEMAX = 8192;

/** Private wait-queue events: a receiver (or sender) parked in mq_timedreceive (send). */
export const MQ_RECEIVER = 0x40000000, MQ_SENDER = 0x20000000;

export interface MqMessage { prio: number; data: Buffer }

/** mq_notify registration: who gets what when a message arrives in an empty queue. */
export interface MqNotify {
  /** The registering process (its identity is the syscall layer's). */
  owner: { pid: number };
  notify: number;
  signo: number;
  value: bigint;
  /** SIGEV_THREAD: hands the registration's cookie, its last byte set to flag, to its netlink socket. */
  cookie?: (flag: number) => void;
}

let nextIno = 1;

export class MqueueFs extends FileSystem {
  readonly magic = MQUEUE_MAGIC;
  readonly type = 'mqueue';
  override source = 'mqueue';
  readonly rootDir = new MqDir(this);
  root(): Inode {
    return this.rootDir;
  }
}

const instances = new WeakMap<object, MqueueFs>();
/** The mqueue filesystem of one sandbox (keyed by its kernel). */
export function mqueueFsFor(owner: object): MqueueFs {
  let fs = instances.get(owner);
  if (!fs) instances.set(owner, (fs = new MqueueFs()));
  return fs;
}

abstract class MqNode extends Inode {
  readonly ino = nextIno++;
  atime = nowTs();
  mtime = this.atime;
  ctime = this.atime;
  constructor(
    readonly fs: MqueueFs,
    public mode: number,
    public uid: number,
    public gid: number,
  ) {
    super();
  }
  protected size(): number {
    return 0;
  }
  stat(): Stat {
    const st = emptyStat();
    st.dev = this.fs.dev;
    st.ino = this.ino;
    st.mode = this.mode;
    st.nlink = this.isDir ? 2 : 1;
    st.uid = this.uid;
    st.gid = this.gid;
    st.size = this.size();
    st.blksize = 4096;
    [st.atimeSec, st.atimeNsec] = this.atime;
    [st.mtimeSec, st.mtimeNsec] = this.mtime;
    [st.ctimeSec, st.ctimeNsec] = this.ctime;
    return st;
  }
  override setattr(a: SetAttr): number {
    if (a.size !== undefined) return -E.EINVAL;
    if (a.mode !== undefined) this.mode = (this.mode & ~0o7777) | (a.mode & 0o7777);
    if (a.uid !== undefined && a.uid !== -1) this.uid = a.uid;
    if (a.gid !== undefined && a.gid !== -1) this.gid = a.gid;
    this.ctime = nowTs();
    return 0;
  }
}

class MqDir extends MqNode {
  readonly queues = new Map<string, MqQueue>();
  constructor(fs: MqueueFs) {
    super(fs, S_IFDIR | 0o1777, 0, 0);
  }
  override lookup(name: string): Inode | number {
    return this.queues.get(name) ?? -E.ENOENT;
  }
  override readdir(): DirEntry[] {
    // Newest first, as Linux's dcache lists a directory of such a filesystem.
    return [...this.queues].reverse().map(([name, q]) => ({ name, ino: q.ino, type: q.dtype }));
  }
  /** open(O_CREAT) in the directory (and mq_open): a queue with the default limits. */
  override mknod(name: string, mode: number, creds: Credentials): Inode | number {
    if ((mode & 0o170000) !== S_IFREG) return -E.EINVAL;
    return this.create(name, mode & 0o7777, creds, DFLT_MSGMAX, DFLT_MSGSIZEMAX);
  }
  create(name: string, perm: number, creds: Credentials, maxmsg: number, msgsize: number): MqQueue | number {
    if (this.queues.has(name)) return -E.EEXIST;
    const q = new MqQueue(this.fs, perm, creds.fsuid, creds.fsgid, maxmsg, msgsize);
    this.queues.set(name, q);
    this.mtime = this.ctime = nowTs();
    return q;
  }
  override unlink(name: string): number {
    if (!this.queues.delete(name)) return -E.ENOENT;
    this.mtime = this.ctime = nowTs();
    return 0;
  }
  override open(flags: number): FileDescription | number {
    return new DirFile(this, flags);
  }
}

export class MqQueue extends MqNode {
  readonly msgs: MqMessage[] = [];
  bytes = 0;
  notification: MqNotify | null = null;
  /** POLLIN when a message arrives, POLLOUT when one leaves (every open file shares it). */
  readonly queue = new WaitQueue();

  constructor(fs: MqueueFs, perm: number, uid: number, gid: number, readonly maxmsg: number, readonly msgsize: number) {
    super(fs, S_IFREG | perm, uid, gid);
  }

  /** A notification is sent only when no receiver waits (as Linux). */
  get receiverWaiting(): boolean {
    return this.queue.count(MQ_RECEIVER) > 0;
  }

  get full(): boolean {
    return this.msgs.length >= this.maxmsg;
  }

  /** QSIZE: the bytes of the messages queued. */
  qsize(): number {
    return this.bytes;
  }

  /** Linux's FILENT_SIZE: the size every queue file reports. */
  protected override size(): number {
    return 80;
  }

  statusLine(): string {
    const n = this.notification;
    return `QSIZE:${String(this.qsize()).padEnd(10)} NOTIFY:${String(n ? n.notify : 0).padEnd(5)} SIGNO:${String(n ? n.signo : 0).padEnd(5)} NOTIFY_PID:${String(n ? n.owner.pid : 0).padEnd(6)}\n`;
  }

  /** Appends behind messages of the same or higher priority. Returns true if the queue was empty. */
  push(prio: number, data: Buffer): boolean {
    const wasEmpty = this.msgs.length === 0;
    let i = this.msgs.length;
    while (i > 0 && this.msgs[i - 1].prio < prio) i--;
    this.msgs.splice(i, 0, { prio, data });
    this.bytes += data.length;
    this.atime = this.mtime = nowTs();
    this.queue.notify(POLLIN | POLLRDNORM | MQ_RECEIVER);
    return wasEmpty;
  }

  /** The oldest message of the highest priority. */
  shift(): MqMessage | undefined {
    const m = this.msgs.shift();
    if (m) {
      this.bytes -= m.data.length;
      this.atime = this.mtime = nowTs();
      this.queue.notify(POLLOUT | POLLWRNORM | MQ_SENDER);
    }
    return m;
  }

  override open(flags: number): FileDescription | number {
    if ((flags & O_ACCMODE) === O_ACCMODE) return -E.EINVAL;
    return new MqFile(this, flags);
  }
}

/** An open queue: mq_* act on it; read() gives the status line. */
export class MqFile extends FileDescription {
  declare inode: MqQueue;
  constructor(q: MqQueue, flags: number) {
    super(q, flags);
    this.waitQueue = q.queue;
  }
  override get pollable(): boolean {
    return true;
  }
  override readiness(): number {
    const q = this.inode;
    return (q.msgs.length ? POLLIN | POLLRDNORM : 0) | (q.full ? 0 : POLLOUT | POLLWRNORM);
  }
  override read(buf: Uint8Array): number {
    const s = Buffer.from(this.inode.statusLine(), 'latin1');
    if (this.pos >= s.length) return 0;
    const n = s.copy(buf, 0, this.pos);
    this.pos += n;
    return n;
  }
  override pread(buf: Uint8Array, pos: number): number {
    const s = Buffer.from(this.inode.statusLine(), 'latin1');
    return pos >= s.length ? 0 : s.copy(buf, 0, pos);
  }
  override write(): number {
    return -E.EINVAL;
  }
}

/**
 * mqueue_flush_file: a process closing any fd of a queue (close, dup2 over it, exec's
 * close-on-exec, its exit) ends the registration it owns, whichever open description
 * it made it through (Linux keys it on the process, not the description).
 */
export function mqueueFlush(f: FileDescription, pid: number): void {
  if (f instanceof MqFile && f.inode.notification?.owner.pid === pid) removeNotification(f.inode);
}

/** ipc/mqueue.c's flag in the cookie's last byte when a registration goes. */
const NOTIFY_REMOVED = 2;

/** A registration goes: a SIGEV_THREAD one tells its socket (NOTIFY_REMOVED), so glibc frees its state. */
export function removeNotification(q: MqQueue): void {
  const n = q.notification;
  q.notification = null;
  n?.cookie?.(NOTIFY_REMOVED);
}
