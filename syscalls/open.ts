/** open, openat, openat2, creat, close, close_range; a blocking FIFO open parks with its end open. */
import * as E from '../src/abi/errno';
import type { Task } from '../src/kernel/task';
import { PipeEnd } from '../fs/fsimpl/pipefs/pipe';
import * as jobs from '../src/kernel/tty';
import {
  AT_FDCWD, O_CLOEXEC, O_CREAT, O_EXCL, O_NOCTTY, O_TRUNC, O_NONBLOCK, O_LARGEFILE, O_WRONLY, O_TMPFILE,
  POLLIN, POLLOUT, RESOLVE_NO_XDEV, RESOLVE_NO_MAGICLINKS, RESOLVE_NO_SYMLINKS, RESOLVE_BENEATH, RESOLVE_IN_ROOT,
  RESOLVE_CACHED,
} from '../src/abi/fs';
import { EFAULT, install, waitFor } from './fs-common';
import { processClosing } from '../src/kernel/fd-close';
import { unshareFdTable } from '../src/kernel/process-lifecycle';

const OPEN_KEEP = ~(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_CLOEXEC);

function openCommon(t: Task, dirfd: number, pathAddr: number, flags: number, mode: number, rflags: number): number {
  // A blocking FIFO open parks the task with the end already open; the re-run picks it up.
  const pending = t.sysState as { fifo?: PipeEnd; cloexec: boolean } | undefined;
  if (pending?.fifo) {
    const end = pending.fifo;
    if (!end.peerReady()) {
      // A signal's re-run that would block again ends the call (EINTR/restart): the
      // parked end must not stay open, or writers would never see EPIPE.
      if (t.interrupting) {
        end.decRef();
        t.sysState = undefined;
      }
      return waitFor(t, end, POLLIN | POLLOUT);
    }
    t.sysState = undefined;
    return install(t, end, pending.cloexec);
  }
  let path = t.mem.readPath(pathAddr);
  if (typeof path === 'number') return path;
  const h = t.kernel.hooks;
  if (h !== null) {
    const d = h.open(t, dirfd, path, flags);
    if (typeof d === 'string') path = d;
    else if (d !== 0) return d;
    const r = openFile(t, dirfd, path, flags, mode, rflags);
    h.opened(t, dirfd, path, flags, r);
    return r;
  }
  return openFile(t, dirfd, path, flags, mode, rflags);
}

function openFile(t: Task, dirfd: number, path: string, flags: number, mode: number, rflags: number): number {
  const f = t.kernel.vfs.open(t, dirfd, path, flags, mode, rflags);
  if (typeof f === 'number') return f;
  f.flags = (flags & OPEN_KEEP) | O_LARGEFILE;
  const cloexec = (flags & O_CLOEXEC) !== 0;
  const tty = f.ctty();
  if (tty !== null) jobs.acquireOnOpen(t, tty, (flags & O_NOCTTY) !== 0);
  if (f instanceof PipeEnd && !(flags & O_NONBLOCK) && !f.peerReady()) {
    t.sysState = { fifo: f, cloexec };
    return waitFor(t, f, POLLIN | POLLOUT);
  }
  return install(t, f, cloexec);
}

export function open(t: Task, path: number, flags: number, mode: number): number {
  return openCommon(t, AT_FDCWD, path, flags | 0, mode & 0o7777, 0);
}

export function openat(t: Task, dirfd: number, path: number, flags: number, mode: number): number {
  return openCommon(t, dirfd | 0, path, flags | 0, mode & 0o7777, 0);
}

export function creat(t: Task, path: number, mode: number): number {
  return openCommon(t, AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode & 0o7777, 0);
}

const VALID_OPEN = 0o37777777 & ~0o40000000;
const RESOLVE_ALL = RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH | RESOLVE_IN_ROOT | RESOLVE_CACHED;

export function openat2(t: Task, dirfd: number, path: number, howAddr: number, size: number): number {
  if (size < 24) return -E.EINVAL;
  if (size > 4096) return -E.E2BIG;
  const how = t.mem.read(howAddr, size);
  if (how === null) return EFAULT;
  for (let i = 24; i < size; i++) if (how[i] !== 0) return -E.E2BIG;
  const flags = how.readBigUInt64LE(0);
  const mode = how.readBigUInt64LE(8);
  const resolve = how.readBigUInt64LE(16);
  if (flags > 0xffffffffn || (Number(flags) & ~VALID_OPEN) !== 0) return -E.EINVAL;
  if (resolve & ~BigInt(RESOLVE_ALL)) return -E.EINVAL;
  const fl = Number(flags);
  if (mode & ~0o7777n) return -E.EINVAL;
  if (mode !== 0n && !(fl & O_CREAT) && (fl & O_TMPFILE) !== O_TMPFILE) return -E.EINVAL;
  const rf = Number(resolve);
  if (rf & RESOLVE_BENEATH && rf & RESOLVE_IN_ROOT) return -E.EINVAL;
  if (rf & RESOLVE_CACHED && fl & (O_CREAT | O_TRUNC | O_TMPFILE)) return -E.EAGAIN;
  return openCommon(t, dirfd | 0, path, fl, Number(mode), rf);
}

export function close(t: Task, fd: number): number {
  const f = t.fdTable.take(fd | 0);
  if (!f) return -E.EBADF;
  processClosing(f, t.tg);
  f.decRef();
  return 0;
}

const CLOSE_RANGE_UNSHARE = 2;
const CLOSE_RANGE_CLOEXEC = 4;

export function close_range(t: Task, first: number, last: number, flags: number): number {
  first >>>= 0;
  last >>>= 0;
  if (flags & ~(CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC)) return -E.EINVAL;
  if (first > last) return -E.EINVAL;
  // A table shared with other tasks (CLONE_FILES) is copied first: only the caller's copy
  // loses (or marks) the range.
  if (flags & CLOSE_RANGE_UNSHARE) unshareFdTable(t);
  const hi = Math.min(last, t.fdTable.highest - 1);
  for (let fd = first; fd <= hi; fd++) {
    if (!t.fdTable.get(fd)) continue;
    if (flags & CLOSE_RANGE_CLOEXEC) t.fdTable.setCloexec(fd, true);
    else close(t, fd);
  }
  return 0;
}
