/**
 * The readiness check shared by poll, ppoll, select and pselect: one pass over the
 * entries, and when nothing is ready, registration on every file's wait queue so the
 * caller can park the task (host-backed files arm their one-shot watches).
 */
import type { FsWaiter as Task } from './caller';
import { POLLERR, POLLHUP, POLLNVAL } from '../../src/abi/fs';

export interface PollEntry {
  fd: number;
  events: number;
  revents: number;
}

/** Fills revents; returns how many entries are ready. */
export function pollFds(t: Task, entries: PollEntry[]): number {
  let ready = 0;
  for (const e of entries) {
    e.revents = 0;
    if (e.fd < 0) continue;
    const f = t.fdTable.get(e.fd);
    if (f === undefined) {
      e.revents = POLLNVAL;
      ready++;
      continue;
    }
    const r = f.readiness() & (e.events | POLLERR | POLLHUP | POLLNVAL);
    e.revents = r;
    if (r !== 0) ready++;
  }
  return ready;
}

/** Before parking the task: wait on every entry's file (and arm host watches). */
export function waitOnFds(t: Task, entries: PollEntry[]): void {
  {
    for (const e of entries) {
      if (e.fd < 0) continue;
      const f = t.fdTable.get(e.fd);
      if (f === undefined) continue;
      f.armWait(e.events);
      t.waitOn(f.waitQueue, e.events | POLLERR | POLLHUP);
    }
  }
}
