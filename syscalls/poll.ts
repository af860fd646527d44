/** poll, ppoll, select, pselect6: retry loops over fs/vfs/poll, with the deadline fixed at first entry. */
import * as E from '../src/abi/errno';
import type { Task } from '../src/kernel/task';
import { pollFds, waitOnFds, type PollEntry } from '../fs/vfs/poll';
import { limitsOf, RLIMIT_NOFILE } from '../src/kernel/limits';
import { BLOCK } from '../src/kernel/syscall-dispatch';
import { POLLIN, POLLOUT, POLLERR, POLLHUP, POLLRDNORM, POLLWRNORM, POLLPRI } from '../src/abi/fs';
import {
  EFAULT, deadlineOf, finish, applySigmask, restoreSigmask, readTimespecNs, type Progress,
} from './fs-common';

function pollCommon(t: Task, fdsAddr: number, nfds: number, relNs: number): number {
  if (nfds < 0 || nfds > limitsOf(t.tg).soft(RLIMIT_NOFILE)) return -E.EINVAL;
  const raw = t.mem.read(fdsAddr, nfds * 8);
  if (raw === null) return EFAULT;
  const entries: PollEntry[] = [];
  for (let i = 0; i < nfds; i++) {
    entries.push({ fd: raw.readInt32LE(i * 8), events: raw.readUInt16LE(i * 8 + 4), revents: 0 });
  }
  const deadline = deadlineOf(t, relNs);
  const n = pollFds(t, entries);
  if (n === 0 && relNs !== 0 && !t.timedOut && t.kernel.nowNs() < deadline) {
    t.intrResult = -514; // ERESTARTNOHAND
    waitOnFds(t, entries);
    return t.block(deadline);
  }
  for (let i = 0; i < nfds; i++) raw.writeUInt16LE(entries[i].revents, i * 8 + 6);
  if (nfds > 0 && !t.mem.write(fdsAddr, raw)) return EFAULT;
  return n;
}

export function poll(t: Task, fds: number, nfds: number, timeout: number): number {
  const ms = timeout | 0;
  return finish(t, pollCommon(t, fds, nfds >>> 0, ms < 0 ? Infinity : ms * 1e6));
}

export function ppoll(t: Task, fds: number, nfds: number, tsp: number, sigmask: number, sigsetsize: number): number {
  const ns = readTimespecNs(t, tsp);
  if (ns < 0) return ns;
  const m = applySigmask(t, sigmask, sigsetsize);
  if (m < 0) return m;
  return finish(t, writeRemaining(t, tsp, false, restoreSigmask(t, pollCommon(t, fds, nfds >>> 0, ns))));
}

/** Linux's fdt->max_fds: the fd table's capacity (64, doubled as fds are opened); select clamps nfds to it. */
function fdCapacity(t: Task): number {
  let cap = 64;
  while (cap < t.fdTable.highest) cap *= 2;
  return cap;
}

function selectCommon(t: Task, nfds: number, rAddr: number, wAddr: number, eAddr: number, relNs: number): number {
  if (nfds < 0) return -E.EINVAL;
  nfds = Math.min(nfds, fdCapacity(t));
  const bytes = ((nfds + 63) >> 6) * 8;
  const sets: Array<Buffer | null> = [];
  for (const a of [rAddr, wAddr, eAddr]) {
    if (a === 0 || bytes === 0) sets.push(null);
    else {
      const b = t.mem.read(a, bytes);
      if (b === null) return EFAULT;
      sets.push(b);
    }
  }
  const entries: PollEntry[] = [];
  const masks = [POLLIN | POLLRDNORM | POLLHUP | POLLERR, POLLOUT | POLLWRNORM | POLLERR, POLLPRI];
  for (let fd = 0; fd < nfds; fd++) {
    let ev = 0;
    for (let k = 0; k < 3; k++) {
      const s = sets[k];
      if (s && s[fd >> 3] & (1 << (fd & 7))) ev |= k === 0 ? POLLIN : k === 1 ? POLLOUT : POLLPRI;
    }
    if (ev === 0) continue;
    if (!t.fdTable.get(fd)) return -E.EBADF;
    entries.push({ fd, events: ev, revents: 0 });
  }
  const deadline = deadlineOf(t, relNs);
  pollFds(t, entries);
  let count = 0;
  const out = sets.map((s) => (s ? Buffer.alloc(s.length) : null));
  for (const e of entries) {
    for (let k = 0; k < 3; k++) {
      if (!(e.events & (k === 0 ? POLLIN : k === 1 ? POLLOUT : POLLPRI))) continue;
      if (e.revents & masks[k]) {
        out[k]![e.fd >> 3] |= 1 << (e.fd & 7);
        count++;
      }
    }
  }
  if (count === 0 && relNs !== 0 && !t.timedOut && t.kernel.nowNs() < deadline) {
    t.intrResult = -514;
    waitOnFds(t, entries);
    return t.block(deadline);
  }
  const addrs = [rAddr, wAddr, eAddr];
  for (let k = 0; k < 3; k++) if (out[k] && !t.mem.write(addrs[k], out[k]!)) return EFAULT;
  return count;
}

/** select(2) on Linux writes back the time not slept. */
function writeRemaining(t: Task, tv: number, usec: boolean, r: number): number {
  if (tv === 0 || r === BLOCK || r < 0) return r;
  const p = t.sysState as Progress | undefined;
  if (!p || p.deadline === Infinity || p.deadline < 0) return r;
  const left = Math.max(0, p.deadline - t.kernel.nowNs());
  const b = Buffer.alloc(16);
  b.writeBigInt64LE(BigInt(Math.floor(left / 1e9)), 0);
  b.writeBigInt64LE(BigInt(usec ? Math.floor((left % 1e9) / 1e3) : Math.floor(left % 1e9)), 8);
  t.mem.write(tv, b);
  return r;
}

export function select(t: Task, nfds: number, r: number, w: number, e: number, tv: number): number {
  let ns = Infinity;
  if (tv !== 0) {
    const b = t.mem.read(tv, 16);
    if (b === null) return EFAULT;
    const sec = Number(b.readBigInt64LE(0));
    const usec = Number(b.readBigInt64LE(8));
    if (sec < 0 || usec < 0 || usec >= 1e6) return -E.EINVAL;
    ns = sec * 1e9 + usec * 1e3;
  }
  return finish(t, writeRemaining(t, tv, true, selectCommon(t, nfds | 0, r, w, e, ns)));
}

export function pselect6(t: Task, nfds: number, r: number, w: number, e: number, tsp: number, sig: number): number {
  const ns = readTimespecNs(t, tsp);
  if (ns < 0) return ns;
  if (sig !== 0 && t.sysState === undefined) {
    // struct { const sigset_t *ss; size_t ss_len; }
    const b = t.mem.read(sig, 16);
    if (b === null) return EFAULT;
    const ss = Number(b.readBigUInt64LE(0));
    const len = Number(b.readBigUInt64LE(8));
    const m = applySigmask(t, ss, len);
    if (m < 0) return m;
  }
  return finish(t, writeRemaining(t, tsp, false, restoreSigmask(t, selectCommon(t, nfds | 0, r, w, e, ns))));
}
