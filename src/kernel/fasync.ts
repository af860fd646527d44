/**
 * Signal-driven I/O (fcntl F_SETOWN / F_SETOWN_EX / F_SETSIG, O_ASYNC, FIOASYNC): a file
 * description with O_ASYNC and an owner signals the owner (SIGIO, or the F_SETSIG signal
 * with si_fd and si_band) whenever its wait queue reports new input or room for output,
 * as Linux's kill_fasync does for pipes, ttys and sockets. Per description, so dup'ed
 * fds and forked children share it; the fd reported is the one O_ASYNC was set through.
 */
import { ESRCH, EINVAL } from '../abi/errno';
import { O_ASYNC, POLLIN, POLLOUT, POLLERR, POLLHUP, POLLPRI } from '../abi/fs';
import type { FileDescription } from '../../fs/vfs/file';
import type { WaitEntry } from '../waiter/waitqueue';
import type { Task } from './task';
import type { Kernel } from './kernel';
import { sendToGroup, sendToTask } from './signal-delivery';

export const F_OWNER_TID = 0, F_OWNER_PID = 1, F_OWNER_PGRP = 2;
const SIGIO = 29, SIGURG = 23;
const POLL_IN = 1, POLL_OUT = 2, POLL_ERR = 4, POLL_PRI = 5, POLL_HUP = 6;
/** Linux's band for each reason (band_table): the POLL* bits a reader would see. */
const BAND_IN = POLLIN | 0x40 | 0x80; // POLLIN | POLLRDNORM | POLLRDBAND
const BAND_OUT = POLLOUT | 0x100 | 0x200; // POLLOUT | POLLWRNORM | POLLWRBAND

interface AsyncState {
  type: number;
  id: number;
  sig: number;
  fd: number;
  entry: WaitEntry | null;
  kernel: Kernel | null;
}

const states = new WeakMap<FileDescription, AsyncState>();

function stateOf(f: FileDescription): AsyncState {
  let s = states.get(f);
  if (!s) {
    s = { type: F_OWNER_PID, id: 0, sig: 0, fd: -1, entry: null, kernel: null };
    states.set(f, s);
  }
  return s;
}

/** F_GETOWN: a process id, or minus a process group (a thread owner reads as its tid). */
export function getOwn(f: FileDescription): number {
  const s = states.get(f);
  if (!s) return 0;
  return s.type === F_OWNER_PGRP ? -s.id : s.id;
}

/** F_GETOWN_EX: [type, id]. */
export function getOwnEx(f: FileDescription): [number, number] {
  const s = states.get(f);
  return s ? [s.type, s.id] : [F_OWNER_PID, 0];
}

/** F_SETOWN (arg < 0: a process group) and F_SETOWN_EX. */
export function setOwn(t: Task, f: FileDescription, type: number, id: number): number {
  if (type !== F_OWNER_TID && type !== F_OWNER_PID && type !== F_OWNER_PGRP) return -EINVAL;
  const k = t.kernel;
  if (id !== 0) {
    const found = type === F_OWNER_TID ? k.tasks.has(id)
      : type === F_OWNER_PID ? k.threadGroups.has(id)
      : [...k.threadGroups.values()].some((g) => g.pgid === id);
    if (!found) return -ESRCH;
  }
  const s = stateOf(f);
  s.type = type;
  s.id = id;
  s.kernel = k;
  return 0;
}

export function getSig(f: FileDescription): number {
  return states.get(f)?.sig ?? 0;
}

/** F_SETSIG: 0 (plain SIGIO) or a valid signal number. */
export function setSig(f: FileDescription, sig: number): number {
  if (sig < 0 || sig > 64) return -EINVAL;
  stateOf(f).sig = sig;
  return 0;
}

/** After O_ASYNC may have changed on f (F_SETFL, FIOASYNC) through fd: start or stop watching. */
export function asyncChanged(t: Task, f: FileDescription, fd: number): void {
  const on = (f.flags & O_ASYNC) !== 0;
  const s = states.get(f);
  if (!on) {
    if (s?.entry) f.waitQueue.remove(s.entry);
    if (s) s.entry = null;
    return;
  }
  const st = stateOf(f);
  st.fd = fd;
  if (st.entry !== null) return;
  const kernel = t.kernel;
  st.entry = f.waitQueue.add(POLLIN | POLLOUT | POLLERR | POLLHUP | POLLPRI, (ev) => fire(kernel, f, st, ev));
}

function fire(k: Kernel, f: FileDescription, s: AsyncState, ev: number): void {
  if (f.released) {
    if (s.entry) f.waitQueue.remove(s.entry);
    s.entry = null;
    return;
  }
  if (!(f.flags & O_ASYNC) || s.id === 0) return;
  const ready = f.readiness();
  let reason = 0;
  let band = 0;
  // Data arrived: POLL_IN, also when it is only a socket's urgent byte, which poll does not count as readable (Linux's sk_data_ready signals regardless).
  if (ev & POLLIN && f.readable && ready & (POLLIN | POLLPRI)) { reason = POLL_IN; band = BAND_IN; }
  else if (ev & POLLOUT && f.writable && ready & POLLOUT) { reason = POLL_OUT; band = BAND_OUT; }
  else if (ev & POLLPRI && ready & POLLPRI) { reason = POLL_PRI; band = POLLPRI | 0x80; }
  else if (ev & POLLERR && ready & POLLERR) { reason = POLL_ERR; band = POLLERR; }
  else if (ev & POLLHUP && ready & POLLHUP) { reason = POLL_HUP; band = POLLHUP | POLLERR; }
  if (reason === 0) return;
  deliver(k, s, sigioInfo(s, reason, band));
}

function sigioInfo(s: AsyncState, reason: number, band: number): { signo: number; code: number; raw: Buffer } {
  const signo = s.sig === 0 ? SIGIO : s.sig;
  const raw = Buffer.alloc(128);
  raw.writeInt32LE(signo, 0);
  if (s.sig === 0) {
    raw.writeInt32LE(0x80, 8); // SI_KERNEL, as send_sig with SEND_SIG_PRIV
  } else {
    raw.writeInt32LE(reason, 8);
    raw.writeBigInt64LE(BigInt(band), 16);
    raw.writeInt32LE(s.fd, 24);
  }
  return { signo, code: s.sig === 0 ? 0x80 : reason, raw };
}

function deliver(k: Kernel, s: AsyncState, si: { signo: number; code: number; raw: Buffer }): void {
  const sentry = k.sentry;
  if (s.type === F_OWNER_TID) {
    const t = k.tasks.get(s.id);
    if (t) sendToTask(sentry, t, si);
  } else if (s.type === F_OWNER_PID) {
    const g = k.threadGroups.get(s.id);
    if (g) sendToGroup(sentry, g, si);
  } else {
    for (const g of [...k.threadGroups.values()]) if (g.pgid === s.id) sendToGroup(sentry, g, si);
  }
}

/**
 * Urgent data announced on a socket (sk_send_sigurg): SIGURG to the owner, whether or not
 * O_ASYNC is set; then, with O_ASYNC and F_SETSIG, that signal (POLL_PRI) as sk_wake_async(SOCK_WAKE_URG).
 */
export function sendSigurg(f: FileDescription): void {
  const s = states.get(f);
  if (!s || s.id === 0 || s.kernel === null) return;
  const raw = Buffer.alloc(128);
  raw.writeInt32LE(SIGURG, 0);
  raw.writeInt32LE(0x80, 8); // SI_KERNEL (SEND_SIG_PRIV)
  deliver(s.kernel, s, { signo: SIGURG, code: 0x80, raw });
  // kill_fasync with SIGURG sends nothing when no F_SETSIG signal was chosen (SIGURG went already).
  if (f.flags & O_ASYNC && s.sig !== 0) deliver(s.kernel, s, sigioInfo(s, POLL_PRI, POLLPRI | 0x80));
}
