/**
 * SysV semaphores: sets of counters changed all-or-nothing by semop. A caller that would
 * block parks on the set's wait queue and tries its whole operation again whenever the
 * set changes (Linux's retry of pending operations, in arrival order). SEM_UNDO
 * adjustments are kept per process (shared over CLONE_SYSVSEM) and applied at its exit.
 */
import { E2BIG, EACCES, EAGAIN, EFAULT, EFBIG, EIDRM, EINTR, EINVAL, ENOSPC, ERANGE } from '../../abi/errno';
import { WaitQueue } from '../../waiter/waitqueue';
import type { Task } from '../task';
import { TaskState } from '../task';
import type { Kernel } from '../kernel';
import { ipcKey } from '../namespaces/types';
import type { ThreadGroup } from '../thread-group';
import {
  IPC_INFO, IPC_NOWAIT, IPC_RMID, IPC_SET, IPC_STAT, IpcIds, type IpcObject, idOf, ipcGet, ipcOwner, ipcPerms,
  ipcTable, nowSec, setPerm, writePerm,
} from './ids';

const SEMMSL = 32000, SEMMNI = 32000, SEMMNS = SEMMNI * SEMMSL, SEMOPM = 500, SEMVMX = 32767, SEMAEM = SEMVMX;
const SEMUME = SEMOPM, SEMUSZ = 20, SEMMAP = SEMMNS, SEMMNU = SEMMNS;
export const SEM_UNDO = 0o10000;
const GETPID = 11, GETVAL = 12, GETALL = 13, GETNCNT = 14, GETZCNT = 15, SETVAL = 16, SETALL = 17, SEM_STAT = 18,
  SEM_INFO = 19, SEM_STAT_ANY = 20;

interface Sop { num: number; op: number; flg: number }

/** A parked semop: which semaphore and which wait (zero, or an increase) it blocks on. */
interface SemWaiter { t: Task; num: number; zero: boolean }

export interface SemSet extends IpcObject {
  readonly vals: Int32Array;
  readonly pids: Int32Array;
  otime: number;
  ctime: number;
  readonly queue: WaitQueue;
  readonly waiters: Set<SemWaiter>;
  /** Undo lists holding adjustments for this set (SETVAL/SETALL clear them). */
  readonly undos: Set<UndoList>;
}

/** A process's SEM_UNDO adjustments, by set. */
interface UndoList {
  readonly adj: Map<SemSet, Int32Array>;
  users: number;
}

interface SemNs {
  ids: IpcIds<SemSet>;
  used: number;
  undo: WeakMap<ThreadGroup, UndoList>;
}

function ns(k: object): SemNs {
  return ipcTable(k, 'sem', () => ({ ids: new IpcIds<SemSet>(SEMMNI), used: 0, undo: new WeakMap() }));
}

export function semget(t: Task, key: number, nsems: number, flg: number): number {
  if (nsems < 0 || nsems > SEMMSL) return -EINVAL;
  const n = ns(ipcKey(t));
  return ipcGet(n.ids, key, flg, t.creds, (perm) => {
    if (nsems === 0) return -EINVAL;
    if (n.used + nsems > SEMMNS) return -ENOSPC;
    n.used += nsems;
    return {
      ...perm, vals: new Int32Array(nsems), pids: new Int32Array(nsems), otime: 0, ctime: nowSec(),
      queue: new WaitQueue(), waiters: new Set(), undos: new Set(),
    };
  }, (o) => (nsems > o.vals.length ? -EINVAL : 0));
}

function readSops(t: Task, addr: number, n: number): Sop[] | null {
  const b = t.mem.read(addr, n * 6);
  if (!b) return null;
  const out: Sop[] = [];
  for (let i = 0; i < n; i++) out.push({ num: b.readUInt16LE(i * 6), op: b.readInt16LE(i * 6 + 2), flg: b.readInt16LE(i * 6 + 4) });
  return out;
}

function undoOf(n: SemNs, tg: ThreadGroup): UndoList {
  let u = n.undo.get(tg);
  if (!u) n.undo.set(tg, (u = { adj: new Map(), users: 1 }));
  return u;
}

interface SemopState { sops: Sop[]; deadline: number; waiter: SemWaiter | null }

/** semop/semtimedop; timeoutNs: Infinity for none (the handler has read and checked it). */
export function semtimedop(t: Task, id: number, sopsAddr: number, nsops: number, timeoutNs: number): number {
  const n = ns(ipcKey(t));
  let st = t.sysState as SemopState | undefined;
  if (!st) {
    if (nsops < 1 || id < 0) return -EINVAL;
    if (nsops > SEMOPM) return -E2BIG;
    const sops = readSops(t, sopsAddr, nsops);
    if (!sops) return -EFAULT;
    st = { sops, deadline: timeoutNs === Infinity ? Infinity : t.kernel.nowNs() + timeoutNs, waiter: null };
  }
  const set = n.ids.get(id);
  if (st.waiter) set?.waiters.delete(st.waiter);
  if (!set) return st.waiter ? -EIDRM : -EINVAL;
  const max = Math.max(...st.sops.map((s) => s.num));
  if (max >= set.vals.length) return -EFBIG;
  const alter = st.sops.some((s) => s.op !== 0);
  if (!ipcPerms(set, t.creds, alter ? 0o222 : 0o444)) return -EACCES;
  const undo = st.sops.some((s) => s.flg & SEM_UNDO) ? undoOf(n, t.tg) : null;
  const r = tryOps(t, set, st.sops, undo);
  if (r === 0) {
    set.queue.notify(1);
    return 0;
  }
  if (r < 0) return r;
  // Would block on sops[r - 1].
  const b = st.sops[r - 1];
  if (b.flg & IPC_NOWAIT) return -EAGAIN;
  if (t.timedOut || t.kernel.nowNs() >= st.deadline) return -EAGAIN;
  st.waiter = { t, num: b.num, zero: b.op === 0 };
  set.waiters.add(st.waiter);
  t.sysState = st;
  t.intrResult = -EINTR; // semop is never restarted after a handler
  return t.blockOn(set.queue, 1, st.deadline);
}

/** perform_atomic_semop: 0 done, -errno, or 1 + the index of the operation that must wait. */
function tryOps(t: Task, set: SemSet, sops: Sop[], undo: UndoList | null): number {
  const vals = Int32Array.from(set.vals);
  const adj = undo ? Int32Array.from(undo.adj.get(set) ?? new Int32Array(set.vals.length)) : null;
  for (let i = 0; i < sops.length; i++) {
    const s = sops[i];
    const cur = vals[s.num];
    const res = cur + s.op;
    if (s.op === 0 ? cur !== 0 : res < 0) return i + 1;
    if (res > SEMVMX) return -ERANGE;
    if (s.flg & SEM_UNDO) {
      const u = adj![s.num] - s.op;
      if (u < -SEMAEM - 1 || u > SEMAEM) return -ERANGE;
      adj![s.num] = u;
    }
    vals[s.num] = res;
  }
  set.vals.set(vals);
  for (const s of sops) set.pids[s.num] = t.tg.pid;
  set.otime = nowSec();
  if (undo && adj) {
    undo.adj.set(set, adj);
    set.undos.add(undo);
  }
  return 0;
}

/** Waiters still parked in semop on this set (entries of woken or killed tasks are stale). */
function liveWaiters(set: SemSet): SemWaiter[] {
  const out: SemWaiter[] = [];
  for (const w of set.waiters) {
    if (w.t.state === TaskState.Blocked && (w.t.sysState as SemopState | undefined)?.waiter === w) out.push(w);
    else set.waiters.delete(w);
  }
  return out;
}

function clearUndo(set: SemSet, num: number | null): void {
  for (const u of set.undos) {
    const a = u.adj.get(set);
    if (!a) continue;
    if (num === null) a.fill(0);
    else a[num] = 0;
  }
}

/** struct semid64_ds (104 bytes). */
function semidDs(set: SemSet): Buffer {
  const b = Buffer.alloc(104);
  writePerm(b, 0, set);
  b.writeBigInt64LE(BigInt(set.otime), 48);
  b.writeBigInt64LE(BigInt(set.ctime), 64);
  b.writeBigUInt64LE(BigInt(set.vals.length), 80);
  return b;
}

function removeSet(n: SemNs, set: SemSet): void {
  n.ids.remove(set);
  n.used -= set.vals.length;
  for (const u of set.undos) u.adj.delete(set);
  set.queue.notify(1); // parked callers find it gone: EIDRM
}

export function semctl(t: Task, id: number, num: number, cmd: number, arg: number): number {
  const n = ns(ipcKey(t));
  switch (cmd) {
    case IPC_INFO:
    case SEM_INFO: {
      const info = cmd === SEM_INFO;
      const v = [SEMMAP, SEMMNI, SEMMNS, SEMMNU, SEMMSL, SEMOPM, SEMUME, info ? n.ids.inUse : SEMUSZ, SEMVMX, info ? n.used : SEMAEM];
      const b = Buffer.alloc(40);
      v.forEach((x, i) => b.writeInt32LE(x | 0, i * 4));
      return t.mem.write(arg, b) ? n.ids.maxIdx() : -EFAULT;
    }
    case SETVAL:
      if (arg < 0 || arg > SEMVMX) return -ERANGE;
  }
  const byIdx = cmd === SEM_STAT || cmd === SEM_STAT_ANY;
  const set = byIdx ? n.ids.at(id) : n.ids.get(id);
  if (!set) return -EINVAL;
  const nsems = set.vals.length;
  switch (cmd) {
    case SEM_STAT:
    case SEM_STAT_ANY:
    case IPC_STAT:
      if (cmd !== SEM_STAT_ANY && !ipcPerms(set, t.creds, 0o444)) return -EACCES;
      if (!t.mem.write(arg, semidDs(set))) return -EFAULT;
      return byIdx ? idOf(set) : 0;
    case IPC_SET: {
      const b = t.mem.read(arg, 104);
      if (!b) return -EFAULT;
      const e = ipcOwner(set, t.creds) || setPerm(set, b, 0);
      if (e) return e;
      set.ctime = nowSec();
      return 0;
    }
    case IPC_RMID: {
      const e = ipcOwner(set, t.creds);
      if (e) return e;
      removeSet(n, set);
      return 0;
    }
    case GETALL: {
      if (!ipcPerms(set, t.creds, 0o444)) return -EACCES;
      const b = Buffer.alloc(nsems * 2);
      set.vals.forEach((v, i) => b.writeUInt16LE(v, i * 2));
      return t.mem.write(arg, b) ? 0 : -EFAULT;
    }
    case SETALL: {
      if (!ipcPerms(set, t.creds, 0o222)) return -EACCES;
      const b = t.mem.read(arg, nsems * 2);
      if (!b) return -EFAULT;
      for (let i = 0; i < nsems; i++) if (b.readUInt16LE(i * 2) > SEMVMX) return -ERANGE;
      for (let i = 0; i < nsems; i++) {
        set.vals[i] = b.readUInt16LE(i * 2);
        set.pids[i] = t.tg.pid;
      }
      clearUndo(set, null);
      set.ctime = nowSec();
      set.queue.notify(1);
      return 0;
    }
    case GETVAL: case GETPID: case GETNCNT: case GETZCNT: case SETVAL: {
      if (!ipcPerms(set, t.creds, cmd === SETVAL ? 0o222 : 0o444)) return -EACCES;
      if (num < 0 || num >= nsems) return -EINVAL;
      if (cmd === GETVAL) return set.vals[num];
      if (cmd === GETPID) return set.pids[num];
      if (cmd === GETNCNT || cmd === GETZCNT) return liveWaiters(set).filter((w) => w.num === num && w.zero === (cmd === GETZCNT)).length;
      set.vals[num] = arg;
      set.pids[num] = t.tg.pid;
      clearUndo(set, num);
      set.ctime = nowSec();
      set.queue.notify(1);
      return 0;
    }
    default:
      return -EINVAL;
  }
}

/** clone(CLONE_SYSVSEM) of a new process: it shares its parent's undo list. */
/** The process's undo list made if it has none (a CLONE_SYSVSEM thread: copy_semundo's get_undo_list). */
export function makeSemUndo(k: Kernel, tg: ThreadGroup): void {
  undoOf(ns(k), tg);
}

export function shareSemUndo(k: Kernel, parent: ThreadGroup, child: ThreadGroup): void {
  const n = ns(k);
  const u = undoOf(n, parent);
  u.users++;
  n.undo.set(child, u);
}

/** exit_sem: the process's adjustments are applied (clamped to 0..SEMVMX) when its last user exits. */
export function exitSemUndo(k: Kernel, tg: ThreadGroup): void {
  const n = ns(k);
  const u = n.undo.get(tg);
  if (!u) return;
  n.undo.delete(tg);
  if (--u.users > 0) return;
  for (const [set, adj] of u.adj) {
    set.undos.delete(u);
    if (set.deleted) continue;
    let changed = false;
    for (let i = 0; i < adj.length; i++) {
      if (!adj[i]) continue;
      set.vals[i] = Math.min(SEMVMX, Math.max(0, set.vals[i] + adj[i]));
      set.pids[i] = tg.pid;
      changed = true;
    }
    if (changed) set.queue.notify(1);
  }
}

/** /proc/sysvipc/sem. */
export function procSysvipcSem(k: Kernel): string {
  const rows = ['       key      semid perms      nsems   uid   gid  cuid  cgid      otime      ctime'];
  for (const s of ns(k).ids.all()) {
    rows.push(`${String(s.key | 0).padStart(10)} ${String(idOf(s)).padStart(10)}  ${s.mode.toString(8).padStart(4)} ${String(s.vals.length).padStart(10)} ${String(s.uid).padStart(5)} ${String(s.gid).padStart(5)} ${String(s.cuid).padStart(5)} ${String(s.cgid).padStart(5)} ${String(s.otime).padStart(10)} ${String(s.ctime).padStart(10)}`);
  }
  return rows.join('\n') + '\n';
}

/** The process's undo list, shared over CLONE_SYSVSEM; null until a SEM_UNDO operation or a sharing clone made one (kcmp's KCMP_SYSVSEM). */
export function semUndoList(t: Task): object | null {
  return ns(ipcKey(t)).undo.get(t.tg) ?? ns(t.kernel).undo.get(t.tg) ?? null;
}
