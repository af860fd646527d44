/**
 * SECCOMP_RET_USER_NOTIF: a filter installed with SECCOMP_FILTER_FLAG_NEW_LISTENER has a
 * listener fd; a task whose call the filter sends to user space parks until the
 * supervisor holding that fd answers (SECCOMP_IOCTL_NOTIF_RECV, then NOTIF_SEND with a
 * value, an errno, or SECCOMP_USER_NOTIF_FLAG_CONTINUE to run the call). The parked
 * call runs `Task.syscallOverride` instead of its handler until answered; a signal
 * withdraws the notification and restarts the call (the filters run again).
 */
import { limitsOf, RLIMIT_NOFILE } from '../limits';
import * as E from '../../abi/errno';
import { POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM } from '../../abi/fs';
import { anonInode } from '../../../fs/vfs/anon';
import { FileDescription } from '../../../fs/vfs/file';
import { TaskState, type Task } from '../task';

export const NOTIF_RECV = 0xc0502100, NOTIF_SEND = 0xc0182101, NOTIF_ID_VALID = 0x40082102, NOTIF_ID_VALID_OLD = 0x80082102,
  NOTIF_ADDFD = 0x40182103;
const FLAG_CONTINUE = 1;
const ADDFD_FLAG_SETFD = 1, ADDFD_FLAG_SEND = 2;
const O_CLOEXEC = 0o2000000;

interface Notification {
  id: bigint;
  task: Task;
  data: Uint8Array;
  sent: boolean;
  reply: { val: number; error: number; cont: boolean } | null;
  /** The task's syscallOverride while it waits for this one (gone: withdrawn, e.g. by a signal's restart). */
  resume: () => number;
}

/** Still waited for: its task is parked in this very call. */
function live(n: Notification): boolean {
  return !n.reply && n.task.state !== TaskState.Dead && n.task.syscallOverride === n.resume;
}

let nextId = BigInt(Date.now()) << 16n;

export class SeccompListener extends FileDescription {
  private notifs: Notification[] = [];
  closed = false;

  constructor() {
    super(anonInode, 2 /* O_RDWR */);
  }

  override anonName(): string {
    return 'anon_inode:seccomp notify';
  }

  override get pollable(): boolean {
    return true;
  }

  override readiness(): number {
    const waiting = this.notifs.filter(live);
    return (waiting.some((n) => !n.sent) ? POLLIN | POLLRDNORM : 0) | (waiting.some((n) => n.sent) ? POLLOUT | POLLWRNORM : 0);
  }

  protected override release(): void {
    this.closed = true;
    // Parked callers get ENOSYS, as with no listener.
    for (const n of this.notifs.splice(0)) {
      if (!live(n)) continue;
      n.reply = { val: 0, error: -E.ENOSYS, cont: false };
      if (n.task.state === TaskState.Blocked) n.task.kernel.sentry.wake(n.task, false);
    }
  }

  /** The filter said USER_NOTIF for t's call (seccomp_data in d): park it until answered. */
  notify(t: Task, d: Uint32Array): number {
    if (this.closed) return -E.ENOSYS;
    this.notifs = this.notifs.filter(live);
    const n: Notification = {
      id: nextId++, task: t, data: new Uint8Array(d.buffer.slice(0)), sent: false, reply: null, resume: () => this.await(t, n),
    };
    this.notifs.push(n);
    this.waitQueue.notify(POLLIN | POLLRDNORM);
    t.syscallOverride = n.resume;
    return this.await(t, n);
  }

  /** The parked call's body: the answer, or on. A signal ends it with a restart (the Sentry's intrResult). */
  private await(t: Task, n: Notification): number {
    if (!n.reply) return t.block();
    t.syscallOverride = null;
    this.notifs = this.notifs.filter((x) => x !== n);
    if (n.reply.cont) return t.kernel.sentry.runHandler(t);
    return n.reply.error ? n.reply.error : n.reply.val;
  }


  /**
   * SECCOMP_IOCTL_NOTIF_ADDFD: installs a copy of the supervisor's srcfd in the parked
   * task's table (at newfd with SETFD), returning its number there; with SEND the call is
   * answered with that number at once. Done here while the task is parked, which Linux
   * does in the task on its way back: the same fd, the same result.
   */
  private addFd(t: Task, arg: number): number {
    const b = t.mem.read(arg, 24);
    if (!b) return -E.EFAULT;
    const id = b.readBigUInt64LE(0), flags = b.readUInt32LE(8), srcfd = b.readInt32LE(12), newfd = b.readInt32LE(16);
    const newfdFlags = b.readUInt32LE(20);
    if (flags & ~(ADDFD_FLAG_SETFD | ADDFD_FLAG_SEND) || newfdFlags & ~O_CLOEXEC) return -E.EINVAL;
    if (!(flags & ADDFD_FLAG_SETFD) && newfd !== 0) return -E.EINVAL;
    const src = t.fdTable.get(srcfd);
    if (!src) return -E.EBADF;
    const n = this.notifs.find((x) => x.id === id);
    if (!n || !live(n)) return -E.ENOENT;
    if (!n.sent) return -E.EINPROGRESS;
    const target = n.task;
    target.fdTable.limit = Math.min(limitsOf(target.tg).soft(RLIMIT_NOFILE), 1 << 20);
    const cloexec = (newfdFlags & O_CLOEXEC) !== 0;
    const fd = flags & ADDFD_FLAG_SETFD ? target.fdTable.installAt(newfd, src.incRef(), cloexec) : target.fdTable.install(src.incRef(), cloexec);
    if (fd < 0) return fd === -E.EBADF ? -E.EMFILE : fd;
    if (flags & ADDFD_FLAG_SEND) {
      n.reply = { val: fd, error: 0, cont: false };
      if (target.state === TaskState.Blocked) target.kernel.sentry.wake(target, false);
    }
    return fd;
  }

  override ioctl(caller: unknown, cmd: number, arg: number): number {
    const t = caller as Task;
    switch (cmd >>> 0) {
      case NOTIF_RECV: {
        const zero = t.mem.read(arg, 80);
        if (!zero) return -E.EFAULT;
        if (zero.some((b) => b !== 0)) return -E.EINVAL;
        const n = this.notifs.find((x) => !x.sent && live(x));
        if (!n) return t.blockOn(this.waitQueue, POLLIN);
        const b = Buffer.alloc(80);
        b.writeBigUInt64LE(n.id, 0);
        b.writeUInt32LE(n.task.tid, 8);
        Buffer.from(n.data).copy(b, 16);
        if (!t.mem.write(arg, b)) return -E.EFAULT;
        n.sent = true;
        this.waitQueue.notify(POLLOUT | POLLWRNORM);
        return 0;
      }
      case NOTIF_SEND: {
        const b = t.mem.read(arg, 24);
        if (!b) return -E.EFAULT;
        const id = b.readBigUInt64LE(0), val = Number(b.readBigInt64LE(8)), error = b.readInt32LE(16), flags = b.readUInt32LE(20);
        if (flags & ~FLAG_CONTINUE) return -E.EINVAL;
        if (flags & FLAG_CONTINUE && (error || val)) return -E.EINVAL;
        const n = this.notifs.find((x) => x.id === id);
        if (n && n.reply && n.task.syscallOverride === n.resume) return -E.EINPROGRESS; // answered, not yet taken
        if (!n || !n.sent || !live(n)) return -E.ENOENT;
        if (error > 0 || error < -4095) return -E.EINVAL;
        n.reply = { val, error, cont: (flags & FLAG_CONTINUE) !== 0 };
        if (n.task.state === TaskState.Blocked) n.task.kernel.sentry.wake(n.task, false);
        return 0;
      }
      case NOTIF_ADDFD:
        return this.addFd(t, arg);
      case NOTIF_ID_VALID:
      case NOTIF_ID_VALID_OLD: {
        const id = t.mem.readBigU64(arg);
        if (id === null) return -E.EFAULT;
        return this.notifs.some((x) => x.id === id && x.sent && live(x)) ? 0 : -E.ENOENT;
      }
      default:
        return -E.EINVAL;
    }
  }
}
