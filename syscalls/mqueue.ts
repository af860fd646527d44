/**
 * POSIX message queues: mq_open, mq_unlink, mq_timedsend, mq_timedreceive, mq_notify,
 * mq_getsetattr, in Linux's order of checks, over the sandbox's mqueue filesystem
 * (fs/fsimpl/mqueue). Timeouts are absolute CLOCK_REALTIME instants.
 */
import { ipcKey } from '../src/kernel/namespaces/types';
import { NetlinkSocket } from '../src/net/netlink-route';
import { SocketFile } from '../src/net/socket-file';
import * as E from '../src/abi/errno';
import type { Task } from '../src/kernel/task';
import { O_ACCMODE, O_CREAT, O_EXCL, O_NONBLOCK, O_RDONLY, O_WRONLY, O_RDWR } from '../src/abi/fs';
import { capable, CAP_SYS_RESOURCE } from '../src/auth/capabilities';
import { mayAccess, mayDeleteSticky, MAY_READ, MAY_WRITE } from '../fs/vfs/perm';
import { DFLT_MSGMAX, DFLT_MSGSIZEMAX, MQ_RECEIVER, MQ_SENDER, MqFile, mqueueFsFor, removeNotification, type MqQueue } from '../fs/fsimpl/mqueue/mqueue';
import { realtimeToMono } from '../src/kernel/time/clocks';
import { sendToGroup } from '../src/kernel/signal-delivery';
import { installFd } from './fd-install';
import { readTimespecNs } from './fs-common';

const O_CLOEXEC = 0o2000000;
const MQ_PRIO_MAX = 32768;
const HARD_MSGMAX = 65536, HARD_MSGSIZEMAX = 16 * 1024 * 1024;
const SIGEV_SIGNAL = 0, SIGEV_NONE = 1, SIGEV_THREAD = 2;
const SI_MESGQ = -3;

function dirOf(t: Task) {
  return mqueueFsFor(ipcKey(t)).rootDir;
}

/** A queue name as Linux's lookup_one_len takes it: no '/', not "." or "..". */
function readName(t: Task, addr: number): string | number {
  const s = t.mem.readCString(addr, 4096);
  if (s === null) return -E.EFAULT;
  if (s.length >= 4096) return -E.ENAMETOOLONG;
  if (s.length === 0) return -E.ENOENT;
  if (s.length > 255) return -E.ENAMETOOLONG;
  if (s.includes('/') || s === '.' || s === '..') return -E.EACCES;
  return s;
}

/** The cookie of a SIGEV_THREAD registration and the flag in its last byte (ipc/mqueue.c). */
const NOTIFY_COOKIE_LEN = 32, NOTIFY_WOKENUP = 1;

export function mq_open(t: Task, nameAddr: number, oflag: number, mode: number, attrAddr: number): number {
  oflag |= 0;
  let attr: { maxmsg: number; msgsize: number } | null = null;
  if (attrAddr && (oflag & O_CREAT)) {
    const b = t.mem.read(attrAddr, 64);
    if (!b) return -E.EFAULT;
    attr = { maxmsg: Number(b.readBigInt64LE(8)), msgsize: Number(b.readBigInt64LE(16)) };
  }
  const name = readName(t, nameAddr);
  if (typeof name === 'number') return name;
  const dir = dirOf(t);
  let q = dir.queues.get(name);
  if (q) {
    if ((oflag & O_CREAT) && (oflag & O_EXCL)) return -E.EEXIST;
    if ((oflag & O_ACCMODE) === O_ACCMODE) return -E.EINVAL;
    const acc = { [O_RDONLY]: MAY_READ, [O_WRONLY]: MAY_WRITE, [O_RDWR]: MAY_READ | MAY_WRITE }[oflag & O_ACCMODE]!;
    if (!mayAccess(q, t.creds, acc)) return -E.EACCES;
  } else {
    if (!(oflag & O_CREAT)) return -E.ENOENT;
    if (attr) {
      if (attr.maxmsg <= 0 || attr.msgsize <= 0) return -E.EINVAL;
      const [mm, ms] = capable(t.creds, CAP_SYS_RESOURCE) ? [HARD_MSGMAX, HARD_MSGSIZEMAX] : [DFLT_MSGMAX, DFLT_MSGSIZEMAX];
      if (attr.maxmsg > mm || attr.msgsize > ms) return -E.EINVAL;
    }
    if (!mayAccess(dir, t.creds, MAY_WRITE)) return -E.EACCES;
    const r = dir.create(name, (mode & 0o777) & ~t.fsCtx.umask, t.creds, attr?.maxmsg ?? DFLT_MSGMAX, attr?.msgsize ?? DFLT_MSGSIZEMAX);
    if (typeof r === 'number') return r;
    q = r;
  }
  const f = q.open(oflag & (O_ACCMODE | O_NONBLOCK));
  if (typeof f === 'number') return f;
  return installFd(t, f, (oflag & O_CLOEXEC) !== 0);
}

export function mq_unlink(t: Task, nameAddr: number): number {
  const name = readName(t, nameAddr);
  if (typeof name === 'number') return name;
  const dir = dirOf(t);
  const q = dir.queues.get(name);
  if (!q) return -E.ENOENT;
  if (!mayAccess(dir, t.creds, MAY_WRITE)) return -E.EACCES;
  if (!mayDeleteSticky(dir, q, t.creds)) return -E.EACCES; // Linux's mq_unlink says EACCES here
  return dir.unlink(name);
}

/** The open queue behind fd, opened for `write` or reading (EBADF otherwise). */
function queueFile(t: Task, fd: number, write: boolean): MqFile | number {
  const f = t.fdTable.get(fd | 0);
  if (!(f instanceof MqFile)) return -E.EBADF;
  if (write ? !f.writable : !f.readable) return -E.EBADF;
  return f;
}

/** The absolute timeout, read once: monotonic deadline ns, Infinity for none, or -errno. */
function deadline(t: Task, addr: number): number {
  if (t.sysState?.mqDeadline !== undefined) return t.sysState.mqDeadline;
  if (addr === 0) return Infinity;
  const ns = readTimespecNs(t, addr);
  if (ns < 0) return ns;
  const d = Math.max(0, Number(realtimeToMono(BigInt(ns)))); // a past instant: already expired
  t.sysState = { mqDeadline: d };
  return d;
}

function wait(t: Task, q: MqQueue, mask: number, d: number): number {
  if (t.timedOut || t.kernel.nowNs() >= d) return -E.ETIMEDOUT;
  t.sysState = { ...(t.sysState ?? {}), mqDeadline: d };
  t.intrResult = -E.EINTR; // mq waits are not restarted after a handler
  return t.blockOn(q.queue, mask, d);
}

export function mq_timedsend(t: Task, fd: number, msgAddr: number, len: number, prio: number, timeout: number): number {
  const d = deadline(t, timeout);
  if (d < 0) return d;
  if (prio < 0 || prio >= MQ_PRIO_MAX) return -E.EINVAL;
  const f = queueFile(t, fd, true);
  if (typeof f === 'number') return f;
  const q = f.inode;
  if (len > q.msgsize) return -E.EMSGSIZE;
  const data = len ? t.mem.read(msgAddr, len) : Buffer.alloc(0);
  if (!data) return -E.EFAULT;
  if (q.full) {
    if (f.flags & O_NONBLOCK) return -E.EAGAIN;
    return wait(t, q, MQ_SENDER, d);
  }
  const wasEmpty = q.push(prio, Buffer.from(data));
  if (wasEmpty && q.notification && !q.receiverWaiting) notify(t, q);
  return 0;
}

/** The registered process learns of a message in an empty queue; the registration ends. */
function notify(t: Task, q: MqQueue): void {
  const n = q.notification!;
  q.notification = null;
  if (n.notify === SIGEV_THREAD) return n.cookie?.(NOTIFY_WOKENUP);
  if (n.notify !== SIGEV_SIGNAL) return;
  const tg = t.kernel.threadGroups.get(n.owner.pid);
  if (!tg || tg.zombie) return;
  sendToGroup(t.kernel.sentry, tg, { signo: n.signo, code: SI_MESGQ, pid: t.tg.pid, uid: t.creds.uid, value: n.value });
}

export function mq_timedreceive(t: Task, fd: number, msgAddr: number, len: number, prioAddr: number, timeout: number): number {
  const d = deadline(t, timeout);
  if (d < 0) return d;
  const f = queueFile(t, fd, false);
  if (typeof f === 'number') return f;
  const q = f.inode;
  if (len < q.msgsize) return -E.EMSGSIZE;
  if (q.msgs.length === 0) {
    if (f.flags & O_NONBLOCK) return -E.EAGAIN;
    return wait(t, q, MQ_RECEIVER, d);
  }
  // Linux takes the message off the queue first: a bad buffer loses it (EFAULT).
  const m = q.msgs[0];
  q.shift();
  if (prioAddr && !t.mem.writeU32(prioAddr, m.prio)) return -E.EFAULT;
  if (!t.mem.write(msgAddr, m.data)) return -E.EFAULT;
  return m.data.length;
}

export function mq_notify(t: Task, fd: number, sevAddr: number): number {
  let sev: { value: bigint; signo: number; notify: number } | null = null;
  if (sevAddr) {
    const b = t.mem.read(sevAddr, 64);
    if (!b) return -E.EFAULT;
    sev = { value: b.readBigUInt64LE(0), signo: b.readInt32LE(8), notify: b.readInt32LE(12) };
    if (sev.notify !== SIGEV_NONE && sev.notify !== SIGEV_SIGNAL && sev.notify !== SIGEV_THREAD) return -E.EINVAL;
    if (sev.notify === SIGEV_SIGNAL && (sev.signo < 1 || sev.signo > 64)) return -E.EINVAL;
  }
  // SIGEV_THREAD (glibc's): a 32-byte cookie the kernel writes to a netlink socket when notifying.
  let cookie: ((flag: number) => void) | undefined;
  if (sev && sev.notify === SIGEV_THREAD) {
    const c = t.mem.read(Number(BigInt.asUintN(64, sev.value)), NOTIFY_COOKIE_LEN);
    if (!c) return -E.EFAULT;
    const s = t.fdTable.get(sev.signo);
    if (!s) return -E.EBADF;
    if (!(s instanceof SocketFile)) return -E.ENOTSOCK;
    if (!(s instanceof NetlinkSocket)) return -E.EINVAL;
    cookie = (flag: number) => {
      c[NOTIFY_COOKIE_LEN - 1] = flag;
      s.deliverRaw(c);
    };
  }
  const f = t.fdTable.get(fd | 0);
  if (!(f instanceof MqFile)) return -E.EBADF;
  const q = f.inode;
  const mine = q.notification?.owner.pid === t.tg.pid;
  if (!sev) {
    if (mine) removeNotification(q);
    return 0;
  }
  if (q.notification) return -E.EBUSY; // the owner too: it removes its registration first
  q.notification = { owner: { pid: t.tg.pid }, notify: sev.notify, signo: sev.notify === SIGEV_SIGNAL ? sev.signo : 0, value: sev.value, cookie };
  return 0;
}

export function mq_getsetattr(t: Task, fd: number, newAddr: number, oldAddr: number): number {
  let newFlags: number | null = null;
  if (newAddr) {
    const b = t.mem.read(newAddr, 64);
    if (!b) return -E.EFAULT;
    newFlags = Number(b.readBigInt64LE(0));
    if (newFlags & ~O_NONBLOCK) return -E.EINVAL;
  }
  const f = t.fdTable.get(fd | 0);
  if (!(f instanceof MqFile)) return -E.EBADF;
  const q = f.inode;
  if (oldAddr) {
    const b = Buffer.alloc(64);
    b.writeBigInt64LE(BigInt(f.flags & O_NONBLOCK), 0);
    b.writeBigInt64LE(BigInt(q.maxmsg), 8);
    b.writeBigInt64LE(BigInt(q.msgsize), 16);
    b.writeBigInt64LE(BigInt(q.msgs.length), 24);
    if (!t.mem.write(oldAddr, b)) return -E.EFAULT;
  }
  if (newFlags !== null) f.flags = (f.flags & ~O_NONBLOCK) | newFlags;
  return 0;
}
