/**
 * Futexes: wait queues keyed like Linux keys them. A word in private memory is keyed
 * by (address space, address) whether the op says PRIVATE or not; a word in a
 * MAP_SHARED mapping by its address alone (shared mappings keep their address across
 * fork, which is how process-shared glibc objects are used).
 */
import type { Task } from './task';
import { WaitQueue } from './waitqueue';

const queues = new Map<string, WaitQueue>();
const mmIds = new WeakMap<object, number>();
let nextMmId = 1;

function key(t: Task, addr: number, _priv: boolean): string {
  const v = t.mm.find(addr);
  if (v && (v.flags & 0x0f) === 0x01) return `s:${addr}`;
  let id = mmIds.get(t.mm);
  if (id === undefined) mmIds.set(t.mm, (id = nextMmId++));
  return `${id}:${addr}`;
}

export function futexQueue(t: Task, addr: number, priv: boolean): WaitQueue {
  const k = key(t, addr, priv);
  let q = queues.get(k);
  if (!q) queues.set(k, (q = new WaitQueue()));
  return q;
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
