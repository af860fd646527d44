/**
 * Futexes: wait queues keyed like Linux keys them. A word in private memory is keyed
 * by (address space, address) whether the op says PRIVATE or not; a word in a
 * MAP_SHARED file mapping by (file, offset), since processes map a shared file where
 * they like (podman's shm locks: by address, the unlocker's wake missed the waiter);
 * one in shared anonymous memory by its address (only a fork shares it, at the same
 * address).
 */
import type { Task } from './task';
import { WaitQueue } from '../waiter/waitqueue';

const queues = new Map<string, WaitQueue>();
const mmIds = new WeakMap<object, number>();
let nextMmId = 1;

function key(t: Task, addr: number, _priv: boolean): string {
  const v = t.mm.find(addr);
  // MAP_SHARED or MAP_SHARED_VALIDATE (kept in the VMA as given).
  if (v && ((v.flags & 0x0f) === 0x01 || (v.flags & 0x0f) === 0x03)) return v.ino ? `f:${v.dev}:${v.ino}:${v.offset + (addr - v.start)}` : `s:${addr}`;
  let id = mmIds.get(t.mm);
  if (id === undefined) mmIds.set(t.mm, (id = nextMmId++));
  return `${id}:${addr}`;
}

/** Drops every wait queue (a reused pool worker, between sandboxes: src/server/retire.ts). */
export function clearFutexQueues(): void {
  queues.clear();
}

export function futexQueue(t: Task, addr: number, priv: boolean): WaitQueue {
  const k = key(t, addr, priv);
  let q = queues.get(k);
  if (!q) queues.set(k, (q = new WaitQueue()));
  return q;
}

/** FUTEX_(CMP_)REQUEUE: wakes up to nWake waiters on addr, moves up to nMove to addr2. */
export function futexRequeue(t: Task, addr: number, addr2: number, nWake: number, nMove: number, priv: boolean): number {
  const woken = futexWake(t, addr, nWake, -1, priv);
  const q = queues.get(key(t, addr, priv));
  if (!q || nMove <= 0) return woken;
  const moved = q.requeue(futexQueue(t, addr2, priv), nMove);
  if (q.size === 0) queues.delete(key(t, addr, priv));
  return woken + moved;
}

/** Wakes up to n waiters whose bitset intersects `bitset`; returns how many. */
export function futexWake(t: Task, addr: number, n: number, bitset: number, priv: boolean): number {
  const k = key(t, addr, priv);
  const q = queues.get(k);
  if (!q) return 0;
  const woken = q.notifyN(bitset | 0, n);
  if (q.size === 0) queues.delete(k);
  return woken;
}

const FUTEX_WAITERS = 0x80000000;
const FUTEX_OWNER_DIED = 0x40000000;
const FUTEX_TID_MASK = 0x3fffffff;
const ROBUST_LIST_LIMIT = 2048;

/**
 * A dying thread's robust futexes (set_robust_list): every lock it still holds gets
 * FUTEX_OWNER_DIED, and one waiter is woken, so the next locker sees EOWNERDEAD.
 */
export function exitRobustList(t: Task): void {
  const head = t.robustList;
  if (!head) return;
  const futexOffset = t.mem.readI64(head + 8);
  const pending = t.mem.readU64(head + 16);
  if (futexOffset === null || pending === null) return;
  const handle = (entry: number): void => {
    const addr = entry + futexOffset;
    // Atomic: other threads set FUTEX_WAITERS on the word meanwhile (Linux's cmpxchg loop).
    for (let tries = 0; tries < 16; tries++) {
      const word = t.mem.readU32(addr);
      if (word === null || (word & FUTEX_TID_MASK) !== t.tid) return;
      const next = ((word & FUTEX_WAITERS) | FUTEX_OWNER_DIED) >>> 0;
      const old = t.mem.casU32(t.hostTid, addr, word, next);
      if (old === null) return;
      if (old !== word) continue;
      if (word & FUTEX_WAITERS) futexWake(t, addr, 1, -1, false);
      return;
    }
  };
  let entry = t.mem.readU64(head);
  for (let i = 0; entry !== null && entry !== head && entry !== 0 && i < ROBUST_LIST_LIMIT; i++) {
    if (entry !== pending) handle(entry);
    entry = t.mem.readU64(entry);
  }
  if (pending) handle(pending);
}

/**
 * Priority-inheritance futexes, as glibc's PTHREAD_PRIO_INHERIT mutexes use them: the
 * word holds the owner's tid (| FUTEX_WAITERS); LOCK_PI waits for it, UNLOCK_PI hands
 * the lock straight to the oldest waiter. There is no priority boosting to do: the
 * sandbox schedules its threads on the host as equals.
 * The word changes under the Sentry's feet (guest threads cmpxchg it in user space, on
 * other CPUs): every update is a compare-and-swap run in the address space, retried
 * when the word moved, as Linux's futex_lock_pi does.
 */
export function futexLockPi(t: Task, addr: number, deadline: number, tryOnly: boolean): number {
  for (;;) {
    const word = t.mem.readU32(addr);
    if (word === null) return -14; // EFAULT
    const owner = word & FUTEX_TID_MASK;
    if (owner === t.tid) return t.sysState?.piWaiting ? 0 : -35; // handed to us / EDEADLK
    if (owner === 0 || !ownerAlive(owner)) {
      // Free, or its owner died without a robust-list release: take it over.
      const died = owner !== 0 ? FUTEX_OWNER_DIED : word & FUTEX_OWNER_DIED;
      const q = queues.get(key(t, addr, true));
      const waiters = q && q.size > 0 ? FUTEX_WAITERS : 0;
      const old = t.mem.casU32(t.hostTid, addr, word, (t.tid | waiters | died) >>> 0);
      if (old === null) return -14;
      if (old !== word) continue;
      return 0;
    }
    if (tryOnly) return -16; // EBUSY
    if (t.timedOut) return -110; // ETIMEDOUT
    if (!(word & FUTEX_WAITERS)) {
      const old = t.mem.casU32(t.hostTid, addr, word, (word | FUTEX_WAITERS) >>> 0);
      if (old === null) return -14;
      if (old !== word) continue;
    }
    t.sysState = { piWaiting: true };
    return t.blockOn(futexQueue(t, addr, true), -1, deadline);
  }
}

export function futexUnlockPi(t: Task, addr: number): number {
  for (;;) {
    const word = t.mem.readU32(addr);
    if (word === null) return -14;
    if ((word & FUTEX_TID_MASK) !== t.tid) return -1; // EPERM
    const q = queues.get(key(t, addr, true));
    const next = q ? q.firstWaiter() : undefined;
    const more = q && q.size > 1 ? FUTEX_WAITERS : 0;
    const old = t.mem.casU32(t.hostTid, addr, word, next ? (next.tid | more) >>> 0 : 0);
    if (old === null) return -14;
    if (old !== word) continue;
    if (next) q!.notifyN(-1, 1);
    return 0;
  }
}

let ownerLookup: (tid: number) => boolean = () => true;

/** Installed by the kernel: whether a guest tid is a live thread. */
export function setOwnerLookup(fn: (tid: number) => boolean): void {
  ownerLookup = fn;
}

function ownerAlive(tid: number): boolean {
  return ownerLookup(tid);
}
