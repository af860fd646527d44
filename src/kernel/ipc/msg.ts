/**
 * SysV message queues: typed messages kept in arrival order, at most msg_qbytes bytes a
 * queue. Senders that find no room and receivers that find no match park on the queue's
 * wait queue and look again whenever it changes.
 */
import { E2BIG, EACCES, EAGAIN, EFAULT, EIDRM, EINTR, EINVAL, ENOMSG, EPERM } from '../../abi/errno';
import { capable, CAP_SYS_RESOURCE } from '../../auth/capabilities';
import { WaitQueue } from '../../waiter/waitqueue';
import type { Task } from '../task';
import type { Kernel } from '../kernel';
import { ipcKey } from '../namespaces/types';
import {
  IPC_INFO, IPC_NOWAIT, IPC_RMID, IPC_SET, IPC_STAT, IpcIds, type IpcObject, idOf, ipcGet, ipcOwner, ipcPerms,
  ipcTable, nowSec, setPerm, writePerm,
} from './ids';

const MSGMAX = 8192, MSGMNB = 16384, MSGMNI = 32000, MSGSSZ = 16, MSGPOOL = (MSGMNI * MSGMNB) / 1024;
const MSGSEG = 0xffff;
export const MSG_NOERROR = 0o10000, MSG_EXCEPT = 0o20000, MSG_COPY = 0o40000;
const MSG_STAT = 11, MSG_INFO = 12, MSG_STAT_ANY = 13;

interface Message { type: number; data: Buffer }

export interface MsgQueue extends IpcObject {
  readonly msgs: Message[];
  cbytes: number;
  qbytes: number;
  lspid: number;
  lrpid: number;
  stime: number;
  rtime: number;
  ctime: number;
  readonly queue: WaitQueue;
}

function table(k: object): IpcIds<MsgQueue> {
  return ipcTable(k, 'msg', () => new IpcIds<MsgQueue>(MSGMNI));
}

export function msgget(t: Task, key: number, flg: number): number {
  return ipcGet(table(ipcKey(t)), key, flg, t.creds, (perm) => ({
    ...perm, msgs: [], cbytes: 0, qbytes: MSGMNB, lspid: 0, lrpid: 0, stime: 0, rtime: 0, ctime: nowSec(),
    queue: new WaitQueue(),
  }), () => 0);
}

/** Looks the queue up again on every (re-)run: EIDRM once it went while we waited. */
function lookup(t: Task, id: number): MsgQueue | number {
  const q = table(ipcKey(t)).get(id);
  if (q) return q;
  return t.sysState?.msgWaited ? -EIDRM : -EINVAL;
}

function park(t: Task, q: MsgQueue): number {
  t.sysState = { ...(t.sysState ?? {}), msgWaited: true };
  t.intrResult = -EINTR; // never restarted after a handler
  return t.blockOn(q.queue, 1);
}

export function msgsnd(t: Task, id: number, msgp: number, size: number, flg: number): number {
  const hdr = t.mem.readI64(msgp);
  if (hdr === null) return -EFAULT;
  if (size < 0 || size > MSGMAX || id < 0 || hdr < 1) return -EINVAL;
  const data = size ? t.mem.read(msgp + 8, size) : Buffer.alloc(0);
  if (!data) return -EFAULT;
  const q = lookup(t, id);
  if (typeof q === 'number') return q;
  if (!ipcPerms(q, t.creds, 0o222)) return -EACCES;
  // msg_fits_inqueue: bytes and message count both bounded by msg_qbytes.
  if (q.cbytes + size > q.qbytes || q.msgs.length + 1 > q.qbytes) {
    if (flg & IPC_NOWAIT) return -EAGAIN;
    return park(t, q);
  }
  q.msgs.push({ type: hdr, data: Buffer.from(data) });
  q.cbytes += size;
  q.lspid = t.tg.pid;
  q.stime = nowSec();
  q.queue.notify(1);
  return 0;
}

function find(q: MsgQueue, type: number, flg: number): number {
  if (flg & MSG_COPY) return type < q.msgs.length ? type : -1;
  if (type === 0) return q.msgs.length ? 0 : -1;
  if (type > 0) return q.msgs.findIndex((m) => ((flg & MSG_EXCEPT) ? m.type !== type : m.type === type));
  // The lowest type not above |type|, first of those.
  let best = -1;
  for (let i = 0; i < q.msgs.length; i++) {
    const m = q.msgs[i];
    if (m.type <= -type && (best < 0 || m.type < q.msgs[best].type)) best = i;
  }
  return best;
}

export function msgrcv(t: Task, id: number, msgp: number, size: number, type: number, flg: number): number {
  if (id < 0) return -EINVAL;
  if (flg & MSG_COPY) {
    if ((flg & MSG_EXCEPT) || !(flg & IPC_NOWAIT)) return -EINVAL;
  }
  if (size < 0) return -EINVAL;
  const q = lookup(t, id);
  if (typeof q === 'number') return q;
  if (!ipcPerms(q, t.creds, 0o444)) return -EACCES;
  const i = find(q, type, flg);
  if (i < 0) {
    if (flg & IPC_NOWAIT) return -ENOMSG;
    return park(t, q);
  }
  const m = q.msgs[i];
  if (m.data.length > size && !(flg & MSG_NOERROR)) return -E2BIG;
  const n = Math.min(size, m.data.length);
  const out = Buffer.alloc(8 + n);
  out.writeBigInt64LE(BigInt(m.type), 0);
  m.data.copy(out, 8, 0, n);
  // Linux takes the message off the queue before copying it out: a bad buffer loses it.
  const copied = t.mem.write(msgp, out);
  if (!(flg & MSG_COPY)) {
    q.msgs.splice(i, 1);
    q.cbytes -= m.data.length;
    q.lrpid = t.tg.pid;
    q.rtime = nowSec();
    q.queue.notify(1);
  }
  return copied ? n : -EFAULT;
}

/** struct msqid64_ds (120 bytes). */
function msqidDs(q: MsgQueue): Buffer {
  const b = Buffer.alloc(120);
  writePerm(b, 0, q);
  b.writeBigInt64LE(BigInt(q.stime), 48);
  b.writeBigInt64LE(BigInt(q.rtime), 56);
  b.writeBigInt64LE(BigInt(q.ctime), 64);
  b.writeBigUInt64LE(BigInt(q.cbytes), 72);
  b.writeBigUInt64LE(BigInt(q.msgs.length), 80);
  b.writeBigUInt64LE(BigInt(q.qbytes), 88);
  b.writeInt32LE(q.lspid, 96);
  b.writeInt32LE(q.lrpid, 100);
  return b;
}

export function msgctl(t: Task, id: number, cmd: number, buf: number): number {
  const ids = table(ipcKey(t));
  switch (cmd) {
    case IPC_INFO:
    case MSG_INFO: {
      // struct msginfo: msgpool, msgmap, msgmax, msgmnb, msgmni, msgssz, msgtql (int), msgseg (u16).
      const info = cmd === MSG_INFO;
      let count = 0, bytes = 0;
      for (const q of ids.all()) {
        count += q.msgs.length;
        bytes += q.cbytes;
      }
      const v = [info ? ids.inUse : MSGPOOL, info ? count : MSGMNB, MSGMAX, MSGMNB, MSGMNI, MSGSSZ, info ? bytes : MSGMNB];
      const b = Buffer.alloc(32);
      v.forEach((x, i) => b.writeInt32LE(x | 0, i * 4));
      b.writeUInt16LE(MSGSEG, 28);
      return t.mem.write(buf, b) ? ids.maxIdx() : -EFAULT;
    }
  }
  const byIdx = cmd === MSG_STAT || cmd === MSG_STAT_ANY;
  const q = byIdx ? ids.at(id) : ids.get(id);
  if (!q) return -EINVAL;
  switch (cmd) {
    case MSG_STAT:
    case MSG_STAT_ANY:
    case IPC_STAT:
      if (cmd !== MSG_STAT_ANY && !ipcPerms(q, t.creds, 0o444)) return -EACCES;
      if (!t.mem.write(buf, msqidDs(q))) return -EFAULT;
      return byIdx ? idOf(q) : 0;
    case IPC_SET: {
      const b = t.mem.read(buf, 120);
      if (!b) return -EFAULT;
      const e = ipcOwner(q, t.creds);
      if (e) return e;
      const qbytes = Number(b.readBigUInt64LE(88));
      if (qbytes > MSGMNB && !capable(t.creds, CAP_SYS_RESOURCE)) return -EPERM;
      const p = setPerm(q, b, 0);
      if (p) return p;
      q.qbytes = qbytes;
      q.ctime = nowSec();
      q.queue.notify(1); // room may have appeared
      return 0;
    }
    case IPC_RMID: {
      const e = ipcOwner(q, t.creds);
      if (e) return e;
      ids.remove(q);
      q.queue.notify(1);
      return 0;
    }
    default:
      return -EINVAL;
  }
}

/** /proc/sysvipc/msg. */
export function procSysvipcMsg(k: Kernel): string {
  const rows = ['       key      msqid perms      cbytes       qnum lspid lrpid   uid   gid  cuid  cgid      stime      rtime      ctime'];
  for (const q of table(k).all()) {
    rows.push(`${String(q.key | 0).padStart(10)} ${String(idOf(q)).padStart(10)}  ${q.mode.toString(8).padStart(4)}  ${String(q.cbytes).padStart(10)} ${String(q.msgs.length).padStart(10)} ${String(q.lspid).padStart(5)} ${String(q.lrpid).padStart(5)} ${String(q.uid).padStart(5)} ${String(q.gid).padStart(5)} ${String(q.cuid).padStart(5)} ${String(q.cgid).padStart(5)} ${String(q.stime).padStart(10)} ${String(q.rtime).padStart(10)} ${String(q.ctime).padStart(10)}`);
  }
  return rows.join('\n') + '\n';
}
