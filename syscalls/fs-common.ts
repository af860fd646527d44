/**
 * What the file, directory and fd syscalls (read-write.ts, open.ts, stat.ts, ... inotify.ts)
 * share: the staging buffer, fd and path arguments, and the per-call state a blocking
 * handler keeps in t.sysState across re-runs (progress, a deadline fixed at first entry,
 * a temporary signal mask). Conventions of those files: `fd = a0 | 0`; bad guest pointers
 * give -EFAULT; each handler decodes the guest's arguments, calls the VFS (fs/, reached as
 * t.kernel.vfs) and encodes the result; no filesystem logic lives here.
 */
import * as E from '../src/abi/errno';
import type { Task } from '../src/kernel/task';
import type { FileDescription } from '../fs/vfs/file';
import { POLLERR, POLLHUP } from '../src/abi/fs';
import { BLOCK } from '../src/kernel/syscall-dispatch';
import { installFd } from './fd-install';

export const EFAULT = -E.EFAULT;

/** Reusable staging buffer between guest memory and files (grown on demand, capped). */
export const CHUNK = 1 << 20;
let scratch = Buffer.allocUnsafe(65536);
export function stage(n: number): Buffer {
  if (scratch.length < n) scratch = Buffer.allocUnsafe(Math.min(CHUNK, Math.max(n, scratch.length * 2)));
  return scratch;
}

export function fileOf(t: Task, fd: number): FileDescription | undefined {
  return t.fdTable.get(fd | 0);
}

/** Installs a new description at the lowest free fd, honouring RLIMIT_NOFILE. */
export const install = installFd;

/** A path argument; "" allowed when allowEmpty (AT_EMPTY_PATH). */
export function readPath(t: Task, addr: number, allowEmpty = false): string | number {
  if (!allowEmpty) return t.mem.readPath(addr);
  const s = t.mem.readCString(addr, 4096);
  if (s === null) return EFAULT;
  if (s.length >= 4096) return -E.ENAMETOOLONG;
  return s;
}

export function sigpipe(t: Task): void {
  t.sendSignalSelf(13);
}

/** Per-call scratch kept across blocking re-runs. */
export interface Progress {
  done: number;
  deadline: number;
}
export function progress(t: Task): Progress {
  const s = t.sysState as Progress | undefined;
  if (s && typeof s.done === 'number') return s;
  const p: Progress = { done: 0, deadline: -1 };
  t.sysState = p;
  return p;
}

/** Absolute deadline for a relative timeout (ns; Infinity = none), fixed at first entry. */
export function deadlineOf(t: Task, relNs: number): number {
  const p = progress(t);
  if (p.deadline < 0) p.deadline = relNs === Infinity ? Infinity : t.kernel.nowNs() + relNs;
  return p.deadline;
}

/** Ends a call that may have kept state in t.sysState (the Sentry clears it too; this keeps handlers self-contained). */
export function finish(t: Task, r: number): number {
  if (r !== BLOCK) t.sysState = undefined;
  return r;
}

export function waitFor(t: Task, f: FileDescription, mask: number, deadline = Infinity): number {
  f.armWait(mask);
  t.waitOn(f.waitQueue, mask | POLLERR | POLLHUP);
  return t.block(deadline);
}

/** Applies a temporary signal mask (ppoll/pselect6/epoll_pwait) on first entry. */
export function applySigmask(t: Task, addr: number, size: number): number {
  if (addr === 0 || t.sysState !== undefined) return 0;
  if (size !== 8) return -E.EINVAL;
  const m = t.mem.read(addr, 8);
  if (m === null) return EFAULT;
  const sig = t.sig;
  sig.savedMask = sig.mask;
  sig.mask = m.readBigUInt64LE(0) & ~((1n << 8n) | (1n << 18n)); // never SIGKILL/SIGSTOP
  return 0;
}
/** Restores the mask when the call completes without a signal handler running. */
export function restoreSigmask(t: Task, r: number): number {
  if (r !== -0x100000 /* BLOCK */ && t.sig && t.sig.savedMask !== null && r !== -E.EINTR) {
    t.sig.mask = t.sig.savedMask;
    t.sig.savedMask = null;
  }
  return r;
}

/** A struct timespec timeout in ns (null pointer: Infinity). */
export function readTimespecNs(t: Task, addr: number): number {
  if (addr === 0) return Infinity;
  const b = t.mem.read(addr, 16);
  if (b === null) return EFAULT;
  const sec = Number(b.readBigInt64LE(0));
  const nsec = Number(b.readBigInt64LE(8));
  if (sec < 0 || nsec < 0 || nsec >= 1e9) return -E.EINVAL;
  return sec * 1e9 + nsec;
}
